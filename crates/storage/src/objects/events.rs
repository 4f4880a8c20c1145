//! Reading one trial's events of a SpikeData object. Rows are `[sample, channel, unit]`
//! with samples on the recording's axis and trials in ascending order, so a trial's rows
//! are found by bisecting a coarse index of the sample column (every `INDEX_STRIDE`-th
//! row's sample, read once at open), then one read of at most `INDEX_STRIDE` rows: a trial
//! costs two small reads plus its own rows, never the whole table. (Bisecting the column
//! itself cost 2 x log2(rows) single-row HDF5 reads per trial: half of a psth run.)
//!
//! Those reads are served from a window of `WINDOW_ROWS` consecutive rows kept from the
//! last read (768 KiB): trials are read in ascending order, so one HDF5 read covers the
//! rows of many trials. Three HDF5 reads per trial (each a hyperslab selection through
//! the chunk cache) were still a fifth of a 16-channel psth run's CPU.

use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use ndarray::s;

use super::header::ObjectHeader;
use crate::error::StorageError;
use crate::hdf5_util::one_line;

/// One event: its sample relative to the trial's first sample, channel and unit indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub sample: i64,
    pub channel: i64,
    pub unit: i64,
}

/// A SpikeData object opened for reading events by trial.
#[derive(Debug)]
pub struct EventObject {
    header: ObjectHeader,
    _file: hdf5::File,
    data: hdf5::Dataset,
    rows: usize,
    /// Whether trials are ascending and disjoint, which makes bisection valid; otherwise
    /// the sample column is scanned in bounded chunks.
    sorted_trials: bool,
    /// With sorted trials: the sample of rows 0, `INDEX_STRIDE`, 2 `INDEX_STRIDE`, ...
    coarse_index: Vec<i64>,
    /// The rows of the last window read (a mutex only because readers take `&self`).
    window: Mutex<Window>,
    /// `WINDOW_ROWS` (tests make it small to move the window often).
    window_rows: usize,
}

/// Consecutive rows `[start, start + rows.len())` of the table, as stored.
#[derive(Debug, Default)]
struct Window {
    start: usize,
    rows: Vec<[i64; 3]>,
}

impl Window {
    fn covers(&self, range: &Range<usize>) -> bool {
        range.start >= self.start && range.end <= self.start + self.rows.len()
    }

    fn rows(&self, range: Range<usize>) -> &[[i64; 3]] {
        &self.rows[range.start - self.start..range.end - self.start]
    }
}

/// Rows kept in the window (24 bytes each): a read covers many trials' rows at once.
const WINDOW_ROWS: usize = 1 << 15;

/// Rows between two entries of the coarse index (its size is rows / this).
const INDEX_STRIDE: usize = 512;

/// Rows read at once when scanning (24 bytes each).
const SCAN_ROWS: usize = 1 << 16;

impl EventObject {
    pub fn open(path: &Path) -> Result<EventObject, StorageError> {
        EventObject::from_header(ObjectHeader::open(path)?)
    }

    pub fn from_header(header: ObjectHeader) -> Result<EventObject, StorageError> {
        if header.kind.is_dense() {
            return Err(StorageError::format(
                &header.path,
                format!("holds {}, not event rows", header.kind.class_name()),
            ));
        }
        let file = header.file.clone();
        let data = file
            .dataset("data")
            .map_err(|_| StorageError::format(&header.path, "has no 'data' dataset"))?;
        let def = &header.trialdefinition;
        let sorted_trials = (1..def.len()).all(|t| def.start(t) >= def.stop(t - 1));
        let rows = header.shape[0];
        let coarse_index = if sorted_trials && rows > 0 {
            data.read_slice_1d::<i64, _>(s![..rows;INDEX_STRIDE, 0])
                .map_err(|e| {
                    StorageError::format(
                        &header.path,
                        format!("'data' event rows cannot be read: {}", one_line(&e)),
                    )
                })?
                .to_vec()
        } else {
            Vec::new()
        };
        Ok(EventObject {
            rows,
            header,
            _file: file,
            data,
            sorted_trials,
            coarse_index,
            window: Mutex::new(Window::default()),
            window_rows: WINDOW_ROWS,
        })
    }

    pub fn header(&self) -> &ObjectHeader {
        &self.header
    }

    /// Events of `trial`, in stored order, with samples relative to the trial start.
    pub fn trial_events(&self, trial: usize) -> Result<Vec<EventRow>, StorageError> {
        let samples = self.header.trialdefinition.samples(trial);
        let (lo, hi) = (samples.start as i64, samples.end as i64);
        let mut out = Vec::new();
        if self.sorted_trials {
            let first = self.first_row_at_or_after(lo)?;
            let last = self.first_row_at_or_after(hi)?;
            self.collect(first..last, lo, hi, &mut out)?;
        } else {
            let mut start = 0;
            while start < self.rows {
                let end = (start + SCAN_ROWS).min(self.rows);
                self.collect(start..end, lo, hi, &mut out)?;
                start = end;
            }
        }
        Ok(out)
    }

    fn collect(
        &self,
        rows: Range<usize>,
        lo: i64,
        hi: i64,
        out: &mut Vec<EventRow>,
    ) -> Result<(), StorageError> {
        if rows.is_empty() {
            return Ok(());
        }
        let keep = |r: &[i64; 3]| r[0] >= lo && r[0] < hi;
        let event = |r: &[i64; 3]| EventRow {
            sample: r[0] - lo,
            channel: r[1],
            unit: r[2],
        };
        if rows.len() <= self.window_rows {
            let window = self.window_over(rows.clone())?;
            out.extend(window.rows(rows).iter().filter(|r| keep(r)).map(event));
            return Ok(());
        }
        let block = self
            .data
            .read_slice_2d::<i64, _>(s![rows.start..rows.end, 0..3])
            .map_err(|e| self.unreadable(&e))?;
        out.extend(
            block
                .rows()
                .into_iter()
                .map(|r| [r[0], r[1], r[2]])
                .filter(keep)
                .map(|r| event(&r)),
        );
        Ok(())
    }

    /// The window, moved to start at `rows.start` unless it already covers `rows` (at most
    /// `window_rows` of them).
    fn window_over(&self, rows: Range<usize>) -> Result<MutexGuard<'_, Window>, StorageError> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if !window.covers(&rows) {
            let end = (rows.start + self.window_rows).min(self.rows);
            let block = self
                .data
                .read_slice_2d::<i64, _>(s![rows.start..end, 0..3])
                .map_err(|e| self.unreadable(&e))?;
            window.start = rows.start;
            window.rows.clear();
            window
                .rows
                .extend(block.rows().into_iter().map(|r| [r[0], r[1], r[2]]));
        }
        Ok(window)
    }

    /// The first row whose sample is >= `sample` (rows grouped by ascending trial): the
    /// coarse index brackets it within `INDEX_STRIDE` rows, one read finds it.
    fn first_row_at_or_after(&self, sample: i64) -> Result<usize, StorageError> {
        let j = self.coarse_index.partition_point(|&v| v < sample);
        if j == 0 {
            return Ok(0);
        }
        // Row (j - 1) * INDEX_STRIDE is below `sample`; row j * INDEX_STRIDE (when there is
        // one) is not.
        let from = (j - 1) * INDEX_STRIDE + 1;
        let to = (j * INDEX_STRIDE).min(self.rows);
        if from >= to {
            return Ok(to);
        }
        let window = self.window_over(from..to)?;
        Ok(from
            + window
                .rows(from..to)
                .iter()
                .position(|r| r[0] >= sample)
                .unwrap_or(to - from))
    }

    fn unreadable(&self, e: &hdf5::Error) -> StorageError {
        StorageError::format(
            &self.header.path,
            format!("'data' event rows cannot be read: {}", one_line(e)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5_util::create_file;

    /// Writes a SpikeData object with the given trials (start, stop) and event rows.
    fn write(
        dir: &Path,
        name: &str,
        trials: &[(f64, f64)],
        rows: &[[i64; 3]],
    ) -> std::path::PathBuf {
        let path = dir.join(name);
        let f = create_file(&path).unwrap();
        let flat: Vec<i64> = rows.iter().flatten().copied().collect();
        f.new_dataset::<i64>()
            .shape((rows.len(), 3))
            .create("data")
            .unwrap()
            .write_raw(&flat)
            .unwrap();
        let trl: Vec<f64> = trials.iter().flat_map(|&(a, b)| [a, b, 0.0]).collect();
        f.new_dataset::<f64>()
            .shape((trials.len(), 3))
            .create("trialdefinition")
            .unwrap()
            .write_raw(&trl)
            .unwrap();
        f.close().unwrap();
        let info = r#"{"dataclass": "SpikeData", "samplerate": 1000.0, "channel": ["a", "b"], "unit": ["u0"]}"#;
        std::fs::write(format!("{}.info", path.display()), info).unwrap();
        path
    }

    #[test]
    fn events_by_trial_bisect_sorted_trials_and_scan_others() {
        let dir = std::env::temp_dir().join(format!("trialflow-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rows = [[5, 0, 0], [9, 1, 0], [10, 0, 0], [19, 1, 0], [25, 0, 0]];
        let sorted = EventObject::open(&write(
            &dir,
            "s.spike",
            &[(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)],
            &rows,
        ))
        .unwrap();
        assert!(sorted.sorted_trials);
        let schema = sorted.header().schema();
        assert_eq!(schema.kind, trialflow_core::DataKind::Spike);
        assert_eq!(schema.dtype, trialflow_core::DType::Int64);
        assert_eq!((schema.n_trials(), schema.n_channels()), (3, 2));
        assert_eq!(schema.units, Some(vec!["u0".to_string()]));
        let samples = |o: &EventObject, t| {
            o.trial_events(t)
                .unwrap()
                .iter()
                .map(|e| (e.sample, e.channel))
                .collect::<Vec<_>>()
        };
        assert_eq!(samples(&sorted, 0), vec![(5, 0), (9, 1)]);
        assert_eq!(samples(&sorted, 1), vec![(0, 0), (9, 1)]);
        assert_eq!(samples(&sorted, 2), vec![(5, 0)]);
        // Trials out of order (as Syncopy allows): the sample column is scanned instead.
        let unsorted = EventObject::open(&write(
            &dir,
            "u.spike",
            &[(20.0, 30.0), (0.0, 10.0), (10.0, 20.0)],
            &rows,
        ))
        .unwrap();
        assert!(!unsorted.sorted_trials);
        assert_eq!(samples(&unsorted, 0), vec![(5, 0)]);
        assert_eq!(samples(&unsorted, 1), vec![(5, 0), (9, 1)]);
        assert_eq!(samples(&unsorted, 2), vec![(0, 0), (9, 1)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Thousands of rows, trials whose rows start on, just before and just after an entry
    /// of the coarse index, empty trials, and gaps between trials: every trial gets exactly
    /// the rows the scan of the unsorted path would give it.
    #[test]
    fn the_coarse_index_finds_every_trials_rows() {
        let dir = std::env::temp_dir().join(format!("trialflow-events-ix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Two events per sample 0..1999, one at each sample 2000..2999, none in 3000..3500.
        let mut rows = Vec::new();
        for v in 0..3000i64 {
            rows.push([v, 0, 0]);
            if v < 2000 {
                rows.push([v, 1, 0]);
            }
        }
        let bounds = [
            0.0, 255.0, 256.0, 257.0, 511.0, 512.0, 513.0, 1024.0, 1500.0, 1500.0, 2047.0,
            // Rows 4096 (an index entry), 4097 and 4609 (one past entries).
            2096.0, 2097.0, 2609.0, 2999.0, 3000.0, 3500.0,
        ];
        let trials: Vec<(f64, f64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        let mut object = EventObject::open(&write(&dir, "ix.spike", &trials, &rows)).unwrap();
        assert!(object.sorted_trials);
        assert_eq!(object.coarse_index.len(), rows.len().div_ceil(INDEX_STRIDE));
        // The whole table fits one window; then windows smaller than some trials' rows and
        // not a multiple of the index stride, trials read forwards, backwards and forwards
        // again, so the window moves (or is bypassed) between and within trials.
        let order: Vec<usize> = (0..trials.len())
            .chain((0..trials.len()).rev())
            .chain(0..trials.len())
            .collect();
        for window_rows in [WINDOW_ROWS, 700, 300] {
            object.window_rows = window_rows;
            for &t in &order {
                let (lo, hi) = trials[t];
                let expected: Vec<(i64, i64)> = rows
                    .iter()
                    .filter(|r| (lo as i64..hi as i64).contains(&r[0]))
                    .map(|r| (r[0] - lo as i64, r[1]))
                    .collect();
                let got: Vec<(i64, i64)> = object
                    .trial_events(t)
                    .unwrap()
                    .iter()
                    .map(|e| (e.sample, e.channel))
                    .collect();
                assert_eq!(
                    got, expected,
                    "trial {t} ({lo}..{hi}), window {window_rows}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
