use std::fmt;

use trialflow_core::{Error, ErrorClass};
use trialflow_hdf5::StorageError;

/// A failure the command line reports: one line, and an exit code by who can fix it.
#[derive(Debug)]
pub struct CliError {
    pub class: ErrorClass,
    pub message: String,
}

impl CliError {
    pub fn user(message: impl Into<String>) -> Self {
        CliError {
            class: ErrorClass::User,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        CliError {
            class: ErrorClass::Runtime,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.class.exit_code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<StorageError> for CliError {
    fn from(e: StorageError) -> Self {
        CliError {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

/// Replaces Rust's panic message (with its "note: run with RUST_BACKTRACE" line) by nothing:
/// panics inside routines are caught and reported as errors with their context, and a panic
/// anywhere else is reported by `main` as an internal error. Set `TRIALFLOW_BACKTRACE=1` to
/// keep the default hook when debugging trialflow itself.
pub fn install_quiet_panic_hook() {
    if std::env::var_os("TRIALFLOW_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
}
