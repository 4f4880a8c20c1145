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
}

/// Execution settings, as in the pipeline's `execution:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOptions {
    pub mode: ExecutionMode,
    /// Compute workers in parallel mode; `None` means all cores.
    pub workers: Option<usize>,
    /// Split each trial's channels into groups of this size (plus a remainder).
    pub chan_per_worker: Option<usize>,
    /// One source file per task joined by a virtual dataset; `None` means "in parallel mode".
    pub parallel_store: Option<bool>,
    /// `false` averages saved outputs over trials, in trial order.
    pub keeptrials: bool,
    /// Refuse to run if the estimated peak working set exceeds this fraction of available
    /// memory.
    pub mem_thresh: f64,
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
            ExecutionMode::Parallel => self.workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
            ExecutionMode::Sequential | ExecutionMode::Debug => 1,
        }
    }

    /// Whether outputs go to per-task files joined by a virtual dataset.
    pub fn effective_parallel_store(&self) -> bool {
        self.keeptrials
            && self
                .parallel_store
                .unwrap_or(self.mode == ExecutionMode::Parallel)
    }
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
