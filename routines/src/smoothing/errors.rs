use trialflow_core::RoutineError;

/// What can be wrong with smoothing parameters, or with a trial they are applied to.
///
/// Every message names the parameter (or trial and channel) and fits on one line.
#[derive(Debug, thiserror::Error)]
pub enum SmoothingError {
    #[error("missing required parameter `{0}`")]
    Missing(&'static str),
    #[error("{param} must be {expected}, got {got}")]
    OutOfRange {
        param: &'static str,
        expected: String,
        got: String,
    },
    #[error("mode 'reflect' is not accepted by scipy.signal.savgol_filter; use 'interp', 'mirror', 'nearest', 'constant' or 'wrap' ('mirror' is ndimage's reflect without repeating the edge sample)")]
    SavgolReflect,
    #[error("polyorder must be less than window_length, got polyorder {polyorder} and window_length {window_length}")]
    Polyorder {
        polyorder: usize,
        window_length: usize,
    },
    #[error("origin must satisfy -({size} // 2) <= origin <= ({size} - 1) // 2, i.e. {lo}..={hi} for {param} {size}; got {origin}")]
    Origin {
        param: &'static str,
        size: usize,
        origin: i64,
        lo: i64,
        hi: i64,
    },
    #[error("{what} gives a kernel of {taps} taps; the limit is {limit} taps ({hint})")]
    KernelTooLong {
        what: String,
        taps: String,
        limit: usize,
        hint: &'static str,
    },
    #[error("window_length {window_length} with polyorder {polyorder} needs a {window_length} x {columns} least-squares fit; at most {limit} values ((polyorder + 1) * window_length) and polyorder <= {max_polyorder} are accepted (a polynomial fit of that order is meaningless in f64 anyway)")]
    FitTooLarge {
        window_length: usize,
        polyorder: usize,
        columns: usize,
        limit: usize,
        max_polyorder: usize,
    },
    #[error("trial {trial} has {samples} samples; window_length is {window_length}, and mode 'interp' needs window_length <= the trial length (as scipy.signal.savgol_filter); use a shorter window or another mode")]
    WindowLongerThanTrial {
        trial: usize,
        samples: usize,
        window_length: usize,
    },
    #[error("channel {channel} has NaN or Inf within the first or last window_length ({window_length}) samples; mode 'interp' fits a polynomial there, which scipy.signal.savgol_filter refuses too (\"array must not contain infs or NaNs\"); use another mode")]
    NonFiniteEdge {
        channel: usize,
        window_length: usize,
    },
}

impl SmoothingError {
    pub(crate) fn range(
        param: &'static str,
        expected: impl Into<String>,
        got: impl ToString,
    ) -> Self {
        SmoothingError::OutOfRange {
            param,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// For failures that depend on the data rather than the parameters.
    pub fn into_runtime(self) -> RoutineError {
        RoutineError::failed(self)
    }
}

impl From<SmoothingError> for RoutineError {
    fn from(e: SmoothingError) -> Self {
        RoutineError::invalid(e)
    }
}
