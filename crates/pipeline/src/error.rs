//! The one error type of pipeline front ends.

use std::fmt;

use trialflow_core::{Error, ErrorClass};
use trialflow_hdf5::StorageError;

/// A failure every front end reports the same way: one line, and a class (who can fix it)
/// that the CLI turns into its exit code and Python into `UserError` or `RunError`.
#[derive(Debug)]
pub struct PipelineError {
    pub class: ErrorClass,
    pub message: String,
}

impl PipelineError {
    pub fn user(message: impl Into<String>) -> Self {
        PipelineError {
            class: ErrorClass::User,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        PipelineError {
            class: ErrorClass::Runtime,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.class.exit_code()
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PipelineError {}

impl From<Error> for PipelineError {
    fn from(e: Error) -> Self {
        PipelineError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<StorageError> for PipelineError {
    fn from(e: StorageError) -> Self {
        PipelineError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}
