use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::DType;
use crate::routine::ComputationalRoutine;

/// How tasks are executed. Every mode gives bitwise identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    /// One task after another on the calling thread; panics become errors.
    Sequential,
    /// A reader, N rayon compute workers and a writer, overlapping I/O and compute.
    #[default]
    Parallel,
    /// Like sequential, but panics propagate so a debugger stops where the routine failed.
    Debug,
    /// One process per MPI rank, each computing a deterministic slice of the tasks (like a
    /// shard), rank 0 assembling the output. Within a rank, tasks run as in `Parallel` with
    /// `workers` (default 1).
    Mpi,
}

/// What to do when a task fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop promptly at the first failure (in task order), keeping completed work for
    /// `--resume`.
    #[default]
    Stop,
    /// Run every task; failed tasks' dense blocks are NaN and they add no events. The output
    /// is written with the failures listed in its `_log` and `info`, and the run still ends
    /// with an error listing every failure.
    Continue,
}

/// Which part of the tasks this invocation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunScope {
    /// Every task, then the output.
    #[default]
    Whole,
    /// Shard `index` of `count`: a contiguous, trial-aligned slice of the tasks, written as
    /// per-task parts only. The output appears when [`RunScope::Merge`] assembles the parts.
    Shard { index: usize, count: usize },
    /// No computing: assemble the parts every shard wrote into the output.
    Merge,
}

impl RunScope {
    pub fn is_whole(self) -> bool {
        self == RunScope::Whole
    }
}

/// Execution settings, as in the pipeline's `execution:` section.
#[derive(Debug, Clone)]
pub struct ExecutionOptions {
    pub mode: ExecutionMode,
    /// Compute workers in parallel mode; `None` means all cores.
    pub workers: Option<usize>,
    /// Split each trial's channels into groups of this size (plus a remainder).
    pub chan_per_worker: Option<usize>,
    /// One source file per task joined by a virtual dataset; `None` means "in parallel mode".
    pub parallel_store: Option<bool>,
    /// `false` averages saved outputs over trials, in the fixed order of `engine/fold.rs`.
    pub keeptrials: bool,
    /// Refuse to run if the estimated peak working set exceeds this fraction of available
    /// memory.
    pub mem_thresh: f64,
    pub on_error: OnError,
    pub scope: RunScope,
    /// Compute trials longer than this many samples in time chunks of this length (see
    /// `engine/chunks.rs`); `None` chunks only a trial that does not fit in memory.
    pub chunk_samples: Option<usize>,
    /// Sync completed work to disk before the journal claims it, so that `--resume` after
    /// a power loss finds it (storage's `durability.rs`). `false` leaves writeback to the
    /// kernel: faster, safe against a crash of the process, and a resume after a restart
    /// of the machine is refused. Shards and MPI ranks are always durable.
    pub durable: bool,
    /// Set from outside (another MPI rank failed, a signal) to stop the run before its next
    /// task; completed work stays for `--resume`.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl PartialEq for ExecutionOptions {
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode
            && self.workers == other.workers
            && self.chan_per_worker == other.chan_per_worker
            && self.parallel_store == other.parallel_store
            && self.keeptrials == other.keeptrials
            && self.mem_thresh == other.mem_thresh
            && self.on_error == other.on_error
            && self.scope == other.scope
            && self.chunk_samples == other.chunk_samples
            && self.durable == other.durable
    }
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            mode: ExecutionMode::Parallel,
            workers: None,
            chan_per_worker: None,
            parallel_store: None,
            keeptrials: true,
            mem_thresh: 0.5,
            on_error: OnError::Stop,
            scope: RunScope::Whole,
            chunk_samples: None,
            durable: true,
            cancel: None,
        }
    }
}

impl ExecutionOptions {
    pub fn sequential() -> Self {
        ExecutionOptions {
            mode: ExecutionMode::Sequential,
            ..Default::default()
        }
    }

    pub fn parallel(workers: usize) -> Self {
        ExecutionOptions {
            mode: ExecutionMode::Parallel,
            workers: Some(workers),
            ..Default::default()
        }
    }

    /// Refuses settings that cannot run, naming the key.
    pub fn validate(&self) -> Result<()> {
        if self.workers == Some(0) {
            return Err(Error::invalid(
                "execution.workers must be at least 1, got 0",
            ));
        }
        if self.chan_per_worker == Some(0) {
            return Err(Error::invalid(
                "execution.chan_per_worker must be at least 1 (or null), got 0",
            ));
        }
        if self.chunk_samples == Some(0) {
            return Err(Error::invalid(
                "execution.chunk_samples must be at least 1 (or null), got 0",
            ));
        }
        if let RunScope::Shard { index, count } = self.scope {
            if count == 0 || index >= count {
                return Err(Error::invalid(format!(
                    "--shard must be I/N with 0 <= I < N, got {index}/{count}"
                )));
            }
        }
        if !self.durable && (!self.scope.is_whole() || self.mode == ExecutionMode::Mpi) {
            return Err(Error::invalid(
                "execution.durable: false is for runs in one process: shards and MPI ranks hand their work to another process, so they always sync it to disk",
            ));
        }
        if !(self.mem_thresh > 0.0 && self.mem_thresh <= 1.0) {
            return Err(Error::invalid(format!(
                "execution.mem_thresh must be in (0, 1], got {}",
                self.mem_thresh
            )));
        }
        Ok(())
    }

    /// Number of compute workers this run uses.
    pub fn effective_workers(&self) -> usize {
        match self.mode {
            ExecutionMode::Parallel => self.workers.unwrap_or_else(host_threads),
            ExecutionMode::Mpi => self.workers.unwrap_or(1),
            ExecutionMode::Sequential | ExecutionMode::Debug => 1,
        }
    }

    /// Whether outputs go to per-task files joined by a virtual dataset. Shards and MPI
    /// ranks always write per-task files: they are what the merge joins.
    pub fn effective_parallel_store(&self) -> bool {
        if !self.scope.is_whole() || self.mode == ExecutionMode::Mpi {
            return true;
        }
        self.keeptrials
            && self
                .parallel_store
                .unwrap_or(self.mode == ExecutionMode::Parallel)
    }
}

/// The threads this process may run at once, asked once: `available_parallelism` reads
/// the cgroup's CPU quota files every time, and a run asks several times (the dry run, the
/// summary, the executor).
fn host_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// One step of a pipeline: a validated routine and what to do with its output.
pub struct Step {
    pub routine: Box<dyn ComputationalRoutine>,
    /// The tag of the saved object (`results_<name>.<ext>`); defaults to the routine name.
    pub name: String,
    /// Whether this step's output is written. The last step is always saved.
    pub save: bool,
    /// Storage dtype of the output; `None` follows the input.
    pub dtype: Option<DType>,
}

impl Step {
    pub fn new(routine: impl ComputationalRoutine + 'static) -> Step {
        let name = routine.name().to_string();
        Step {
            routine: Box::new(routine),
            name,
            save: false,
            dtype: None,
        }
    }

    pub fn named(mut self, name: impl Into<String>) -> Step {
        self.name = name.into();
        self
    }

    pub fn saved(mut self) -> Step {
        self.save = true;
        self
    }

    pub fn with_dtype(mut self, dtype: DType) -> Step {
        self.dtype = Some(dtype);
        self
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("routine", &self.routine.name())
            .field("name", &self.name)
            .field("save", &self.save)
            .field("dtype", &self.dtype)
            .finish()
    }
}

/// Steps and execution options: what `trialflow run` executes.
#[derive(Debug)]
pub struct Pipeline {
    pub steps: Vec<Step>,
    pub execution: ExecutionOptions,
}

impl Pipeline {
    pub fn new(steps: Vec<Step>, execution: ExecutionOptions) -> Pipeline {
        Pipeline { steps, execution }
    }

    /// Indices of the steps whose output is written: those marked `save` and the last.
    pub fn saved_steps(&self) -> Vec<usize> {
        let last = self.steps.len().saturating_sub(1);
        (0..self.steps.len())
            .filter(|&i| self.steps[i].save || i == last)
            .collect()
    }
}
