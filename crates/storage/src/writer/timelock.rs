//! TimeLockData as Syncopy stores it: besides `data`, the datasets `avg`, `var` and (when
//! computed) `cov` in the object file, all named in `.info`'s `_hdfFileDatasetProperties`.
//!
//! A routine producing TimeLockData writes one of two things as its `data`:
//!
//! - **its trials** (`timelock`, `psth` with `keeptrials: true`): one block per input trial,
//!   each cut to the routine's window, or of zero rows for a trial the routine leaves out.
//!   At finalize the zero-length trials are dropped from the trial definition (their rows
//!   take no room in `data`, so the kept trials already lie back to back, as Syncopy's
//!   `data` holds them), and `avg`, `var` and `cov` are computed here from the stored
//!   trials, streaming them in trial order, one trial in memory at a time. They are
//!   computed from the values as stored (float32 for a float32 object), as Syncopy computes
//!   them from its `data`, and the same stored bits in every execution mode give the same
//!   statistics. Memory: one trial plus the `T x C` sums and one `C x C` matrix.
//! - **a packed cross-trial result** (`psth` with `keeptrials: false`, a trial reduction):
//!   one trial of `T` samples whose `data` holds `T` rows of the average, then `T` of the
//!   variance. `data` and `avg` become the average, `var` the variance.
//!
//! The two are told apart by `data`'s rows: the trials fill exactly the trial definition's
//! samples; a packed result holds twice its one trial's.
//!
//! The covariance is computed when the step that made the object (its entry, the last in
//! `cfg`) says `covariance: true`: per kept trial `np.cov(trial, ddof, rowvar=False)`, then
//! the mean over trials, or with `keeptrials: true` one matrix per trial, `(trial, channel,
//! channel)`. One kept trial gives a (channel, channel) `cov`, as Syncopy's `squeeze` does.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView, ArrayView2, Dimension};
use trialflow_core::{DType, DataSchema, TrialDefinition};

use super::SpyWriter;
use crate::raw_io::{raw_offset, read_at};

/// The HDF5 datasets of a TimeLockData object, in Syncopy's order.
pub const TIMELOCK_DATASETS: [&str; 4] = ["data", "avg", "var", "cov"];

/// A covariance request read from the step's `cfg` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CovarianceRequest {
    ddof: usize,
    per_trial: bool,
}

fn covariance_request(cfg: &serde_json::Value) -> Option<CovarianceRequest> {
    let step = cfg.as_object()?.values().next_back()?;
    if step.get("covariance")?.as_bool()? {
        Some(CovarianceRequest {
            ddof: step.get("ddof").and_then(|d| d.as_u64()).unwrap_or(1) as usize,
            per_trial: step
                .get("keeptrials")
                .and_then(|k| k.as_bool())
                .unwrap_or(false),
        })
    } else {
        None
    }
}

impl SpyWriter {
    /// Writes `avg`, `var` and `cov` of a TimeLockData object (see the module documentation)
    /// and returns its trial definition as Syncopy has it. Runs once, at finalize, before the
    /// metadata is written.
    pub(super) fn unpack_timelock(
        &mut self,
        obj: usize,
        schema: &DataSchema,
        cfg: &serde_json::Value,
    ) -> hdf5::Result<TrialDefinition> {
        let state = &mut self.objects[obj];
        // Every block was written (by HDF5 or `pwrite`) before finalize; nothing else writes.
        state.raw = None;
        let file = state.file.as_ref().expect("open until finalized");
        let data = match state.data.clone() {
            Some(ds) => ds,
            None => file.dataset("data")?,
        };
        let def = &schema.trialdefinition;
        let rows = data.shape().first().copied().unwrap_or(0);
        let total: usize = (0..def.len()).map(|t| def.trial_len(t)).sum();
        if rows == total {
            let kept = kept_trials(def);
            // Blocks HDF5 wrote may sit in its buffers; the statistics read the file.
            file.flush()?;
            let path = self.staging.join(&state.file_name);
            let mut trials = StoredTrials::new(&path, &data, &kept, schema.dtype)?;
            write_statistics(file, &mut trials, schema.dtype, covariance_request(cfg))?;
            return Ok(kept);
        }
        state.data = None;
        let packed: Array2<f64> = data.read_2d()?;
        drop(data);
        file.unlink("data")?;
        let t = def.trial_len(0);
        if def.len() != 1 || packed.nrows() != 2 * t {
            return Err(hdf5::Error::from(format!(
                "a TimeLockData result of {rows} rows is neither its {total} samples of trials nor average and variance of one trial of {t}"
            )));
        }
        let avg = packed.slice(s![..t, ..]);
        write(file, "data", schema.dtype, avg)?;
        write(file, "avg", schema.dtype, avg)?;
        write(file, "var", schema.dtype, packed.slice(s![t.., ..]))?;
        Ok(def.clone())
    }
}

/// The trial definition without its zero-length trials (those the routine left out).
fn kept_trials(def: &TrialDefinition) -> TrialDefinition {
    let values: Vec<f64> = (0..def.len())
        .filter(|&t| def.trial_len(t) > 0)
        .flat_map(|t| def.row(t).iter().copied())
        .collect();
    TrialDefinition::from_rows(values, def.columns(), usize::MAX)
        .expect("rows of a valid definition")
}

/// The stored trials of `data`, one at a time as f64 in a reused buffer: read with `pread`
/// when `data` is plain contiguous storage in the object file (every trial's output went
/// there), else (part files behind a virtual dataset) through HDF5.
struct StoredTrials<'a> {
    def: &'a TrialDefinition,
    channels: usize,
    data: &'a hdf5::Dataset,
    /// The object file and `data`'s byte offset in it, when readable as plain bytes.
    raw: Option<(std::fs::File, u64)>,
    /// Whether `data` holds float32 (read as such and widened here: HDF5's own conversion
    /// would allocate and clear a buffer per read).
    is_f32: bool,
    narrow: Vec<f32>,
    wide: Vec<f64>,
}

impl<'a> StoredTrials<'a> {
    fn new(
        path: &std::path::Path,
        data: &'a hdf5::Dataset,
        def: &'a TrialDefinition,
        dtype: DType,
    ) -> hdf5::Result<Self> {
        let offset = match dtype {
            DType::Float32 => raw_offset::<f32>(data),
            DType::Float64 => raw_offset::<f64>(data),
            _ => None,
        };
        let raw = match offset {
            Some(offset) => Some((std::fs::File::open(path).map_err(io_error)?, offset)),
            None => None,
        };
        Ok(StoredTrials {
            def,
            channels: data.shape().get(1).copied().unwrap_or(0),
            data,
            raw,
            is_f32: dtype == DType::Float32,
            narrow: Vec::new(),
            wide: Vec::new(),
        })
    }

    fn read(&mut self, trial: usize) -> hdf5::Result<ArrayView2<'_, f64>> {
        let (start, stop) = (self.def.start(trial), self.def.stop(trial));
        let n = (stop - start) * self.channels;
        match (&self.raw, self.is_f32) {
            (Some((file, offset)), true) => {
                self.narrow.resize(n, 0.0);
                let at = offset + (start * self.channels * 4) as u64;
                read_at(file, at, &mut self.narrow).map_err(io_error)?;
                self.wide.resize(n, 0.0);
                for (w, &v) in self.wide.iter_mut().zip(&self.narrow) {
                    *w = f64::from(v);
                }
            }
            (Some((file, offset)), false) => {
                self.wide.resize(n, 0.0);
                let at = offset + (start * self.channels * 8) as u64;
                read_at(file, at, &mut self.wide).map_err(io_error)?;
            }
            (None, true) => {
                let block = self.data.read_slice_2d::<f32, _>(s![start..stop, ..])?;
                // Widened as a slice (vectorised), not through ndarray's element iterator.
                let block = block.as_standard_layout();
                let values = block.as_slice().expect("standard layout");
                self.wide.resize(n, 0.0);
                for (w, &v) in self.wide.iter_mut().zip(values) {
                    *w = f64::from(v);
                }
            }
            (None, false) => {
                let block = self.data.read_slice_2d::<f64, _>(s![start..stop, ..])?;
                let block = block.as_standard_layout();
                self.wide.clear();
                self.wide
                    .extend_from_slice(block.as_slice().expect("standard layout"));
            }
        }
        Ok(
            ArrayView2::from_shape((stop - start, self.channels), &self.wide)
                .expect("sized to the trial"),
        )
    }
}

fn io_error(e: std::io::Error) -> hdf5::Error {
    hdf5::Error::from(format!("reading the stored trials: {e}"))
}

/// `avg`, `var` (ddof 0 over trials, NaN propagating, as Syncopy's `spy.mean` and `spy.var`
/// with `dim='trials'`) and the requested covariance, in two passes over the trials in
/// trial order: the sums and covariances, then the squared deviations from the mean.
fn write_statistics(
    file: &hdf5::File,
    trials: &mut StoredTrials<'_>,
    dtype: DType,
    covariance: Option<CovarianceRequest>,
) -> hdf5::Result<()> {
    let def = trials.def;
    let k = def.len();
    let t = def.trial_len(0);
    let c = trials.channels;
    if let Some(bad) = (0..k).find(|&i| def.trial_len(i) != t) {
        return Err(hdf5::Error::from(format!(
            "TimeLockData trials must be of equal length: trial 0 has {t} samples, trial {bad} {}",
            def.trial_len(bad)
        )));
    }
    let mut sum = Array2::<f64>::zeros((t, c));
    let mut cov = covariance.map(|_| Array2::<f64>::zeros((c, c)));
    let mut cov_sum = Array2::<f64>::zeros((c, c));
    let per_trial = match covariance {
        Some(CovarianceRequest {
            per_trial: true, ..
        }) if k > 1 => Some(new_dataset(file, "cov", dtype, &[k, c, c])?),
        _ => None,
    };
    let mut scratch = Vec::new();
    for i in 0..k {
        let x = trials.read(i)?;
        sum += &x;
        if let (Some(request), Some(cov)) = (covariance, cov.as_mut()) {
            trial_covariance(x.view(), request.ddof, cov, &mut scratch);
            match &per_trial {
                Some(ds) => write_rows(ds, dtype, i, cov.view())?,
                None => cov_sum += &*cov,
            }
        }
    }
    let n = k as f64;
    let avg = sum.mapv(|v| v / n);
    let mut var = Array2::<f64>::zeros((t, c));
    for i in 0..k {
        let x = trials.read(i)?;
        ndarray::Zip::from(&mut var)
            .and(&x)
            .and(&avg)
            .for_each(|v, &a, &m| *v += (a - m) * (a - m));
    }
    var.mapv_inplace(|v| v / n);
    write(file, "avg", dtype, avg.view())?;
    write(file, "var", dtype, var.view())?;
    match covariance {
        None => {}
        Some(_) if per_trial.is_some() => {}
        Some(CovarianceRequest {
            per_trial: true, ..
        }) => write(file, "cov", dtype, cov_sum.view())?,
        Some(_) => write(file, "cov", dtype, cov_sum.mapv(|v| v / n).view())?,
    }
    Ok(())
}

/// One trial's channel covariance, `np.cov(x, ddof=ddof, rowvar=False)`: the deviations
/// from the channel means, then `devᵀ dev / (T - ddof)` as one matrix product (ndarray's
/// `general_mat_mul`, blocked and vectorised: the finalize is single-threaded, and this is
/// most of its work), made exactly symmetric from its upper triangle. `scratch` is reused
/// across trials (`C + T C` values).
fn trial_covariance(
    x: ArrayView2<'_, f64>,
    ddof: usize,
    cov: &mut Array2<f64>,
    scratch: &mut Vec<f64>,
) {
    let (t, c) = x.dim();
    scratch.resize(c + t * c, 0.0);
    let (means, dev) = scratch.split_at_mut(c);
    means.fill(0.0);
    for row in x.rows() {
        for (m, &v) in means.iter_mut().zip(row) {
            *m += v;
        }
    }
    means.iter_mut().for_each(|m| *m /= t as f64);
    for (d, row) in dev.chunks_exact_mut(c).zip(x.rows()) {
        for ((d, &v), &m) in d.iter_mut().zip(row).zip(means.iter()) {
            *d = v - m;
        }
    }
    let dev = ArrayView2::from_shape((t, c), &*dev).expect("sized to the trial");
    general_mat_mul(1.0 / (t - ddof) as f64, &dev.t(), &dev, 0.0, cov);
    for i in 1..c {
        for j in 0..i {
            cov[[i, j]] = cov[[j, i]];
        }
    }
}

fn new_dataset(
    file: &hdf5::File,
    name: &str,
    dtype: DType,
    shape: &[usize],
) -> hdf5::Result<hdf5::Dataset> {
    match dtype {
        DType::Float32 => file.new_dataset::<f32>().shape(shape).create(name),
        _ => file.new_dataset::<f64>().shape(shape).create(name),
    }
}

/// Matrix `i` of a (trial, channel, channel) dataset.
fn write_rows(
    ds: &hdf5::Dataset,
    dtype: DType,
    i: usize,
    values: ArrayView2<'_, f64>,
) -> hdf5::Result<()> {
    match dtype {
        DType::Float32 => ds.write_slice(&values.mapv(|v| v as f32), s![i, .., ..]),
        _ => ds.write_slice(&values, s![i, .., ..]),
    }
}

/// One dataset in the object's storage type (float32 or float64).
fn write<D: Dimension>(
    file: &hdf5::File,
    name: &str,
    dtype: DType,
    values: ArrayView<'_, f64, D>,
) -> hdf5::Result<()> {
    let ds = new_dataset(file, name, dtype, values.shape())?;
    match dtype {
        DType::Float32 => ds.write(&values.mapv(|v| v as f32)),
        _ => ds.write(&values),
    }
}
