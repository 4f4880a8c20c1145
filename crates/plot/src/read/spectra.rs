//! SpectralData: the trial mean and its standard error per frequency, or the trial-average
//! time-frequency map. Tapers are averaged (Syncopy's `keeptapers: false`); complex
//! coefficients (`output: fourier`) become power.

use std::collections::BTreeMap;
use std::ops::Range;

use ndarray::{Array2, Array3, ArrayD, Axis};
use num_complex::Complex64;
use trialflow_hdf5::objects::DenseObject;

use crate::error::PlotError;
use crate::selection::{runs, time_rows};

/// Mean over trials and its standard error, frequencies x selected channels.
#[derive(Debug)]
pub struct SpectrumStats {
    pub freq: Vec<f64>,
    pub mean: Array2<f64>,
    pub sem: Array2<f64>,
    pub n_trials: usize,
}

/// Trial average on the trials' common time axis: times x frequencies x channels.
#[derive(Debug)]
pub struct TimeFrequency {
    pub times: Vec<f64>,
    pub freq: Vec<f64>,
    pub mean: Array3<f64>,
}

/// One trial's block (time, freq, selected channels), tapers averaged.
fn trial_block(
    obj: &DenseObject,
    trial: usize,
    rows: Range<usize>,
    freqs: Range<usize>,
    channels: &[usize],
) -> Result<Array3<f64>, PlotError> {
    let h = obj.header();
    let tapers = 0..h.shape[h.axis("taper").unwrap_or(1)];
    let mut out = Array3::zeros((rows.len(), freqs.len(), channels.len()));
    let mut col = 0;
    for run in runs(channels) {
        let ranges = [rows.clone(), tapers.clone(), freqs.clone(), run.clone()];
        let block: ArrayD<f64> = if h.complex {
            obj.read_block::<Complex64>(trial, &ranges)?
                .mapv(|z| z.norm_sqr())
        } else {
            obj.read_block::<f64>(trial, &ranges)?
        };
        let mean = block
            .mean_axis(Axis(1))
            .ok_or_else(|| PlotError::Unsupported("a spectrum without tapers".into()))?
            .into_dimensionality::<ndarray::Ix3>()
            .map_err(|e| PlotError::Unsupported(e.to_string()))?;
        out.slice_mut(ndarray::s![.., .., col..col + run.len()])
            .assign(&mean);
        col += run.len();
    }
    Ok(out)
}

pub fn read_spectrum(
    obj: &DenseObject,
    trials: &[usize],
    channels: &[usize],
    freqs: Range<usize>,
) -> Result<SpectrumStats, PlotError> {
    let h = obj.header();
    let shape = (freqs.len(), channels.len());
    let (mut sum, mut sumsq) = (Array2::<f64>::zeros(shape), Array2::<f64>::zeros(shape));
    for &trial in trials {
        let rows = 0..h.trialdefinition.trial_len(trial);
        let block = trial_block(obj, trial, rows, freqs.clone(), channels)?;
        let spectrum = block
            .mean_axis(Axis(0))
            .ok_or_else(|| PlotError::Unsupported(format!("trial {trial} has no rows")))?;
        sum += &spectrum;
        sumsq += &spectrum.mapv(|v| v * v);
    }
    let n = trials.len() as f64;
    let mean = &sum / n;
    let sem = if trials.len() > 1 {
        ((&sumsq - &(&mean * &mean * n)) / (n - 1.0)).mapv(|v| (v.max(0.0) / n).sqrt())
    } else {
        Array2::zeros(shape)
    };
    Ok(SpectrumStats {
        freq: h.freq[freqs].to_vec(),
        mean,
        sem,
        n_trials: trials.len(),
    })
}

/// Trials are aligned on their own t = 0 (row + offset); each time point averages the
/// trials that have it.
pub fn read_time_frequency(
    obj: &DenseObject,
    trials: &[usize],
    channels: &[usize],
    freqs: Range<usize>,
    latency: Option<(f64, f64)>,
) -> Result<TimeFrequency, PlotError> {
    let h = obj.header();
    let def = &h.trialdefinition;
    // Sample index relative to t = 0 -> (sum, count).
    let mut acc: BTreeMap<i64, (Array2<f64>, usize)> = BTreeMap::new();
    for &trial in trials {
        let rows = time_rows(def, trial, h.samplerate, latency);
        let block = trial_block(obj, trial, rows.clone(), freqs.clone(), channels)?;
        let offset = def.offset(trial).round() as i64;
        for (i, slice) in block.outer_iter().enumerate() {
            let k = (rows.start + i) as i64 + offset;
            let entry = acc
                .entry(k)
                .or_insert_with(|| (Array2::zeros(slice.raw_dim()), 0));
            entry.0 += &slice;
            entry.1 += 1;
        }
    }
    let mut mean = Array3::zeros((acc.len(), freqs.len(), channels.len()));
    let mut times = Vec::with_capacity(acc.len());
    for (i, (k, (sum, count))) in acc.into_iter().enumerate() {
        mean.index_axis_mut(Axis(0), i)
            .assign(&(sum / count as f64));
        times.push(k as f64 / h.samplerate);
    }
    Ok(TimeFrequency {
        times,
        freq: h.freq[freqs].to_vec(),
        mean,
    })
}
