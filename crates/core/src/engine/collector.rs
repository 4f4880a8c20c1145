use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ndarray::{ArrayViewD, IxDyn};

use crate::error::{Error, ErrorClass, Result, TaskContext};
use crate::model::{EventBlock, EventColumnKind};

use super::contain::{contained, crashed, guarded};
use super::finish::{finish_reduction, fold_shape_of};
use super::fold::TreeFold;
use super::options::{Pipeline, RunScope};
use super::prepare::{CrossTrial, PreparedPipeline};
use super::sink::{Checkpoint, DenseBlock, ObjectId, ResultSink};
use super::thread_pool::worker_pool;
use super::worker::{DenseValues, Pools, SavedOutput, TaskResult};

/// The writer's logic: accepts task results in any order and applies them strictly in task
/// order, which keeps event ordering independent of how tasks were scheduled and means the
/// completed tasks are always a prefix. Cross-trial results (`keeptrials: false` and
/// trial-reducing steps) are folded in the fixed tree order of `fold.rs`.
pub(crate) struct Collector<'a> {
    prepared: &'a PreparedPipeline,
    sink: &'a mut dyn ResultSink,
    ids: Vec<ObjectId>,
    next: usize,
    /// Results that arrived before an earlier task's, by task: slot `i` holds task
    /// `next + i`. At most the window of tasks in flight, so a ring rather than a tree
    /// (one node allocation and a rebalancing per tiny task).
    pending: VecDeque<Option<TaskResult>>,
    /// Per object formed across trials: the fold of its per-trial blocks.
    folds: Vec<Option<TreeFold>>,
    /// Events of the current trial per object, gathered across channel groups.
    trial_events: Vec<EventBlock>,
    progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// Kernel warnings (step index, message), in task order.
    warnings: Vec<(usize, String)>,
    /// Failed tasks under `on_error: continue`, in task order.
    failures: Vec<(usize, Error)>,
    /// Where this invocation stops applying (the end of its range).
    end: usize,
    last_checkpoint: Instant,
    /// How long the last recorded checkpoint took: with large cross-trial folds (a
    /// connectivity run's cross-spectra) encoding and syncing their state costs far more
    /// than a flush, so checkpoints are spaced by their own cost.
    checkpoint_cost: Duration,
    /// NaN values standing in for a failed task's dense blocks.
    nan_block: Vec<f64>,
    /// The task being applied and who is running for it (the sink or the progress
    /// callback), so a panic can be reported with where it happened.
    current: Option<(usize, Caller)>,
    /// Set when the sink panicked: its state is unknown, so it is not called again (no
    /// checkpoint may claim what it half wrote); only `abort` follows.
    poisoned: bool,
}

/// Whose code the writer is running for a task, for a panic's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Sink,
    Progress,
}

impl Caller {
    fn describe(self) -> &'static str {
        match self {
            Caller::Sink => "the output writer",
            Caller::Progress => "the progress callback",
        }
    }
}

/// How often the writer records a checkpoint (it costs a flush).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The wait after a checkpoint is at least this many times what it cost, so checkpoints
/// take at most about a tenth of the run however large the folds' state is.
const CHECKPOINT_COST_FACTOR: u32 = 10;

impl<'a> Collector<'a> {
    /// A collector for the tasks `start..prepared.range.end`, continuing from `resumed` (the
    /// state of an interrupted run, or every shard's for a merge) when given. A cross-trial
    /// fold resumed after completed tasks must get exactly their recorded subtrees: taking
    /// anything else would silently drop trials from the result, or count some twice.
    pub fn new(
        prepared: &'a PreparedPipeline,
        sink: &'a mut dyn ResultSink,
        ids: Vec<ObjectId>,
        progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
        resumed: Option<Checkpoint>,
        scope: RunScope,
    ) -> Result<Self> {
        let folds = (0..prepared.objects.len())
            .map(|obj| {
                prepared.cross_trial[obj].map(|_| {
                    let shape = fold_shape(prepared, obj);
                    let step = &prepared.steps[prepared.object_steps[obj]];
                    let parts = if step.block_is_complex() { 2 } else { 1 };
                    // The channel axis is last, before the (re, im) axis of complex values.
                    let channels = shape[shape.len() - parts];
                    TreeFold::new(shape.iter().product(), channels, parts)
                })
            })
            .collect();
        let trial_events = prepared
            .objects
            .iter()
            .map(|o| EventBlock::with_columns(o.schema.event_columns.len()))
            .collect();
        let mut collector = Collector {
            prepared,
            sink,
            ids,
            next: prepared.range.start,
            pending: VecDeque::new(),
            folds,
            trial_events,
            progress,
            warnings: Vec::new(),
            failures: Vec::new(),
            end: prepared.range.end,
            last_checkpoint: Instant::now(),
            checkpoint_cost: Duration::ZERO,
            nan_block: Vec::new(),
            current: None,
            poisoned: false,
        };
        if let Some(state) = resumed {
            collector.next = state.completed.max(prepared.range.start);
            collector.warnings = state.warnings;
            collector.failures = state
                .failed
                .into_iter()
                .map(|(task, message)| (task, Error::Recorded(message)))
                .collect();
            let groups = prepared.tasks.first().map_or(1, |t| t.n_groups);
            let first = prepared.range.start / groups;
            let covered = if scope == RunScope::Merge {
                Some(0..prepared.steps[0].input.n_trials())
            } else {
                (state.completed > prepared.range.start).then(|| first..state.completed / groups)
            };
            if let Some(covered) = covered {
                collector.restore_folds(state.sums, covered, scope == RunScope::Merge)?;
            }
        }
        Ok(collector)
    }

    /// Takes the fold states a resumed checkpoint carries (or, merging, every shard's
    /// concatenated), refusing missing ones or ones not covering exactly `covered`.
    fn restore_folds(
        &mut self,
        saved: Vec<Option<Vec<f64>>>,
        covered: std::ops::Range<usize>,
        merging: bool,
    ) -> Result<()> {
        let mut saved = saved.into_iter();
        let start_over = if merging {
            "rerun the shards"
        } else {
            "run without --resume to start over"
        };
        for (obj, fold) in self.folds.iter_mut().enumerate() {
            let given = saved.next().flatten();
            let Some(fold) = fold.as_mut() else { continue };
            let tag = &self.prepared.objects[obj].tag;
            let Some(values) = given else {
                return Err(Error::invalid(format!(
                    "cannot {}: the checkpoint holds no cross-trial state for '{tag}'; {start_over}",
                    if merging { "merge" } else { "resume" }
                )));
            };
            fold.restore(&values, covered.clone()).map_err(|e| {
                Error::invalid(format!(
                    "cannot {} '{tag}': {e}; {start_over}",
                    if merging { "merge" } else { "resume" }
                ))
            })?;
        }
        Ok(())
    }

    /// Whether an object holds events (its rows go to the sink as tasks complete).
    pub fn writes_events(&self) -> bool {
        self.prepared
            .objects
            .iter()
            .any(|o| !o.schema.kind.is_dense())
    }

    /// Whether an object is formed across trials (its fold state goes into checkpoints).
    pub fn folds_across_trials(&self) -> bool {
        self.folds.iter().any(Option::is_some)
    }

    /// The first task this collector still needs (the resume point).
    pub fn next_task(&self) -> usize {
        self.next
    }

    /// Failed tasks under `on_error: continue`, in task order.
    pub fn take_failures(&mut self) -> Vec<(usize, Error)> {
        std::mem::take(&mut self.failures)
    }

    /// Records the current prefix with the sink (always when `closing`, at the end of the
    /// run; else at most every [`CHECKPOINT_EVERY`], or [`CHECKPOINT_COST_FACTOR`] times
    /// the last checkpoint's cost if longer), only at trial boundaries so no trial's
    /// events are half-written.
    pub fn checkpoint(&mut self, closing: bool) -> Result<()> {
        if self.poisoned {
            return Ok(());
        }
        let tasks = &self.prepared.tasks;
        if self.next < tasks.len() && tasks[self.next].group != 0 {
            return Ok(());
        }
        // The clock last: with tiny tasks the sink defers almost every offer, and reading
        // the clock after each task cost more than the rest of this test.
        if !closing && self.sink.defers_checkpoint() {
            return Ok(());
        }
        let wait = CHECKPOINT_EVERY.max(self.checkpoint_cost * CHECKPOINT_COST_FACTOR);
        if !closing && self.last_checkpoint.elapsed() < wait {
            return Ok(());
        }
        let started = Instant::now();
        let state = Checkpoint {
            completed: self.next,
            warnings: self.warnings.clone(),
            sums: self
                .folds
                .iter()
                .map(|f| f.as_ref().map(TreeFold::encode))
                .collect(),
            failed: self
                .failures
                .iter()
                .map(|(t, e)| (*t, e.to_string()))
                .collect(),
            closing,
        };
        let sink = &mut *self.sink;
        let recorded = contained(|| sink.checkpoint(&state)).map_err(|message| {
            self.poisoned = true;
            crashed(
                Default::default(),
                format!(
                    "the output writer (recording a checkpoint after {} tasks)",
                    state.completed
                ),
                message,
            )
        })??;
        if recorded {
            self.last_checkpoint = Instant::now();
            self.checkpoint_cost = started.elapsed();
        }
        Ok(())
    }

    /// [`accept`](Self::accept), with a panic in the sink or the progress callback turned
    /// into an error naming the task (the sink is then poisoned).
    pub fn accept_contained(&mut self, result: TaskResult, pools: &Pools) -> Result<usize> {
        if self.poisoned {
            return Err(Error::output("results", "the output writer failed earlier"));
        }
        match contained(|| self.accept(result, pools)) {
            Ok(applied) => applied,
            Err(message) => {
                let (index, caller) = self.current.take().unwrap_or((self.next, Caller::Sink));
                // A panicking progress callback leaves the sink intact: its work may still
                // be checkpointed.
                if caller == Caller::Sink {
                    self.poisoned = true;
                }
                Err(crashed(
                    self.task_context(index),
                    format!("{} (task {index})", caller.describe()),
                    message,
                ))
            }
        }
    }

    /// Marks the sink as unusable after a panic on the writer thread outside `accept`.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Where task `index` is: its trial and channels.
    pub fn task_context(&self, index: usize) -> crate::error::TaskContext {
        let task = self.prepared.tasks.get(index);
        crate::error::TaskContext {
            trial: task.map(|t| t.trial),
            channels: task.map(|t| t.channels.clone()),
            ..Default::default()
        }
    }

    /// Number of tasks applied so far (always a prefix of task order).
    pub fn completed(&self) -> usize {
        self.next
    }

    /// Accepts one result and applies every result that is now next in order. Returns how
    /// many tasks were applied, so the caller can release that many in-flight slots.
    pub fn accept(&mut self, result: TaskResult, pools: &Pools) -> Result<usize> {
        // A task before `next` is applied already: no executor sends one twice.
        let Some(slot) = result.task.checked_sub(self.next) else {
            return Ok(0);
        };
        if self.pending.len() <= slot {
            self.pending.resize_with(slot + 1, || None);
        }
        self.pending[slot] = Some(result);
        let mut applied = 0;
        while let Some(Some(_)) = self.pending.front() {
            let result = self
                .pending
                .pop_front()
                .flatten()
                .expect("checked just above");
            self.current = Some((self.next, Caller::Sink));
            self.apply(result, pools)?;
            self.next += 1;
            applied += 1;
            if let Some(progress) = self.progress {
                self.current = Some((self.next - 1, Caller::Progress));
                progress(self.next, self.end);
            }
            self.current = None;
            // After every task, not once per batch: a sink that defers checkpoints to its
            // own boundaries must be offered each one.
            if self.next < self.end {
                self.checkpoint(false)?;
            }
        }
        Ok(applied)
    }

    /// Kernel warnings collected so far, in task order.
    pub fn take_warnings(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.warnings)
    }

    fn apply(&mut self, result: TaskResult, pools: &Pools) -> Result<()> {
        self.warnings.extend(result.warnings);
        if let Some(error) = result.failure {
            return self.apply_failure(result.task, error);
        }
        for (obj, output) in result.outputs.into_iter().enumerate() {
            match output {
                // A whole trial's contribution to a fold is handed over with its buffer, which
                // the fold keeps as a leaf instead of copying it (tens of MB per trial for
                // cross-spectra); the pool gets a buffer the fold no longer needs.
                SavedOutput::Dense {
                    data: DenseValues::F64(values),
                    ..
                } if self.folds[obj].is_some()
                    && self.prepared.tasks[result.task].n_groups == 1 =>
                {
                    let trial = self.prepared.tasks[result.task].trial;
                    let fold = self.folds[obj].as_mut().expect("checked above");
                    pools.give_dense(DenseValues::F64(fold.fill_owned(trial, values)));
                }
                SavedOutput::Dense { data, shape } => {
                    self.apply_dense(obj, result.task, data.view(shape))?;
                    pools.give_dense(data);
                }
                SavedOutput::Written => {
                    let placement = &self.prepared.objects[obj].placements[result.task];
                    self.sink.block_written(self.ids[obj], placement)?;
                }
                SavedOutput::Events(events) => {
                    self.trial_events[obj].extend_from(&events);
                    pools.events.give(events);
                    self.flush_trial_events(obj, result.task)?;
                }
            }
        }
        Ok(())
    }

    /// A failed task (`on_error: continue`): NaN where its dense blocks go, no events (but
    /// the trial's events from other channel groups are still written).
    fn apply_failure(&mut self, index: usize, error: Error) -> Result<()> {
        self.failures.push((index, error));
        let task = &self.prepared.tasks[index];
        let mut nan_block = std::mem::take(&mut self.nan_block);
        for obj in 0..self.ids.len() {
            if self.prepared.objects[obj].schema.kind.is_dense() {
                let step = &self.prepared.steps[self.prepared.object_steps[obj]];
                let shape = step.task_output_values_shape(task);
                nan_block.clear();
                nan_block.resize(ndarray::Dimension::size(&shape), f64::NAN);
                let block =
                    ArrayViewD::from_shape(shape, &nan_block[..]).expect("block matches its shape");
                self.apply_dense(obj, index, block.into())?;
            } else {
                self.flush_trial_events(obj, index)?;
            }
        }
        self.nan_block = nan_block;
        Ok(())
    }

    /// Puts a task's dense block into its trial's contribution to a cross-trial fold (its
    /// channel slice; the trial joins the fold after its last channel group), or writes it
    /// where it goes.
    fn apply_dense(&mut self, obj: usize, index: usize, block: DenseBlock<'_>) -> Result<()> {
        let object = &self.prepared.objects[obj];
        if let Some(fold) = &mut self.folds[obj] {
            let DenseBlock::F64(block) = block else {
                unreachable!("cross-trial blocks stay f64 until the result is written")
            };
            let task = &self.prepared.tasks[index];
            let values = block
                .as_slice()
                .expect("blocks reach the writer in standard layout");
            let last = task.group + 1 == task.n_groups;
            let channels = if task.n_groups > 1 {
                task.channels.clone()
            } else {
                0..fold.channels()
            };
            fold.fill(task.trial, channels, values, last);
            Ok(())
        } else {
            self.sink
                .write_dense(self.ids[obj], &object.placements[index], block)
        }
    }

    /// Writes a block that is part of a task's (a time chunk's rows, `engine/chunks/`),
    /// straight to the sink: the task completes later with no outputs of its own.
    pub(crate) fn write_rows(
        &mut self,
        obj: usize,
        placement: &super::sink::TaskPlacement,
        block: DenseBlock<'_>,
    ) -> Result<()> {
        if self.poisoned {
            return Err(Error::output("results", "the output writer failed earlier"));
        }
        let (sink, id) = (&mut *self.sink, self.ids[obj]);
        contained(|| sink.write_dense(id, placement, block)).map_err(|message| {
            self.poisoned = true;
            crashed(
                self.task_context(placement.task),
                format!("the output writer (trial {})", placement.trial),
                message,
            )
        })?
    }

    /// Appends a time chunk's events of a trial (within-trial samples, any order), moved
    /// into the recording's sample space and ordered like a whole trial's.
    pub(crate) fn append_chunk_events(
        &mut self,
        obj: usize,
        trial: usize,
        events: &mut EventBlock,
    ) -> Result<()> {
        if self.poisoned {
            return Err(Error::output("results", "the output writer failed earlier"));
        }
        let step = &self.prepared.steps[self.prepared.object_steps[obj]];
        let start = step.input.trialdefinition.start(trial) as i64;
        shift_into_recording(events, &step.output.event_columns, start);
        events.sort_rows();
        let (sink, id) = (&mut *self.sink, self.ids[obj]);
        contained(|| sink.append_events(id, trial, events)).map_err(|message| {
            self.poisoned = true;
            crashed(
                TaskContext {
                    trial: Some(trial),
                    ..Default::default()
                },
                format!("the output writer (events of trial {trial})"),
                message,
            )
        })?
    }

    /// After a trial's last channel group: moves the trial's gathered events into the
    /// recording's sample space, orders them and hands them to the sink.
    fn flush_trial_events(&mut self, obj: usize, index: usize) -> Result<()> {
        let task = &self.prepared.tasks[index];
        if task.group + 1 < task.n_groups {
            return Ok(());
        }
        let gathered = &mut self.trial_events[obj];
        let step = &self.prepared.steps[self.prepared.object_steps[obj]];
        let start = step.input.trialdefinition.start(task.trial) as i64;
        shift_into_recording(gathered, &step.output.event_columns, start);
        gathered.sort_rows();
        self.sink
            .append_events(self.ids[obj], task.trial, gathered)?;
        gathered.clear();
        Ok(())
    }

    /// Writes the cross-trial results: the mean for `keeptrials: false`, the routine's
    /// `finish_reduction` for a trial-reducing step. Call once every task has been accepted
    /// (in a whole run or a merge; a shard only records its subtrees).
    pub fn finish(&mut self, pipeline: &Pipeline) -> Result<()> {
        let n_trials = self.prepared.steps[0].input.n_trials();
        for obj in 0..self.folds.len() {
            let Some(mut fold) = self.folds[obj].take() else {
                continue;
            };
            let mut total = fold.total(n_trials)?;
            let k = self.prepared.object_steps[obj];
            let step = &self.prepared.steps[k];
            let object = &self.prepared.objects[obj];
            let placement = &object.placements[0];
            let result = match self.prepared.cross_trial[obj] {
                Some(CrossTrial::Reduction) => {
                    let routine = pipeline.steps[k].routine.as_ref();
                    // On the compute workers' pool (idle by now): a finish that works in
                    // parallel (rayon) uses as many threads as the run's workers.
                    let pool = worker_pool(self.prepared.workers)
                        .map_err(|e| Error::input("thread pool", e, ErrorClass::Runtime))?;
                    guarded(
                        || step.context(),
                        || "the routine's finish_reduction".into(),
                        || {
                            pool.install(|| {
                                finish_reduction(
                                    routine,
                                    step,
                                    &object.schema,
                                    &mut total,
                                    n_trials,
                                )
                            })
                        },
                    )?
                }
                _ => {
                    let n = n_trials as f64;
                    total.iter_mut().for_each(|v| *v /= n);
                    total
                }
            };
            let shape = IxDyn(&fold_shape_of(
                &object.schema.trial_shapes[0],
                object.schema.dtype.is_complex(),
            ));
            let block = ArrayViewD::from_shape(shape, &result[..]).expect("sized to the result");
            let (sink, id) = (&mut *self.sink, self.ids[obj]);
            contained(|| sink.write_dense(id, placement, block.into())).map_err(|message| {
                self.poisoned = true;
                crashed(
                    Default::default(),
                    "the output writer (writing a cross-trial result)".into(),
                    message,
                )
            })??;
        }
        Ok(())
    }
}

/// The shape of an object's per-trial fold state: the step's contribution (a reducing step)
/// or its output block (averaging), all channels, with the (re, im) axis of complex values.
fn fold_shape(prepared: &PreparedPipeline, obj: usize) -> Vec<usize> {
    let step = &prepared.steps[prepared.object_steps[obj]];
    match &step.reduction {
        Some(r) => fold_shape_of(r.shape(), r.is_complex()),
        None => fold_shape_of(&step.output.trial_shapes[0], step.output.dtype.is_complex()),
    }
}

/// Moves within-trial sample indices into the recording's sample space.
fn shift_into_recording(
    events: &mut EventBlock,
    columns: &[crate::model::EventColumn],
    start: i64,
) {
    for s in &mut events.sample {
        *s += start;
    }
    for (col, values) in columns.iter().zip(&mut events.columns) {
        if matches!(
            col.kind,
            EventColumnKind::SampleIndex | EventColumnKind::SamplePosition
        ) {
            for v in values.iter_mut() {
                *v += start as f64;
            }
        }
    }
}
