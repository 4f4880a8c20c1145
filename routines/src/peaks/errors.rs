use trialflow_core::RoutineError;

/// What can be wrong with the parameters of a peak-finding routine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeaksError {
    /// A `height`/`threshold`/`prominence`/`width`/`plateau_size` value that is not a bound.
    #[error("{param}: {reason}; a bound is a number (the minimum) or [min, max] with null for an open side, got {got}")]
    Bound {
        param: &'static str,
        reason: &'static str,
        got: String,
    },
    #[error("{param}: the minimum {min} is larger than the maximum {max}")]
    EmptyBound {
        param: &'static str,
        min: f64,
        max: f64,
    },
    #[error("distance must be a finite number >= 1, got {0}")]
    Distance(f64),
    #[error("wlen must be larger than 1, got {0}")]
    Wlen(f64),
    #[error("rel_height must be a finite number >= 0, got {0}")]
    RelHeight(f64),
    #[error("widths is required: a positive number or a list of positive numbers")]
    WidthsMissing,
    #[error("widths must be positive and finite, got {0}")]
    Width(f64),
    #[error(
        "max_distances has {got} entries but widths has {need}; it needs at least one per width"
    )]
    MaxDistancesLength { got: usize, need: usize },
    #[error("{param} must not be NaN")]
    NotANumber { param: &'static str },
    #[error("noise_perc must be in [0, 100], got {0}")]
    NoisePerc(f64),
    #[error("window_size must be a finite number >= 0, got {0}")]
    WindowSize(f64),
    /// A trial cut into time chunks has a run of equal samples across a chunk's edge at
    /// least as long as the margin: its peak could lie anywhere along it.
    #[error("channel {channel}: a run of equal samples at sample {sample} of the trial crosses a time chunk's edge and is at least {margin} samples long, so its peak cannot be placed from the chunk; give a larger wlen (the margin is wlen / 2 + 2), or cut the recording into trials with `trials:`")]
    PlateauAtChunkEdge {
        channel: usize,
        sample: usize,
        margin: usize,
    },
}

impl From<PeaksError> for RoutineError {
    fn from(e: PeaksError) -> Self {
        RoutineError::invalid(e)
    }
}
