use std::sync::Arc;

use ndarray::{ArrayView2, Axis, Slice};

use crate::error::{Error, Result, TaskContext};

use super::collector::Collector;
use super::contain::guarded;
use super::options::{ExecutionOptions, OnError, Pipeline};
use super::prepare::PreparedPipeline;
use super::sink::{DirectBlockWriter, TrialSource};
use super::worker::{Pools, TaskResult, WorkerState};

/// Runs every task on the calling thread: read a trial, run its tasks, write, repeat.
/// With `catch_panics` false (debug mode) a panicking routine unwinds to the caller.
pub(crate) fn run_sequential(
    pipeline: &Pipeline,
    prepared: &PreparedPipeline,
    source: &mut dyn TrialSource,
    collector: &mut Collector<'_>,
    direct: &[Option<Arc<dyn DirectBlockWriter>>],
    catch_panics: bool,
) -> Result<()> {
    let pools = Pools::default();
    let mut worker = WorkerState::new(prepared, direct, catch_panics);
    let mut trial_buf = Vec::new();
    let n_channels = source.schema().n_channels();
    let on_error = pipeline.execution.on_error;
    let mut tasks = prepared.tasks[collector.next_task()..prepared.range.end]
        .iter()
        .peekable();
    while let Some(first) = tasks.peek() {
        check_cancelled(&pipeline.execution)?;
        let (trial, first_index) = (first.trial, first.index);
        guarded(
            || TaskContext {
                trial: Some(trial),
                ..Default::default()
            },
            || format!("the input reader (task {first_index})"),
            || source.read_trial(trial, &mut trial_buf),
        )?;
        let len = source.schema().trialdefinition.trial_len(trial);
        let view = ArrayView2::from_shape((len, n_channels), &trial_buf[..len * n_channels])
            .map_err(|e| Error::input(source.describe(), e, crate::ErrorClass::Runtime))?;
        while let Some(task) = tasks.next_if(|t| t.trial == trial) {
            let input = view.slice_axis(Axis(1), Slice::from(task.channels.clone()));
            let result = match worker.run_task(pipeline, prepared, task, input, &pools) {
                Ok(result) => result,
                Err(e) if on_error == OnError::Continue => TaskResult::failed(task.index, e),
                Err(e) => return Err(e),
            };
            collector.accept_contained(result, &pools)?;
        }
    }
    Ok(())
}

/// Stops a run whose cancel flag was raised from outside (another MPI rank failed).
pub(crate) fn check_cancelled(options: &ExecutionOptions) -> Result<()> {
    match &options.cancel {
        Some(flag) if flag.load(std::sync::atomic::Ordering::SeqCst) => Err(Error::Cancelled(
            "another part of the run failed; completed tasks are kept for --resume".into(),
        )),
        _ => Ok(()),
    }
}
