use trialflow_core::RoutineError;

/// Why a filter or transform could not be built or run. Every message names the parameter
/// (or the trial) the user has to change.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("parameter `{0}` is required")]
    Missing(&'static str),
    #[error("{param} must be {expected}, got {got}")]
    OutOfRange {
        param: &'static str,
        expected: String,
        got: String,
    },
    #[error("{param} must be one of {allowed}, got '{got}'")]
    Choice {
        param: &'static str,
        allowed: &'static str,
        got: String,
    },
    #[error("freq must be {expected} for filter_type '{filter_type}', got {got}")]
    FreqShape {
        filter_type: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("freq {freq} Hz is outside (0, {nyquist}) Hz, the band below the Nyquist frequency of samplerate {samplerate} Hz ({what})")]
    FreqAboveNyquist {
        freq: f64,
        nyquist: f64,
        samplerate: f64,
        what: &'static str,
    },
    #[error("trial {trial} has {samples} samples; direction 'twopass' pads {padlen} samples at each end (3 x {ntaps} taps, as scipy.signal.sosfiltfilt), so trials need more than {padlen} samples; use direction 'onepass' or a lower order")]
    TrialTooShortForPadding {
        trial: usize,
        samples: usize,
        padlen: usize,
        ntaps: usize,
    },
    #[error("trial {trial} has no samples; {routine} needs at least one")]
    EmptyTrial { trial: usize, routine: &'static str },
    #[error("{0}")]
    Other(String),
}

impl FilterError {
    pub(crate) fn range(
        param: &'static str,
        expected: impl Into<String>,
        got: impl ToString,
    ) -> Self {
        FilterError::OutOfRange {
            param,
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}

impl From<FilterError> for RoutineError {
    fn from(e: FilterError) -> Self {
        RoutineError::invalid(e)
    }
}
