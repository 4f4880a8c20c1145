use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD, Ix2};
use num_complex::Complex64;

use crate::model::EventBlock;

/// One task's input: a trial (or a channel group of it), as f64, or float32 AnalogData as
/// stored for a kernel that asks for it ([`Kernel::reads_f32`](super::Kernel::reads_f32)).
///
/// Dense input (AnalogData, SpectralData, CrossSpectralData, from the file or from the
/// previous step) is in `data`, in the kind's axis order with the channel axis last
/// (`[samples, channels]`, `[time, taper, freq, channels]`, `[time, freq, channel_i,
/// channel_j]`), and complex values as a trailing (re, im) axis (see
/// [`complex_values`](Self::complex_values)). Event input (a SpikeData input file, or a
/// previous step that emits events, such as `find_peaks`) is in `events`, and `data` is then
/// empty (shape `[0, channels]`).
#[derive(Debug)]
pub struct TrialInput<'a> {
    /// The values, trial shape with the channel axis narrowed to this task's channels.
    /// Empty (`[0, channels]`) when the values come as stored float32 in
    /// [`data_f32`](Self::data_f32).
    pub data: ArrayViewD<'a, f64>,
    /// Float32 AnalogData as stored (samples x the task's channels), only for a kernel whose
    /// [`reads_f32`](super::Kernel::reads_f32) is true and only from an executor that read
    /// the trial as float32; otherwise `None` and the values are in `data`. A kernel that
    /// reads it widens each value (exactly, `f64::from`) in its own first pass, so it skips
    /// the engine's widening copy of the trial and reads half the bytes.
    pub data_f32: Option<ArrayView2<'a, f32>>,
    /// The trial's events when the step's input is event data; `None` for dense input.
    /// Samples are relative to the trial's first sample (as a routine pushes them), channels
    /// are absolute indices within [`channels`](Self::channels) (a channel group sees only
    /// its own channels' events), and rows are ordered by (sample, channel, unit), whether
    /// they come from a file or from the previous step. Row-aligned properties (`columns`)
    /// are those the producing step declared, in its `event_columns` order; events read
    /// from a file carry none.
    pub events: Option<&'a EventBlock>,
    /// The trial's length: rows of the input's trial definition (samples of AnalogData and
    /// of the recording events were found in; 1 for an `mtmfft` spectrum). For event input
    /// this is the window `[0, trial_len)` the events' samples lie in.
    pub trial_len: usize,
    /// Trial index in the input.
    pub trial: usize,
    /// Absolute indices of the channels in `data`'s last axis.
    pub channels: Range<usize>,
    pub samplerate: f64,
    /// Sample of t = 0 relative to the trial start.
    pub offset: f64,
}

impl<'a> TrialInput<'a> {
    /// Complex input (the previous step's output was complex): the values with their
    /// trailing (re, im) axis folded into `Complex64`.
    ///
    /// # Panics
    /// If the input is not complex: only routines declaring
    /// [`ValueKind::Complex`](super::ValueKind) (or `Any`, after checking) call this.
    pub fn complex_values(&self) -> ArrayViewD<'_, Complex64> {
        let shape = self.data.shape();
        assert!(
            shape.last() == Some(&2) && self.data.is_standard_layout(),
            "complex input arrives as contiguous (re, im) pairs"
        );
        let values = self.data.as_slice().expect("standard layout is contiguous");
        // SAFETY: `Complex<f64>` is `#[repr(C)]` with fields `re`, `im` (num-complex
        // documents it as FFI-equivalent to `[f64; 2]`); the slice holds whole pairs and the
        // borrow is carried over unchanged.
        let pairs: &[Complex64] =
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), values.len() / 2) };
        ArrayViewD::from_shape(&shape[..shape.len() - 1], pairs).expect("pairs fill the shape")
    }

    /// The analog input as samples x channels, in the precision it arrived in: float32 as
    /// stored ([`data_f32`](Self::data_f32)) or f64. Only kernels whose
    /// [`reads_f32`](super::Kernel::reads_f32) is true need this; the others get f64 and
    /// call [`samples`](Self::samples).
    ///
    /// # Panics
    /// If the input is neither float32 nor 2-D (see [`samples`](Self::samples)).
    pub fn analog(&self) -> Samples<'_> {
        match &self.data_f32 {
            Some(x) => Samples::F32(x.view()),
            None => Samples::F64(self.samples()),
        }
    }

    /// The input as samples x channels.
    ///
    /// # Panics
    /// If the input is not 2-D: routines that take analog input are only ever given 2-D
    /// input, because the pipeline checks every step's input kind before running.
    pub fn samples(&self) -> ArrayView2<'_, f64> {
        self.data
            .view()
            .into_dimensionality::<Ix2>()
            .expect("analog input is 2-D")
    }
}

/// A sample value a kernel generic over its input precision reads: f64, or float32 as
/// stored, widened exactly (`Into<f64>`) where it is read.
pub trait Sample: Copy + Into<f64> + Send + Sync + 'static {}
impl Sample for f64 {}
impl Sample for f32 {}

/// Analog input in the precision it arrived in ([`TrialInput::analog`]).
#[derive(Debug, Clone)]
pub enum Samples<'a> {
    F64(ArrayView2<'a, f64>),
    F32(ArrayView2<'a, f32>),
}

/// Where a kernel writes its result for one task.
#[derive(Debug)]
pub enum OutputBlock<'a> {
    /// Dense output of the declared trial shape (channel axis narrowed to the task). Its
    /// values are unspecified on entry: kernels must write every element.
    Dense(ArrayViewMutD<'a, f64>),
    /// Complex dense output (the routine declared `with_complex_values`), same shape rules
    /// as `Dense`.
    Complex(ArrayViewMutD<'a, Complex64>),
    /// Event output: an empty block the kernel appends to.
    Events(&'a mut EventBlock),
}

impl OutputBlock<'_> {
    /// Dense output as samples x channels.
    ///
    /// # Panics
    /// If the routine declared event or non-2-D output and asks for a 2-D block.
    pub fn samples_mut(&mut self) -> ArrayViewMut2<'_, f64> {
        match self {
            OutputBlock::Dense(a) => a
                .view_mut()
                .into_dimensionality::<Ix2>()
                .expect("dense output declared 2-D"),
            OutputBlock::Complex(_) => panic!("routine declared complex output"),
            OutputBlock::Events(_) => panic!("routine declared event output"),
        }
    }

    /// Dense output of any dimensionality.
    pub fn dense_mut(&mut self) -> ArrayViewMutD<'_, f64> {
        match self {
            OutputBlock::Dense(a) => a.view_mut(),
            OutputBlock::Complex(_) => panic!("routine declared complex output"),
            OutputBlock::Events(_) => panic!("routine declared event output"),
        }
    }

    /// Complex dense output of any dimensionality.
    ///
    /// # Panics
    /// If the routine did not declare complex output in `initialize`.
    pub fn complex_mut(&mut self) -> ArrayViewMutD<'_, Complex64> {
        match self {
            OutputBlock::Complex(a) => a.view_mut(),
            OutputBlock::Dense(_) => {
                panic!("routine declared real output (use with_complex_values in initialize)")
            }
            OutputBlock::Events(_) => panic!("routine declared event output"),
        }
    }

    /// Event output.
    pub fn events_mut(&mut self) -> &mut EventBlock {
        match self {
            OutputBlock::Events(e) => e,
            OutputBlock::Dense(_) | OutputBlock::Complex(_) => {
                panic!("routine declared dense output")
            }
        }
    }
}
