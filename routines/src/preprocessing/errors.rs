use trialflow_core::RoutineError;

/// What can be wrong with preprocessing parameters.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessingError {
    #[error("channel {channel} contains NaN or Inf; a linear detrend is undefined there (scipy.signal.detrend refuses it too)")]
    NonFinite { channel: usize },
}

impl PreprocessingError {
    /// For failures that depend on the data rather than the parameters.
    pub fn into_runtime(self) -> RoutineError {
        RoutineError::failed(self)
    }
}

impl From<PreprocessingError> for RoutineError {
    fn from(e: PreprocessingError) -> Self {
        RoutineError::invalid(e)
    }
}
