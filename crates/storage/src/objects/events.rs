//! Reading one trial's events of a SpikeData object. Rows are `[sample, channel, unit]`
//! with samples on the recording's axis and trials in ascending order, so a trial's rows
//! are found by bisecting the sample column with single-row reads: a trial costs
//! O(log rows) small reads plus its own rows, never the whole table.

use std::ops::Range;
use std::path::Path;

use ndarray::s;

use super::header::ObjectHeader;
use crate::error::StorageError;
use crate::hdf5_util::{one_line, open_read_only};

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
}

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
        let file = open_read_only(&header.path)?;
        let data = file
            .dataset("data")
            .map_err(|_| StorageError::format(&header.path, "has no 'data' dataset"))?;
        let def = &header.trialdefinition;
        let sorted_trials = (1..def.len()).all(|t| def.start(t) >= def.stop(t - 1));
        Ok(EventObject {
            rows: header.shape[0],
            header,
            _file: file,
            data,
            sorted_trials,
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
        let block = self
            .data
            .read_slice_2d::<i64, _>(s![rows.start..rows.end, 0..3])
            .map_err(|e| self.unreadable(&e))?;
        out.extend(
            block
                .rows()
                .into_iter()
                .filter(|r| r[0] >= lo && r[0] < hi)
                .map(|r| EventRow {
                    sample: r[0] - lo,
                    channel: r[1],
                    unit: r[2],
                }),
        );
        Ok(())
    }

    /// The first row whose sample is >= `sample` (rows grouped by ascending trial).
    fn first_row_at_or_after(&self, sample: i64) -> Result<usize, StorageError> {
        let (mut lo, mut hi) = (0usize, self.rows);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let v = self
                .data
                .read_slice_1d::<i64, _>(s![mid..mid + 1, 0])
                .map_err(|e| self.unreadable(&e))?[0];
            if v < sample {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
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
}
