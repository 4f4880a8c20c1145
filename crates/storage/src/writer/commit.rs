//! Finishing: an object's metadata (trialdefinition, attributes, `.info` with its SHA-1) at
//! finalize, and the commit that renames the staging folder to the container.

use std::path::Path;

use trialflow_core::engine::{ObjectId, ObjectMetadata, StoreLayout};
use trialflow_core::{DataKind, Error};

use crate::error::StorageError;
use crate::hdf5_util::{create_file, one_line, write_string_attr, write_strings_attr};
use crate::info::{file_sha1, info_document, FileFacts};
use crate::sums::is_sums_file;
use crate::task_file::{sync_dir, sync_file};

use super::events::fill_events;
use super::{SpyWriter, MAX_ATTR_BYTES};

impl SpyWriter {
    pub(super) fn finalize_object(
        &mut self,
        id: ObjectId,
        metadata: &ObjectMetadata,
    ) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        let obj = id.0;
        let name = self.objects[obj].file_name.clone();
        let path = self.staging.join(&name);
        let is_events = !self.objects[obj].spec.schema.kind.is_dense();
        let per_task = self.objects[obj].spec.layout == StoreLayout::PerTask;
        let mut event_fill = None;
        if is_events || per_task {
            let shard = self.shard();
            self.close_part(obj, shard)?;
            let file = create_file(&path)
                .map_err(|e| self.fail(&name, format!("creating it: {}", one_line(&e))))?;
            self.objects[obj].file = Some(file);
            if is_events {
                event_fill = Some(self.prepare_events(obj)?);
            } else {
                let index = self.part_index(obj)?;
                if let Some(missing) = self.objects[obj].spec.placements.iter().find(|p| {
                    !p.shape.contains(&0) && index.get(p.task).is_none_or(Option::is_none)
                }) {
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
        let mut metadata = self.syncopy_labels(obj, metadata);
        if metadata.schema.kind == DataKind::TimeLock {
            metadata.schema.trialdefinition = self
                .unpack_timelock(obj, &metadata.schema, &metadata.cfg, run_workers(&metadata))
                .map_err(|e| {
                    self.fail(
                        &name,
                        format!("writing the TimeLockData datasets of it: {}", one_line(&e)),
                    )
                })?;
        }
        let metadata = &metadata;
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
            checksum: match &event_fill {
                Some(fill) => fill_events(&path, fill, self.options.durable)?,
                None => self.checksum_and_sync(&path)?,
            },
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
        if self.options.durable {
            sync_file(&info_path)?;
        }
        Ok(())
    }

    /// The SHA-1 of a finished object file, which `.info` records. A durable run also syncs
    /// the file, on a thread of its own while the hash reads it: the disk takes the bytes
    /// while the CPU hashes them, so neither waits for the other (a find_peaks run's
    /// SpikeData file is tens of MB).
    fn checksum_and_sync(&self, path: &Path) -> Result<String, StorageError> {
        if !self.options.durable {
            return file_sha1(path);
        }
        std::thread::scope(|scope| {
            let synced = scope.spawn(|| sync_file(path));
            let checksum = file_sha1(path);
            let synced = synced
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            synced.and(checksum)
        })
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
        if schema.kind == DataKind::CrossSpectral {
            write_strings_attr(file, "channel_i", &shorten_list(&schema.channels))?;
            let channels_j = schema.channels_j.clone().unwrap_or_default();
            write_strings_attr(file, "channel_j", &shorten_list(&channels_j))?;
        } else {
            write_strings_attr(file, "channel", &shorten_list(&schema.channels))?;
        }
        if let Some(freq) = &schema.freq {
            if freq.len() * 8 <= MAX_ATTR_BYTES {
                file.new_attr_builder().with_data(freq).create("freq")?;
            }
        }
        Ok(())
    }

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

    pub(super) fn commit_container(&mut self) -> Result<(), Error> {
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
        // Closed parts are synced on threads of their own; a whole run that went straight
        // from its last task to its output recorded no last checkpoint, which would have
        // waited for them.
        self.join_part_syncs()?;
        // The run's bookkeeping goes; only the objects and their parts remain. The journal
        // goes first: a kill in between must not leave a journal that claims completed
        // work whose event rows or sums are already gone (a resume would then take them
        // as missing); without a journal there is nothing to resume, and a rerun starts
        // afresh.
        let entries: Vec<_> = std::fs::read_dir(&self.staging)
            .map_err(|e| StorageError::io(&self.staging, e))?
            .flatten()
            .map(|entry| {
                (
                    entry.file_name().to_string_lossy().to_string(),
                    entry.path(),
                )
            })
            .collect();
        for (name, path) in &entries {
            if name.starts_with("progress.") {
                std::fs::remove_file(path).map_err(|e| StorageError::io(path, e))?;
            }
        }
        for (name, path) in &entries {
            if name.starts_with(".writer-pid") || name.ends_with(".part") || is_sums_file(name) {
                let _ = std::fs::remove_file(path);
            }
        }
        let final_dir = &self.container.dir;
        if self.options.durable {
            // Every file is synced (parts at checkpoints, objects and `.info` at finalize);
            // the folder's entries must be too before it takes the final name, or a power
            // loss could leave a finished-looking container without them.
            sync_dir(&self.staging)?;
        }
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
        if self.options.durable {
            if let Some(parent) = final_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        self.committed = true;
        Ok(())
    }
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

/// How many threads the finalize's own work (TimeLockData statistics) may use:
/// as many as the run had workers.
fn run_workers(metadata: &ObjectMetadata) -> usize {
    metadata.info["execution"]["workers"]
        .as_u64()
        .map_or(1, |w| w as usize)
}
