use ndarray::Dimension;

use super::{DType, DataKind, EventColumn, TrialDefinition, TrialShapes};

/// Everything known about a dataset before its values are read: what the input is, and what
/// each step will produce. Routines receive their input's schema in `initialize` and the
/// engine derives every later schema before the first task runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSchema {
    pub kind: DataKind,
    /// Storage dtype: the input's on disk, and for outputs the dtype they will be written in.
    pub dtype: DType,
    /// Per-trial shape of dense data, channel axis last (`[samples, channels]` for analog,
    /// `[1, tapers, freqs, channels]` for spectral, `[1, freqs, channels_i, channels_j]` for
    /// cross-spectral). Empty vectors for event data. Runs of equal shapes, shared between
    /// clones (see [`TrialShapes`]).
    pub trial_shapes: TrialShapes,
    pub samplerate: f64,
    /// Channel labels; of CrossSpectralData, the `channel_i` labels (rows of each matrix).
    pub channels: Vec<String>,
    /// The `channel_j` labels (columns) of CrossSpectralData; `None` for the other kinds.
    pub channels_j: Option<Vec<String>>,
    pub trialdefinition: TrialDefinition,
    /// Frequency axis of spectral data.
    pub freq: Option<Vec<f64>>,
    /// Taper labels of spectral data.
    pub taper: Option<Vec<String>>,
    /// Unit labels of spike data.
    pub units: Option<Vec<String>>,
    /// Row-aligned properties of spike data.
    pub event_columns: Vec<EventColumn>,
}

impl DataSchema {
    pub fn n_trials(&self) -> usize {
        self.trialdefinition.len()
    }

    pub fn n_channels(&self) -> usize {
        self.channels.len()
    }

    /// The length of the axis tasks split into channel groups (`chan_per_worker`): the last
    /// axis of dense trials (for CrossSpectralData `channel_j`), the channel labels of event
    /// data.
    pub fn channel_axis_len(&self) -> usize {
        match self.trial_shapes.first().and_then(|s| s.last()) {
            Some(&n) if self.kind.is_dense() => n,
            _ => self.n_channels(),
        }
    }

    /// The shape of the f64 values of one trial as the engine holds them: the trial shape,
    /// plus a trailing (re, im) axis of 2 for complex data. Empty for event data.
    pub fn trial_values_shape(&self, trial: usize) -> Vec<usize> {
        self.trial_values_dim(trial).slice().to_vec()
    }

    /// [`trial_values_shape`](Self::trial_values_shape) without allocating (up to 4 axes):
    /// what the engine's readers take once per trial.
    pub fn trial_values_dim(&self, trial: usize) -> ndarray::IxDyn {
        let shape = &self.trial_shapes[trial];
        if self.kind.is_dense() && self.dtype.is_complex() {
            let mut with_parts = ndarray::IxDyn::zeros(shape.len() + 1);
            with_parts.slice_mut()[..shape.len()].copy_from_slice(shape);
            with_parts[shape.len()] = 2;
            with_parts
        } else {
            ndarray::IxDyn(shape)
        }
    }

    /// The number of f64 values of one trial as the engine holds them (the product of
    /// [`trial_values_shape`](Self::trial_values_shape)), without allocating.
    pub fn trial_values_len(&self, trial: usize) -> usize {
        let parts = if self.kind.is_dense() && self.dtype.is_complex() {
            2
        } else {
            1
        };
        self.trial_elements(trial) * parts
    }

    /// Number of elements of one trial (dense data).
    pub fn trial_elements(&self, trial: usize) -> usize {
        self.trial_shapes[trial].iter().product()
    }

    /// Shape of the whole stacked dataset (dense data): trials stacked along axis 0.
    /// Event data has no fixed shape before it runs: empty.
    pub fn stacked_shape(&self) -> Vec<usize> {
        if !self.kind.is_dense() {
            return Vec::new();
        }
        let mut shape = self
            .trial_shapes
            .first()
            .cloned()
            .unwrap_or_else(|| vec![0, self.n_channels()]);
        shape[0] = self.trial_shapes.total_rows();
        shape
    }

    /// A description of an analog recording, with every trial's shape from its definition.
    pub fn analog(
        dtype: DType,
        samplerate: f64,
        channels: Vec<String>,
        trialdefinition: TrialDefinition,
    ) -> DataSchema {
        let trial_shapes = TrialShapes::from_rows(
            (0..trialdefinition.len()).map(|t| trialdefinition.trial_len(t)),
            &[channels.len()],
        );
        DataSchema {
            kind: DataKind::Analog,
            dtype,
            trial_shapes,
            samplerate,
            channels,
            channels_j: None,
            trialdefinition,
            freq: None,
            taper: None,
            units: None,
            event_columns: Vec::new(),
        }
    }
}

/// What a routine declares about its output before it runs: the kind, and each trial's shape
/// (dense) or the event properties it will store (events).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputShape {
    pub kind: DataKind,
    /// Per-trial shapes for dense output, channel axis last; empty for events.
    pub trial_shapes: TrialShapes,
    /// Properties stored beside each event row; empty for dense output.
    pub event_columns: Vec<EventColumn>,
    /// Whether dense values are complex (stored as complex64 for float32 input, complex128 for
    /// float64). Kernels then write through [`crate::OutputBlock::complex_mut`].
    pub complex: bool,
}

impl OutputShape {
    /// Dense output with the same kind and per-trial shapes as the input.
    pub fn same_as(input: &DataSchema) -> OutputShape {
        OutputShape {
            kind: input.kind,
            trial_shapes: input.trial_shapes.clone(),
            event_columns: Vec::new(),
            complex: false,
        }
    }

    pub fn dense(kind: DataKind, trial_shapes: Vec<Vec<usize>>) -> OutputShape {
        OutputShape::dense_runs(kind, trial_shapes.into())
    }

    /// [`dense`](Self::dense) with shapes already as runs (no vector per trial).
    pub fn dense_runs(kind: DataKind, trial_shapes: TrialShapes) -> OutputShape {
        OutputShape {
            kind,
            trial_shapes,
            event_columns: Vec::new(),
            complex: false,
        }
    }

    /// The same output with complex values (Fourier coefficients, analytic signals).
    pub fn with_complex_values(mut self) -> OutputShape {
        self.complex = true;
        self
    }

    pub fn events(n_trials: usize, event_columns: Vec<EventColumn>) -> OutputShape {
        OutputShape {
            kind: DataKind::Spike,
            trial_shapes: TrialShapes::uniform(Vec::new(), n_trials),
            event_columns,
            complex: false,
        }
    }
}
