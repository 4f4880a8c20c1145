use std::ops::Range;
use std::sync::Arc;

use ndarray::ArrayViewD;

use crate::error::Result;
use crate::model::{DataSchema, EventBlock};

/// Where trials come from. Only the engine's reader calls it, from one thread, so
/// implementations may hold non-reentrant handles (HDF5 serialises every call anyway).
pub trait TrialSource: Send {
    /// The input's schema: its kind decides how the engine reads trials (dense kinds with
    /// [`read_trial`](Self::read_trial), SpikeData with
    /// [`read_trial_events`](Self::read_trial_events)).
    fn schema(&self) -> &DataSchema;

    /// Reads trial `trial` of dense data, all channels, as row-major f64 in the kind's axis
    /// order with the channel axis last (samples x channels for AnalogData; the schema's
    /// trial shape in general, complex values as (re, im) pairs), into `out` (resized as
    /// needed; its capacity is reused across calls).
    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<()>;

    /// Reads trial `trial` of event data (a SpikeData input) into `out`, replacing its rows:
    /// samples relative to the trial's first sample, absolute channel indices (below the
    /// schema's channel count), rows ordered by (sample, channel, unit). `out`'s capacity is
    /// reused across calls. Only called when the schema's kind is SpikeData.
    fn read_trial_events(&mut self, trial: usize, _out: &mut EventBlock) -> Result<()> {
        Err(crate::error::Error::input(
            self.describe(),
            format!("trial {trial}: this source holds no events"),
            crate::error::ErrorClass::Runtime,
        ))
    }

    /// Reads samples `rows` (within the trial) of trial `trial`, all channels, like
    /// [`read_trial`](Self::read_trial): what a trial cut into time chunks is read by, so
    /// a source that can read part of a trial should (the default reads the whole trial
    /// and keeps the rows, correct but not memory-bounded).
    fn read_trial_rows(
        &mut self,
        trial: usize,
        rows: Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        self.read_trial(trial, out)?;
        let channels = self.schema().n_channels();
        out.truncate(rows.end * channels);
        out.drain(..rows.start * channels);
        Ok(())
    }

    /// Reads trial `trial` like [`read_trial`](Self::read_trial), but as the float32 values
    /// a float32 source stores, returning `false` (and leaving `out` alone) if this source
    /// cannot. The parallel engine prefers it for float32 input: its compute workers then
    /// widen the values, so that work is spread across cores instead of queuing on the one
    /// reader thread.
    fn read_trial_f32(&mut self, _trial: usize, _out: &mut Vec<f32>) -> Result<bool> {
        Ok(false)
    }

    /// Reads the consecutive trials `trials` like [`read_trial_f32`](Self::read_trial_f32),
    /// back to back into `out`, in one read, returning `false` (and leaving `out` alone) if
    /// this source cannot (it stores no float32, or the trials do not follow one another in
    /// storage). The parallel engine uses it for batches of tiny trials, whose tasks then
    /// read their values where this call put them: one copy per byte instead of two.
    fn read_trials_f32(&mut self, _trials: Range<usize>, _out: &mut Vec<f32>) -> Result<bool> {
        Ok(false)
    }

    /// A decoder for trials read with [`read_trial_encoded`](Self::read_trial_encoded), if
    /// this source can hand trials over as stored bytes. The parallel engine then reads only
    /// bytes on its reader thread and decodes (inflates, widens, scales) on the compute
    /// workers, so a compressed or integer recording decodes on every core instead of
    /// queuing on the one thread that may call HDF5.
    fn decoder(&self) -> Option<Arc<dyn TrialDecoder>> {
        None
    }

    /// Reads trial `trial` as bytes that [`decoder`](Self::decoder)'s decoder turns into
    /// the values [`read_trial`](Self::read_trial) gives, bit for bit.
    fn read_trial_encoded(&mut self, _trial: usize, _out: &mut Vec<u8>) -> Result<bool> {
        Ok(false)
    }

    /// The input's `_log`, which results carry forward.
    fn log(&self) -> String {
        String::new()
    }

    /// The input's `cfg`, which results extend with their own steps.
    fn cfg(&self) -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }

    /// A human-readable name for messages.
    fn describe(&self) -> String {
        "input".to_string()
    }

    /// What identifies this input's contents for `--resume` and shard merging (a file's
    /// path, size and modification time, say). Two runs whose identities differ are never
    /// mixed.
    fn identity(&self) -> serde_json::Value {
        serde_json::Value::String(self.describe())
    }
}

/// Turns a trial's stored bytes (from [`TrialSource::read_trial_encoded`]) into row-major
/// samples x channels f64, on any compute worker. It may not call HDF5.
pub trait TrialDecoder: Send + Sync {
    /// Decodes `bytes` into `out` (resized as needed; its capacity is reused).
    fn decode(&self, bytes: &[u8], out: &mut Vec<f64>) -> Result<()>;
}

/// One task's dense block on its way to a sink. Objects stored as float32 or complex64
/// (and written per task, not averaged) arrive as `F32`: the engine rounds them on its
/// compute workers, where that work is spread across cores, rather than on the single
/// writer thread. Everything else arrives as `F64`. Complex values are (re, im) pairs along
/// a trailing axis of length 2, in either precision.
#[derive(Debug, Clone)]
pub enum DenseBlock<'a> {
    F64(ArrayViewD<'a, f64>),
    F32(ArrayViewD<'a, f32>),
}

impl DenseBlock<'_> {
    pub fn shape(&self) -> &[usize] {
        match self {
            DenseBlock::F64(b) => b.shape(),
            DenseBlock::F32(b) => b.shape(),
        }
    }

    /// Number of values (complex values count twice).
    pub fn len(&self) -> usize {
        match self {
            DenseBlock::F64(b) => b.len(),
            DenseBlock::F32(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> From<ArrayViewD<'a, f64>> for DenseBlock<'a> {
    fn from(block: ArrayViewD<'a, f64>) -> Self {
        DenseBlock::F64(block)
    }
}

/// Writes tasks' dense blocks from the compute workers, for storage that knows where each
/// block goes before the writer thread gets to it (a preallocated contiguous dataset). The
/// writer thread then only records that the block is in place, so the bulk copy into
/// storage is spread over the workers instead of queuing on one thread.
pub trait DirectBlockWriter: Send + Sync {
    /// Writes `block` (in the object's storage precision, see [`DenseBlock`]) where
    /// `placement` says; `Ok(false)` if this block cannot be written this way, in which case
    /// it reaches the sink through [`ResultSink::write_dense`] as usual.
    fn try_write(&self, placement: &TaskPlacement, block: &DenseBlock<'_>) -> Result<bool>;

    /// Where the block at `placement` would go, for writers that let small blocks be
    /// combined: a worker then stages the stored bytes of consecutive tasks whose spots
    /// follow on from one another in one file and writes them with one
    /// [`write_run`](Self::write_run). One `pwrite` per 6 KB block cost more than the
    /// copy (a system call, and the kernel zeroing the page cache around every write that
    /// does not cover whole pages). `None`: use [`try_write`](Self::try_write).
    fn locate(&self, _placement: &TaskPlacement) -> Option<BlockSpot> {
        None
    }

    /// Writes `bytes`, the stored values (f32 when [`BlockSpot::stores_f32`], else f64, in
    /// this machine's byte order) of blocks lying one after another from `spot`, which
    /// [`locate`](Self::locate) gave for the first of them.
    fn write_run(&self, spot: &BlockSpot, _bytes: &[u8]) -> Result<()> {
        Err(crate::error::Error::output(
            "results",
            format!(
                "blocks staged for file {} cannot be written (an internal error)",
                spot.file
            ),
        ))
    }
}

/// Where a block lies in a [`DirectBlockWriter`]'s files (see
/// [`DirectBlockWriter::locate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpot {
    /// Names the file among the writer's files; blocks in different files never combine.
    pub file: u64,
    /// Byte offset of the block's first value in that file.
    pub offset: u64,
    /// Whether the file stores f32 numbers (float32, complex64) rather than f64.
    pub stores_f32: bool,
}

/// How a dense output is laid out in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreLayout {
    /// One dataset written by the single writer.
    Single,
    /// One source file per task, joined into the output by a virtual dataset.
    PerTask,
}

/// Where one task's block goes in a dense output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlacement {
    pub task: usize,
    pub trial: usize,
    /// Rows along the stacking axis (axis 0) of the output dataset.
    pub rows: Range<usize>,
    /// Channels along the last axis of the output dataset.
    pub channels: Range<usize>,
    /// The block's full shape.
    pub shape: Vec<usize>,
}

/// Everything storage needs to create one output object before tasks run.
#[derive(Debug, Clone)]
pub struct ObjectSpec {
    /// The object's tag, e.g. `zscore` for `results_zscore.analog`.
    pub tag: String,
    /// The output schema, with the storage dtype decided.
    pub schema: DataSchema,
    pub layout: StoreLayout,
    /// Where each task's block goes (dense output only). Shared: the engine and the sink
    /// both keep the spec, and with many tiny tasks a copy was tens of MB.
    pub placements: Arc<[TaskPlacement]>,
    /// The parallel engine hands its workers this many consecutive tasks at once, in
    /// batches that start at multiples of it (1: task by task). A sink spreading blocks
    /// over several files keeps each batch in one file, so that two workers writing their
    /// batches at the same moment do not queue on one file's lock.
    pub handover: usize,
}

/// Handle to an object a sink has preallocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectId(pub usize);

/// What is written with an object once all its data is in.
#[derive(Debug, Clone)]
pub struct ObjectMetadata {
    pub schema: DataSchema,
    pub log: String,
    pub cfg: serde_json::Value,
    pub info: serde_json::Value,
}

/// How far a run has come: the first `completed` tasks (in task order, always at a trial
/// boundary) are fully applied to the sink, with the kernel warnings they raised and the
/// state of every cross-trial fold. A sink that can keep work across interruptions persists it
/// so that `--resume` can continue from there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub completed: usize,
    /// (step index, message), in task order.
    pub warnings: Vec<(usize, String)>,
    /// Per object formed across trials (`keeptrials: false`, a trial-reducing step), the
    /// complete subtrees of its fold as flat runs `[start, len, values...]` (see
    /// `engine/fold.rs`). A merge's checkpoint holds every shard's runs concatenated.
    pub sums: Vec<Option<Vec<f64>>>,
    /// Tasks that failed under `on_error: continue`: (task index, message).
    pub failed: Vec<(usize, String)>,
    /// Whether the run is ending: no task is applied after this checkpoint, which a sink
    /// must therefore record (it may defer the others).
    pub closing: bool,
}

/// Where results go. Only the engine's writer calls it, from one thread, in task order.
///
/// Nothing a sink writes may look finished before [`commit`](Self::commit): objects are
/// built under temporary names and appear whole or not at all.
pub trait ResultSink: Send {
    /// Called once, before any `preallocate`, with what identifies the run (input identity,
    /// steps and their parameters, tasks, object layout). A sink opened to resume an
    /// interrupted run checks the identity against the one it recorded, refusing a mismatch
    /// with a message naming what differs, and returns how far that run came. A sink that
    /// keeps nothing across runs returns `None`.
    fn begin(&mut self, _identity: &serde_json::Value) -> Result<Option<Checkpoint>> {
        Ok(None)
    }

    /// Called by the writer whenever a prefix of the tasks is fully applied, at most every
    /// few hundred milliseconds and always at the end of the computing (`closing`). A sink
    /// that supports resuming makes the written data durable, then records the checkpoint,
    /// and returns whether it did: one that is not `closing` may be deferred (a sink
    /// filling a file it cannot close yet, say), and is then offered again after the next
    /// task.
    fn checkpoint(&mut self, _checkpoint: &Checkpoint) -> Result<bool> {
        Ok(true)
    }

    /// Whether a checkpoint offered now (not `closing`) would surely be deferred. The
    /// writer offers one after every task once it is due, and a sink that defers it
    /// until its own boundary (a part file filled) would otherwise see a whole checkpoint
    /// built, warnings and fold state copied, for every tiny task until then. It is asked
    /// after every task, before the writer reads the clock, so it must be cheap. A sink
    /// that never defers keeps the default.
    fn defers_checkpoint(&self) -> bool {
        false
    }

    /// The bytes this sink will hold in memory until the run ends for these objects (an
    /// in-memory sink: all of them), counted in the run's memory estimate before anything
    /// is allocated. A sink that writes to files holds nothing.
    fn resident_bytes(&self, _objects: &[ObjectSpec]) -> u64 {
        0
    }

    /// Creates storage for an object.
    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId>;

    /// Writes one task's dense block; the sink converts it to the storage dtype.
    fn write_dense(
        &mut self,
        id: ObjectId,
        placement: &TaskPlacement,
        block: DenseBlock<'_>,
    ) -> Result<()>;

    /// A writer the compute workers may use for this object's blocks (see
    /// [`DirectBlockWriter`]). Blocks written through it are reported to
    /// [`block_written`](Self::block_written), in task order, instead of `write_dense`.
    fn direct_writer(&mut self, _id: ObjectId) -> Option<Arc<dyn DirectBlockWriter>> {
        None
    }

    /// Called in task order for a block a worker wrote through the direct writer.
    fn block_written(&mut self, _id: ObjectId, _placement: &TaskPlacement) -> Result<()> {
        Ok(())
    }

    /// Appends one trial's events, already in the recording's sample space and ordered.
    fn append_events(&mut self, id: ObjectId, trial: usize, events: &EventBlock) -> Result<()>;

    /// Writes the object's metadata once its data is complete.
    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<()>;

    /// Makes every finalized object visible under its final name.
    fn commit(&mut self) -> Result<()>;

    /// Called when the run fails: removes temporary state.
    fn abort(&mut self) {}
}
