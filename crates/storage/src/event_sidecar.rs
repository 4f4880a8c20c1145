//! Event rows on their way into a SpikeData object. Rows are appended to a plain binary file
//! beside the object (fixed-width little-endian records: sample, channel, unit as i64, then
//! one f64 per property column) and copied into the HDF5 datasets when the object is
//! finalized. Appending to a flat file is cheap and survives a kill: the journal records how
//! many bytes a checkpoint covers, and a resumed run cuts the file back to that length.
//! (Growing HDF5 datasets in place could leave a killed file unreadable.)

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
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
    /// Opens `path` for appending after its first `keep` bytes (0 starts afresh).
    pub fn open(path: &Path, keep: u64) -> Result<EventSidecar, StorageError> {
        let io = |e| StorageError::io(path, e);
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

/// Reads a sidecar back in blocks of at most `max_rows` rows.
pub fn read_blocks(
    path: &Path,
    n_columns: usize,
    max_rows: usize,
    mut each: impl FnMut(&EventBlock) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let io = |e| StorageError::io(path, e);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let row_bytes = 8 * (3 + n_columns);
    let mut buf = vec![0u8; row_bytes * max_rows];
    let mut block = EventBlock::with_columns(n_columns);
    let mut props = vec![0.0; n_columns];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = reader.read(&mut buf[filled..]).map_err(io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let rows = filled / row_bytes;
        if rows == 0 {
            return Ok(());
        }
        block.clear();
        for row in buf[..rows * row_bytes].chunks_exact(row_bytes) {
            let word = |k: usize| <[u8; 8]>::try_from(&row[8 * k..8 * k + 8]).expect("8 bytes");
            for (c, p) in props.iter_mut().enumerate() {
                *p = f64::from_le_bytes(word(3 + c));
            }
            block.push(
                i64::from_le_bytes(word(0)),
                i64::from_le_bytes(word(1)),
                i64::from_le_bytes(word(2)),
                &props,
            );
        }
        each(&block)?;
        if filled < buf.len() {
            return Ok(());
        }
    }
}
