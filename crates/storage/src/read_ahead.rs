//! Reads many small trials with one `pread`.
//!
//! A recording of 200 000 trials of 200 samples x 8 channels is 200 000 reads of 6.4 KB,
//! each a system call with the page cache's bookkeeping around its copy; the reader thread
//! spent a quarter of the run's CPU there. Trials usually follow one another in the file,
//! so a read this small fills a window of the bytes that follow it instead, and the trials
//! after it are copied from there. Larger reads go straight to the file.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes read at once for small reads.
const WINDOW_BYTES: usize = 512 << 10;

/// Reads up to this size go through the window.
const SMALL_READ_BYTES: usize = WINDOW_BYTES / 8;

/// A window of a read-only file's bytes, `[start, start + bytes.len())`, within `end`.
#[derive(Debug)]
pub(crate) struct ReadAhead {
    start: u64,
    bytes: Vec<u8>,
    /// Where the readable region (a dataset's values) ends: the window never reaches past it.
    end: u64,
}

impl ReadAhead {
    /// A window over the bytes before `end`.
    pub fn new(end: u64) -> ReadAhead {
        ReadAhead {
            start: 0,
            bytes: Vec::new(),
            end,
        }
    }

    /// Fills `out` with the bytes at `at` of `file`: from the window if it holds them,
    /// after refilling it from `at` if `out` is small, else straight from the file.
    pub fn read(&mut self, file: &File, at: u64, out: &mut [u8]) -> std::io::Result<()> {
        let len = out.len();
        if len > SMALL_READ_BYTES {
            return file.read_exact_at(out, at);
        }
        let held = self.start <= at && at + len as u64 <= self.start + self.bytes.len() as u64;
        if !held {
            let window = (self.end.saturating_sub(at) as usize)
                .min(WINDOW_BYTES)
                .max(len);
            self.bytes.resize(window, 0);
            if let Err(e) = file.read_exact_at(&mut self.bytes, at) {
                self.bytes.clear();
                return Err(e);
            }
            self.start = at;
        }
        let from = (at - self.start) as usize;
        out.copy_from_slice(&self.bytes[from..from + len]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn small_reads_come_from_the_window_and_match_the_file() {
        let path = std::env::temp_dir().join(format!("trialflow-ahead-{}", std::process::id()));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let file = File::open(&path).unwrap();
        // The readable region ends before the file does: the window stops there.
        let end = 2_900_000u64;
        let mut ahead = ReadAhead::new(end);
        let mut at = 100u64;
        for len in [
            6400usize, 6400, 100, 70_000, 6400, 1, 0, 32_768, 200_000, 6400,
        ] {
            let len = len.min((end - at) as usize);
            let mut out = vec![0u8; len];
            ahead.read(&file, at, &mut out).unwrap();
            assert_eq!(
                out,
                data[at as usize..at as usize + len],
                "at {at}, {len} bytes"
            );
            assert!(ahead.start + ahead.bytes.len() as u64 <= end);
            at += len as u64;
        }
        // Backwards, and the last bytes before the end.
        for (at, len) in [(50u64, 10usize), (end - 6400, 6400), (end - 1, 1)] {
            let mut out = vec![0u8; len];
            ahead.read(&file, at, &mut out).unwrap();
            assert_eq!(out, data[at as usize..at as usize + len]);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
