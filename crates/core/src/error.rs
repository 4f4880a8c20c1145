//! Errors, split by who can fix them.
//!
//! Every error knows whether the user caused it ([`ErrorClass::User`], exit code 2: a bad
//! parameter, a trial too short for a window, a missing file) or whether it happened while
//! running ([`ErrorClass::Runtime`], exit code 1: a failing kernel, a full disk). Errors raised
//! inside a task carry a [`TaskContext`] naming the step, routine, trial and channel range, so
//! a message read hours later still says where it came from.

use std::fmt;
use std::ops::Range;

/// Who can fix an error, which decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Something the user typed or handed us: exit code 2.
    User,
    /// A failure while running: exit code 1.
    Runtime,
}

impl ErrorClass {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::User => 2,
            ErrorClass::Runtime => 1,
        }
    }
}

/// Where in a pipeline run something happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskContext {
    pub step: Option<usize>,
    pub step_name: Option<String>,
    pub routine: Option<String>,
    pub trial: Option<usize>,
    pub channels: Option<Range<usize>>,
}

impl fmt::Display for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(step) = self.step {
            match (&self.step_name, &self.routine) {
                (Some(name), Some(routine)) if name != routine => {
                    parts.push(format!("step {} '{}' ({})", step + 1, name, routine))
                }
                (_, Some(routine)) => parts.push(format!("step {} ({})", step + 1, routine)),
                _ => parts.push(format!("step {}", step + 1)),
            }
        } else if let Some(routine) = &self.routine {
            parts.push(format!("routine {routine}"));
        }
        if let Some(trial) = self.trial {
            parts.push(format!("trial {trial}"));
        }
        if let Some(ch) = &self.channels {
            parts.push(format!("channels {}..{}", ch.start, ch.end));
        }
        write!(f, "{}", parts.join(", "))
    }
}

/// An error raised by a routine: while checking parameters, in its dry run, or in its kernel.
///
/// Routines define their own error enums (one per routine family) and convert them into this
/// type, choosing the class: parameter and trial-shape problems are the user's, kernel
/// failures are runtime errors.
#[derive(Debug)]
pub struct RoutineError {
    pub class: ErrorClass,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl RoutineError {
    /// A parameter or input the user must change.
    pub fn invalid<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> Self {
        RoutineError {
            class: ErrorClass::User,
            source: e.into(),
        }
    }

    /// A failure while computing.
    pub fn failed<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> Self {
        RoutineError {
            class: ErrorClass::Runtime,
            source: e.into(),
        }
    }
}

impl fmt::Display for RoutineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)
    }
}

impl std::error::Error for RoutineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Every error the engine reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pipeline, option or input the user must change (exit code 2).
    #[error("{0}")]
    Invalid(String),

    /// A routine refused its parameters or a trial, or failed while computing.
    #[error("{context}: {source}")]
    Routine {
        context: Box<TaskContext>,
        #[source]
        source: RoutineError,
    },

    /// A routine panicked; the panic is caught so the run ends with a message, not a backtrace.
    #[error("{context}: the routine panicked: {message}")]
    Panic {
        context: Box<TaskContext>,
        message: String,
    },

    /// Code other than a routine's kernel panicked (a routine hook, the sink, the source, a
    /// progress callback, the engine): the run ends with where it happened, not a hang.
    #[error("{}", crash_message(context, what, message))]
    Crashed {
        context: Box<TaskContext>,
        /// What panicked, e.g. "the routine's plan" or "the output writer (task 3)".
        what: String,
        message: String,
    },

    /// The estimated working set does not fit in the memory allowed by `mem_thresh`.
    #[error(
        "estimated peak memory {needed} exceeds mem_thresh {thresh} x available memory {available} = {allowed}; \
         use fewer workers, chan_per_worker, or raise execution.mem_thresh"
    )]
    MemoryThreshold {
        needed: Bytes,
        available: Bytes,
        allowed: Bytes,
        thresh: f64,
    },

    /// Reading the input failed.
    #[error("reading {what}: {message}")]
    Input {
        what: String,
        message: String,
        class: ErrorClass,
    },

    /// Writing the output failed.
    #[error("writing {what}: {message}")]
    Output { what: String, message: String },

    /// A task failure recorded by an earlier, interrupted part of this run (`on_error:
    /// continue` followed by `--resume`), as its message.
    #[error("{0}")]
    Recorded(String),

    /// The run was stopped from outside (another MPI rank failed); completed work is kept.
    #[error("stopped: {0}")]
    Cancelled(String),

    /// Several tasks failed (`on_error: continue`); each is listed.
    #[error("{} tasks failed:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Error>),
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Invalid(_) | Error::MemoryThreshold { .. } => ErrorClass::User,
            Error::Routine { source, .. } => source.class,
            Error::Panic { .. }
            | Error::Crashed { .. }
            | Error::Output { .. }
            | Error::Recorded(_)
            | Error::Cancelled(_) => ErrorClass::Runtime,
            Error::Input { class, .. } => *class,
            Error::Many(errors) => {
                if errors.iter().all(|e| e.class() == ErrorClass::User) {
                    ErrorClass::User
                } else {
                    ErrorClass::Runtime
                }
            }
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.class().exit_code()
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub fn output(what: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Output {
            what: what.into(),
            message: message.to_string(),
        }
    }

    pub fn input(what: impl Into<String>, message: impl fmt::Display, class: ErrorClass) -> Self {
        Error::Input {
            what: what.into(),
            message: message.to_string(),
            class,
        }
    }
}

fn crash_message(context: &TaskContext, what: &str, message: &str) -> String {
    let context = context.to_string();
    if context.is_empty() {
        format!("{what} panicked: {message}")
    } else {
        format!("{context}: {what} panicked: {message}")
    }
}

/// A byte count that prints in binary units (GiB, MiB), so memory messages never mix units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.2} {}", UNITS[unit])
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_everything_it_knows() {
        let ctx = TaskContext {
            step: Some(1),
            step_name: Some("smooth".into()),
            routine: Some("gaussian".into()),
            trial: Some(7),
            channels: Some(4..8),
        };
        assert_eq!(
            ctx.to_string(),
            "step 2 'smooth' (gaussian), trial 7, channels 4..8"
        );
    }

    #[test]
    fn bytes_print_in_binary_units() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(3 * 1024 * 1024 * 1024).to_string(), "3.00 GiB");
    }

    #[test]
    fn exit_codes_follow_class() {
        assert_eq!(Error::invalid("x").exit_code(), 2);
        assert_eq!(Error::output("f", "disk full").exit_code(), 1);
    }
}
