use trialflow_core::RoutineError;

use crate::spectral::SpectralError;

/// What can be wrong with time-frequency parameters, or with a trial they are applied to.
///
/// Every message names the parameter (and the trial, when one trial is the reason) and fits
/// on one line, so the CLI can print it as the run's one error line.
#[derive(Debug, thiserror::Error)]
pub enum TimeFreqError {
    #[error("{param} must be {expected}, got {got}")]
    OutOfRange {
        param: &'static str,
        expected: String,
        got: String,
    },
    #[error("{param} is required: {why}")]
    Missing {
        param: &'static str,
        why: &'static str,
    },
    #[error("trial {trial}: {param} {message}")]
    Trial {
        trial: usize,
        param: &'static str,
        message: String,
    },
    /// The tapers, frequencies and outputs the spectral family checks the same way.
    #[error(transparent)]
    Spectral(#[from] SpectralError),
}

impl TimeFreqError {
    pub(crate) fn range(
        param: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        TimeFreqError::OutOfRange {
            param,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    pub(crate) fn trial(trial: usize, param: &'static str, message: impl Into<String>) -> Self {
        TimeFreqError::Trial {
            trial,
            param,
            message: message.into(),
        }
    }
}

impl From<TimeFreqError> for RoutineError {
    fn from(e: TimeFreqError) -> Self {
        RoutineError::invalid(e)
    }
}
