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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use hdf5::plist::dataset_create::{AllocTime, FillTime};
use hdf5::{Hyperslab, Selection, SliceOrIndex};
use trialflow_core::engine::{
    Checkpoint, DenseBlock, DirectBlockWriter, ObjectId, ObjectMetadata, ObjectSpec, ResultSink,
    StoreLayout, TaskPlacement,
};
use trialflow_core::{DataKind, Error, EventBlock};

use crate::container::ContainerPath;
use crate::error::StorageError;
use crate::event_sidecar::{read_blocks, EventSidecar};
use crate::hdf5_util::{create_file, one_line, open_rw, write_string_attr, write_strings_attr};
use crate::info::{file_sha1, info_document, FileFacts};
use crate::journal::{
    identity_difference, journal_name, parse_shard_name, read_journal, JournalState, JournalWriter,
};
use crate::parts::{plan_part, OpenPart, PartName, PartSlots, LANES, PART_SECONDS};
use crate::raw_io::{raw_offset, ContiguousBlocks};
use crate::sums::{is_sums_file, read_sums, remove_other_generations, write_sums};
use crate::typed::{stored_shape, with_storage_type, ConversionBuffers, StorageElement};

/// Largest attribute we write; HDF5 keeps attributes in the object header (64 KiB at most),
/// and Syncopy treats them as convenience copies of what `.info` holds.
const MAX_ATTR_BYTES: usize = 32 * 1024;

/// Chunk length (rows) of growing datasets.
const APPEND_CHUNK_ROWS: usize = 4096;

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
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterOptions {
    /// Replace an existing container (only once the new one is complete).
    pub overwrite: bool,
    pub mode: WriteMode,
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
    /// Checks the output location and creates the staging folder. Refuses an existing
    /// container unless `overwrite`, an output that is the input, and a location another run
    /// is writing to.
    pub fn create(output: &Path, options: WriterOptions) -> Result<SpyWriter, StorageError> {
        let container = ContainerPath::new(output)?;
        let staging = staging_dir(&container.dir);
        check_output_location(&container.dir, options)?;
        let shard = match options.mode {
            WriteMode::Shard { index, count, .. } => Some((index, count)),
            _ => None,
        };
        let lock = staging.join(match shard {
            None => ".writer-pid".to_string(),
            Some((i, n)) => format!(".writer-pid.shard-{i}-of-{n}"),
        });
        // Claiming the staging folder (checking who holds it, clearing a dead run's, writing
        // our pid) is one critical section across processes: two runs started together
        // must not both take it.
        let inherited = with_claim_lock(&container.dir, || {
            let mut inherited = false;
            match options.mode {
                WriteMode::Fresh | WriteMode::Resume => {
                    inherited =
                        claim_staging(&container.dir, &staging, options.mode == WriteMode::Resume)?
                }
                WriteMode::Shard { .. } => {
                    std::fs::create_dir_all(&staging).map_err(|e| {
                        StorageError::output(&container.dir, format!("cannot be created: {e}"))
                    })?;
                    if lock_in_use(&lock) {
                        return Err(StorageError::output(
                            &container.dir,
                            format!(
                                "another process is writing this shard ({} is in use)",
                                lock.display()
                            ),
                        ));
                    }
                }
                WriteMode::Merge => {
                    if !staging.is_dir() {
                        return Err(StorageError::output(
                            &container.dir,
                            format!(
                                "has no shards to merge ({} does not exist); run the shards first",
                                staging.display()
                            ),
                        ));
                    }
                    if let Some(busy) = locks_in_use(&staging) {
                        return Err(StorageError::output(
                            &container.dir,
                            format!("cannot be merged while {busy} is still writing"),
                        ));
                    }
                }
            }

            std::fs::write(&lock, std::process::id().to_string())
                .map_err(|e| StorageError::io(&lock, e))?;
            Ok(inherited)
        })?;
        Ok(SpyWriter {
            container,
            staging,
            options,
            objects: Vec::new(),
            buffers: ConversionBuffers::default(),
            committed: false,
            lock,
            journal: None,
            recorded: None,
            merged_shards: 0,
            unsynced: Vec::new(),
            // An interrupted run's work is never ours to delete, even if resuming fails.
            progressed: inherited,
            pace: None,
            part_plan: None,
            sums_generation: 0,
            crash_after_sums: None,
            sums_written: 0,
            crashed: false,
        })
    }

    /// Fault injection for tests of `--resume`: after the `n`-th averaging sums file is
    /// durable and before the journal line naming it is written, the writer stops like a
    /// killed process. That checkpoint fails, every later call fails, and nothing is
    /// cleaned up, so the staging folder holds exactly what a kill at that point leaves.
    #[doc(hidden)]
    pub fn crash_after_sums(&mut self, n: usize) {
        self.crash_after_sums = Some(n);
    }

    fn crashed_error(&self) -> Error {
        StorageError::output(&self.staging, "stopped by an injected crash (a test hook)").into()
    }

    /// The staging folder (`<out>.spy.partial`), where an interrupted run's completed work
    /// stays for `--resume`.
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Whether an abort kept completed work in the staging folder for `--resume`.
    pub fn kept_progress(&self) -> bool {
        !self.committed && self.progressed && self.staging.is_dir()
    }

    fn shard(&self) -> Option<(usize, usize)> {
        match self.options.mode {
            WriteMode::Shard { index, count, .. } => Some((index, count)),
            _ => None,
        }
    }

    fn sidecar_path(&self, tag: &str, shard: Option<(usize, usize)>) -> PathBuf {
        self.staging.join(match shard {
            None => format!("{tag}.events.part"),
            Some((i, n)) => format!("{tag}.events.shard-{i}-of-{n}.part"),
        })
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

    /// The contiguous dataset of a single-layout dense object, allocated when created so
    /// that later writes touch only raw data, never HDF5 metadata: a killed run leaves a
    /// readable file whose journaled blocks are intact.
    fn create_dense(
        &mut self,
        spec: &ObjectSpec,
        path: &Path,
    ) -> hdf5::Result<(hdf5::File, hdf5::Dataset)> {
        let resuming = self.recorded.is_some() && path.exists();
        if resuming {
            let file = open_rw(path)?;
            let ds = file.dataset("data")?;
            if ds.shape() == spec.schema.stacked_shape() {
                // A run killed while finalizing may have written metadata already; it is
                // written again at the end.
                if file.link_exists("trialdefinition") {
                    file.unlink("trialdefinition")?;
                }
                for name in file.attr_names()? {
                    file.delete_attr(&name)?;
                }
                return Ok((file, ds));
            }
            drop(ds);
            file.close()?;
        }
        let file = create_file(path)?;
        let shape = spec.schema.stacked_shape();
        let ds = with_storage_type!(spec.schema.dtype, T => {
            file.new_dataset::<T>()
                .alloc_time(Some(hdf5::plist::dataset_create::AllocTime::Early))
                .shape(shape)
                .create("data")?
        });
        file.flush()?;
        Ok((file, ds))
    }

    fn create_events(
        spec: &ObjectSpec,
        file: &hdf5::File,
    ) -> hdf5::Result<(hdf5::Dataset, Vec<hdf5::Dataset>)> {
        let data = file
            .new_dataset::<i64>()
            .chunk((APPEND_CHUNK_ROWS, 3))
            .shape((0.., 3))
            .create("data")?;
        let mut columns = Vec::new();
        for col in &spec.schema.event_columns {
            let ds = if col.is_integer() {
                file.new_dataset::<i64>()
                    .chunk(APPEND_CHUNK_ROWS)
                    .shape(0..)
                    .create(col.name.as_str())?
            } else {
                file.new_dataset::<f64>()
                    .chunk(APPEND_CHUNK_ROWS)
                    .shape(0..)
                    .create(col.name.as_str())?
            };
            columns.push(ds);
        }
        Ok((data, columns))
    }

    /// Copies the event sidecars (one, or one per shard in shard order) into the object
    /// file's datasets, noting which channels and units occur.
    fn write_events(&mut self, obj: usize) -> Result<(), Error> {
        let shards: Vec<Option<(usize, usize)>> = if self.merged_shards > 0 {
            (0..self.merged_shards)
                .map(|i| Some((i, self.merged_shards)))
                .collect()
        } else {
            vec![None]
        };
        let tag = self.objects[obj].spec.tag.clone();
        let sidecars: Vec<PathBuf> = shards
            .iter()
            .map(|&sh| self.sidecar_path(&tag, sh))
            .collect();
        let state = &mut self.objects[obj];
        let name = state.file_name.clone();
        let path = self.staging.join(&name);
        let file = state.file.as_ref().expect("created at finalize");
        let (data, columns) = Self::create_events(&state.spec, file)
            .map_err(|e| StorageError::io(&path, one_line(&e)))?;
        let n_columns = state.spec.schema.event_columns.len();
        let kinds: Vec<bool> = state
            .spec
            .schema
            .event_columns
            .iter()
            .map(|c| c.is_integer())
            .collect();
        let mut rows = 0usize;
        let (seen_channels, seen_units) = (&mut state.seen_channels, &mut state.seen_units);
        for sidecar in &sidecars {
            read_blocks(sidecar, n_columns, 1 << 16, |events| {
                let n = events.len();
                seen_channels.extend(events.channel.iter().copied());
                seen_units.extend(events.unit.iter().copied());
                let (start, end) = (rows, rows + n);
                let result = (|| -> hdf5::Result<()> {
                    data.resize((end, 3))?;
                    let mut table = ndarray::Array2::<i64>::zeros((n, 3));
                    for i in 0..n {
                        table[[i, 0]] = events.sample[i];
                        table[[i, 1]] = events.channel[i];
                        table[[i, 2]] = events.unit[i];
                    }
                    data.write_slice(&table, ndarray::s![start..end, ..])?;
                    for ((ds, &integer), values) in columns.iter().zip(&kinds).zip(&events.columns)
                    {
                        ds.resize(end)?;
                        if integer {
                            let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
                            ds.write_slice(&ints, ndarray::s![start..end])?;
                        } else {
                            ds.write_slice(values.as_slice(), ndarray::s![start..end])?;
                        }
                    }
                    Ok(())
                })();
                rows = end;
                result.map_err(|e| StorageError::io(&path, one_line(&e)))
            })?;
        }
        Ok(())
    }

    /// Writes one task's block into the object's open part (opening one at this task if
    /// none is open), then records it as applied.
    fn write_task_file(
        &mut self,
        obj: usize,
        placement: &TaskPlacement,
        block: &DenseBlock<'_>,
    ) -> Result<(), Error> {
        if self.objects[obj].part.is_none() {
            self.open_part(obj, placement.task)?;
        }
        let state = &mut self.objects[obj];
        let part = state.part.as_ref().expect("opened above");
        let slots = state.slots.as_ref().expect("per-task objects have slots");
        let buffers = &mut self.buffers;
        let result = with_storage_type!(state.spec.schema.dtype, T => {
            let values = buffers.convert::<T>(block);
            match slots.write(placement.task, values) {
                Ok(true) => Ok(()),
                Ok(false) => {
                    let (file, path) = &part.lanes[placement.task % part.lanes.len()];
                    file.dataset(&format!("t{}", placement.task))
                        .and_then(|ds| ds.write_raw(values))
                        .map_err(|e| StorageError::io(path, one_line(&e)))
                }
                Err(e) => Err(e),
            }
        });
        result?;
        self.task_applied(obj, placement.task)
    }

    /// Opens a part at task `first` and plans it (see `parts.rs`): creates the datasets of
    /// every task it will hold and publishes where their values go.
    fn open_part(&mut self, obj: usize, first: usize) -> Result<(), Error> {
        let shard = self.shard();
        let max_tasks = match self.pace {
            Some((since, start)) if first > start => {
                let rate = (first - start) as f64 / since.elapsed().as_secs_f64().max(1e-6);
                (rate * PART_SECONDS).max(1.0) as usize
            }
            // No pace yet: one trial.
            _ => 1,
        };
        let parts = self
            .staging
            .join(self.container.parts_dir_name(&self.objects[obj].spec.tag));
        // Every object's parts span the same tasks, so they all end where a checkpoint may
        // fall at once.
        let last = match self.part_plan {
            Some((planned_first, last)) if planned_first == first => last,
            _ => {
                let objects = &self.objects;
                let bytes = |task: usize| -> usize {
                    objects
                        .iter()
                        .filter(|o| o.slots.is_some())
                        .map(|o| {
                            let shape = &o.spec.placements[task].shape;
                            shape.iter().product::<usize>() * o.spec.schema.dtype.size_bytes()
                        })
                        .sum()
                };
                plan_part(&objects[obj].spec.placements, first, bytes, max_tasks)
            }
        };
        self.part_plan = Some((first, last));
        let state = &mut self.objects[obj];
        let dtype = state.spec.schema.dtype;
        let placements = &state.spec.placements;
        let mut lanes = Vec::with_capacity(LANES);
        for k in 0..LANES {
            let name = PartName::new(shard, first, first, Some((k, LANES)));
            let path = parts.join(format!("{name}.partial"));
            let file = create_file(&path).map_err(|e| StorageError::io(&path, one_line(&e)))?;
            lanes.push((file, path));
        }
        let mut offsets = Vec::with_capacity(last + 1 - first);
        for placement in &placements[first..=last] {
            let (file, path) = &lanes[placement.task % LANES];
            with_storage_type!(dtype, T => {
                // Allocated at creation and never filled by HDF5, so that the values can
                // be written outside HDF5 (and its process-wide lock) at a known offset.
                let ds = file
                    .new_dataset::<T>()
                    .shape(placement.shape.clone())
                    .alloc_time(Some(AllocTime::Early))
                    .fill_time(FillTime::Never)
                    .create(format!("t{}", placement.task).as_str())
                    .map_err(|e| StorageError::io(path, one_line(&e)))?;
                offsets.push(raw_offset::<T>(&ds));
            });
        }
        let slots = state.slots.as_ref().expect("per-task objects have slots");
        let paths: Vec<PathBuf> = lanes.iter().map(|(_, p)| p.clone()).collect();
        slots.publish(&paths, first, offsets)?;
        state.part = Some(OpenPart {
            lanes,
            first,
            last,
            applied: None,
        });
        Ok(())
    }

    /// Records that task `task`'s block is in the open part; closes the part after its last
    /// planned task and opens the next at once, so the workers can write into it.
    fn task_applied(&mut self, obj: usize, task: usize) -> Result<(), Error> {
        self.pace.get_or_insert((std::time::Instant::now(), task));
        let state = &mut self.objects[obj];
        let part = state.part.as_mut().ok_or_else(|| {
            StorageError::output(
                &self.staging,
                format!("task {task} has no open part (an internal error)"),
            )
        })?;
        part.applied = Some(task);
        if task == part.last {
            self.close_part(obj, self.shard())?;
            if task + 1 < self.objects[obj].spec.placements.len() {
                self.open_part(obj, task + 1)?;
            }
        }
        Ok(())
    }

    /// Closes an object's open part under its final name `<first>-<applied>.h5` (normally
    /// its last planned task; earlier only when a run ends inside a part). A part with
    /// nothing applied holds nothing and is removed.
    fn close_part(&mut self, obj: usize, shard: Option<(usize, usize)>) -> Result<(), Error> {
        let Some(part) = self.objects[obj].part.take() else {
            return Ok(());
        };
        if let Some(slots) = &self.objects[obj].slots {
            slots.withdraw();
        }
        for (k, (file, path)) in part.lanes.into_iter().enumerate() {
            file.close()
                .map_err(|e| StorageError::io(&path, one_line(&e)))?;
            let name = part
                .applied
                .map(|applied| PartName::new(shard, part.first, applied, Some((k, LANES))))
                .filter(|name| name.tasks().next().is_some());
            // A lane that holds no applied task holds nothing.
            let Some(name) = name else {
                std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
                continue;
            };
            let done = path.with_file_name(name.to_string());
            std::fs::rename(&path, &done).map_err(|e| StorageError::io(&done, e))?;
            self.unsynced.push(std::thread::spawn(move || {
                std::fs::File::open(&done)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| StorageError::io(&done, e))
            }));
        }
        Ok(())
    }

    /// The closed part files of an object: which file holds which task.
    fn part_index(&self, obj: usize) -> Result<std::collections::HashMap<usize, String>, Error> {
        let dir_name = self.container.parts_dir_name(&self.objects[obj].spec.tag);
        let dir = self.staging.join(&dir_name);
        let mut index = std::collections::HashMap::new();
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| StorageError::io(&dir, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(part) = PartName::parse(&name) else {
                continue;
            };
            for task in part.tasks() {
                if let Some(other) = index.insert(task, name.clone()) {
                    return Err(StorageError::output(
                        &dir,
                        format!("task {task} is in two part files ({other} and {name}); rerun without --resume"),
                    )
                    .into());
                }
            }
        }
        Ok(index)
    }

    /// After resuming from `completed` tasks: removes this run's parts that the checkpoint
    /// does not cover (a killed run may have closed some after its last checkpoint).
    fn drop_uncovered_parts(&self, obj: usize, completed: usize) -> Result<(), Error> {
        let dir = self
            .staging
            .join(self.container.parts_dir_name(&self.objects[obj].spec.tag));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            // Ours (this shard's, or the whole run's) and not covered: half-written, or
            // closed after the checkpoint.
            let (closed, part) = match name.strip_suffix(".partial") {
                Some(open) => (false, PartName::parse(open)),
                None => (true, PartName::parse(&name)),
            };
            let stale =
                part.is_some_and(|p| p.shard == self.shard() && (!closed || p.last >= completed));
            if stale {
                std::fs::remove_file(entry.path())
                    .map_err(|e| StorageError::io(&entry.path(), e))?;
            }
        }
        Ok(())
    }

    fn create_virtual(
        &self,
        obj: usize,
        index: &std::collections::HashMap<usize, String>,
    ) -> hdf5::Result<()> {
        let state = &self.objects[obj];
        let spec = &state.spec;
        let file = state.file.as_ref().expect("created at finalize");
        let shape = spec.schema.stacked_shape();
        let parts = self.container.parts_dir_name(&spec.tag);
        let mut dcpl = hdf5::plist::DatasetCreate::build();
        with_storage_type!(spec.schema.dtype, T => dcpl.fill_value(T::FILL));
        for p in &spec.placements {
            if p.shape.contains(&0) {
                continue;
            }
            let src = format!("{parts}/{}", index[&p.task]);
            dcpl.virtual_map(
                src,
                format!("t{}", p.task),
                p.shape.clone(),
                Selection::All,
                shape.clone(),
                placement_selection(p, shape.len()),
            );
        }
        let dcpl = dcpl.finish()?;
        with_storage_type!(spec.schema.dtype, T => {
            file.new_dataset::<T>().set_dcpl(&dcpl).shape(shape).create("data")?
        });
        Ok(())
    }

    fn write_metadata(&self, obj: usize, meta: &ObjectMetadata) -> hdf5::Result<()> {
        let state = &self.objects[obj];
        let file = state.file.as_ref().expect("open until finalized");
        let schema = &meta.schema;
        let def = &schema.trialdefinition;
        let columns = def.columns();
        let rows = def.len();
        let trl = file
            .new_dataset::<f64>()
            .chunk((rows.clamp(1, 1024), columns))
            .shape((rows.., columns))
            .create("trialdefinition")?;
        let table = ndarray::Array2::from_shape_vec((rows, columns), def.values().to_vec())
            .expect("trialdefinition is rows x columns");
        trl.write(&table)?;

        let dimord: Vec<String> = schema.kind.dimord().iter().map(|s| s.to_string()).collect();
        write_strings_attr(file, "dimord", &dimord)?;
        write_string_attr(file, "_version", crate::info::SYNCOPY_FORMAT_VERSION)?;
        write_string_attr(file, "_log", &shorten(&meta.log))?;
        file.new_attr::<f64>()
            .create("samplerate")?
            .write_scalar(&schema.samplerate)?;
        write_strings_attr(file, "channel", &shorten_list(&schema.channels))?;
        if let Some(freq) = &schema.freq {
            if freq.len() * 8 <= MAX_ATTR_BYTES {
                file.new_attr_builder().with_data(freq).create("freq")?;
            }
        }
        Ok(())
    }
}

impl SpyWriter {
    /// For SpikeData, Syncopy expects labels only for the channels and units that occur in
    /// the data (in index order); the full channel list is kept in `info`.
    fn syncopy_labels(&self, obj: usize, metadata: &ObjectMetadata) -> ObjectMetadata {
        let mut metadata = metadata.clone();
        if metadata.schema.kind != DataKind::Spike {
            return metadata;
        }
        let state = &self.objects[obj];
        let all = metadata.schema.channels.clone();
        metadata.schema.channels = state
            .seen_channels
            .iter()
            .map(|&c| {
                all.get(c as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("channel{}", c + 1))
            })
            .collect();
        let units = metadata.schema.units.clone().unwrap_or_default();
        metadata.schema.units = Some(
            state
                .seen_units
                .iter()
                .map(|&u| {
                    units
                        .get(u as usize)
                        .cloned()
                        .unwrap_or_else(|| format!("unit{u}"))
                })
                .collect(),
        );
        if let serde_json::Value::Object(info) = &mut metadata.info {
            info.insert("all_channels".into(), serde_json::json!(all));
        }
        metadata
    }
}

fn staging_dir(final_dir: &Path) -> PathBuf {
    let mut name = final_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    final_dir.with_file_name(name)
}

/// Whether the process whose pid a lock file holds is still running.
fn lock_in_use(lock: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(lock) else {
        return false;
    };
    let pid = pid.trim();
    !pid.is_empty()
        && pid != std::process::id().to_string()
        && Path::new("/proc").join(pid).exists()
}

/// The first writer lock in a staging folder (whole run, merge or shard) that is in use.
fn locks_in_use(staging: &Path) -> Option<String> {
    let entries = std::fs::read_dir(staging).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".writer-pid"))
        .find(|e| lock_in_use(&e.path()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            match name.strip_prefix(".writer-pid.") {
                Some(shard) => format!("another process ({shard})"),
                None => "another trialflow run".to_string(),
            }
        })
}

/// Takes the staging folder for a whole run. One in use by another process is refused; one
/// left by a killed run is kept when resuming and discarded otherwise.
/// Runs `claim` while holding an exclusive lock on the output's parent folder (flock; held
/// only for the few file operations of claiming, never for the run).
fn with_claim_lock<T>(
    final_dir: &Path,
    claim: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let parent = final_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = std::fs::File::open(parent).map_err(|e| StorageError::io(parent, e))?;
    folder.lock().map_err(|e| StorageError::io(parent, e))?;
    let result = claim();
    let _ = folder.unlock();
    result
}

/// Returns whether an interrupted run's folder was kept (resuming).
fn claim_staging(final_dir: &Path, staging: &Path, resume: bool) -> Result<bool, StorageError> {
    match std::fs::create_dir(staging) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Some(busy) = locks_in_use(staging) {
                return Err(StorageError::output(
                    final_dir,
                    format!(
                        "{busy} is writing this output (its staging folder {} is in use)",
                        staging.display()
                    ),
                ));
            }
            if !resume {
                // Left behind by a run that was killed; without --resume we start over.
                std::fs::remove_dir_all(staging).map_err(|e| StorageError::io(staging, e))?;
                std::fs::create_dir(staging).map_err(|e| StorageError::io(staging, e))?;
            }
            Ok(resume)
        }
        Err(e) => Err(StorageError::output(
            final_dir,
            format!("cannot be created: {e}"),
        )),
    }
}

fn check_output_location(dir: &Path, options: WriterOptions) -> Result<(), StorageError> {
    if dir.exists() && !options.overwrite && !matches!(options.mode, WriteMode::Shard { .. }) {
        return Err(StorageError::output(
            dir,
            "already exists; pass --overwrite (or `overwrite: true`) to replace it",
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(StorageError::output(dir, "exists and is not a folder"));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if parent.exists() && !parent.is_dir() {
        return Err(StorageError::output(
            dir,
            format!("cannot be created: {} is not a folder", parent.display()),
        ));
    }
    if !parent.is_dir() {
        return Err(StorageError::output(
            dir,
            format!(
                "cannot be created: folder {} does not exist",
                parent.display()
            ),
        ));
    }
    Ok(())
}

fn placement_selection(p: &TaskPlacement, ndim: usize) -> Selection {
    let mut items: Vec<SliceOrIndex> = Vec::with_capacity(ndim);
    items.push(SliceOrIndex::from(p.rows.clone()));
    for axis in 1..ndim - 1 {
        items.push(SliceOrIndex::from(0..p.shape[axis]));
    }
    items.push(SliceOrIndex::from(p.channels.clone()));
    Selection::from(Hyperslab::from(items))
}

fn shorten(text: &str) -> String {
    if text.len() <= MAX_ATTR_BYTES {
        return text.to_string();
    }
    let mut cut = text.len() - MAX_ATTR_BYTES / 2;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("...(full log in .info)...{}", &text[cut..])
}

/// Syncopy's rule for attributes too large to store: `[first, "...", last]`.
fn shorten_list(items: &[String]) -> Vec<String> {
    let bytes: usize = items.iter().map(|s| s.len() + 16).sum();
    if bytes <= MAX_ATTR_BYTES || items.len() < 3 {
        return items.to_vec();
    }
    vec![
        items[0].clone(),
        "...".into(),
        items[items.len() - 1].clone(),
    ]
}

impl SpyWriter {
    /// Merging: every shard's journal must be present, finished and of this run.
    fn begin_merge(&mut self, identity: &Value) -> Result<Checkpoint, Error> {
        let mut found: Vec<(usize, usize)> = std::fs::read_dir(&self.staging)
            .map_err(|e| StorageError::io(&self.staging, e))?
            .flatten()
            .filter_map(|e| parse_shard_name(&e.file_name().to_string_lossy()))
            .collect();
        found.sort_unstable();
        let Some(&(_, count)) = found.first() else {
            return Err(Error::invalid(format!(
                "{} holds no shard results; run `trialflow run PIPELINE --shard I/N` first",
                self.staging.display()
            )));
        };
        if let Some(&(_, other)) = found.iter().find(|(_, n)| *n != count) {
            return Err(Error::invalid(format!(
                "{} holds shards of two different splits (/{count} and /{other}); rerun the shards of one split",
                self.staging.display()
            )));
        }
        let mut merged = Checkpoint {
            completed: identity["tasks"].as_u64().unwrap_or(0) as usize,
            ..Checkpoint::default()
        };
        let mut missing = Vec::new();
        for index in 0..count {
            let path = self.staging.join(journal_name(Some((index, count))));
            match read_journal(&path)? {
                None => missing.push(format!("{index}/{count} (never ran)")),
                Some(state) if !state.done => missing.push(format!(
                    "{index}/{count} (incomplete: stopped after task {})",
                    state.checkpoint.completed
                )),
                Some(state) => {
                    if let Some(diff) = identity_difference(&state.identity, identity) {
                        return Err(Error::invalid(format!(
                            "shard {index}/{count} was computed with a different {diff}; rerun it with this pipeline"
                        )));
                    }
                    merged.warnings.extend(state.checkpoint.warnings);
                    merged.failed.extend(state.checkpoint.failed);
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "cannot merge {}: missing shard {}; run it with --shard (add --resume to continue an incomplete one)",
                self.container.dir.display(),
                missing.join(", ")
            )));
        }
        self.merged_shards = count;
        Ok(merged)
    }
}

impl ResultSink for SpyWriter {
    fn begin(&mut self, identity: &Value) -> Result<Option<Checkpoint>, Error> {
        let journal_path = self.staging.join(journal_name(self.shard()));
        let resume = match self.options.mode {
            WriteMode::Fresh => false,
            WriteMode::Resume => true,
            WriteMode::Shard { resume, .. } => resume,
            WriteMode::Merge => return self.begin_merge(identity).map(Some),
        };
        let recorded = if resume {
            read_journal(&journal_path)?
        } else {
            None
        };
        let Some(state) = recorded else {
            self.journal = Some(JournalWriter::create(&journal_path, identity)?);
            return Ok(None);
        };
        if let Some(diff) = identity_difference(&state.identity, identity) {
            return Err(Error::invalid(format!(
                "cannot resume {}: the interrupted run used a different {diff}; run without --resume to start over",
                self.container.dir.display()
            )));
        }
        self.journal = Some(JournalWriter::append(&journal_path, &state)?);
        let mut checkpoint = state.checkpoint.clone();
        match &state.sums {
            Some(record) => {
                checkpoint.sums =
                    read_sums(&self.staging, record, checkpoint.completed).map_err(|e| {
                        Error::invalid(format!(
                            "cannot resume {}: {e}",
                            self.container.dir.display()
                        ))
                    })?;
                self.sums_generation = record.generation;
            }
            None if checkpoint.completed > 0
                && identity.get("keeptrials") == Some(&Value::Bool(false)) =>
            {
                return Err(Error::invalid(format!(
                    "cannot resume {}: its journal names no running sums for the average of the {} completed tasks; run without --resume to start over",
                    self.container.dir.display(),
                    checkpoint.completed
                )));
            }
            None => {}
        }
        self.progressed = checkpoint.completed > 0;
        self.recorded = Some(state);
        Ok(Some(checkpoint))
    }

    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        // Checkpoints fall between parts, so a resumed run finds every covered task in a
        // closed part and nothing else. Inside a part, wait for its end, unless the run is
        // ending: then the part is closed where the applied tasks end.
        let inside_part = self
            .objects
            .iter()
            .any(|o| o.part.as_ref().is_some_and(|p| p.applied.is_some()));
        if inside_part && !checkpoint.closing {
            return Ok(false);
        }
        if checkpoint.closing {
            let shard = self.shard();
            for obj in 0..self.objects.len() {
                self.close_part(obj, shard)?;
            }
        }
        // Make the data durable first; only then may the journal claim it.
        for state in &self.objects {
            if let Some(file) = &state.file {
                let path = self.staging.join(&state.file_name);
                file.flush()
                    .map_err(|e| StorageError::io(&path, one_line(&e)))?;
                std::fs::File::open(&path)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| StorageError::io(&path, e))?;
            }
        }
        for sync in self.unsynced.drain(..) {
            sync.join().unwrap_or_else(|_| {
                Err(StorageError::output(&self.staging, "a sync thread failed"))
            })?;
        }
        let mut event_bytes = serde_json::Map::new();
        for state in &mut self.objects {
            if let Some(sidecar) = &mut state.events {
                event_bytes.insert(state.spec.tag.clone(), sidecar.sync()?.into());
            }
        }
        // A new generation of sums, durable before the journal line that names it; the
        // previous generation stays until that line is durable too.
        let sums = if checkpoint.sums.iter().any(Option::is_some) {
            let generation = self.sums_generation + 1;
            let record = write_sums(
                &self.staging,
                generation,
                checkpoint.completed,
                &checkpoint.sums,
            )?;
            self.sums_written += 1;
            if self.crash_after_sums == Some(self.sums_written) {
                self.crashed = true;
                return Err(self.crashed_error());
            }
            Some(record)
        } else {
            None
        };
        if let Some(journal) = &mut self.journal {
            journal.record(checkpoint, &event_bytes, sums.as_ref())?;
        }
        if let Some(record) = sums {
            self.sums_generation = record.generation;
            remove_other_generations(&self.staging, record.generation);
        }
        if checkpoint.completed > 0 {
            self.progressed = true;
        }
        Ok(true)
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
            slots: None,
            seen_channels: BTreeSet::new(),
            seen_units: BTreeSet::new(),
        };
        if spec.schema.kind.is_dense() {
            if spec.layout == StoreLayout::PerTask {
                let parts = self.staging.join(self.container.parts_dir_name(&spec.tag));
                std::fs::create_dir_all(&parts).map_err(|e| StorageError::io(&parts, e))?;
                state.slots = Some(Arc::new(PartSlots::new(spec.schema.dtype)));
            } else {
                let (file, ds) = self
                    .create_dense(spec, &path)
                    .map_err(|e| self.fail(&file_name, format!("creating it: {}", one_line(&e))))?;
                state.raw = with_storage_type!(spec.schema.dtype, T => raw_offset::<T>(&ds))
                    .and_then(|offset| {
                        let shape = spec.schema.stacked_shape();
                        ContiguousBlocks::open(path.clone(), offset, spec.schema.dtype, &shape).ok()
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
            state.events = Some(EventSidecar::open(&sidecar, keep)?);
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
        if self.crashed {
            return Err(self.crashed_error());
        }
        let obj = id.0;
        if self.objects[obj].spec.layout == StoreLayout::PerTask {
            return self.write_task_file(obj, placement, &block);
        }
        let state = &self.objects[obj];
        let dtype = state.spec.schema.dtype;
        let shape = stored_shape(dtype, block.shape());
        let selection = placement_selection(placement, shape.len());
        let ds = state.data.as_ref().expect("dense objects have a dataset");
        if let Some(blocks) = state.raw.as_ref().filter(|b| b.holds_whole_rows(placement)) {
            return with_storage_type!(dtype, T => {
                blocks.write(placement, self.buffers.convert::<T>(&block))
            })
            .map_err(Error::from);
        }
        let result = with_storage_type!(dtype, T => {
            let values = self.buffers.convert::<T>(&block);
            let view = ndarray::ArrayViewD::from_shape(shape, values).expect("buffer matches block");
            ds.write_slice(&view, selection)
        });
        let name = state.file_name.clone();
        result.map_err(|e| self.fail(&name, format!("writing a block to it: {}", one_line(&e))))
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
        _trial: usize,
        events: &EventBlock,
    ) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        let sidecar = self.objects[id.0]
            .events
            .as_mut()
            .expect("event objects have a sidecar");
        sidecar.append(events)?;
        Ok(())
    }

    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        let obj = id.0;
        let name = self.objects[obj].file_name.clone();
        let path = self.staging.join(&name);
        let is_events = !self.objects[obj].spec.schema.kind.is_dense();
        let per_task = self.objects[obj].spec.layout == StoreLayout::PerTask;
        if is_events || per_task {
            if let Some(mut sidecar) = self.objects[obj].events.take() {
                sidecar.sync()?;
            }
            let shard = self.shard();
            self.close_part(obj, shard)?;
            let file = create_file(&path)
                .map_err(|e| self.fail(&name, format!("creating it: {}", one_line(&e))))?;
            self.objects[obj].file = Some(file);
            if is_events {
                self.write_events(obj)?;
            } else {
                let index = self.part_index(obj)?;
                if let Some(missing) = self.objects[obj]
                    .spec
                    .placements
                    .iter()
                    .find(|p| !p.shape.contains(&0) && !index.contains_key(&p.task))
                {
                    return Err(StorageError::output(
                        &self.staging,
                        format!("the part holding task {} is missing", missing.task),
                    )
                    .into());
                }
                self.create_virtual(obj, &index).map_err(|e| {
                    self.fail(
                        &name,
                        format!("building the virtual dataset of it: {}", one_line(&e)),
                    )
                })?;
            }
        }
        let metadata = &self.syncopy_labels(obj, metadata);
        self.write_metadata(obj, metadata).map_err(|e| {
            self.fail(
                &name,
                format!("writing the metadata of it: {}", one_line(&e)),
            )
        })?;
        let state = &mut self.objects[obj];
        let data = state
            .data
            .take()
            .or_else(|| state.file.as_ref().and_then(|f| f.dataset("data").ok()));
        let (data_shape, data_offset, data_dtype) = match &data {
            Some(ds) => (
                ds.shape(),
                if state.spec.layout == StoreLayout::PerTask || is_events {
                    None
                } else {
                    ds.offset()
                },
                if is_events {
                    "int64".to_string()
                } else {
                    state.spec.schema.dtype.numpy_name().to_string()
                },
            ),
            None => (Vec::new(), None, String::new()),
        };
        drop(data);
        if let Some(file) = state.file.take() {
            file.close()
                .map_err(|e| StorageError::io(&self.staging.join(&name), one_line(&e)))?;
        }
        let facts = FileFacts {
            filename: name.clone(),
            data_dtype,
            data_shape,
            data_offset,
            trl_shape: [
                metadata.schema.trialdefinition.len(),
                metadata.schema.trialdefinition.columns(),
            ],
            checksum: file_sha1(&path)?,
        };
        let doc = info_document(
            &facts,
            &metadata.schema,
            &metadata.log,
            &metadata.cfg,
            &metadata.info,
        );
        let info_path = self.staging.join(format!("{name}.info"));
        let text = serde_json::to_string_pretty(&doc).expect("JSON values serialise");
        std::fs::write(&info_path, text).map_err(|e| StorageError::io(&info_path, e))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        if self.shard().is_some() {
            // A shard is done when its journal says so; the merge makes the output.
            if let Some(journal) = &mut self.journal {
                journal.mark_done()?;
            }
            let _ = std::fs::remove_file(&self.lock);
            self.committed = true;
            return Ok(());
        }
        // The run's bookkeeping goes; only the objects and their parts remain.
        for entry in std::fs::read_dir(&self.staging)
            .map_err(|e| StorageError::io(&self.staging, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("progress.")
                || name.starts_with(".writer-pid")
                || name.ends_with(".part")
                || is_sums_file(&name)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let final_dir = &self.container.dir;
        if final_dir.exists() {
            if !self.options.overwrite {
                return Err(StorageError::output(
                    final_dir,
                    "appeared while the run was going; pass --overwrite to replace it",
                )
                .into());
            }
            let mut old_name = final_dir.file_name().unwrap_or_default().to_os_string();
            old_name.push(format!(".replaced-{}", std::process::id()));
            let old = final_dir.with_file_name(old_name);
            std::fs::rename(final_dir, &old).map_err(|e| StorageError::io(final_dir, e))?;
            std::fs::rename(&self.staging, final_dir)
                .map_err(|e| StorageError::io(final_dir, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| StorageError::io(&old, e))?;
        } else {
            std::fs::rename(&self.staging, final_dir)
                .map_err(|e| StorageError::io(final_dir, e))?;
        }
        self.committed = true;
        Ok(())
    }

    fn abort(&mut self) {
        if self.crashed {
            // A killed process cleans nothing up.
            return;
        }
        for state in &mut self.objects {
            state.data = None;
            state.events = None;
            state.part = None;
            if let Some(f) = state.file.take() {
                let _ = f.close();
            }
        }
        if self.committed {
            return;
        }
        // Completed work stays for --resume (or the merge); a run that completed nothing
        // leaves nothing behind.
        let keep =
            self.progressed || self.shard().is_some() || self.options.mode == WriteMode::Merge;
        if keep {
            let _ = std::fs::remove_file(&self.lock);
        } else {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

impl Drop for SpyWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.abort();
        }
    }
}
