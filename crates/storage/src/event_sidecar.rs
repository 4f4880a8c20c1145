//! Event rows on their way into a SpikeData object. Rows are appended to a plain binary file
//! beside the object (fixed-width little-endian records: sample, channel, unit as i64, then
//! one f64 per property column) and copied into the HDF5 datasets when the object is
//! finalized. Appending to a flat file is cheap and survives a kill: the journal records how
//! many bytes a checkpoint covers, and a resumed run cuts the file back to that length.
//! (Growing HDF5 datasets in place could leave a killed file unreadable.)

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use trialflow_core::EventBlock;

use crate::error::StorageError;

/// Appends event rows to a sidecar file.
#[derive(Debug)]
pub struct EventSidecar {
    path: PathBuf,
    file: BufWriter<File>,
    bytes: u64,
}

impl EventSidecar {
    /// Opens `path` for appending after its first `keep` bytes (0 starts afresh). A file
    /// shorter than `keep` (or none) is refused: the rows a journal counts are gone, and
    /// must never be taken as zeros.
    pub fn open(path: &Path, keep: u64) -> Result<EventSidecar, StorageError> {
        let io = |e| StorageError::io(path, e);
        if keep > 0 {
            let held = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if held < keep {
                return Err(StorageError::format(
                    path,
                    format!(
                        "cannot resume from it: it holds {held} bytes of event rows, fewer than the {keep} the journal records; run without --resume to start over"
                    ),
                ));
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(keep == 0)
            .open(path)
            .map_err(io)?;
        file.set_len(keep).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(EventSidecar {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 16, file),
            bytes: keep,
        })
    }

    pub fn append(&mut self, events: &EventBlock) -> Result<(), StorageError> {
        let io = |e| StorageError::io(&self.path, e);
        for i in 0..events.len() {
            for v in [events.sample[i], events.channel[i], events.unit[i]] {
                self.file.write_all(&v.to_le_bytes()).map_err(io)?;
            }
            for column in &events.columns {
                self.file.write_all(&column[i].to_le_bytes()).map_err(io)?;
            }
        }
        self.bytes += (events.len() * 8 * (3 + events.columns.len())) as u64;
        Ok(())
    }

    /// Writes buffered rows and, if `durable`, syncs them to disk; returns the length
    /// written.
    pub fn sync(&mut self, durable: bool) -> Result<u64, StorageError> {
        let io = |e| StorageError::io(&self.path, e);
        self.file.flush().map_err(io)?;
        if durable {
            self.file.get_ref().sync_data().map_err(io)?;
        }
        Ok(self.bytes)
    }
}

/// A block of sidecar rows as the SpikeData datasets hold them: `table` is `data`'s rows
/// (sample, channel, unit), `columns[c]` property column `c`.
#[derive(Debug, Default)]
pub(crate) struct EventTable {
    pub table: Vec<i64>,
    pub columns: Vec<Vec<f64>>,
}

impl EventTable {
    pub fn rows(&self) -> usize {
        self.table.len() / 3
    }
}

/// Reads rows `rows` of a sidecar back in blocks of at most `max_rows` rows, decoded
/// straight into the datasets' layout (no per-row event structure: this is the serial tail
/// of every run that writes events, tens of MB for a find_peaks run, so disjoint ranges may
/// be read on threads of their own). Rows past the file's end are not there to read.
pub(crate) fn read_tables(
    path: &Path,
    n_columns: usize,
    rows: std::ops::Range<usize>,
    max_rows: usize,
    mut each: impl FnMut(&EventTable) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    use std::os::unix::fs::FileExt;
    let io = |e| StorageError::io(path, e);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let row_bytes = 8 * (3 + n_columns);
    let max_rows = max_rows.min(rows.len()).max(1);
    let mut buf = vec![0u8; row_bytes * max_rows];
    let mut block = EventTable {
        table: Vec::with_capacity(3 * max_rows),
        columns: vec![Vec::with_capacity(max_rows); n_columns],
    };
    let word = |bytes: &[u8]| <[u8; 8]>::try_from(bytes).expect("8 bytes");
    let mut next = rows.start;
    while next < rows.end {
        let want = (rows.end - next).min(max_rows) * row_bytes;
        let at = (next * row_bytes) as u64;
        let mut filled = 0;
        while filled < want {
            let n = file
                .read_at(&mut buf[filled..want], at + filled as u64)
                .map_err(io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let got = filled / row_bytes;
        if got == 0 {
            return Ok(());
        }
        block.table.clear();
        for column in &mut block.columns {
            column.clear();
        }
        for row in buf[..got * row_bytes].chunks_exact(row_bytes) {
            let (ids, props) = row.split_at(24);
            block
                .table
                .extend(ids.chunks_exact(8).map(|w| i64::from_le_bytes(word(w))));
            for (column, w) in block.columns.iter_mut().zip(props.chunks_exact(8)) {
                column.push(f64::from_le_bytes(word(w)));
            }
        }
        each(&block)?;
        if filled < want {
            return Ok(());
        }
        next += got;
    }
    Ok(())
}
