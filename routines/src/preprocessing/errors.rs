use trialflow_core::RoutineError;

/// What can be wrong with preprocessing parameters.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessingError {
    #[error("type must be 'linear' or 'constant', got '{0}'")]
    DetrendType(String),
}

impl From<PreprocessingError> for RoutineError {
    fn from(e: PreprocessingError) -> Self {
        RoutineError::invalid(e)
    }
}
