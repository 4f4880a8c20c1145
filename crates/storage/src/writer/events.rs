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
    /// as many threads as the run had workers, after every worker is done.
    pub(super) fn write_events(&mut self, obj: usize, workers: usize) -> Result<(), Error> {
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
        let mut counts = Vec::with_capacity(sidecars.len());
        for sidecar in &sidecars {
            counts.push(match std::fs::metadata(sidecar) {
                Ok(m) => (m.len() / row_bytes) as usize,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(StorageError::io(sidecar, e).into()),
            });
        }
        let total: usize = counts.iter().sum();
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
        // Each thread copies its own stretch of rows; the bytes written do not depend on
        // how the rows are split, and the seen ids are a union.
        let stretches = split_rows(&sidecars, &counts, total, workers.max(1));
        let copy = |stretch: &[Stretch<'_>]| -> Result<SeenIds, StorageError> {
            let mut seen = SeenIds::default();
            let mut ints = Vec::new();
            for piece in stretch {
                let mut row = piece.to;
                read_tables(
                    piece.sidecar,
                    n_columns,
                    piece.rows.clone(),
                    1 << 16,
                    |block| {
                        let n = block.rows();
                        let table = &block.table[..3 * n];
                        seen.note(table);
                        targets.write_table(row, table)?;
                        for (c, values) in block.columns.iter().enumerate() {
                            if integer[c] {
                                ints.clear();
                                ints.extend(values.iter().map(|&v| v as i64));
                                targets.write_column(c, row, &ints)?;
                            } else {
                                targets.write_column(c, row, values)?;
                            }
                        }
                        row += n;
                        Ok(())
                    },
                )?;
            }
            Ok(seen)
        };
        let mut seen = SeenIds::default();
        let results: Vec<Result<SeenIds, StorageError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = stretches[1..]
                .iter()
                .map(|stretch| scope.spawn(|| copy(stretch)))
                .collect();
            let mut results = vec![copy(&stretches[0])];
            results.extend(handles.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
            }));
            results
        });
        for result in results {
            seen.merge(result?);
        }
        seen.into_sets(&mut state.seen_channels, &mut state.seen_units);
        Ok(())
    }
}

/// Rows `rows` of one sidecar, which go to the datasets from row `to` on.
struct Stretch<'a> {
    sidecar: &'a Path,
    rows: std::ops::Range<usize>,
    to: usize,
}

/// The `total` rows of `sidecars` (of `counts` rows each, in order) cut into at most
/// `parts` stretches of nearly equal length, each a list of pieces of consecutive
/// sidecars. Always at least one (maybe empty) stretch.
fn split_rows<'a>(
    sidecars: &'a [PathBuf],
    counts: &[usize],
    total: usize,
    parts: usize,
) -> Vec<Vec<Stretch<'a>>> {
    let parts = parts.clamp(1, total.max(1));
    let bounds: Vec<usize> = (0..=parts).map(|k| total * k / parts).collect();
    let mut stretches: Vec<Vec<Stretch<'a>>> = (0..parts).map(|_| Vec::new()).collect();
    let mut first = 0;
    for (sidecar, &count) in sidecars.iter().zip(counts) {
        let (start, end) = (first, first + count);
        for (k, stretch) in stretches.iter_mut().enumerate() {
            let (lo, hi) = (bounds[k].max(start), bounds[k + 1].min(end));
            if lo < hi {
                stretch.push(Stretch {
                    sidecar,
                    rows: lo - start..hi - start,
                    to: lo,
                });
            }
        }
        first = end;
    }
    stretches
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

    /// Adds the ids `other` saw.
    fn merge(&mut self, other: SeenIds) {
        for k in 0..2 {
            let (bits, more) = (&mut self.bits[k], &other.bits[k]);
            if bits.len() < more.len() {
                bits.resize(more.len(), 0);
            }
            for (word, &w) in bits.iter_mut().zip(more) {
                *word |= w;
            }
        }
        for (mine, theirs) in self.others.iter_mut().zip(other.others) {
            mine.extend(theirs);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of every sidecar lands exactly once, at its place in the sidecars' order,
    /// however many stretches the rows are cut into.
    #[test]
    fn stretches_cover_every_row_once_in_order() {
        let sidecars: Vec<PathBuf> = (0..4).map(|i| PathBuf::from(format!("s{i}"))).collect();
        for counts in [
            vec![0, 0, 0, 0],
            vec![7, 0, 3, 1],
            vec![1, 1, 1, 1],
            vec![0, 100, 0, 5],
        ] {
            let total: usize = counts.iter().sum();
            for parts in [1, 2, 3, 8, 200] {
                let stretches = split_rows(&sidecars, &counts, total, parts);
                assert!(!stretches.is_empty() && stretches.len() <= parts.max(1));
                let mut next = 0;
                let mut seen = vec![Vec::new(); sidecars.len()];
                for piece in stretches.iter().flatten() {
                    assert_eq!(piece.to, next, "{counts:?} in {parts}");
                    let s = sidecars.iter().position(|p| p == piece.sidecar).unwrap();
                    seen[s].extend(piece.rows.clone());
                    next += piece.rows.len();
                }
                assert_eq!(next, total);
                for (s, rows) in seen.iter().enumerate() {
                    assert_eq!(
                        *rows,
                        (0..counts[s]).collect::<Vec<_>>(),
                        "{counts:?} in {parts}"
                    );
                }
            }
        }
    }

    #[test]
    fn merged_ids_are_the_union() {
        let mut a = SeenIds::default();
        a.note(&[0, 3, 1, 0, 70, -2]);
        let mut b = SeenIds::default();
        b.note(&[0, 200, 1, 0, 3, 1 << 20]);
        a.merge(b);
        let (mut channels, mut units) = (BTreeSet::new(), BTreeSet::new());
        a.into_sets(&mut channels, &mut units);
        assert_eq!(channels.into_iter().collect::<Vec<_>>(), [3, 70, 200]);
        assert_eq!(units.into_iter().collect::<Vec<_>>(), [-2, 1, 1 << 20]);
    }
}
