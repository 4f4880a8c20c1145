//! Event output: rows go to flat sidecar files during the run (`event_sidecar.rs`, measured
//! in bytes by the journal), and are copied into the object's datasets at finalize.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use trialflow_core::engine::{ObjectId, ObjectSpec};
use trialflow_core::{Error, EventBlock};

use crate::error::StorageError;
use crate::event_sidecar::{SeenIds, SidecarFiles};
use crate::hdf5_util::one_line;
use crate::info::{hash_range, sha1_hex};
use crate::raw_io::{copy_range, raw_offset};
use crate::task_file::sync_file;

use super::SpyWriter;

impl SpyWriter {
    pub(super) fn sidecar_path(&self, tag: &str, shard: Option<(usize, usize)>) -> PathBuf {
        self.staging.join(match shard {
            None => format!("{tag}.events.part"),
            Some((i, n)) => format!("{tag}.events.shard-{i}-of-{n}.part"),
        })
    }

    pub(super) fn append_event_rows(
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

    /// Creates the event datasets at their final size (`rows` rows), their storage
    /// allocated now (and not filled: every byte is copied in), so their values can go in
    /// at known offsets, outside HDF5.
    fn create_events(
        spec: &ObjectSpec,
        file: &hdf5::File,
        rows: usize,
    ) -> hdf5::Result<(hdf5::Dataset, Vec<hdf5::Dataset>)> {
        use hdf5::plist::dataset_create::{AllocTime, FillTime};
        let data = file
            .new_dataset::<i64>()
            .alloc_time(Some(AllocTime::Early))
            .fill_time(FillTime::Never)
            .shape((rows, 3))
            .create("data")?;
        let mut columns = Vec::new();
        for col in &spec.schema.event_columns {
            let ds = if col.is_integer() {
                file.new_dataset::<i64>()
            } else {
                file.new_dataset::<f64>()
            };
            columns.push(
                ds.alloc_time(Some(AllocTime::Early))
                    .fill_time(FillTime::Never)
                    .shape(rows)
                    .create(col.name.as_str())?,
            );
        }
        Ok((data, columns))
    }

    /// The sidecars an event object is made of: the run's own, or each shard's in shard
    /// order when merging.
    fn event_sidecars(&self, obj: usize) -> Vec<SidecarFiles> {
        let shards: Vec<Option<(usize, usize)>> = if self.merged_shards > 0 {
            (0..self.merged_shards)
                .map(|i| Some((i, self.merged_shards)))
                .collect()
        } else {
            vec![None]
        };
        let spec = &self.objects[obj].spec;
        shards
            .into_iter()
            .map(|sh| {
                SidecarFiles::new(
                    &self.sidecar_path(&spec.tag, sh),
                    &spec.schema.event_columns,
                )
            })
            .collect()
    }

    /// Creates the event datasets of object `obj` (its file is open) at their final size,
    /// and notes which channels and units occur, so the metadata can be written and the
    /// file closed before any values go in: the values are then copied and hashed straight
    /// from the sidecars ([`fill_events`]).
    pub(super) fn prepare_events(&mut self, obj: usize) -> Result<EventFill, Error> {
        let sidecars = self.event_sidecars(obj);
        // This run's own rows (after those a resume kept) are flushed, not synced (its last
        // checkpoint did not sync them either): the object is synced instead.
        let own = match self.objects[obj].events.take() {
            Some(mut own) => {
                own.sync(false)?;
                Some(own)
            }
            None => None,
        };
        // Counted once every row is in the files.
        let rows = sidecars
            .iter()
            .map(SidecarFiles::rows)
            .collect::<Result<Vec<u64>, _>>()?;
        let state = &mut self.objects[obj];
        let seen = match own {
            // The writer noted their ids as they came.
            Some(own) => own.seen().clone(),
            // A merge reads the shards' ids from their tables.
            None => {
                let mut seen = SeenIds::default();
                for (sidecar, &rows) in sidecars.iter().zip(&rows) {
                    seen.merge(sidecar.scan_ids(rows)?);
                }
                seen
            }
        };
        seen.into_sets(&mut state.seen_channels, &mut state.seen_units);
        let total: u64 = rows.iter().sum();
        let path = self.staging.join(&state.file_name);
        let file = state.file.as_ref().expect("created at finalize");
        let (data, columns) = Self::create_events(&state.spec, file, total as usize)
            .map_err(|e| StorageError::io(&path, one_line(&e)))?;
        let integer = state
            .spec
            .schema
            .event_columns
            .iter()
            .map(|c| c.is_integer());
        let datasets = std::iter::once((&data, true)).chain(columns.iter().zip(integer));
        let mut regions = Vec::new();
        for (k, (ds, integer)) in datasets.enumerate() {
            if ds.size() == 0 {
                continue;
            }
            let at = if integer {
                raw_offset::<i64>(ds)
            } else {
                raw_offset::<f64>(ds)
            };
            let Some(at) = at else {
                return Err(StorageError::output(
                    &path,
                    "an event dataset has no contiguous storage to write into (an internal error)",
                )
                .into());
            };
            let sources = sidecars
                .iter()
                .zip(&rows)
                .map(|(s, &r)| (s.paths()[k].clone(), r * SidecarFiles::width(k)))
                .collect();
            regions.push(Region { at, sources });
        }
        regions.sort_by_key(|r| r.at);
        Ok(EventFill { regions })
    }
}

/// Where each event dataset's values lie in the object file, and the sidecar files whose
/// bytes, one after the other, they are.
pub(super) struct EventFill {
    regions: Vec<Region>,
}

struct Region {
    at: u64,
    sources: Vec<(PathBuf, u64)>,
}

impl Region {
    fn len(&self) -> u64 {
        self.sources.iter().map(|(_, len)| len).sum()
    }
}

/// Fills the closed object file at `path` with its event values and returns the file's
/// SHA-1, syncing it too when `durable`. The values are copied file to file inside the
/// kernel (`copy_file_range`), and the hash, on a thread of its own, reads them from the
/// same sidecars rather than waiting for the copy: a find_peaks run writes tens of MB here,
/// after every worker is done, and copying and then hashing them took a third of its time.
pub(super) fn fill_events(
    path: &Path,
    fill: &EventFill,
    durable: bool,
) -> Result<String, StorageError> {
    std::thread::scope(|scope| {
        let hashed = scope.spawn(|| hash_object(path, &fill.regions));
        let copied = copy_regions(path, &fill.regions).and_then(|()| {
            if durable {
                sync_file(path)
            } else {
                Ok(())
            }
        });
        let hashed = hashed
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        copied.and(hashed)
    })
}

fn copy_regions(path: &Path, regions: &[Region]) -> Result<(), StorageError> {
    let object = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    for region in regions {
        let mut to = region.at;
        for (source, len) in region.sources.iter().filter(|(_, len)| *len > 0) {
            let from = File::open(source).map_err(|e| StorageError::io(source, e))?;
            copy_range(&from, 0, &object, to, *len).map_err(|e| {
                StorageError::io(path, format!("copying {} into it: {e}", source.display()))
            })?;
            to += len;
        }
    }
    Ok(())
}

/// The SHA-1 of the object file as it is once filled: its own bytes outside the regions
/// (HDF5's metadata, final since the file is closed), the sidecars' bytes inside them.
fn hash_object(path: &Path, regions: &[Region]) -> Result<String, StorageError> {
    let object = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let held = object
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    let end = regions.iter().map(|r| r.at + r.len()).fold(held, u64::max);
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    for region in regions {
        hash_range(&mut hasher, &mut buf, &object, path, pos, region.at)?;
        for (source, len) in region.sources.iter().filter(|(_, len)| *len > 0) {
            let file = File::open(source).map_err(|e| StorageError::io(source, e))?;
            hash_range(&mut hasher, &mut buf, &file, source, 0, *len)?;
        }
        pos = region.at + region.len();
    }
    hash_range(&mut hasher, &mut buf, &object, path, pos, end)?;
    Ok(sha1_hex(hasher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::file_sha1;

    /// The filled file holds each region's sources one after the other, around its own
    /// bytes, and the hash computed from the sources is the file's; an empty source (a
    /// shard without events) need not exist.
    #[test]
    fn filled_file_holds_the_sources_and_its_hash_is_the_files() {
        let dir = std::env::temp_dir().join(format!("tf-fill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let object = dir.join("object");
        // Own bytes: 100 before the first region, 10 between, 30 after the last.
        let mut own = vec![0u8; 100 + 70 + 10 + 40 + 30];
        for (i, b) in own.iter_mut().enumerate() {
            *b = (i % 13) as u8 + 1;
        }
        std::fs::write(&object, &own).unwrap();
        let source = |name: &str, len: usize, seed: u8| {
            let path = dir.join(name);
            let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect();
            std::fs::write(&path, &bytes).unwrap();
            (path, bytes)
        };
        let (a, a_bytes) = source("a", 50, 3);
        let (b, b_bytes) = source("b", 20, 5);
        let (c, c_bytes) = source("c", 40, 7);
        let fill = EventFill {
            regions: vec![
                Region {
                    at: 100,
                    sources: vec![(a, 50), (dir.join("missing"), 0), (b, 20)],
                },
                Region {
                    at: 180,
                    sources: vec![(c, 40)],
                },
            ],
        };
        let checksum = fill_events(&object, &fill, true).unwrap();
        let got = std::fs::read(&object).unwrap();
        let mut want = own.clone();
        want[100..150].copy_from_slice(&a_bytes);
        want[150..170].copy_from_slice(&b_bytes);
        want[180..220].copy_from_slice(&c_bytes);
        assert!(got == want);
        assert_eq!(checksum, file_sha1(&object).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
