//! TimeLockData as Syncopy stores it: besides `data`, the datasets `avg`, `var` and (when
//! computed) `cov` in the object file, all named in `.info`'s `_hdfFileDatasetProperties`.
//!
//! A routine producing TimeLockData writes one of two things as its `data`:
//!
//! - **its trials** (`timelock`, `psth` with `keeptrials: true`): one block per input trial,
//!   each cut to the routine's window, or of zero rows for a trial the routine leaves out.
//!   At finalize the zero-length trials are dropped from the trial definition (their rows
//!   take no room in `data`, so the kept trials already lie back to back, as Syncopy's
//!   `data` holds them), and `avg`, `var` and `cov` are computed from the stored trials in
//!   one pass on the worker pool, every sum in an order fixed by the trial definition
//!   (`timelock/stats.rs`). They are computed from the values as stored (float32 for a
//!   float32 object), as Syncopy computes them from its `data`, and the same stored bits
//!   in every execution mode give the same statistics. Memory: two groups of trials
//!   (about 1 MiB each), four `T x C` sums and the covariance partials.
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

mod stats;

use ndarray::{s, Array2, ArrayView, ArrayView2, Dimension};
use trialflow_core::{DType, DataSchema, TrialDefinition};

use super::SpyWriter;
use crate::parts::{PartName, STACKED};
use crate::raw_io::{raw_offset, PlainBytes};
use stats::{RawRows, StoredTrials};
use trialflow_core::engine::StoreLayout;

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
        workers: usize,
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
            let covariance = covariance_request(cfg);
            match schema.dtype {
                DType::Float32 => {
                    let parts = self.raw_parts::<f32>(obj);
                    let state = &self.objects[obj];
                    let file = state.file.as_ref().expect("open until finalized");
                    let trials = StoredTrials::new::<f32>(&path, &data, &kept, parts)?;
                    write_statistics::<f32>(file, &trials, schema.dtype, covariance, workers)?;
                }
                _ => {
                    let parts = self.raw_parts::<f64>(obj);
                    let state = &self.objects[obj];
                    let file = state.file.as_ref().expect("open until finalized");
                    let trials = StoredTrials::new::<f64>(&path, &data, &kept, parts)?;
                    write_statistics::<f64>(file, &trials, schema.dtype, covariance, workers)?;
                }
            }
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

impl SpyWriter {
    /// Where the object's rows lie in its part files as plain bytes, when every part is a
    /// stacked lane file whose `blocks` is contiguous storage of `T` (else `None`: the
    /// virtual dataset is read through HDF5). A lane's tasks lie in its `blocks` in task
    /// order, as `dense.rs`'s virtual mappings say.
    fn raw_parts<T: PlainBytes>(&self, obj: usize) -> Option<RawRows> {
        let spec = &self.objects[obj].spec;
        if spec.layout != StoreLayout::PerTask {
            return None;
        }
        let index = self.part_index(obj).ok()?;
        let mut names: Vec<&str> = index.iter().flatten().map(|n| &**n).collect();
        names.sort_unstable();
        names.dedup();
        let dir = self.staging.join(self.container.parts_dir_name(&spec.tag));
        let channels = spec.schema.n_channels();
        let mut raw = RawRows {
            files: Vec::new(),
            runs: Vec::new(),
        };
        for name in names {
            let part = PartName::parse(name)?;
            part.stacked?;
            let path = dir.join(name);
            // Where `blocks` starts: known since its creation (same storage type), or read.
            let offset = match self.objects[obj].closed_lanes.get(name) {
                Some(lane) if std::mem::size_of::<T>() == spec.schema.dtype.size_bytes() => {
                    lane.base?
                }
                _ => {
                    let h5 = crate::hdf5_util::open_read_only(&path).ok()?;
                    raw_offset::<T>(&h5.dataset(STACKED).ok()?)?
                }
            };
            let file = raw.files.len();
            raw.files.push(std::fs::File::open(&path).ok()?);
            let mut source = 0usize;
            for task in part.tasks() {
                let p = spec.placements.get(task)?;
                if p.channels != (0..channels) {
                    return None;
                }
                if !p.rows.is_empty() {
                    let at = offset + (source * channels * std::mem::size_of::<T>()) as u64;
                    raw.runs.push((p.rows.start, p.rows.len(), file, at));
                    source += p.rows.len();
                }
            }
        }
        raw.runs.sort_unstable_by_key(|r| r.0);
        Some(raw)
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

/// `avg`, `var` (ddof 0 over trials, NaN propagating, as Syncopy's `spy.mean` and `spy.var`
/// with `dim='trials'`) and the requested covariance, in one pass over the stored trials
/// (`stats.rs`), computed from the values as stored.
fn write_statistics<T: PlainBytes + Default + Into<f64> + Send + Sync>(
    file: &hdf5::File,
    trials: &StoredTrials<'_>,
    dtype: DType,
    covariance: Option<CovarianceRequest>,
    workers: usize,
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
    let per_trial = match covariance {
        Some(CovarianceRequest {
            per_trial: true, ..
        }) if k > 1 => Some(new_dataset(file, "cov", dtype, &[k, c, c])?),
        _ => None,
    };
    let mut cov_sum = Array2::<f64>::zeros((c, c));
    let moments =
        stats::moments::<T>(
            trials,
            workers,
            covariance.map(|r| r.ddof),
            |i, cov| match &per_trial {
                Some(ds) => write_rows(ds, dtype, i, cov.view()),
                None => {
                    cov_sum += cov;
                    Ok(())
                }
            },
        )?;
    write(file, "avg", dtype, moments.avg.view())?;
    write(file, "var", dtype, moments.var.view())?;
    let n = k as f64;
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
