//! Reading part of one trial of a dense object (AnalogData, SpectralData, CrossSpectralData,
//! TimeLockData) as a hyperslab: only the requested rows, channels and frequencies leave the
//! file; and TimeLockData's small extra datasets whole.

use std::ops::Range;
use std::path::Path;

use hdf5::{Hyperslab, Selection, SliceOrIndex};
use ndarray::{ArrayD, IxDyn};
use trialflow_core::DataKind;

use super::header::ObjectHeader;
use crate::error::StorageError;
use crate::hdf5_util::{check_virtual_sources, one_line};

/// A dense object opened for reading blocks of its trials.
#[derive(Debug)]
pub struct DenseObject {
    header: ObjectHeader,
    _file: hdf5::File,
    data: hdf5::Dataset,
}

impl DenseObject {
    pub fn open(path: &Path) -> Result<DenseObject, StorageError> {
        let header = ObjectHeader::open(path)?;
        DenseObject::from_header(header)
    }

    pub fn from_header(header: ObjectHeader) -> Result<DenseObject, StorageError> {
        if !header.kind.is_dense() {
            return Err(StorageError::format(
                &header.path,
                format!(
                    "holds {}, which has no dense data",
                    header.kind.class_name()
                ),
            ));
        }
        let file = header.file.clone();
        let data = file
            .dataset("data")
            .map_err(|_| StorageError::format(&header.path, "has no 'data' dataset"))?;
        check_virtual_sources(&header.path, &data)?;
        Ok(DenseObject {
            header,
            _file: file,
            data,
        })
    }

    pub fn header(&self) -> &ObjectHeader {
        &self.header
    }

    /// A whole extra dataset of the object file, as stored (TimeLockData's `avg` and `var`,
    /// (time, channel), and `cov`, (channel, channel) or (trial, channel, channel)); `None`
    /// when the file has no dataset of that name (`cov` without covariance). These are one
    /// trial's size, so they are read whole.
    pub fn extra(&self, name: &str) -> Result<Option<ArrayD<f64>>, StorageError> {
        if name == "data" || !self._file.link_exists(name) {
            return Ok(None);
        }
        let read = || self._file.dataset(name)?.read_dyn::<f64>();
        read().map(Some).map_err(|e| {
            StorageError::format(
                &self.header.path,
                format!("dataset '{name}' cannot be read: {}", one_line(&e)),
            )
        })
    }

    /// Reads `ranges` of trial `trial`, one range per axis in the kind's own order
    /// ([`DataKind::dimord`]: time first, then e.g. taper, freq, channel), with the time
    /// range relative to the trial's first row. The block comes back in that order whatever
    /// order the file stores its axes in. `T` is `f64` for real data and
    /// `num_complex::Complex64` for complex data; HDF5 converts the stored type.
    pub fn read_block<T: hdf5::H5Type + Clone>(
        &self,
        trial: usize,
        ranges: &[Range<usize>],
    ) -> Result<ArrayD<T>, StorageError> {
        let h = &self.header;
        let canonical = h.kind.dimord();
        let bad = |m: String| StorageError::format(&h.path, m);
        if trial >= h.trialdefinition.len() || ranges.len() != canonical.len() {
            return Err(bad(format!(
                "trial {trial} with {} axis ranges is outside the object ({} trials, axes {canonical:?})",
                ranges.len(),
                h.trialdefinition.len()
            )));
        }
        let rows = h.trialdefinition.samples(trial);
        // Stored axis i holds canonical axis order[i].
        let order: Vec<usize> = h
            .dimord
            .iter()
            .map(|d| canonical.iter().position(|c| c == d))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(format!("`dimord` {:?} is not {canonical:?}", h.dimord)))?;
        let mut slab = Vec::with_capacity(order.len());
        for (stored_axis, &axis) in order.iter().enumerate() {
            let r = &ranges[axis];
            let (start, end, extent) = if axis == 0 && h.kind != DataKind::Spike {
                (rows.start + r.start, rows.start + r.end, rows.end)
            } else {
                (r.start, r.end, h.shape[stored_axis])
            };
            if start > end || end > extent {
                return Err(bad(format!(
                    "trial {trial}: {} range {}..{} is outside the data",
                    canonical[axis], r.start, r.end
                )));
            }
            slab.push(SliceOrIndex::SliceTo {
                start,
                step: 1,
                end,
                block: 1,
            });
        }
        let shape: Vec<usize> = order.iter().map(|&a| ranges[a].len()).collect();
        let block: ArrayD<T> = if shape.contains(&0) {
            ArrayD::from_shape_vec(IxDyn(&shape), Vec::new())
                .map_err(|e| bad(format!("empty block: {e}")))?
        } else {
            self.data
                .read_slice::<T, _, IxDyn>(Selection::from(Hyperslab::from(slab)))
                .map_err(|e| bad(format!("trial {trial} cannot be read: {}", one_line(&e))))?
        };
        // Permute stored order into canonical order.
        let mut inverse = vec![0; order.len()];
        for (stored_axis, &axis) in order.iter().enumerate() {
            inverse[axis] = stored_axis;
        }
        Ok(block
            .permuted_axes(IxDyn(&inverse))
            .as_standard_layout()
            .into_owned())
    }
}
