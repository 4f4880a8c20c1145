use std::path::{Path, PathBuf};

use trialflow_core::{Error, ErrorClass};

/// Storage failures, each naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The user handed us something we cannot read as an input (exit code 2).
    #[error("{}: {message}", path.display())]
    BadInput { path: PathBuf, message: String },
    /// An output location that cannot be used (exit code 2).
    #[error("{}: {message}", path.display())]
    BadOutput { path: PathBuf, message: String },
    /// A file system or HDF5 failure while running (exit code 1).
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

impl StorageError {
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        StorageError::BadInput {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn output(path: &Path, message: impl Into<String>) -> Self {
        StorageError::BadOutput {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            message: describe_io(&e.to_string()),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            StorageError::BadInput { .. } | StorageError::BadOutput { .. } => ErrorClass::User,
            StorageError::Io { .. } => ErrorClass::Runtime,
        }
    }
}

/// Makes the messages users act on recognisable (a full disk says so plainly).
fn describe_io(message: &str) -> String {
    let lower = message.to_lowercase();
    if lower.contains("no space left") || lower.contains("enospc") || lower.contains("errno = 28") {
        format!("no space left on device ({message})")
    } else {
        message.to_string()
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match &e {
            StorageError::BadInput { path, message } => {
                Error::input(path.display().to_string(), message, ErrorClass::User)
            }
            StorageError::BadOutput { .. } => Error::Invalid(e.to_string()),
            StorageError::Io { path, message } => {
                Error::output(path.display().to_string(), message)
            }
        }
    }
}
