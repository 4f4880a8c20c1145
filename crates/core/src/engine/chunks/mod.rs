//! Trials longer than memory: time chunks with margins.
//!
//! A trial is cut into chunks of `samples` input samples when `execution.chunk_samples` is
//! shorter than it, or, without that option, when the run does not fit in memory as whole
//! trials. Every step must then declare how far in time its output reaches
//! ([`TimeSupport`]): a margin (finite support: FIR and ndimage filters, peak detection with
//! a bounded window) or a carried state (IIR filters, one direction). A step that needs the
//! whole trial is refused before anything runs, naming it and suggesting `trials:`.
//!
//! Each step streams: it keeps the last `2 * margin` rows of its input from the previous
//! chunk, computes a block of those rows plus the new ones, and keeps the output rows whose
//! whole window lies inside the block (or reaches a real trial edge), which are therefore
//! bitwise the whole-trial values. So margins add up along a fused pipeline without any
//! planning: each step lags its input by its own margin, and the trial's last chunk flushes
//! them all. A carried step gets each input row exactly once, in time order, with the state
//! the previous chunk left. Events are kept by the chunk that produces their sample's row.
//!
//! Channels are split into groups computed in parallel (every chunkable routine is
//! channel-independent, so this gives the same bits); chunks follow one another in time
//! order. `--resume` continues at trial granularity: a trial cut into chunks is redone from
//! its start.

mod lane;
mod run;

use std::ops::Range;

use crate::error::{Error, Result};
use crate::model::DataSchema;
use crate::routine::{Planner, TimeSupport};

use super::memory::{available_memory, MemoryEstimate};
use super::options::{Pipeline, RunScope};
use super::prepare::{CrossTrial, PreparedStep};
use super::sink::{ObjectSpec, StoreLayout};
use super::tasks::channel_groups;

pub(crate) use run::run_chunked;

/// How a run cuts its trials into time chunks.
#[derive(Debug, Clone)]
pub struct ChunkPlan {
    /// New input samples per chunk.
    pub samples: usize,
    /// Each step's reach in time.
    pub support: Vec<TimeSupport>,
    /// Channel groups computed in parallel within a chunk.
    pub groups: Vec<Range<usize>>,
    /// Why the run is chunked, for messages and the run's summary.
    pub reason: ChunkReason,
}

/// Why a run's trials are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkReason {
    /// `execution.chunk_samples` is shorter than a trial.
    Option,
    /// Whole trials do not fit in memory.
    Memory,
}

/// A block of f64 values of all channels this long is what an automatic chunk aims at
/// (16 MiB): large enough that per-chunk overheads vanish, small enough for any node.
const AUTO_CHUNK_BYTES: usize = 16 << 20;

/// Decides whether the run cuts its trials into time chunks, refusing (naming the step)
/// a pipeline that must but cannot. When it does, the objects are laid out as one dataset
/// each (chunks write row ranges of their trial) and `memory` becomes the chunked estimate.
pub(crate) fn decide(
    pipeline: &Pipeline,
    input: &DataSchema,
    steps: &[PreparedStep],
    objects: &mut [ObjectSpec],
    cross_trial: &[Option<CrossTrial>],
    memory: &mut MemoryEstimate,
) -> Result<Option<ChunkPlan>> {
    let exec = &pipeline.execution;
    let def = &input.trialdefinition;
    let Some((longest_trial, longest)) = (0..input.n_trials())
        .map(|t| (t, def.trial_len(t)))
        .max_by_key(|&(t, len)| (len, std::cmp::Reverse(t)))
    else {
        return Ok(None);
    };
    let (reason, why) = match exec.chunk_samples {
        Some(c) if longest > c => (
            ChunkReason::Option,
            format!("execution.chunk_samples ({c}) cuts trial {longest_trial} ({longest} samples) into time chunks"),
        ),
        Some(_) => return Ok(None),
        None => match memory.check_against(available_memory(), exec.mem_thresh) {
            Ok(()) => return Ok(None),
            // Many short trials that do not fit together are a matter of workers, not
            // chunks: the usual message says so.
            Err(_) if !whole_trial_too_large(memory, exec.mem_thresh) => return Ok(None),
            Err(e) => (
                ChunkReason::Memory,
                format!(
                    "trial {longest_trial} ({longest} samples x {} channels) does not fit in memory as a whole: {e}",
                    input.n_channels()
                ),
            ),
        },
    };
    let refuse = |what: String| Err(Error::invalid(format!("{what}; {why}")));
    let mut support = Vec::with_capacity(steps.len());
    for (k, (step, prepared)) in pipeline.steps.iter().zip(steps).enumerate() {
        let routine = step.routine.as_ref();
        let ctx = prepared.context();
        let s = routine.time_support();
        if s == TimeSupport::WholeTrial {
            return refuse(format!(
                "{ctx}: needs the whole trial, so a trial cannot be cut into time chunks for it; cut the recording into shorter trials with `trials:` (see docs/pipelines.md), or run only routines that chunk (docs/routines.md, \"Trials longer than memory\")"
            ));
        }
        let last = k + 1 == steps.len();
        let same_shape = prepared.output.kind.is_dense()
            && !prepared.output.dtype.is_complex()
            && prepared.output.trial_shapes == prepared.input.trial_shapes;
        let events_at_end = !prepared.output.kind.is_dense() && last;
        if prepared.reduction.is_some() || !(same_shape || events_at_end) {
            return refuse(format!(
                "{ctx}: declares a time support but does not keep its input's samples (or ends in events before the last step), so it cannot run in time chunks (a bug in the routine)"
            ));
        }
        support.push(s);
    }
    if cross_trial.iter().any(Option::is_some) {
        return refuse(
            "keeptrials: false (or a cross-trial step) cannot run in time chunks; keep every trial"
                .into(),
        );
    }
    if !exec.scope.is_whole() || exec.mode == super::options::ExecutionMode::Mpi {
        let scope = match exec.scope {
            RunScope::Merge => "a merge".to_string(),
            _ => "shards and MPI ranks".to_string(),
        };
        return refuse(format!(
            "{scope} split the run by trials, which a trial cut into time chunks cannot be; run it as one process (execution.workers sets its threads)"
        ));
    }
    if exec.on_error == super::options::OnError::Continue {
        return refuse(
            "on_error: continue would leave part of a chunked trial written; use on_error: stop"
                .into(),
        );
    }
    // A chunk shorter than the margins only delays output; an automatic one is longer.
    let margin: usize = support.iter().map(|s| s.margin()).sum();
    let n_channels = input.n_channels();
    let workers = exec.effective_workers();
    let groups = match exec.chan_per_worker {
        Some(_) => channel_groups(n_channels, exec.chan_per_worker),
        // At least 8 channels per group, the lanes the SOS cascade and correlation run in.
        None => channel_groups(n_channels, Some(n_channels.div_ceil(workers).max(8))),
    };
    let samples = match exec.chunk_samples {
        Some(c) => c,
        None => {
            // The automatic length: a block of about AUTO_CHUNK_BYTES, halved until the run
            // fits (never below a few margins, where blocks would be mostly margin).
            let floor = (4 * margin + 1).max(64);
            let mut samples = (AUTO_CHUNK_BYTES / (8 * n_channels.max(1)))
                .min(longest)
                .max(floor);
            while samples > floor {
                let e = estimate(pipeline, input, steps, &support, samples, &groups)?;
                if e.check_against(available_memory(), exec.mem_thresh).is_ok() {
                    break;
                }
                samples = (samples / 2).max(floor);
            }
            samples
        }
    };
    *memory = estimate(pipeline, input, steps, &support, samples, &groups)?;
    for object in objects.iter_mut() {
        object.layout = StoreLayout::Single;
    }
    Ok(Some(ChunkPlan {
        samples,
        support,
        groups,
        reason,
    }))
}

/// Whether one trial alone (as read, its output blocks and scratch) takes more than half of
/// what the run may use: then fewer workers would not make the run fit, chunks do.
fn whole_trial_too_large(memory: &MemoryEstimate, mem_thresh: f64) -> bool {
    match available_memory() {
        Some(available) => {
            let allowed = (available as f64 * mem_thresh) as u64;
            memory.per_task.saturating_mul(2) > allowed
        }
        None => false,
    }
}

/// The chunked run's peak working set: the chunk as read (stored precision) and as f64, and
/// per channel group and step its block, output and held rows, plus the scratch a block's
/// plan asks for.
fn estimate(
    pipeline: &Pipeline,
    input: &DataSchema,
    steps: &[PreparedStep],
    support: &[TimeSupport],
    samples: usize,
    groups: &[Range<usize>],
) -> Result<MemoryEstimate> {
    let n_channels = input.n_channels() as u64;
    let read = samples as u64 * n_channels * (8 + input.dtype.size_bytes() as u64);
    let mut per_group = 0u64;
    let mut scratch = 0u64;
    let mut plans = 0u64;
    let mut planner = Planner::new();
    let width = groups.iter().map(|g| g.len()).max().unwrap_or(0);
    for ((step, prepared), s) in pipeline.steps.iter().zip(steps).zip(support) {
        let rows = samples + 2 * s.margin();
        let block = (rows * width * 8) as u64;
        // The block (history + new rows), its output and the copy handed to the next step.
        per_group += 3 * block;
        let plan = step
            .routine
            .plan(&[rows, width], &prepared.input, &mut planner)
            .map_err(|source| Error::Routine {
                context: Box::new(prepared.context()),
                source,
            })?;
        scratch += plan.scratch_size().bytes() as u64;
        plans += plan.state_bytes() as u64;
    }
    let lanes = groups.len() as u64;
    Ok(MemoryEstimate {
        per_task: read,
        concurrent_tasks: 1,
        per_worker: per_group + scratch,
        workers: lanes as usize,
        task_output: per_group,
        task_scratch: scratch,
        accumulators: 0,
        plans,
        sink: 0,
    })
}
