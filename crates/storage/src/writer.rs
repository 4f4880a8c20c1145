//! Writes results into a `.spy` container that Syncopy's `spy.load` opens.
//!
//! Everything is built in a staging folder beside the final one (`<name>.spy.partial`) and
//! renamed into place by `commit`, so a container either appears complete or not at all; an
//! existing container is replaced only with `overwrite`, and only once the new one is
//! complete. Per-task source files of a virtual dataset live inside the container and are
//! referenced by paths relative to the object file, so the container can be moved.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hdf5::{Hyperslab, Selection, SliceOrIndex};
use ndarray::ArrayViewD;
use trialflow_core::engine::{
    ObjectId, ObjectMetadata, ObjectSpec, ResultSink, StoreLayout, TaskPlacement,
};
use trialflow_core::{DataKind, Error, EventBlock};

use crate::container::ContainerPath;
use crate::error::StorageError;
use crate::hdf5_util::{one_line, write_string_attr, write_strings_attr};
use crate::info::{file_sha1, info_document, FileFacts};
use crate::typed::{stored_shape, with_storage_type, ConversionBuffers, StorageElement};

/// Largest attribute we write; HDF5 keeps attributes in the object header (64 KiB at most),
/// and Syncopy treats them as convenience copies of what `.info` holds.
const MAX_ATTR_BYTES: usize = 32 * 1024;

/// Chunk length (rows) of growing datasets.
const APPEND_CHUNK_ROWS: usize = 4096;

/// How a writer treats an existing container.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterOptions {
    /// Replace an existing container (only once the new one is complete).
    pub overwrite: bool,
}

struct ObjectState {
    spec: ObjectSpec,
    file_name: String,
    file: Option<hdf5::File>,
    data: Option<hdf5::Dataset>,
    /// Property datasets of event objects, in declared column order.
    columns: Vec<hdf5::Dataset>,
    rows: usize,
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
        match std::fs::create_dir(&staging) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if staging_in_use(&staging) {
                    return Err(StorageError::output(
                        &container.dir,
                        format!(
                            "another trialflow run is writing this output (its staging folder {} is in use)",
                            staging.display()
                        ),
                    ));
                }
                // Left behind by a run that was killed: its work is not ours to finish.
                std::fs::remove_dir_all(&staging).map_err(|e| StorageError::io(&staging, e))?;
                std::fs::create_dir(&staging).map_err(|e| StorageError::io(&staging, e))?;
            }
            Err(e) => {
                return Err(StorageError::output(
                    &container.dir,
                    format!("cannot be created: {e}"),
                ))
            }
        }
        std::fs::write(staging.join(".writer-pid"), std::process::id().to_string())
            .map_err(|e| StorageError::io(&staging, e))?;
        Ok(SpyWriter {
            container,
            staging,
            options,
            objects: Vec::new(),
            buffers: ConversionBuffers::default(),
            committed: false,
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

    fn create_dense(
        &mut self,
        spec: &ObjectSpec,
        file: &hdf5::File,
    ) -> hdf5::Result<Option<hdf5::Dataset>> {
        if spec.layout == StoreLayout::PerTask {
            return Ok(None);
        }
        let shape = spec.schema.stacked_shape();
        let ds = with_storage_type!(spec.schema.dtype, T => {
            file.new_dataset::<T>().shape(shape).create("data")?
        });
        Ok(Some(ds))
    }

    fn create_events(
        &mut self,
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

    fn write_task_file(
        &mut self,
        obj: usize,
        placement: &TaskPlacement,
        block: &ArrayViewD<'_, f64>,
    ) -> Result<(), Error> {
        let state = &self.objects[obj];
        let parts = self
            .staging
            .join(self.container.parts_dir_name(&state.spec.tag));
        let path = parts.join(format!("{}.h5", placement.task));
        let dtype = state.spec.schema.dtype;
        let buffers = &mut self.buffers;
        let result = (|| -> hdf5::Result<()> {
            let file = hdf5::File::create(&path)?;
            with_storage_type!(dtype, T => {
                let values = buffers.convert::<T>(block);
                file.new_dataset::<T>()
                    .shape(placement.shape.clone())
                    .create("chk")?
                    .write_raw(values)?;
            });
            Ok(())
        })();
        result.map_err(|e| StorageError::io(&path, one_line(&e)).into())
    }

    fn create_virtual(&self, obj: usize) -> hdf5::Result<()> {
        let state = &self.objects[obj];
        let spec = &state.spec;
        let file = state.file.as_ref().expect("open until finalized");
        let shape = spec.schema.stacked_shape();
        let parts = self.container.parts_dir_name(&spec.tag);
        let mut dcpl = hdf5::plist::DatasetCreate::build();
        with_storage_type!(spec.schema.dtype, T => dcpl.fill_value(T::FILL));
        for p in &spec.placements {
            if p.shape.contains(&0) {
                continue;
            }
            let src = format!("{parts}/{}.h5", p.task);
            dcpl.virtual_map(
                src,
                "chk",
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

/// Whether the process that created a staging folder is still running.
fn staging_in_use(staging: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(staging.join(".writer-pid")) else {
        return false;
    };
    let pid = pid.trim();
    pid != std::process::id().to_string() && Path::new("/proc").join(pid).exists()
}

fn check_output_location(dir: &Path, options: WriterOptions) -> Result<(), StorageError> {
    if dir.exists() && !options.overwrite {
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

impl ResultSink for SpyWriter {
    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId, Error> {
        let file_name = self.container.object_file_name(&spec.tag, spec.schema.kind);
        let path = self.staging.join(&file_name);
        let file = hdf5::File::create(&path).map_err(|e| self.fail(&file_name, one_line(&e)))?;
        let (data, columns) = if spec.schema.kind.is_dense() {
            if spec.layout == StoreLayout::PerTask {
                let parts = self.staging.join(self.container.parts_dir_name(&spec.tag));
                std::fs::create_dir_all(&parts).map_err(|e| StorageError::io(&parts, e))?;
            }
            let ds = self
                .create_dense(spec, &file)
                .map_err(|e| self.fail(&file_name, one_line(&e)))?;
            (ds, Vec::new())
        } else {
            let (data, columns) = self
                .create_events(spec, &file)
                .map_err(|e| self.fail(&file_name, one_line(&e)))?;
            (Some(data), columns)
        };
        self.objects.push(ObjectState {
            spec: spec.clone(),
            file_name,
            file: Some(file),
            data,
            columns,
            rows: 0,
            seen_channels: BTreeSet::new(),
            seen_units: BTreeSet::new(),
        });
        Ok(ObjectId(self.objects.len() - 1))
    }

    fn write_dense(
        &mut self,
        id: ObjectId,
        placement: &TaskPlacement,
        block: ArrayViewD<'_, f64>,
    ) -> Result<(), Error> {
        let obj = id.0;
        if self.objects[obj].spec.layout == StoreLayout::PerTask {
            return self.write_task_file(obj, placement, &block);
        }
        let state = &self.objects[obj];
        let dtype = state.spec.schema.dtype;
        let shape = stored_shape(dtype, block.shape());
        let selection = placement_selection(placement, shape.len());
        let ds = state.data.as_ref().expect("dense objects have a dataset");
        let result = with_storage_type!(dtype, T => {
            let values = self.buffers.convert::<T>(&block);
            let view = ndarray::ArrayViewD::from_shape(shape, values).expect("buffer matches block");
            ds.write_slice(&view, selection)
        });
        let name = state.file_name.clone();
        result.map_err(|e| self.fail(&name, one_line(&e)))
    }

    fn append_events(
        &mut self,
        id: ObjectId,
        _trial: usize,
        events: &EventBlock,
    ) -> Result<(), Error> {
        let n = events.len();
        if n == 0 {
            return Ok(());
        }
        let state = &mut self.objects[id.0];
        state.seen_channels.extend(events.channel.iter().copied());
        state.seen_units.extend(events.unit.iter().copied());
        let start = state.rows;
        let end = start + n;
        let result = (|| -> hdf5::Result<()> {
            let data = state.data.as_ref().expect("event objects have a dataset");
            data.resize((end, 3))?;
            let mut rows = ndarray::Array2::<i64>::zeros((n, 3));
            for i in 0..n {
                rows[[i, 0]] = events.sample[i];
                rows[[i, 1]] = events.channel[i];
                rows[[i, 2]] = events.unit[i];
            }
            data.write_slice(&rows, ndarray::s![start..end, ..])?;
            for ((ds, col), values) in state
                .columns
                .iter()
                .zip(&state.spec.schema.event_columns)
                .zip(&events.columns)
            {
                ds.resize(end)?;
                if col.is_integer() {
                    let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
                    ds.write_slice(&ints, ndarray::s![start..end])?;
                } else {
                    ds.write_slice(values.as_slice(), ndarray::s![start..end])?;
                }
            }
            Ok(())
        })();
        state.rows = end;
        let name = state.file_name.clone();
        result.map_err(|e| self.fail(&name, one_line(&e)))
    }

    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<(), Error> {
        let obj = id.0;
        let metadata = &self.syncopy_labels(obj, metadata);
        let name = self.objects[obj].file_name.clone();
        if self.objects[obj].spec.layout == StoreLayout::PerTask {
            self.create_virtual(obj)
                .map_err(|e| self.fail(&name, one_line(&e)))?;
        }
        self.write_metadata(obj, metadata)
            .map_err(|e| self.fail(&name, one_line(&e)))?;
        let state = &mut self.objects[obj];
        let data = state
            .data
            .take()
            .or_else(|| state.file.as_ref().and_then(|f| f.dataset("data").ok()));
        let (data_shape, data_offset, data_dtype) = match &data {
            Some(ds) => (
                ds.shape(),
                if state.spec.layout == StoreLayout::PerTask {
                    None
                } else {
                    ds.offset()
                },
                state.spec.schema.dtype.numpy_name().to_string(),
            ),
            None => (Vec::new(), None, String::new()),
        };
        drop(data);
        state.columns.clear();
        if let Some(file) = state.file.take() {
            file.close()
                .map_err(|e| StorageError::io(&self.staging.join(&name), one_line(&e)))?;
        }
        let path = self.staging.join(&name);
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
        let _ = std::fs::remove_file(self.staging.join(".writer-pid"));
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
        for state in &mut self.objects {
            state.data = None;
            state.columns.clear();
            if let Some(f) = state.file.take() {
                let _ = f.close();
            }
        }
        if !self.committed {
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
