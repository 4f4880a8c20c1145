//! One channel group of a trial streaming through every step, chunk after chunk.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};

use crate::error::{Error, Result, TaskContext};
use crate::model::EventBlock;
use crate::routine::{ChunkContext, OutputBlock, Plan, Planner, Scratch, TimeSupport, TrialInput};

use super::super::contain::contained;
use super::super::options::Pipeline;
use super::super::prepare::PreparedPipeline;

/// Plans by (step, block rows, channels), made on first use: a trial's chunks have at most
/// a few distinct block lengths (its first, the steady ones, its last).
#[derive(Default)]
pub(super) struct PlanCache {
    inner: Mutex<(Planner, PlansByShape)>,
}

/// Plans keyed by (step, block rows, channels).
type PlansByShape = HashMap<(usize, usize, usize), Plan>;

impl PlanCache {
    fn get(
        &self,
        pipeline: &Pipeline,
        prepared: &PreparedPipeline,
        step: usize,
        rows: usize,
        width: usize,
    ) -> std::result::Result<Plan, crate::error::RoutineError> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (planner, plans) = &mut *guard;
        if let Some(plan) = plans.get(&(step, rows, width)) {
            return Ok(plan.clone());
        }
        let plan = pipeline.steps[step].routine.plan(
            &[rows, width],
            &prepared.steps[step].input,
            planner,
        )?;
        plans.insert((step, rows, width), plan.clone());
        Ok(plan)
    }
}

/// What a step keeps of one channel group between chunks.
#[derive(Default)]
pub(super) struct StepLane {
    /// The step's input rows `held_from..fed` (margin steps: what the next block repeats).
    held: Vec<f64>,
    held_from: usize,
    /// Rows of input received so far this trial.
    fed: usize,
    /// The next output row this step produces.
    produced: usize,
    /// The block computed this chunk (held rows, then new ones) and its output.
    block: Vec<f64>,
    pub(super) out: Vec<f64>,
    /// The first row of `block` / `out` in the trial.
    pub(super) out_from: usize,
    /// The output rows this chunk produced (trial positions), kept in `out`.
    pub(super) kept: Range<usize>,
    pub(super) events: EventBlock,
    scratch: Scratch,
    chunk: ChunkContext,
}

/// A channel group's state across the chunks of one trial.
pub(super) struct Lane {
    pub(super) channels: Range<usize>,
    pub(super) steps: Vec<StepLane>,
    /// The group's channels of the current chunk's input rows.
    fresh: Vec<f64>,
    pub(super) warnings: Vec<(usize, String)>,
}

/// What every lane of a run shares while computing a chunk.
pub(super) struct Shared<'a> {
    pub pipeline: &'a Pipeline,
    pub prepared: &'a PreparedPipeline,
    pub support: &'a [TimeSupport],
    pub plans: &'a PlanCache,
    pub catch_panics: bool,
}

impl Lane {
    pub(super) fn new(channels: Range<usize>, prepared: &PreparedPipeline) -> Lane {
        let steps = prepared
            .steps
            .iter()
            .map(|s| StepLane {
                events: EventBlock::with_columns(s.output.event_columns.len()),
                ..StepLane::default()
            })
            .collect();
        Lane {
            channels,
            steps,
            fresh: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Forgets the previous trial: held rows, positions and carried state.
    pub(super) fn start_trial(&mut self) {
        for s in &mut self.steps {
            s.held.clear();
            s.held_from = 0;
            s.fed = 0;
            s.produced = 0;
            s.chunk = ChunkContext::whole();
            s.kept = 0..0;
        }
    }

    /// Streams input rows `rows` of trial `trial` (`len` samples; `values` holds those rows
    /// of every channel, `n_channels` wide) through every step.
    pub(super) fn run_chunk(
        &mut self,
        shared: &Shared<'_>,
        trial: usize,
        len: usize,
        rows: Range<usize>,
        values: &[f64],
        n_channels: usize,
    ) -> Result<()> {
        let width = self.channels.len();
        self.fresh.clear();
        for row in values.chunks_exact(n_channels) {
            self.fresh.extend_from_slice(&row[self.channels.clone()]);
        }
        let mut input_rows = rows;
        for k in 0..self.steps.len() {
            let (before, after) = self.steps.split_at_mut(k);
            let new: &[f64] = if k == 0 {
                &self.fresh
            } else {
                let prev = &before[k - 1];
                let from = (prev.kept.start - prev.out_from) * width;
                &prev.out[from..from + prev.kept.len() * width]
            };
            let step = &mut after[0];
            let kept = step.advance(
                shared,
                k,
                trial,
                len,
                input_rows.clone(),
                new,
                &self.channels,
                &mut self.warnings,
            )?;
            input_rows = kept;
        }
        Ok(())
    }
}

impl StepLane {
    /// Takes input rows `rows` (`new`, `width` channels), computes what they make
    /// computable and returns the output rows it kept.
    #[allow(clippy::too_many_arguments)]
    fn advance(
        &mut self,
        shared: &Shared<'_>,
        k: usize,
        trial: usize,
        len: usize,
        rows: Range<usize>,
        new: &[f64],
        channels: &Range<usize>,
        warnings: &mut Vec<(usize, String)>,
    ) -> Result<Range<usize>> {
        let width = channels.len();
        let support = shared.support[k];
        debug_assert_eq!(rows.start, self.fed, "rows arrive in order");
        let at_end = rows.end == len;
        // Output rows this block settles: a margin step's lag behind its input closes at
        // the trial's end; a carried step settles exactly what it receives.
        let (from, keep) = match support {
            TimeSupport::Margin(m) => {
                let p = self.produced;
                let q = if at_end {
                    len
                } else {
                    rows.end.saturating_sub(m)
                }
                .max(p);
                self.block.clear();
                self.block.extend_from_slice(&self.held);
                self.block.extend_from_slice(new);
                (self.held_from, p..q)
            }
            TimeSupport::Carried | TimeSupport::WholeTrial => {
                self.block.clear();
                self.block.extend_from_slice(new);
                (rows.start, rows.clone())
            }
        };
        let block_rows = rows.end - from;
        self.fed = rows.end;
        self.out_from = from;
        self.kept = keep.clone();
        self.events.clear();
        if !keep.is_empty() {
            self.chunk.keep = keep.clone();
            self.compute(
                shared, k, trial, from, block_rows, at_end, channels, warnings,
            )?;
        }
        if let TimeSupport::Margin(m) = support {
            // Hold what the next output row's window reaches back to.
            let hold = keep.end.saturating_sub(m).max(from);
            let skip = (hold - from) * width;
            self.held.clear();
            self.held.extend_from_slice(&self.block[skip..]);
            self.held_from = hold;
        }
        self.produced = keep.end;
        if !keep.is_empty() && !shared.prepared.steps[k].output.kind.is_dense() {
            retain_rows(&mut self.events, keep.start as i64..keep.end as i64);
        }
        Ok(keep)
    }

    /// Runs the step's kernel on the block (`rows` rows from trial sample `from`).
    #[allow(clippy::too_many_arguments)]
    fn compute(
        &mut self,
        shared: &Shared<'_>,
        k: usize,
        trial: usize,
        from: usize,
        rows: usize,
        at_end: bool,
        channels: &Range<usize>,
        warnings: &mut Vec<(usize, String)>,
    ) -> Result<()> {
        let width = channels.len();
        let step = &shared.prepared.steps[k];
        let context = || TaskContext {
            trial: Some(trial),
            channels: Some(channels.clone()),
            ..step.context()
        };
        let plan = shared
            .plans
            .get(shared.pipeline, shared.prepared, k, rows, width)
            .map_err(|source| Error::Routine {
                context: Box::new(context()),
                source,
            })?;
        self.scratch.reserve(plan.scratch_size());
        self.chunk.first_sample = from;
        self.chunk.at_trial_start = from == 0;
        self.chunk.at_trial_end = at_end;
        let shape = IxDyn(&[rows, width]);
        let data = ArrayViewD::from_shape(shape.clone(), &self.block[..rows * width])
            .expect("block holds its rows");
        let input = TrialInput {
            data,
            trial,
            data_f32: None,
            channels: channels.clone(),
            samplerate: step.input.samplerate,
            offset: step.input.trialdefinition.offset(trial),
            // Chunked steps take AnalogData (an event step only emits here).
            events: None,
            trial_len: step.input.trialdefinition.trial_len(trial),
        };
        let (scratch, chunk, events) = (&mut self.scratch, &mut self.chunk, &mut self.events);
        let outcome = if step.output.kind.is_dense() {
            self.out.resize(rows * width, 0.0);
            if !shared.catch_panics {
                self.out.fill(f64::NAN);
            }
            let view = ArrayViewMutD::from_shape(shape, &mut self.out[..])
                .expect("buffer sized to the block");
            let mut out = OutputBlock::Dense(view);
            call(shared.catch_panics, || {
                plan.compute_chunk(&input, &mut out, scratch, chunk)
            })
        } else {
            let mut out = OutputBlock::Events(events);
            call(shared.catch_panics, || {
                plan.compute_chunk(&input, &mut out, scratch, chunk)
            })
        };
        for warning in self.scratch.take_warnings() {
            warnings.push((k, format!("{}: {warning}", context())));
        }
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(Error::Routine {
                context: Box::new(context()),
                source,
            }),
            Err(message) => Err(Error::Panic {
                context: Box::new(context()),
                message,
            }),
        }
    }
}

/// Keeps the events whose sample lies in `keep` (the rows this chunk owns), in order.
fn retain_rows(events: &mut EventBlock, keep: Range<i64>) {
    let mut w = 0;
    for r in 0..events.len() {
        if keep.contains(&events.sample[r]) {
            events.sample[w] = events.sample[r];
            events.channel[w] = events.channel[r];
            events.unit[w] = events.unit[r];
            for col in &mut events.columns {
                col[w] = col[r];
            }
            w += 1;
        }
    }
    events.sample.truncate(w);
    events.channel.truncate(w);
    events.unit.truncate(w);
    for col in &mut events.columns {
        col.truncate(w);
    }
}

/// Calls a kernel, turning a panic into a message unless the run is in debug mode.
fn call<T>(catch_panics: bool, f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    if !catch_panics {
        return Ok(f());
    }
    contained(f)
}
