use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};

use crate::error::{Error, Result, TaskContext};
use crate::model::{DType, EventBlock, EventSortScratch};
use crate::routine::{OutputBlock, Scratch, TrialInput};
use num_complex::Complex64;

use super::contain::contained;
use super::options::Pipeline;
use super::pool::Pool;
use super::prepare::PreparedPipeline;
use super::sink::{BlockSpot, DenseBlock, DirectBlockWriter};
use super::task_input::{empty_values, TaskData};
use super::tasks::Task;

/// One saved step's output for one task, on its way to the writer.
#[derive(Debug)]
pub(crate) enum SavedOutput {
    Dense {
        data: DenseValues,
        shape: IxDyn,
    },
    /// Already written by the worker through the sink's `DirectBlockWriter`.
    Written,
    Events(EventBlock),
}

/// A dense block's values, in the precision the sink receives them in (see `DenseBlock`).
#[derive(Debug)]
pub(crate) enum DenseValues {
    F64(Vec<f64>),
    F32(Vec<f32>),
}

/// A task's saved outputs, one per output object.
#[derive(Debug)]
pub(crate) struct TaskResult {
    pub task: usize,
    pub outputs: Vec<SavedOutput>,
    /// Warnings kernels raised: (step index, message with its context).
    pub warnings: Vec<(usize, String)>,
    /// Why the task failed (`on_error: continue` only; `outputs` is then empty).
    pub failure: Option<Error>,
}

impl TaskResult {
    /// A failed task's place in the order of results (`on_error: continue`).
    pub fn failed(task: usize, error: Error) -> TaskResult {
        TaskResult {
            task,
            outputs: Vec::new(),
            warnings: Vec::new(),
            failure: Some(error),
        }
    }
}

/// Buffers pooled between workers and the writer.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    pub dense: Pool<Vec<f64>>,
    pub dense_f32: Pool<Vec<f32>>,
    pub events: Pool<EventBlock>,
    /// Event trials of a SpikeData input, as the reader read them.
    pub trial_events: Pool<EventBlock>,
    pub trials: Pool<Vec<f64>>,
    pub trials_f32: Pool<Vec<f32>>,
    pub encoded: Pool<Vec<u8>>,
}

impl DenseValues {
    /// The values as a block of `shape`.
    pub fn view(&self, shape: IxDyn) -> DenseBlock<'_> {
        match self {
            DenseValues::F64(v) => DenseBlock::F64(
                ArrayViewD::from_shape(shape, &v[..]).expect("block matches its shape"),
            ),
            DenseValues::F32(v) => DenseBlock::F32(
                ArrayViewD::from_shape(shape, &v[..]).expect("block matches its shape"),
            ),
        }
    }
}

impl Pools {
    /// Returns a written block's buffer for reuse.
    pub fn give_dense(&self, values: DenseValues) {
        match values {
            DenseValues::F64(v) => self.dense.give(v),
            DenseValues::F32(v) => self.dense_f32.give(v),
        }
    }
}

/// What one compute worker owns: an output buffer and scratch per step, reused across tasks
/// so that, once warmed up, a task allocates nothing.
pub(crate) struct WorkerState {
    /// Per output object, the sink's writer for blocks written from this worker.
    direct: Vec<Option<Arc<dyn DirectBlockWriter>>>,
    dense: Vec<Vec<f64>>,
    events: Vec<EventBlock>,
    scratch: Vec<Scratch>,
    /// The task's float32 input widened to f64, for a first step whose kernel reads f64.
    widened: Vec<f64>,
    /// Orders a step's events before the next step reads them.
    sort: EventSortScratch,
    /// False in debug mode, which also fills output blocks with NaN before each kernel.
    catch_panics: bool,
    /// Per output object, small blocks staged for one combined write
    /// ([`combine_small_blocks`](Self::combine_small_blocks)).
    staged: Vec<StagedRun>,
    combine: bool,
    /// A combined write that failed while staging the next block, with its first task;
    /// [`flush_staged`](Self::flush_staged) reports it.
    failed_run: Option<(usize, Error)>,
}

/// Blocks below this many stored bytes are staged and written together with the blocks of
/// the following tasks that lie right after them in the same file; larger ones are
/// written on their own, as the copy would then cost more than the call it saves.
const STAGE_BLOCK_BYTES: usize = 64 << 10;

/// A combined write is issued once this many bytes are staged.
const STAGE_RUN_BYTES: usize = 1 << 20;

/// Stored bytes of consecutive blocks that follow on from one another in one file.
#[derive(Debug, Default)]
struct StagedRun {
    /// Where the first staged block goes; `None` when nothing is staged.
    spot: Option<BlockSpot>,
    /// The first staged block's task.
    first_task: usize,
    bytes: Vec<u8>,
}

impl StagedRun {
    /// Whether a block at `spot` lies right after the staged ones.
    fn continues(&self, spot: &BlockSpot, len: usize) -> bool {
        self.spot.is_some_and(|s| {
            s.file == spot.file
                && s.stores_f32 == spot.stores_f32
                && s.offset + self.bytes.len() as u64 == spot.offset
                && self.bytes.len() + len <= STAGE_RUN_BYTES
        })
    }

    /// Appends `values` as the stored numbers.
    fn push(&mut self, values: &[f64], stores_f32: bool) {
        // Written into the spare capacity rather than zero-filled and then overwritten:
        // with tiny trials, the zero fill was a pass over every output byte.
        let width = if stores_f32 { 4 } else { 8 };
        let (start, len) = (self.bytes.len(), values.len() * width);
        self.bytes.reserve(len);
        let spare = &mut self.bytes.spare_capacity_mut()[..len];
        if stores_f32 {
            for (to, &v) in spare.chunks_exact_mut(4).zip(values) {
                for (to, byte) in to.iter_mut().zip((v as f32).to_ne_bytes()) {
                    to.write(byte);
                }
            }
        } else {
            for (to, &v) in spare.chunks_exact_mut(8).zip(values) {
                for (to, byte) in to.iter_mut().zip(v.to_ne_bytes()) {
                    to.write(byte);
                }
            }
        }
        // SAFETY: the loops above initialised all `len` bytes after `start` (`values` has
        // `len / width` values, each written as `width` bytes), within the reserved capacity.
        unsafe { self.bytes.set_len(start + len) };
    }
}

impl WorkerState {
    pub fn new(
        prepared: &PreparedPipeline,
        direct: &[Option<Arc<dyn DirectBlockWriter>>],
        catch_panics: bool,
    ) -> Self {
        let n = prepared.steps.len();
        let mut scratch: Vec<Scratch> = (0..n).map(|_| Scratch::default()).collect();
        for (s, step) in scratch.iter_mut().zip(&prepared.steps) {
            s.reserve(step.scratch);
        }
        let events = prepared
            .steps
            .iter()
            .map(|s| EventBlock::with_columns(s.output.event_columns.len()))
            .collect();
        WorkerState {
            direct: direct.to_vec(),
            dense: vec![Vec::new(); n],
            events,
            scratch,
            widened: Vec::new(),
            sort: EventSortScratch::default(),
            catch_panics,
            staged: (0..direct.len()).map(|_| StagedRun::default()).collect(),
            combine: false,
            failed_run: None,
        }
    }

    /// Lets small blocks that the sink would place one after another be staged and written
    /// together (see [`DirectBlockWriter::locate`]); both executors turn it on. Their tasks' results then say
    /// `Written` before the bytes are in the file: the caller must
    /// [`flush_staged`](Self::flush_staged) before it hands those results on.
    pub fn combine_small_blocks(&mut self) {
        self.combine = true;
    }

    /// Whether blocks are staged (or a staged write failed) and not yet flushed.
    pub fn has_staged(&self) -> bool {
        self.failed_run.is_some() || self.staged.iter().any(|r| r.spot.is_some())
    }

    /// Writes every staged run. On failure, gives the first task whose block may be
    /// missing, with the error: results from that task on must not be handed on.
    pub fn flush_staged(&mut self) -> std::result::Result<(), (usize, Error)> {
        let first = self
            .staged
            .iter()
            .filter(|r| r.spot.is_some())
            .map(|r| r.first_task)
            .chain(self.failed_run.as_ref().map(|(t, _)| *t))
            .min();
        let mut failed = self.failed_run.take().map(|(_, e)| e);
        for (obj, run) in self.staged.iter_mut().enumerate() {
            if failed.is_some() {
                run.spot = None;
                run.bytes.clear();
            } else if let Err(e) = flush_run(self.direct[obj].as_deref(), run) {
                failed = Some(e);
            }
        }
        match failed {
            Some(e) => Err((first.unwrap_or(0), e)),
            None => Ok(()),
        }
    }

    /// Stages a small block if the sink can place it in a combined write; false if it
    /// must be written on its own. A failed write of the previous run is kept for
    /// [`flush_staged`](Self::flush_staged).
    fn stage(
        &mut self,
        obj: usize,
        placement: &super::sink::TaskPlacement,
        values: &[f64],
    ) -> bool {
        let Some(direct) = self.direct[obj].as_deref() else {
            return false;
        };
        if !self.combine || values.is_empty() || values.len() * 8 > STAGE_BLOCK_BYTES * 2 {
            return false;
        }
        let Some(spot) = direct.locate(placement) else {
            return false;
        };
        let len = values.len() * if spot.stores_f32 { 4 } else { 8 };
        if len > STAGE_BLOCK_BYTES {
            return false;
        }
        let run = &mut self.staged[obj];
        if !run.continues(&spot, len) {
            let first = run.first_task;
            if let Err(e) = flush_run(Some(direct), run) {
                // Those blocks' tasks already returned `Written`: the flush reports it.
                self.failed_run.get_or_insert((first, e));
            }
            run.spot = Some(spot);
            run.first_task = placement.task;
        }
        run.push(values, spot.stores_f32);
        true
    }

    /// Runs every step on one task. `input` holds the task's channels of its trial.
    pub fn run_task(
        &mut self,
        _pipeline: &Pipeline,
        prepared: &PreparedPipeline,
        task: &Task,
        input: TaskData<'_>,
        pools: &Pools,
    ) -> Result<TaskResult> {
        let mut warnings = Vec::new();
        for (k, step) in prepared.steps.iter().enumerate() {
            let (before, after) = self.dense.split_at_mut(k);
            let (events_before, events_after) = self.events.split_at_mut(k);
            let plan = step.plan_for(task);
            let mut data_f32 = None;
            let (data, events): (ArrayViewD<'_, f64>, Option<&EventBlock>) = if k == 0 {
                match &input {
                    TaskData::Dense(values) => (values.view(), None),
                    TaskData::F32(values) if plan.reads_f32() => {
                        data_f32 = Some(values.view());
                        (empty_values(task), None)
                    }
                    TaskData::F32(values) => (widen(values, &mut self.widened), None),
                    TaskData::Events(events) => (empty_values(task), Some(*events)),
                }
            } else if prepared.steps[k - 1].output.kind.is_dense() {
                // Complex values keep their trailing (re, im) axis (`TrialInput::complex_values`).
                let prev = &prepared.steps[k - 1];
                let shape = prev.task_output_values_shape(task);
                let n = shape.size();
                let data = ArrayViewD::from_shape(shape, &before[k - 1][..n])
                    .expect("buffer sized to the declared shape");
                (data, None)
            } else {
                // The previous step's events, ordered as a file's would be (the kernel may
                // have pushed them channel by channel).
                let events = &mut events_before[k - 1];
                events.sort_rows_with(&mut self.sort);
                (empty_values(task), Some(&*events))
            };
            let input = TrialInput {
                data,
                data_f32,
                events,
                trial_len: step.input.trialdefinition.trial_len(task.trial),
                trial: task.trial,
                channels: task.channels.clone(),
                samplerate: step.input.samplerate,
                offset: step.input.trialdefinition.offset(task.trial),
            };
            let scratch = &mut self.scratch[k];
            let context = || TaskContext {
                trial: Some(task.trial),
                channels: Some(task.channels.clone()),
                ..step.context()
            };
            let outcome = if step.output.kind.is_dense() {
                let shape = step.task_output_shape(task);
                let n = shape.size() * if step.block_is_complex() { 2 } else { 1 };
                let buf = &mut after[0];
                if buf.capacity() < n {
                    // A fresh buffer (tens of MB for cross-spectra): huge pages if large.
                    *buf = super::huge_pages::vec_with_capacity(n);
                }
                if buf.len() < n {
                    buf.resize(n, 0.0);
                }
                if !self.catch_panics {
                    // Debug mode: a kernel that skips an element leaves NaN there, not the
                    // previous task's value.
                    buf[..n].fill(f64::NAN);
                }
                let mut out = if step.block_is_complex() {
                    let view = ArrayViewMutD::from_shape(shape, as_complex(&mut buf[..n]))
                        .expect("buffer sized to the declared shape");
                    OutputBlock::Complex(view)
                } else {
                    let view = ArrayViewMutD::from_shape(shape, &mut buf[..n])
                        .expect("buffer sized to the declared shape");
                    OutputBlock::Dense(view)
                };
                call(self.catch_panics, || {
                    plan.compute(&input, &mut out, scratch)
                })
            } else {
                let events = &mut events_after[0];
                events.clear();
                let mut out = OutputBlock::Events(events);
                call(self.catch_panics, || {
                    plan.compute(&input, &mut out, scratch)
                })
            };
            for warning in self.scratch[k].take_warnings() {
                warnings.push((k, format!("{}: {warning}", context())));
            }
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    return Err(Error::Routine {
                        context: Box::new(context()),
                        source,
                    })
                }
                Err(message) => {
                    return Err(Error::Panic {
                        context: Box::new(context()),
                        message,
                    })
                }
            }
            if step.output.kind.is_dense() {
                let n = step.task_output_values_shape(task).size();
                self.dense[k].truncate(n);
            }
        }

        let mut outputs = Vec::with_capacity(prepared.objects.len());
        for (obj, (object, &k)) in prepared
            .objects
            .iter()
            .zip(&prepared.object_steps)
            .enumerate()
        {
            let step = &prepared.steps[k];
            if step.output.kind.is_dense() {
                let stored_f32 = matches!(object.schema.dtype, DType::Float32 | DType::Complex64);
                let shape = step.task_output_values_shape(task);
                // The sink rounds to f32 itself as it writes, a cache-sized chunk at a
                // time, so the block is offered in f64 and no f32 copy is made.
                if self.direct[obj].is_some() {
                    let placement = &object.placements[task.index];
                    let n = shape.size();
                    // Small blocks are staged (narrowed as they are copied) and written with
                    // their neighbours; the caller flushes them before handing results on.
                    let values = std::mem::take(&mut self.dense[k]);
                    let staged = self.stage(obj, placement, &values[..n]);
                    self.dense[k] = values;
                    if staged {
                        outputs.push(SavedOutput::Written);
                        continue;
                    }
                    let direct = self.direct[obj].as_ref().expect("checked above");
                    let block = ArrayViewD::from_shape(shape.clone(), &self.dense[k][..n])
                        .expect("buffer sized to the declared shape");
                    if direct.try_write(placement, &DenseBlock::F64(block))? {
                        outputs.push(SavedOutput::Written);
                        continue;
                    }
                }
                let data = if stored_f32 && prepared.cross_trial[obj].is_none() {
                    let mut narrow = pools.dense_f32.take();
                    narrow.clear();
                    narrow.extend(self.dense[k].iter().map(|&v| v as f32));
                    DenseValues::F32(narrow)
                } else {
                    DenseValues::F64(std::mem::replace(&mut self.dense[k], pools.dense.take()))
                };
                outputs.push(SavedOutput::Dense { data, shape });
            } else {
                let mut fresh = pools.events.take();
                fresh.clear();
                fresh
                    .columns
                    .resize(step.output.event_columns.len(), Vec::new());
                let events = std::mem::replace(&mut self.events[k], fresh);
                outputs.push(SavedOutput::Events(events));
            }
        }
        Ok(TaskResult {
            task: task.index,
            outputs,
            warnings,
            failure: None,
        })
    }
}

/// Writes a staged run, if any, and empties it.
fn flush_run(direct: Option<&dyn DirectBlockWriter>, run: &mut StagedRun) -> Result<()> {
    let Some(spot) = run.spot.take() else {
        return Ok(());
    };
    let outcome = match direct {
        Some(direct) => direct.write_run(&spot, &run.bytes),
        None => Err(Error::output(
            "results",
            "blocks were staged for an object without a direct writer (an internal error)",
        )),
    };
    run.bytes.clear();
    outcome
}

/// A task's float32 channels (see `TaskData::F32`) widened into `out`, for a kernel that
/// reads f64: the reader hands float32 trials over as stored (`TrialSource::read_trial_f32`).
fn widen<'b>(values: &ArrayView2<'_, f32>, out: &'b mut Vec<f64>) -> ArrayViewD<'b, f64> {
    out.clear();
    match values.as_slice() {
        Some(all) => out.extend(all.iter().map(|&v| f64::from(v))),
        None => {
            for row in values.rows() {
                match row.as_slice() {
                    Some(row) => out.extend(row.iter().map(|&v| f64::from(v))),
                    None => out.extend(row.iter().map(|&v| f64::from(v))),
                }
            }
        }
    }
    ArrayView2::from_shape(values.dim(), &out[..values.len()])
        .expect("sized above")
        .into_dyn()
}

/// The engine keeps complex values as interleaved (re, im) f64, so buffers, pools, averaging
/// and sinks stay real-valued; kernels see them as `Complex64`.
pub(crate) fn as_complex(values: &mut [f64]) -> &mut [Complex64] {
    assert!(
        values.len().is_multiple_of(2),
        "complex buffers hold (re, im) pairs"
    );
    // SAFETY: `Complex<f64>` is `#[repr(C)]` with fields `re`, `im` (num-complex documents
    // it as FFI-equivalent to `[f64; 2]`), so it has f64's alignment and twice its size; the
    // slice covers exactly `len / 2` such pairs and the borrow is carried over unchanged.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), values.len() / 2) }
}

/// Calls a kernel, turning a panic into an error message unless the run is in debug mode.
fn call<T>(catch_panics: bool, f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    if !catch_panics {
        return Ok(f());
    }
    contained(f)
}
