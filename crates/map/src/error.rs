//! Errors. Bad parameters are [`MapParamError`]s (one line, naming the parameter); failed
//! tasks are collected into one [`FailureReport`] that keeps every original error.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

/// A parameter of the map that cannot work; found before any task runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapParamError {
    #[error("per_task: no tasks to run (give at least one argument)")]
    NoTasks,
    #[error("executor: Threads(0) has no worker; use at least 1 thread")]
    ZeroThreads,
    #[error("executor: Threads({0}) is more than 4096 threads")]
    TooManyThreads(usize),
    #[error("storage name {0:?}: must be non-empty, without path separators, '.' or '..'")]
    BadName(String),
    #[error("stacking axis {axis}: results with {ndim} axes stack along axis 0..={ndim} only")]
    StackAxis { axis: usize, ndim: usize },
    #[error("stacking task_shape: at most one axis may be Extent::Unlimited, found {0}")]
    TwoUnlimited(usize),
    #[error(
        "resume and overwrite: choose one (resume keeps finished results, overwrite deletes them)"
    )]
    ResumeAndOverwrite,
    #[error("output {0} exists: remove it, or call .overwrite(true) to replace it or .resume(true) to continue it")]
    OutputExists(PathBuf),
    #[error(
        "resume: {path} belongs to a different map ({detail}); remove it or use .overwrite(true)"
    )]
    ResumeMismatch { path: PathBuf, detail: String },
    #[error("dry_run task {index}: the map has only {n_tasks} tasks")]
    DryRunTask { index: usize, n_tasks: usize },
    #[error(
        "collect_stacked axis {axis}: results with {ndim} axes stack along axis 0..={ndim} only"
    )]
    CollectAxis { axis: usize, ndim: usize },
}

/// Everything that can go wrong with a map.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    #[error(transparent)]
    Param(#[from] MapParamError),
    /// Some tasks failed; the report lists each one. Results of the others are kept (on
    /// disk, or in [`crate::Outcomes`] for in-memory maps).
    #[error("{0}")]
    TasksFailed(FailureReport),
    /// Writing or reading the results container failed (not a single task's fault).
    #[error("{path}: {message}")]
    Storage { path: PathBuf, message: String },
    /// Results that cannot be stacked into one array (shapes differ).
    #[error("collect_stacked: {0}")]
    Stack(String),
    #[error("MPI: {0}")]
    Mpi(String),
}

#[cfg(feature = "mpi")]
impl From<trialflow_core::engine::MpiInitError> for MapError {
    fn from(e: trialflow_core::engine::MpiInitError) -> Self {
        MapError::Mpi(e.to_string())
    }
}

impl MapError {
    pub(crate) fn storage(path: impl Into<PathBuf>, message: impl fmt::Display) -> Self {
        MapError::Storage {
            path: path.into(),
            message: message.to_string().replace('\n', " "),
        }
    }
}

/// One failed task: its index, the original error (never replaced by a summary) and a
/// summary of its arguments.
#[derive(Debug)]
pub struct TaskFailure {
    pub index: usize,
    pub error: Box<dyn StdError + Send + Sync>,
    /// The task's argument as `{:?}`, cut to 200 characters.
    pub args: String,
}

impl TaskFailure {
    /// The error and its chain of causes on one line: `outer: cause: root cause`.
    pub fn message(&self) -> String {
        let mut text = self.error.to_string();
        let mut source = self.error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text.replace('\n', " ")
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} (argument {}): {}",
            self.index,
            self.args,
            self.message()
        )
    }
}

/// A panic inside the mapped function, with the panic's own message.
#[derive(Debug, thiserror::Error)]
#[error("panicked: {message}")]
pub struct TaskPanic {
    pub message: String,
}

/// A failure that happened on another MPI rank, or while storing a task's result: only
/// its text is available here.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TextError(pub String);

/// Every failed task of a map, in task order.
#[derive(Debug)]
pub struct FailureReport {
    pub n_tasks: usize,
    pub failures: Vec<TaskFailure>,
    /// Where the successful results were kept, for on-disk maps.
    pub kept_in: Option<PathBuf>,
}

impl fmt::Display for FailureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} tasks failed",
            self.failures.len(),
            self.n_tasks
        )?;
        if let Some(dir) = &self.kept_in {
            write!(
                f,
                "; the {} finished results are kept in {} (rerun with .resume(true) to compute only the failed tasks)",
                self.n_tasks - self.failures.len(),
                dir.display()
            )?;
        }
        for failure in &self.failures {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

/// The argument summary used in failure reports: `{:?}`, cut to 200 characters.
pub(crate) fn summarize<A: fmt::Debug>(arg: &A) -> String {
    const LIMIT: usize = 200;
    let text = format!("{arg:?}").replace('\n', " ");
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
