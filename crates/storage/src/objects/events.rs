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
