//! Event rows on their way into a SpikeData object. They are appended to plain files beside
//! the object, one per dataset the object will hold: the `(sample, channel, unit)` rows of
//! `data` as i64 triples, and each property column as i64 or f64, all in this machine's byte
//! order. Each file is thus byte for byte the values of its dataset, so finalizing copies
//! files into the object inside the kernel and hashes the object from them, with no decoding
//! (`writer/events.rs`).
//!
//! Appending to flat files is cheap and survives a kill: the journal records how many rows a
//! checkpoint covers (as bytes of whole rows, `8 x (3 + columns)` each), and a resumed run
//! cuts every file back to that. (Growing HDF5 datasets in place could leave a killed file
//! unreadable.)

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use trialflow_core::{EventBlock, EventColumn};

use crate::error::StorageError;
use crate::raw_io::{as_bytes, as_bytes_mut};

/// Bytes of one `data` row (sample, channel, unit) in the table file.
const TABLE_ROW_BYTES: u64 = 24;

/// The files of one event sidecar: the table first, then one per property column.
#[derive(Debug, Clone)]
pub(crate) struct SidecarFiles {
    paths: Vec<PathBuf>,
}

impl SidecarFiles {
    /// `base` (a name ending in `.part`) holds the table; column `name`'s file is `base`
    /// with `.part` replaced by `.name.part`.
    pub fn new(base: &Path, columns: &[EventColumn]) -> SidecarFiles {
        let stem = base.to_string_lossy();
        let stem = stem.strip_suffix(".part").unwrap_or(&stem);
        let mut paths = vec![base.to_path_buf()];
        paths.extend(
            columns
                .iter()
                .map(|c| PathBuf::from(format!("{stem}.{}.part", c.name))),
        );
        SidecarFiles { paths }
    }

    /// The table's file, then each column's.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Bytes per row in file `k` (0 is the table).
    pub fn width(k: usize) -> u64 {
        if k == 0 {
            TABLE_ROW_BYTES
        } else {
            8
        }
    }

    /// Bytes of one whole row across all files: the journal's unit.
    pub fn row_bytes(&self) -> u64 {
        TABLE_ROW_BYTES + 8 * (self.paths.len() as u64 - 1)
    }

    /// The rows every file holds (none if the table was never written), refusing files
    /// that disagree: each is flushed whole at every checkpoint and at the end.
    pub fn rows(&self) -> Result<u64, StorageError> {
        let mut rows = None;
        for (k, path) in self.paths.iter().enumerate() {
            let len = match std::fs::metadata(path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(StorageError::io(path, e)),
            };
            let here = len / Self::width(k);
            if *rows.get_or_insert(here) != here || len % Self::width(k) != 0 {
                return Err(StorageError::format(
                    path,
                    format!(
                        "holds {len} bytes of event values, which does not match the other event files (an internal error)"
                    ),
                ));
            }
        }
        Ok(rows.unwrap_or(0))
    }

    /// The channel and unit ids of the table's first `rows` rows.
    pub fn scan_ids(&self, rows: u64) -> Result<SeenIds, StorageError> {
        let path = &self.paths[0];
        let mut seen = SeenIds::default();
        if rows == 0 {
            return Ok(seen);
        }
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let mut block = vec![0i64; 3 * (1 << 16).min(rows as usize)];
        let mut next = 0;
        while next < rows {
            let n = (rows - next).min(block.len() as u64 / 3) as usize;
            let values = &mut block[..3 * n];
            file.read_exact_at(as_bytes_mut(values), next * TABLE_ROW_BYTES)
                .map_err(|e| StorageError::io(path, e))?;
            seen.note_rows(values);
            next += n as u64;
        }
        Ok(seen)
    }
}

/// Appends event rows to a sidecar's files, noting the channels and units they name.
#[derive(Debug)]
pub struct EventSidecar {
    files: SidecarFiles,
    writers: Vec<BufWriter<File>>,
    integer: Vec<bool>,
    rows: u64,
    seen: SeenIds,
    /// Reused for the table's triples and integer columns.
    scratch: Vec<i64>,
}

impl EventSidecar {
    /// Opens the sidecar at `base` for appending after the rows of its first `keep` bytes
    /// (the journal's count; 0 starts afresh). Files holding fewer rows (or none) are
    /// refused: the rows a journal counts are gone, and must never be taken as zeros.
    pub fn open(
        base: &Path,
        columns: &[EventColumn],
        keep: u64,
    ) -> Result<EventSidecar, StorageError> {
        let files = SidecarFiles::new(base, columns);
        let keep_rows = keep / files.row_bytes();
        let mut writers = Vec::with_capacity(files.paths.len());
        for (k, path) in files.paths.iter().enumerate() {
            let io = |e| StorageError::io(path, e);
            let need = keep_rows * SidecarFiles::width(k);
            if need > 0 {
                let held = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                if held < need {
                    return Err(StorageError::format(
                        path,
                        format!(
                            "cannot resume from it: it holds {held} bytes of event values, fewer than the {need} the journal records; run without --resume to start over"
                        ),
                    ));
                }
            }
            let mut file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(need == 0)
                .open(path)
                .map_err(io)?;
            // Only a resume cuts back. Truncating a new file to zero would make ext4 start
            // writing it out when it is closed (its `auto_da_alloc` guard for files rewritten
            // in place): tens of MB sent to disk for files that are deleted at the commit.
            if need > 0 {
                file.set_len(need).map_err(io)?;
                file.seek(SeekFrom::End(0)).map_err(io)?;
            }
            writers.push(BufWriter::with_capacity(1 << 16, file));
        }
        let seen = files.scan_ids(keep_rows)?;
        Ok(EventSidecar {
            files,
            writers,
            integer: columns.iter().map(EventColumn::is_integer).collect(),
            rows: keep_rows,
            seen,
            scratch: Vec::new(),
        })
    }

    pub fn append(&mut self, events: &EventBlock) -> Result<(), StorageError> {
        let n = events.len();
        self.seen.note(&events.channel, &events.unit);
        self.scratch.clear();
        for i in 0..n {
            self.scratch
                .extend([events.sample[i], events.channel[i], events.unit[i]]);
        }
        let (paths, writers) = (&self.files.paths, &mut self.writers);
        writers[0]
            .write_all(as_bytes(&self.scratch))
            .map_err(|e| StorageError::io(&paths[0], e))?;
        for (c, column) in events.columns.iter().enumerate() {
            let written = if self.integer[c] {
                self.scratch.clear();
                self.scratch.extend(column.iter().map(|&v| v as i64));
                writers[c + 1].write_all(as_bytes(&self.scratch))
            } else {
                writers[c + 1].write_all(as_bytes(column))
            };
            written.map_err(|e| StorageError::io(&paths[c + 1], e))?;
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Writes buffered rows and, if `durable`, syncs them to disk; returns the bytes of
    /// whole rows written (the journal's count).
    pub fn sync(&mut self, durable: bool) -> Result<u64, StorageError> {
        for (writer, path) in self.writers.iter_mut().zip(&self.files.paths) {
            let io = |e| StorageError::io(path, e);
            writer.flush().map_err(io)?;
            if durable {
                writer.get_ref().sync_data().map_err(io)?;
            }
        }
        Ok(self.rows * self.files.row_bytes())
    }

    /// The channels and units of every row appended (and of the rows kept on resume).
    pub fn seen(&self) -> &SeenIds {
        &self.seen
    }
}

/// The distinct channel and unit indices among all rows (Syncopy wants a label for each).
/// Rows are counted in millions, so small non-negative indices tick a bitmap and only
/// others go through a set.
#[derive(Debug, Default, Clone)]
pub(crate) struct SeenIds {
    bits: [Vec<u64>; 2],
    others: [BTreeSet<i64>; 2],
}

/// Indices below this are ticked in the bitmap.
const SEEN_BITMAP_IDS: i64 = 1 << 16;

impl SeenIds {
    /// Notes row `i`'s channel `channels[i]` and unit `units[i]`.
    pub fn note(&mut self, channels: &[i64], units: &[i64]) {
        for (&channel, &unit) in channels.iter().zip(units) {
            self.note_id(0, channel);
            self.note_id(1, unit);
        }
    }

    /// Notes the channel and unit of each (sample, channel, unit) row.
    fn note_rows(&mut self, table: &[i64]) {
        for row in table.chunks_exact(3) {
            self.note_id(0, row[1]);
            self.note_id(1, row[2]);
        }
    }

    fn note_id(&mut self, k: usize, id: i64) {
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

    /// Adds the ids `other` saw.
    pub fn merge(&mut self, other: SeenIds) {
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

    pub fn into_sets(self, channels: &mut BTreeSet<i64>, units: &mut BTreeSet<i64>) {
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
    use trialflow_core::EventColumnKind;

    #[test]
    fn merged_ids_are_the_union() {
        let mut a = SeenIds::default();
        a.note_rows(&[0, 3, 1, 0, 70, -2]);
        let mut b = SeenIds::default();
        b.note(&[200, 3], &[1, 1 << 20]);
        a.merge(b);
        let (mut channels, mut units) = (BTreeSet::new(), BTreeSet::new());
        a.into_sets(&mut channels, &mut units);
        assert_eq!(channels.into_iter().collect::<Vec<_>>(), [3, 70, 200]);
        assert_eq!(units.into_iter().collect::<Vec<_>>(), [-2, 1, 1 << 20]);
    }

    /// Each file holds its dataset's values in order; a reopen keeps exactly the rows the
    /// journal counts, and their ids; a journal counting more rows than the files hold is
    /// refused.
    #[test]
    fn files_hold_each_dataset_and_resume_cuts_back_to_the_journal() {
        let dir = std::env::temp_dir().join(format!("tf-sidecar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("peaks.events.part");
        let columns = [
            EventColumn::new("height", EventColumnKind::Float),
            EventColumn::new("left", EventColumnKind::Int),
        ];
        let block = |first: i64, n: usize| EventBlock {
            sample: (0..n as i64).map(|i| first + i).collect(),
            channel: vec![first % 5; n],
            unit: vec![0; n],
            columns: vec![
                (0..n).map(|i| 0.5 + i as f64).collect(),
                (0..n).map(|i| i as f64 * 2.0).collect(),
            ],
        };
        let mut sidecar = EventSidecar::open(&base, &columns, 0).unwrap();
        sidecar.append(&block(10, 3)).unwrap();
        let keep = sidecar.sync(false).unwrap();
        assert_eq!(keep, 3 * 40);
        sidecar.append(&block(21, 2)).unwrap();
        sidecar.sync(false).unwrap();
        drop(sidecar);
        let files = SidecarFiles::new(&base, &columns);
        assert_eq!(files.rows().unwrap(), 5);
        let read_i64 = |p: &Path| -> Vec<i64> {
            std::fs::read(p)
                .unwrap()
                .chunks_exact(8)
                .map(|w| i64::from_ne_bytes(w.try_into().unwrap()))
                .collect()
        };
        assert_eq!(
            read_i64(&files.paths()[0]),
            [10, 0, 0, 11, 0, 0, 12, 0, 0, 21, 1, 0, 22, 1, 0]
        );
        assert_eq!(read_i64(&files.paths()[2]), [0, 2, 4, 0, 2]);
        assert!(files.paths()[1].ends_with("peaks.events.height.part"));

        let reopened = EventSidecar::open(&base, &columns, keep).unwrap();
        assert_eq!(files.rows().unwrap(), 3);
        let (mut channels, mut units) = (BTreeSet::new(), BTreeSet::new());
        reopened.seen().clone().into_sets(&mut channels, &mut units);
        assert_eq!(channels.into_iter().collect::<Vec<_>>(), [0]);
        drop(reopened);
        let err = EventSidecar::open(&base, &columns, 4 * 40).unwrap_err();
        assert!(err.to_string().contains("cannot resume"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
