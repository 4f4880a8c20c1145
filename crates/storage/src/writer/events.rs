//! Event output: rows go to a flat sidecar file during the run (measured in bytes by the
//! journal), and are copied into the object's datasets at finalize.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use trialflow_core::engine::{ObjectId, ObjectSpec};
use trialflow_core::{Error, EventBlock};

use crate::error::StorageError;
use crate::event_sidecar::read_tables;
use crate::hdf5_util::one_line;
use crate::raw_io::{raw_offset, write_at, PlainBytes};

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

    /// Creates the event datasets at their final size (`rows` rows), allocated now, so
    /// their values can be written with plain `pwrite`s at known offsets, outside HDF5.
    fn create_events(
        spec: &ObjectSpec,
        file: &hdf5::File,
        rows: usize,
    ) -> hdf5::Result<(hdf5::Dataset, Vec<hdf5::Dataset>)> {
        use hdf5::plist::dataset_create::AllocTime;
        let data = file
            .new_dataset::<i64>()
            .alloc_time(Some(AllocTime::Early))
            .shape((rows, 3))
            .create("data")?;
        let mut columns = Vec::new();
        for col in &spec.schema.event_columns {
            let ds = if col.is_integer() {
                file.new_dataset::<i64>()
                    .alloc_time(Some(AllocTime::Early))
                    .shape(rows)
                    .create(col.name.as_str())?
            } else {
                file.new_dataset::<f64>()
                    .alloc_time(Some(AllocTime::Early))
                    .shape(rows)
                    .create(col.name.as_str())?
            };
            columns.push(ds);
        }
        file.flush()?;
        Ok((data, columns))
    }

    /// Copies the event sidecars (one, or one per shard in shard order) into the object
    /// file's datasets, noting which channels and units occur. The datasets are made at
    /// their final size (the sidecars' lengths give it) and filled with `pwrite`, like
    /// contiguous dense data (`raw_io.rs`): a find_peaks run writes tens of MB here, on
    /// one thread, after every worker is done.
    pub(super) fn write_events(&mut self, obj: usize) -> Result<(), Error> {
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
        let n_columns = state.spec.schema.event_columns.len();
        let row_bytes = (8 * (3 + n_columns)) as u64;
        let mut total = 0usize;
        for sidecar in &sidecars {
            total += match std::fs::metadata(sidecar) {
                Ok(m) => (m.len() / row_bytes) as usize,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(StorageError::io(sidecar, e).into()),
            };
        }
        let file = state.file.as_ref().expect("created at finalize");
        let (data, columns) = Self::create_events(&state.spec, file, total)
            .map_err(|e| StorageError::io(&path, one_line(&e)))?;
        let integer: Vec<bool> = state
            .spec
            .schema
            .event_columns
            .iter()
            .map(|c| c.is_integer())
            .collect();
        let targets = EventTargets::new(&path, &data, &columns, &integer)?;
        let mut seen = SeenIds::default();
        let mut ints = Vec::new();
        let mut rows = 0usize;
        for sidecar in &sidecars {
            read_tables(sidecar, n_columns, 1 << 16, |block| {
                let n = block.rows().min(total - rows);
                let table = &block.table[..3 * n];
                seen.note(table);
                targets.write_table(rows, table)?;
                for (c, values) in block.columns.iter().enumerate() {
                    let values = &values[..n];
                    if integer[c] {
                        ints.clear();
                        ints.extend(values.iter().map(|&v| v as i64));
                        targets.write_column(c, rows, &ints)?;
                    } else {
                        targets.write_column(c, rows, values)?;
                    }
                }
                rows += n;
                Ok(())
            })?;
        }
        seen.into_sets(&mut state.seen_channels, &mut state.seen_units);
        Ok(())
    }
}

/// Where the event datasets' values start in the file: written with `pwrite` through a
/// descriptor of our own (empty datasets have no storage, and need none).
struct EventTargets {
    path: PathBuf,
    file: std::fs::File,
    data: Option<u64>,
    columns: Vec<Option<u64>>,
}

impl EventTargets {
    fn new(
        path: &Path,
        data: &hdf5::Dataset,
        columns: &[hdf5::Dataset],
        integer: &[bool],
    ) -> Result<EventTargets, StorageError> {
        let offset = |ds: &hdf5::Dataset, integer: bool| {
            if integer {
                raw_offset::<i64>(ds)
            } else {
                raw_offset::<f64>(ds)
            }
        };
        let data_at = offset(data, true);
        let columns_at: Vec<Option<u64>> = columns
            .iter()
            .zip(integer)
            .map(|(ds, &int)| offset(ds, int))
            .collect();
        let sizes = std::iter::once(data.size()).chain(columns.iter().map(|c| c.size()));
        let located = std::iter::once(data_at).chain(columns_at.iter().copied());
        if sizes
            .zip(located)
            .any(|(size, at)| size > 0 && at.is_none())
        {
            return Err(StorageError::output(
                path,
                "an event dataset has no contiguous storage to write into (an internal error)",
            ));
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(EventTargets {
            path: path.to_path_buf(),
            file,
            data: data_at,
            columns: columns_at,
        })
    }

    fn write_at<T: PlainBytes>(
        &self,
        start: Option<u64>,
        at: usize,
        values: &[T],
    ) -> Result<(), StorageError> {
        let Some(start) = start else {
            return Ok(());
        };
        let offset = start + (at * std::mem::size_of::<T>()) as u64;
        write_at(&self.file, offset, values).map_err(|e| StorageError::io(&self.path, e))
    }

    /// Writes `data`'s rows from row `row` on.
    fn write_table(&self, row: usize, table: &[i64]) -> Result<(), StorageError> {
        self.write_at(self.data, 3 * row, table)
    }

    fn write_column<T: PlainBytes>(
        &self,
        column: usize,
        row: usize,
        values: &[T],
    ) -> Result<(), StorageError> {
        self.write_at(self.columns[column], row, values)
    }
}

/// The distinct channel and unit indices among all rows (Syncopy wants a label for each).
/// Rows are counted in millions, so small non-negative indices tick a bitmap and only
/// others go through a set.
#[derive(Default)]
struct SeenIds {
    bits: [Vec<u64>; 2],
    others: [BTreeSet<i64>; 2],
}

/// Indices below this are ticked in the bitmap.
const SEEN_BITMAP_IDS: i64 = 1 << 16;

impl SeenIds {
    /// Notes the channel and unit of each (sample, channel, unit) row.
    fn note(&mut self, table: &[i64]) {
        for row in table.chunks_exact(3) {
            for (k, &id) in row[1..].iter().enumerate() {
                if (0..SEEN_BITMAP_IDS).contains(&id) {
                    let (word, bit) = (id as usize / 64, id as usize % 64);
                    let bits = &mut self.bits[k];
                    if bits.len() <= word {
                        bits.resize(word + 1, 0);
                    }
                    bits[word] |= 1 << bit;
                } else {
                    self.others[k].insert(id);
                }
            }
        }
    }

    fn into_sets(self, channels: &mut BTreeSet<i64>, units: &mut BTreeSet<i64>) {
        for ((bits, others), into) in self
            .bits
            .into_iter()
            .zip(self.others)
            .zip([channels, units])
        {
            for (w, &word) in bits.iter().enumerate() {
                for bit in 0..64 {
                    if word >> bit & 1 == 1 {
                        into.insert((w * 64 + bit) as i64);
                    }
                }
            }
            into.extend(others);
        }
    }
}
