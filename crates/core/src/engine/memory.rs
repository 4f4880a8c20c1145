use ndarray::Dimension;

use crate::error::{Bytes, Error, Result};
use crate::model::DataSchema;

use super::prepare::PreparedStep;
use super::tasks::Task;

/// Estimated peak working set of a run: what one task holds (its trial as read and as f64,
/// every step's output block and scratch) times the tasks that can be in flight at once, plus
/// the averaging accumulators. Unlike Syncopy's check, which looks only at the output, this
/// counts input, output and scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub per_task: u64,
    pub concurrent_tasks: usize,
    pub accumulators: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.per_task * self.concurrent_tasks as u64 + self.accumulators
    }

    pub(crate) fn for_pipeline(
        input: &DataSchema,
        steps: &[PreparedStep],
        tasks: &[Task],
        window: usize,
        keeptrials: bool,
    ) -> MemoryEstimate {
        let mut per_task = 0u64;
        for task in tasks {
            let trial_elems = input.trial_elements(task.trial) as u64;
            let mut bytes = trial_elems * (8 + input.dtype.size_bytes() as u64);
            for step in steps {
                if step.output.kind.is_dense() {
                    let elems = step.task_output_values_shape(task).size();
                    bytes += elems as u64 * 8;
                } else {
                    // Events: at most one per input sample and channel, rarely more than a
                    // small fraction; count a tenth of the input block per property column.
                    let in_elems = step.task_input_shape(task).size();
                    bytes +=
                        (in_elems as u64 / 10) * 8 * (3 + step.output.event_columns.len() as u64);
                }
                bytes += step.scratch.bytes() as u64;
            }
            per_task = per_task.max(bytes);
        }
        let accumulators = if keeptrials {
            0
        } else {
            steps
                .iter()
                .filter(|s| s.object.is_some() && s.output.kind.is_dense())
                .map(|s| s.output.trial_elements(0) as u64 * 8 * s.output.dtype.components() as u64)
                .sum()
        };
        MemoryEstimate {
            per_task,
            concurrent_tasks: window,
            accumulators,
        }
    }

    /// Refuses the run if the estimate exceeds `mem_thresh` x available memory.
    pub fn check(&self, mem_thresh: f64) -> Result<()> {
        let Some(available) = available_memory() else {
            return Ok(());
        };
        let allowed = (available as f64 * mem_thresh) as u64;
        if self.total() > allowed {
            return Err(Error::MemoryThreshold {
                needed: Bytes(self.total()),
                available: Bytes(available),
                allowed: Bytes(allowed),
                thresh: mem_thresh,
            });
        }
        Ok(())
    }
}

/// Memory available to new allocations (Linux `MemAvailable`), or `None` where unknown.
///
/// `TRIALFLOW_AVAILABLE_MEMORY` (bytes) overrides it, so tests can exercise the refusal
/// without filling the machine.
pub fn available_memory() -> Option<u64> {
    if let Ok(v) = std::env::var("TRIALFLOW_AVAILABLE_MEMORY") {
        if let Ok(bytes) = v.trim().parse::<u64>() {
            return Some(bytes);
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}
