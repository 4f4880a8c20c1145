use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, TaskContext};
use crate::model::EventBlock;

use super::collector::Collector;
use super::contain::guarded;
use super::options::{ExecutionOptions, OnError, Pipeline};
use super::prepare::PreparedPipeline;
use super::sink::{DirectBlockWriter, TrialSource};
use super::task_input::{dense_task_view, task_events, TaskData};
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
    let mut group_buf = Vec::new();
    let mut trial_events = EventBlock::default();
    let mut group_events = EventBlock::default();
    let dense = source.schema().kind.is_dense();
    let complex = source.schema().dtype.is_complex();
    let name = source.describe();
    let on_error = pipeline.execution.on_error;
    let mut tasks = prepared.tasks[collector.next_task()..prepared.range.end]
        .iter()
        .peekable();
    // Small blocks are staged and written a run at a time (see `WorkerState::stage`), so
    // their results wait here until their bytes are in the file.
    worker.combine_small_blocks();
    let mut pending: Vec<TaskResult> = Vec::new();
    let mut held_since = Instant::now();
    let outcome = (|| -> Result<()> {
        while let Some(first) = tasks.peek() {
            check_cancelled(&pipeline.execution)?;
            let (trial, first_index) = (first.trial, first.index);
            guarded(
                || TaskContext {
                    trial: Some(trial),
                    ..Default::default()
                },
                || format!("the input reader (task {first_index})"),
                || {
                    if dense {
                        source.read_trial(trial, &mut trial_buf)
                    } else {
                        source.read_trial_events(trial, &mut trial_events)
                    }
                },
            )?;
            let shape = source.schema().trial_values_dim(trial);
            while let Some(task) = tasks.next_if(|t| t.trial == trial) {
                let input = if dense {
                    TaskData::Dense(dense_task_view(
                        &trial_buf,
                        ndarray::Dimension::slice(&shape),
                        complex,
                        task,
                        &mut group_buf,
                        &name,
                    )?)
                } else {
                    TaskData::Events(task_events(&trial_events, task, &mut group_events))
                };
                let result = match worker.run_task(pipeline, prepared, task, input, &pools) {
                    Ok(result) => result,
                    Err(e) if on_error == OnError::Continue => TaskResult::failed(task.index, e),
                    Err(e) => return Err(e),
                };
                if pending.is_empty() {
                    held_since = Instant::now();
                }
                pending.push(result);
                if !worker.has_staged()
                    || pending.len() >= PENDING_TASKS
                    || held_since.elapsed() >= PENDING_FOR
                {
                    accept_pending(&mut worker, &mut pending, collector, &pools)?;
                }
            }
        }
        Ok(())
    })();
    // Whatever ended the loop, the tasks run before it are written and accepted, as when
    // each was accepted at once; the loop's own error comes first.
    let accepted = accept_pending(&mut worker, &mut pending, collector, &pools);
    outcome.and(accepted)
}

/// Results held back at most while their blocks are staged: tiny tasks, so this bounds
/// both what they hold and how far progress and checkpoints lag.
const PENDING_TASKS: usize = 256;

/// ... and for at most this long, whatever the tasks' size: progress, Ctrl-C (checked when
/// results are accepted) and checkpoints must not wait for 256 slow tiny tasks.
const PENDING_FOR: Duration = Duration::from_millis(20);

/// Writes the staged blocks, then accepts the held results in task order; if the write
/// failed, results from its first task on are dropped and its error returned.
fn accept_pending(
    worker: &mut WorkerState,
    pending: &mut Vec<TaskResult>,
    collector: &mut Collector<'_>,
    pools: &Pools,
) -> Result<()> {
    let flushed = worker.flush_staged();
    let missing_from = flushed.as_ref().err().map(|(task, _)| *task);
    for result in pending.drain(..) {
        if missing_from.is_some_and(|t| result.task >= t) {
            continue;
        }
        collector.accept_contained(result, pools)?;
    }
    flushed.map_err(|(_, e)| e)
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
