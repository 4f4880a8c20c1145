//! Writes results into a `.spy` container that Syncopy's `spy.load` opens.
//!
//! Everything is built in a staging folder beside the final one (`<name>.spy.partial`) and
//! renamed into place by `commit`, so a container either appears complete or not at all; an
//! existing container is replaced only with `overwrite`, and only once the new one is
//! complete. Per-task source files of a virtual dataset live inside the container and are
//! referenced by paths relative to the object file, so the container can be moved.
//!
//! The staging folder is also what makes runs resumable: a progress journal
//! (`journal.rs`) records, after the data is durable, how many tasks are complete. `--resume`
//! reopens it and continues; shards of one run (`--shard I/N`, MPI ranks) each write their
//! own per-task files and journal into the same staging folder, and a merge assembles them.

mod checkpoints;
mod commit;
mod dense;
mod events;
mod resume;
mod staging;
mod timelock;

pub use timelock::TIMELOCK_DATASETS;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use trialflow_core::engine::{
    Checkpoint, DenseBlock, DirectBlockWriter, ObjectId, ObjectMetadata, ObjectSpec, ResultSink,
    StoreLayout, TaskPlacement,
};
use trialflow_core::{DataKind, Error, EventBlock};

use crate::container::ContainerPath;
use crate::error::StorageError;
use crate::event_sidecar::EventSidecar;
use crate::hdf5_util::one_line;
use crate::journal::{JournalState, JournalWriter};
use crate::parts::{OpenPart, PartSlots, StackedLane};
use crate::raw_io::{raw_offset, ContiguousBlocks, Writeback};
use crate::typed::{with_storage_type, ConversionBuffers};

/// Largest attribute we write; HDF5 keeps attributes in the object header (64 KiB at most),
/// and Syncopy treats them as convenience copies of what `.info` holds.
const MAX_ATTR_BYTES: usize = 32 * 1024;

/// Which part of a run a writer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// A whole run; a staging folder left by an interrupted run is discarded.
    #[default]
    Fresh,
    /// A whole run that continues the interrupted run in the staging folder, if any (after
    /// checking it is the same pipeline and input); otherwise starts afresh.
    Resume,
    /// Shard `index` of `count`: per-task files and a journal only, no output object; with
    /// `resume`, continues this shard's own interrupted work.
    Shard {
        index: usize,
        count: usize,
        resume: bool,
    },
    /// Assembles the output from the parts every shard wrote.
    Merge,
}

/// How a writer treats an existing container and the staging folder.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Replace an existing container (only once the new one is complete).
    pub overwrite: bool,
    pub mode: WriteMode,
    /// Sync completed work to disk before the journal claims it (`execution.durable`); see
    /// `durability.rs`.
    pub durable: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            overwrite: false,
            mode: WriteMode::default(),
            durable: true,
        }
    }
}

struct ObjectState {
    spec: ObjectSpec,
    file_name: String,
    /// The object file, open from `preallocate` (contiguous data) or created at `finalize`
    /// (per-task files, events).
    file: Option<hdf5::File>,
    data: Option<hdf5::Dataset>,
    /// Where `data`'s blocks go when they can be written without HDF5 (`raw_io`).
    raw: Option<Arc<ContiguousBlocks>>,
    /// Event rows waiting for `finalize` (events only).
    events: Option<EventSidecar>,
    /// The part file being filled (per-task layout only).
    part: Option<OpenPart>,
    /// The stacked lane files this writer closed, by file name (see [`StackedLane`]).
    closed_lanes: HashMap<String, StackedLane>,
    /// Where the open part wants each planned block, shared with the compute workers
    /// (per-task layout only).
    slots: Option<Arc<PartSlots>>,
    /// Channel and unit indices present in event data: Syncopy's SpikeData wants one label
    /// per distinct channel (and unit) that occurs, not per recorded channel.
    seen_channels: BTreeSet<i64>,
    seen_units: BTreeSet<i64>,
}

/// A [`ResultSink`] writing Syncopy objects into a `.spy` container.
pub struct SpyWriter {
    container: ContainerPath,
    staging: PathBuf,
    options: WriterOptions,
    objects: Vec<ObjectState>,
    buffers: ConversionBuffers,
    committed: bool,
    /// This writer's lock file in the staging folder (holds our pid).
    lock: PathBuf,
    journal: Option<JournalWriter>,
    /// What the journal said when resuming.
    recorded: Option<JournalState>,
    /// The shards found when merging, in order.
    merged_shards: usize,
    /// Part files closed since the last checkpoint, each being synced to disk on its own
    /// thread while the run goes on; the next checkpoint waits for them.
    unsynced: Vec<std::thread::JoinHandle<Result<(), StorageError>>>,
    /// When the last checkpoint was recorded (or the writer created).
    last_recorded: std::time::Instant,
    /// Whether a checkpoint with completed work was recorded (then an abort keeps the
    /// staging folder for `--resume`).
    progressed: bool,
    /// When the first block was applied, and to which task: the pace that sizes parts.
    pace: Option<(std::time::Instant, usize)>,
    /// The tasks (first, last) of the latest part planned, which every object's part
    /// opened at `first` takes.
    part_plan: Option<(usize, usize)>,
    /// The generation of the last averaging sums the journal names (see `sums.rs`).
    sums_generation: u64,
    /// Test hook: stop dead right after writing this many sums files (see
    /// [`SpyWriter::crash_after_sums`]).
    crash_after_sums: Option<usize>,
    sums_written: usize,
    /// Set once the test hook fired: the writer then behaves like a killed process.
    crashed: bool,
}

impl std::fmt::Debug for SpyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpyWriter")
            .field("container", &self.container)
            .field("staging", &self.staging)
            .finish()
    }
}

impl SpyWriter {
    /// The staging folder (`<out>.spy.partial`), where an interrupted run's completed work
    /// stays for `--resume`.
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Whether an abort kept completed work in the staging folder for `--resume`.
    pub fn kept_progress(&self) -> bool {
        !self.committed && self.progressed && self.staging.is_dir()
    }

    fn writeback(&self) -> Writeback {
        Writeback::new(self.options.durable)
    }

    fn shard(&self) -> Option<(usize, usize)> {
        match self.options.mode {
            WriteMode::Shard { index, count, .. } => Some((index, count)),
            _ => None,
        }
    }

    /// The final container folder.
    pub fn container_dir(&self) -> &Path {
        &self.container.dir
    }

    /// The object file path (final location) of a tag and kind.
    pub fn object_path(&self, tag: &str, kind: DataKind) -> PathBuf {
        self.container
            .dir
            .join(self.container.object_file_name(tag, kind))
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> Error {
        StorageError::io(&self.staging.join(what), e).into()
    }
}

impl ResultSink for SpyWriter {
    fn begin(&mut self, identity: &Value) -> Result<Option<Checkpoint>, Error> {
        self.begin_run(identity)
    }

    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        self.record_checkpoint(checkpoint)
    }

    /// Inside a part, `record_checkpoint` defers every checkpoint that is not closing (they
    /// fall between parts), so the engine need not build one after each tiny task.
    fn defers_checkpoint(&self) -> bool {
        !self.crashed && self.inside_part()
    }

    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId, Error> {
        let file_name = self.container.object_file_name(&spec.tag, spec.schema.kind);
        let path = self.staging.join(&file_name);
        let mut state = ObjectState {
            spec: spec.clone(),
            file_name: file_name.clone(),
            file: None,
            data: None,
            raw: None,
            events: None,
            part: None,
            closed_lanes: HashMap::new(),
            slots: None,
            seen_channels: BTreeSet::new(),
            seen_units: BTreeSet::new(),
        };
        if spec.schema.kind.is_dense() {
            if spec.layout == StoreLayout::PerTask {
                let parts = self.staging.join(self.container.parts_dir_name(&spec.tag));
                std::fs::create_dir_all(&parts).map_err(|e| StorageError::io(&parts, e))?;
                state.slots = Some(Arc::new(PartSlots::new(
                    spec.schema.dtype,
                    self.writeback(),
                )));
            } else if self.shard().is_some() {
                // A cross-trial result (the only single-dataset object of a shard): shards
                // record their part of the fold in their checkpoints, and the merge writes
                // the object, so no shard creates it in the shared staging folder.
            } else {
                let (file, ds) = self
                    .create_dense(spec, &path)
                    .map_err(|e| self.fail(&file_name, format!("creating it: {}", one_line(&e))))?;
                state.raw = with_storage_type!(spec.schema.dtype, T => raw_offset::<T>(&ds))
                    .and_then(|offset| {
                        let shape = spec.schema.stacked_shape();
                        let writeback = self.writeback();
                        ContiguousBlocks::open(
                            path.clone(),
                            offset,
                            spec.schema.dtype,
                            &shape,
                            writeback,
                        )
                        .ok()
                    })
                    .map(Arc::new);
                state.file = Some(file);
                state.data = Some(ds);
            }
        } else if self.options.mode != WriteMode::Merge {
            let keep = self
                .recorded
                .as_ref()
                .and_then(|r| r.event_bytes.get(&spec.tag))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let sidecar = self.sidecar_path(&spec.tag, self.shard());
            state.events = Some(EventSidecar::open(
                &sidecar,
                &spec.schema.event_columns,
                keep,
            )?);
        }
        self.objects.push(state);
        let obj = self.objects.len() - 1;
        if spec.schema.kind.is_dense()
            && spec.layout == StoreLayout::PerTask
            && self.options.mode != WriteMode::Merge
        {
            let completed = self.recorded.as_ref().map_or(0, |r| r.checkpoint.completed);
            self.drop_uncovered_parts(obj, completed)?;
        }
        Ok(ObjectId(obj))
    }

    fn write_dense(
        &mut self,
        id: ObjectId,
        placement: &TaskPlacement,
        block: DenseBlock<'_>,
    ) -> Result<(), Error> {
        self.write_block(id, placement, block)
    }

    fn direct_writer(&mut self, id: ObjectId) -> Option<Arc<dyn DirectBlockWriter>> {
        let state = &self.objects[id.0];
        if let Some(slots) = &state.slots {
            return Some(slots.clone());
        }
        let blocks = state.raw.clone()?;
        Some(blocks)
    }

    fn block_written(&mut self, id: ObjectId, placement: &TaskPlacement) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        if self.objects[id.0].slots.is_some() {
            self.task_applied(id.0, placement.task)?;
        }
        Ok(())
    }

    fn append_events(
        &mut self,
        id: ObjectId,
        trial: usize,
        events: &EventBlock,
    ) -> Result<(), Error> {
        self.append_event_rows(id, trial, events)
    }

    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<(), Error> {
        self.finalize_object(id, metadata)
    }

    fn commit(&mut self) -> Result<(), Error> {
        self.commit_container()
    }

    fn abort(&mut self) {
        self.abort_run()
    }
}

impl Drop for SpyWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.abort();
        }
    }
}
