//! Dense writes: the contiguous dataset of a single-layout object, and the part files of a
//! per-task object (planned as they open, filled by the workers or the writer, closed and
//! synced in the background), joined at finalize by a virtual dataset.

use std::path::{Path, PathBuf};

use hdf5::plist::dataset_create::{AllocTime, FillTime};
use hdf5::{Hyperslab, Selection, SliceOrIndex};
use trialflow_core::engine::{DenseBlock, ObjectId, ObjectSpec, StoreLayout, TaskPlacement};
use trialflow_core::Error;

use crate::error::StorageError;
use crate::hdf5_util::{create_file, one_line, open_rw};
use crate::parts::{
    lane_of, plan_part, plan_stacking, stacked_mappings, OpenPart, PartName, StackedLane, LANES,
    PART_SECONDS, STACKED,
};
use crate::raw_io::raw_offset;
use crate::typed::{stored_shape, with_storage_type, StorageElement};

use super::SpyWriter;

impl SpyWriter {
    /// The contiguous dataset of a single-layout dense object, allocated when created so
    /// that later writes touch only raw data, never HDF5 metadata: a killed run leaves a
    /// readable file whose journaled blocks are intact.
    pub(super) fn create_dense(
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
                // Make the file consistent on disk now: deleting metadata can move the end of
                // allocation, and a run killed before the next flush would otherwise leave
                // metadata past the end the superblock records ("addr overflow" on the next
                // open), losing the completed blocks this resume keeps.
                file.flush()?;
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

    pub(super) fn write_block(
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
                // No offset: an empty block (nothing to write), or one HDF5 must place
                // (then it has a dataset of its own: stripes are planned only for
                // plain blocks).
                Ok(false) if values.is_empty() => Ok(()),
                Ok(false) => {
                    let lane = lane_of(placement.task, part.stripe(), part.lanes.len());
                    let (file, path) = part.lanes[lane]
                        .as_ref()
                        .expect("a planned task's lane has a file");
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
        // The output's last axis (any trial's; not `stacked_shape`, which sums every trial).
        let channels = state
            .spec
            .schema
            .trial_shapes
            .first()
            .and_then(|s| s.last())
            .copied();
        let channels = channels.unwrap_or(0);
        let task_bytes =
            |t: usize| placements[t].shape.iter().product::<usize>() * dtype.size_bytes();
        let stacked = plan_stacking(
            placements,
            first,
            last,
            channels,
            state.spec.handover,
            task_bytes,
        );
        let stripe = stacked.unwrap_or(1);
        // Each lane's tasks, planned once: a lane without any gets no file.
        let lane_tasks: Vec<Vec<&TaskPlacement>> = (0..LANES)
            .map(|k| {
                PartName::new(shard, first, last, Some((k, LANES)), stacked)
                    .tasks()
                    .map(|t| &placements[t])
                    .collect()
            })
            .collect();
        let mut lanes = Vec::with_capacity(LANES);
        for (k, tasks) in lane_tasks.iter().enumerate() {
            if tasks.is_empty() {
                lanes.push(None);
                continue;
            }
            let name = PartName::new(shard, first, first, Some((k, LANES)), stacked);
            let path = parts.join(format!("{name}.partial"));
            let file = create_file(&path).map_err(|e| StorageError::io(&path, one_line(&e)))?;
            lanes.push(Some((file, path)));
        }
        let mut offsets = vec![None; last + 1 - first];
        let mut stacked_lanes = vec![None; LANES];
        for (k, (lane, tasks)) in lanes.iter().zip(&lane_tasks).enumerate() {
            let Some((file, path)) = lane else {
                continue;
            };
            // Stacked: one dataset of the lane's blocks along the rows; else one per task.
            let datasets: Vec<(String, &[&TaskPlacement])> = match stacked {
                Some(_) => vec![(STACKED.to_string(), &tasks[..])],
                None => tasks
                    .iter()
                    .map(|p| (format!("t{}", p.task), std::slice::from_ref(p)))
                    .collect(),
            };
            for (name, tasks) in datasets {
                if tasks.is_empty() {
                    continue;
                }
                let mut shape = tasks[0].shape.clone();
                shape[0] = tasks.iter().map(|p| p.shape[0]).sum();
                with_storage_type!(dtype, T => {
                    // Allocated at creation and never filled by HDF5, so that the values can
                    // be written outside HDF5 (and its process-wide lock) at a known offset.
                    let ds = file
                        .new_dataset::<T>()
                        .shape(shape.clone())
                        .alloc_time(Some(AllocTime::Early))
                        .fill_time(FillTime::Never)
                        .create(name.as_str())
                        .map_err(|e| StorageError::io(path, one_line(&e)))?;
                    let base = raw_offset::<T>(&ds);
                    if stacked.is_some() {
                        stacked_lanes[k] = Some(StackedLane { extent: shape.clone(), base });
                    }
                    let row_bytes = shape[1..].iter().product::<usize>() * std::mem::size_of::<T>();
                    let mut row = 0;
                    for p in tasks {
                        if !p.shape.contains(&0) {
                            offsets[p.task - first] = base.map(|b| b + (row * row_bytes) as u64);
                        }
                        row += p.shape[0];
                    }
                });
            }
        }
        let slots = state.slots.as_ref().expect("per-task objects have slots");
        let paths: Vec<Option<PathBuf>> = lanes
            .iter()
            .map(|lane| lane.as_ref().map(|(_, p)| p.clone()))
            .collect();
        slots.publish(&paths, stripe, first, offsets)?;
        state.part = Some(OpenPart {
            lanes,
            stacked_lanes,
            stacked,
            first,
            last,
            applied: None,
        });
        Ok(())
    }

    /// Records that task `task`'s block is in the open part; closes the part after its last
    /// planned task and opens the next at once, so the workers can write into it.
    pub(super) fn task_applied(&mut self, obj: usize, task: usize) -> Result<(), Error> {
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
    pub(super) fn close_part(
        &mut self,
        obj: usize,
        shard: Option<(usize, usize)>,
    ) -> Result<(), Error> {
        let Some(part) = self.objects[obj].part.take() else {
            return Ok(());
        };
        if let Some(slots) = &self.objects[obj].slots {
            slots.withdraw();
        }
        let mut stacked_lanes = part.stacked_lanes;
        for (k, lane) in part.lanes.into_iter().enumerate() {
            let Some((file, path)) = lane else {
                continue;
            };
            file.close()
                .map_err(|e| StorageError::io(&path, one_line(&e)))?;
            let name = part
                .applied
                .map(|applied| {
                    PartName::new(shard, part.first, applied, Some((k, LANES)), part.stacked)
                })
                .filter(|name| name.tasks().next().is_some());
            // A lane that holds no applied task holds nothing.
            let Some(name) = name else {
                std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
                continue;
            };
            let done = path.with_file_name(name.to_string());
            std::fs::rename(&path, &done).map_err(|e| StorageError::io(&done, e))?;
            if let Some(lane) = stacked_lanes.get_mut(k).and_then(Option::take) {
                self.objects[obj]
                    .closed_lanes
                    .insert(name.to_string(), lane);
            }
            if !self.options.durable {
                continue;
            }
            self.unsynced.push(std::thread::spawn(move || {
                std::fs::File::open(&done)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| StorageError::io(&done, e))
            }));
        }
        Ok(())
    }

    /// The closed part files of an object: which file holds which task.
    pub(super) fn part_index(&self, obj: usize) -> Result<PartIndex, Error> {
        let dir_name = self.container.parts_dir_name(&self.objects[obj].spec.tag);
        let dir = self.staging.join(&dir_name);
        let tasks = self.objects[obj].spec.placements.len();
        let mut index: PartIndex = vec![None; tasks];
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| StorageError::io(&dir, e))?
            .flatten()
        {
            let name: std::rc::Rc<str> = entry.file_name().to_string_lossy().into();
            let Some(part) = PartName::parse(&name) else {
                continue;
            };
            for task in part.tasks() {
                let Some(slot) = index.get_mut(task) else {
                    return Err(StorageError::output(
                        &dir,
                        format!("{name} holds task {task}, but the run has {tasks} tasks; rerun without --resume"),
                    )
                    .into());
                };
                if let Some(other) = slot.replace(std::rc::Rc::clone(&name)) {
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

    pub(super) fn create_virtual(&self, obj: usize, index: &PartIndex) -> hdf5::Result<()> {
        let state = &self.objects[obj];
        let spec = &state.spec;
        let file = state.file.as_ref().expect("created at finalize");
        let shape = spec.schema.stacked_shape();
        let parts = self.container.parts_dir_name(&spec.tag);
        let mut dcpl = hdf5::plist::DatasetCreate::build();
        with_storage_type!(spec.schema.dtype, T => dcpl.fill_value(T::FILL));
        // The index names a file once per task (200 000 times for tiny trials): distinct
        // names first, each parsed once.
        let distinct: std::collections::HashSet<&str> =
            index.iter().flatten().map(|n| &**n).collect();
        let mut files: Vec<(PartName, &str)> = distinct
            .into_iter()
            .map(|name| {
                let part = PartName::parse(name).expect("indexed parts have part names");
                (part, name)
            })
            .collect();
        files.sort_unstable_by_key(|(p, _)| (p.first, p.lane));
        for (part, name) in files {
            let src = format!("{parts}/{name}");
            if part.stacked.is_none() {
                for p in part.tasks().map(|t| &spec.placements[t]) {
                    if p.shape.contains(&0) {
                        continue;
                    }
                    dcpl.virtual_map(
                        &src,
                        format!("t{}", p.task),
                        p.shape.clone(),
                        Selection::All,
                        shape.clone(),
                        placement_selection(p, shape.len()),
                    );
                }
                continue;
            }
            // The lane's dataset may hold more rows than the tasks its name covers (a part
            // closed before its planned end): its extent as created, or as the file says.
            let extent = match state.closed_lanes.get(name) {
                Some(lane) => lane.extent.clone(),
                None => crate::hdf5_util::open_read_only(&self.staging.join(&parts).join(name))
                    .map_err(|e| hdf5::Error::from(e.to_string()))?
                    .dataset(STACKED)?
                    .shape(),
            };
            let tasks: Vec<&TaskPlacement> = part.tasks().map(|t| &spec.placements[t]).collect();
            if tasks.is_empty() || extent[1..].contains(&0) {
                continue;
            }
            for m in stacked_mappings(tasks.iter().map(|p| p.rows.clone())) {
                let mut source = vec![SliceOrIndex::from(m.source..m.source + m.count * m.block)];
                source.extend(extent[1..].iter().map(|&n| SliceOrIndex::from(0..n)));
                let mut dest = vec![SliceOrIndex::SliceCount {
                    start: m.start,
                    step: m.step,
                    count: m.count,
                    block: m.block,
                }];
                dest.extend(extent[1..].iter().map(|&n| SliceOrIndex::from(0..n)));
                dcpl.virtual_map(
                    &src,
                    STACKED,
                    extent.clone(),
                    Selection::from(Hyperslab::from(source)),
                    shape.clone(),
                    Selection::from(Hyperslab::from(dest)),
                );
            }
        }
        let dcpl = dcpl.finish()?;
        with_storage_type!(spec.schema.dtype, T => {
            file.new_dataset::<T>().set_dcpl(&dcpl).shape(shape).create("data")?
        });
        Ok(())
    }
}

/// Which closed part file holds each task (by task index), names shared between tasks.
pub(super) type PartIndex = Vec<Option<std::rc::Rc<str>>>;

pub(super) fn placement_selection(p: &TaskPlacement, ndim: usize) -> Selection {
    let mut items: Vec<SliceOrIndex> = Vec::with_capacity(ndim);
    items.push(SliceOrIndex::from(p.rows.clone()));
    for axis in 1..ndim - 1 {
        items.push(SliceOrIndex::from(0..p.shape[axis]));
    }
    items.push(SliceOrIndex::from(p.channels.clone()));
    Selection::from(Hyperslab::from(items))
}
