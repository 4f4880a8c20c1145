use ndarray::ArrayView2;

use crate::error::{Error, Result};

use super::collector::Collector;
use super::options::Pipeline;
use super::prepare::PreparedPipeline;
use super::sink::TrialSource;
use super::worker::{Pools, WorkerState};

/// Runs every task on the calling thread: read a trial, run its tasks, write, repeat.
/// With `catch_panics` false (debug mode) a panicking routine unwinds to the caller.
pub(crate) fn run_sequential(
    pipeline: &Pipeline,
    prepared: &PreparedPipeline,
    source: &mut dyn TrialSource,
    collector: &mut Collector<'_>,
    catch_panics: bool,
) -> Result<()> {
    let pools = Pools::default();
    let mut worker = WorkerState::new(prepared, catch_panics);
    let mut trial_buf = Vec::new();
    let n_channels = source.schema().n_channels();
    let mut tasks = prepared.tasks.iter().peekable();
    while let Some(first) = tasks.peek() {
        let trial = first.trial;
        source.read_trial(trial, &mut trial_buf)?;
        let len = source.schema().trialdefinition.trial_len(trial);
        let view = ArrayView2::from_shape((len, n_channels), &trial_buf[..len * n_channels])
            .map_err(|e| Error::input(source.describe(), e, crate::ErrorClass::Runtime))?;
        while let Some(task) = tasks.next_if(|t| t.trial == trial) {
            let result = worker.run_task(pipeline, prepared, task, view, &pools)?;
            collector.accept(result, &pools)?;
        }
    }
    Ok(())
}
