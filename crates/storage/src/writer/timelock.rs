//! TimeLockData as Syncopy stores it: besides `data`, the datasets `avg`, `var` and (when
//! computed) `cov` in the object file, all named in `.info`'s `_hdfFileDatasetProperties`.
//!
//! The engine writes one dense block per object, so a routine producing TimeLockData
//! (`timelock`) writes its result packed along the rows: `T` rows of the average, `T` of the
//! variance, then the covariance rows (`C` for one matrix, `K * C` for one per trial, none
//! without covariance), `T` being the length of the object's one trial and `C` its
//! channels. At finalize the packed dataset is split into Syncopy's datasets: `data` and
//! `avg` (the average, the object's one time-locked trial), `var`, and `cov` as
//! (channel, channel) or (trial, channel, channel). One kept trial gives a (channel,
//! channel) `cov`, as Syncopy's `squeeze` does.

use ndarray::{s, Array2, ArrayView, Dimension};
use trialflow_core::{DType, DataSchema};

use super::SpyWriter;

/// The HDF5 datasets of a TimeLockData object, in Syncopy's order.
pub const TIMELOCK_DATASETS: [&str; 4] = ["data", "avg", "var", "cov"];

impl SpyWriter {
    /// Splits the packed result of a TimeLockData object into its datasets (see the module
    /// documentation). Runs once, at finalize, before the metadata is written.
    pub(super) fn unpack_timelock(&mut self, obj: usize, schema: &DataSchema) -> hdf5::Result<()> {
        let state = &mut self.objects[obj];
        // The result was written (by HDF5 or `pwrite`) before finalize; nothing else writes.
        state.raw = None;
        let file = state.file.as_ref().expect("open until finalized");
        let packed: Array2<f64> = match state.data.take() {
            Some(ds) => ds.read_2d()?,
            None => file.dataset("data")?.read_2d()?,
        };
        file.unlink("data")?;
        let t = schema.trialdefinition.trial_len(0);
        let c = packed.ncols();
        let rows = packed.nrows();
        if rows < 2 * t || c == 0 || !(rows - 2 * t).is_multiple_of(c) {
            return Err(hdf5::Error::from(format!(
                "a TimeLockData result of {rows} x {c} values does not hold average and variance of {t} samples and whole covariance matrices"
            )));
        }
        let avg = packed.slice(s![..t, ..]);
        write(file, "data", schema.dtype, avg)?;
        write(file, "avg", schema.dtype, avg)?;
        write(file, "var", schema.dtype, packed.slice(s![t..2 * t, ..]))?;
        let cov_rows = rows - 2 * t;
        if cov_rows > 0 {
            let cov = packed.slice(s![2 * t.., ..]);
            if cov_rows == c {
                write(file, "cov", schema.dtype, cov)?;
            } else {
                let cov = cov.to_owned();
                let per_trial = cov
                    .into_shape_with_order((cov_rows / c, c, c))
                    .expect("rows are whole matrices");
                write(file, "cov", schema.dtype, per_trial.view())?;
            }
        }
        Ok(())
    }
}

/// One dataset in the object's storage type (float32 or float64).
fn write<D: Dimension>(
    file: &hdf5::File,
    name: &str,
    dtype: DType,
    values: ArrayView<'_, f64, D>,
) -> hdf5::Result<()> {
    let shape = values.shape().to_vec();
    match dtype {
        DType::Float32 => {
            let narrowed = values.mapv(|v| v as f32);
            file.new_dataset::<f32>()
                .shape(shape)
                .create(name)?
                .write(&narrowed)
        }
        _ => file
            .new_dataset::<f64>()
            .shape(shape)
            .create(name)?
            .write(&values),
    }
}
