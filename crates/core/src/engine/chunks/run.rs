//! Drives a chunked run: reads each trial a chunk at a time, streams it through the steps
//! per channel group (in parallel on the worker pool), and writes what each chunk settled.

use rayon::prelude::*;

use crate::error::{Error, ErrorClass, Result, TaskContext};
use crate::model::EventBlock;

use super::super::collector::Collector;
use super::super::contain::guarded;
use super::super::options::{ExecutionMode, Pipeline};
use super::super::prepare::PreparedPipeline;
use super::super::sequential::check_cancelled;
use super::super::sink::{DenseBlock, TaskPlacement, TrialSource};
use super::super::thread_pool::worker_pool;
use super::super::worker::{Pools, TaskResult};
use super::lane::{Lane, PlanCache, Shared};
use super::ChunkPlan;

/// Runs the tasks `collector.next_task()..prepared.range.end` in time chunks. Tasks of a
/// trial are completed together after its last chunk, so checkpoints (and `--resume`) stay
/// at trial boundaries.
pub(crate) fn run_chunked(
    pipeline: &Pipeline,
    prepared: &PreparedPipeline,
    plan: &ChunkPlan,
    source: &mut dyn TrialSource,
    collector: &mut Collector<'_>,
    catch_panics: bool,
) -> Result<()> {
    let pools = Pools::default();
    let plans = PlanCache::default();
    let shared = Shared {
        pipeline,
        prepared,
        support: &plan.support,
        plans: &plans,
        catch_panics,
    };
    let parallel = pipeline.execution.mode == ExecutionMode::Parallel && plan.groups.len() > 1;
    let pool = if parallel {
        let threads = pipeline
            .execution
            .effective_workers()
            .min(plan.groups.len());
        Some(
            worker_pool(threads)
                .map_err(|e| Error::input("thread pool", e, ErrorClass::Runtime))?,
        )
    } else {
        None
    };
    let mut lanes: Vec<Lane> = plan
        .groups
        .iter()
        .map(|g| Lane::new(g.clone(), prepared))
        .collect();
    let n_channels = source.schema().n_channels();
    let mut buf = Vec::new();
    let mut joined = Vec::new();
    let mut gathered: Vec<EventBlock> = prepared
        .objects
        .iter()
        .map(|o| EventBlock::with_columns(o.schema.event_columns.len()))
        .collect();
    let tasks = &prepared.tasks[collector.next_task()..prepared.range.end];
    let mut at = 0;
    while at < tasks.len() {
        let trial = tasks[at].trial;
        let first_task = tasks[at].index;
        let n_tasks = tasks[at..].iter().take_while(|t| t.trial == trial).count();
        let len = source.schema().trialdefinition.trial_len(trial);
        lanes.iter_mut().for_each(Lane::start_trial);
        let mut start = 0;
        while start < len || (len == 0 && start == 0) {
            check_cancelled(&pipeline.execution)?;
            let end = (start + plan.samples).min(len);
            guarded(
                || TaskContext {
                    trial: Some(trial),
                    ..Default::default()
                },
                || format!("the input reader (trial {trial}, samples {start}..{end})"),
                || source.read_trial_rows(trial, start..end, &mut buf),
            )?;
            let values = &buf[..(end - start) * n_channels];
            let run = |lane: &mut Lane| {
                lane.run_chunk(&shared, trial, len, start..end, values, n_channels)
            };
            let outcomes: Vec<Result<()>> = match &pool {
                Some(pool) => pool.install(|| lanes.par_iter_mut().map(run).collect()),
                None => lanes.iter_mut().map(run).collect(),
            };
            outcomes.into_iter().collect::<Result<Vec<()>>>()?;
            write_chunk(
                prepared,
                collector,
                &lanes,
                first_task,
                trial,
                &mut gathered,
                &mut joined,
            )?;
            if len == 0 {
                break;
            }
            start = end;
        }
        let mut warnings = Vec::new();
        for lane in &mut lanes {
            warnings.append(&mut lane.warnings);
        }
        warnings.sort_by_key(|(step, _)| *step);
        for (i, task) in tasks[at..at + n_tasks].iter().enumerate() {
            let result = TaskResult {
                task: task.index,
                outputs: Vec::new(),
                warnings: if i == 0 {
                    std::mem::take(&mut warnings)
                } else {
                    Vec::new()
                },
                failure: None,
            };
            collector.accept_contained(result, &pools)?;
        }
        at += n_tasks;
    }
    Ok(())
}

/// Writes the rows every saved step settled in this chunk, and its events (all groups, in
/// the recording's sample space and order).
fn write_chunk(
    prepared: &PreparedPipeline,
    collector: &mut Collector<'_>,
    lanes: &[Lane],
    first_task: usize,
    trial: usize,
    gathered: &mut [EventBlock],
    rows: &mut Vec<f64>,
) -> Result<()> {
    for (obj, (object, &k)) in prepared
        .objects
        .iter()
        .zip(&prepared.object_steps)
        .enumerate()
    {
        if object.schema.kind.is_dense() {
            let base = object.placements[first_task].rows.start;
            // Every group settles the same rows (same steps, same margins): joined into
            // whole rows, the block goes to storage in one contiguous write.
            let kept = lanes[0].steps[k].kept.clone();
            if kept.is_empty() {
                continue;
            }
            let n_channels: usize = lanes.iter().map(|l| l.channels.len()).sum();
            let values: &[f64] = if lanes.len() == 1 {
                let s = &lanes[0].steps[k];
                let from = (kept.start - s.out_from) * n_channels;
                &s.out[from..from + kept.len() * n_channels]
            } else {
                rows.clear();
                rows.resize(kept.len() * n_channels, 0.0);
                for lane in lanes {
                    let s = &lane.steps[k];
                    debug_assert_eq!(s.kept, kept, "groups settle the same rows");
                    let width = lane.channels.len();
                    let from = (kept.start - s.out_from) * width;
                    let src = &s.out[from..from + kept.len() * width];
                    for (dst, src) in rows
                        .chunks_exact_mut(n_channels)
                        .zip(src.chunks_exact(width))
                    {
                        dst[lane.channels.clone()].copy_from_slice(src);
                    }
                }
                &rows[..]
            };
            let shape = vec![kept.len(), n_channels];
            let block = ndarray::ArrayViewD::from_shape(shape.clone(), values)
                .expect("kept rows fill the block");
            let placement = TaskPlacement {
                task: first_task,
                trial,
                rows: base + kept.start..base + kept.end,
                channels: 0..n_channels,
                shape,
            };
            collector.write_rows(obj, &placement, DenseBlock::F64(block))?;
        } else {
            let events = &mut gathered[obj];
            events.clear();
            for lane in lanes {
                events.extend_from(&lane.steps[k].events);
            }
            collector.append_chunk_events(obj, trial, events)?;
        }
    }
    Ok(())
}
