use trialflow_core::ErrorClass;
use trialflow_hdf5::StorageError;

/// Why a figure was not made. `Selection` and `Unsupported` are the user's to fix (exit 2)
/// and name the flag or the kind; `Render` is a failure while drawing or writing (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A flag whose value does not fit the object, e.g. an unknown channel.
    #[error("{flag}: {message}")]
    Selection { flag: &'static str, message: String },
    /// An object kind without a figure.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path}: {message}")]
    Render { path: String, message: String },
}

impl PlotError {
    pub(crate) fn selection(flag: &'static str, message: impl Into<String>) -> Self {
        PlotError::Selection {
            flag,
            message: message.into(),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            PlotError::Selection { .. } | PlotError::Unsupported(_) => ErrorClass::User,
            PlotError::Storage(e) => e.class(),
            PlotError::Render { .. } => ErrorClass::Runtime,
        }
    }
}
