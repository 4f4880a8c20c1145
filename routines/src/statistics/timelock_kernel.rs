//! The numbers of `timelock`: which samples of which trial count (the window layout), one
//! trial's contribution, and the finish that turns the folded sums into Syncopy's `avg`,
//! `var` and `cov`.
//!
//! A trial's contribution is `[R, C]` (channel axis last): row 0 a 1 (the trial counts; 0
//! for a trial left out, whose contribution is all zeros), rows `1..T+1` its values over the
//! latency window, `T+1..2T+1` their squares, then, with covariance, the trial's
//! covariance matrix: in rows `2T+1..2T+1+C` for the trial mean (`keeptrials: false`), or in
//! the `C` rows of its own slot among the kept trials (`keeptrials: true`, every other
//! slot zero, so the fold's sum is the stack of per-trial matrices, exactly: `x + 0 = x`).
//!
//! The result is packed the same way without the count row (`T` rows avg, `T` var, then
//! the covariance rows); the storage writer splits it into TimeLockData's datasets
//! (`storage/src/writer/timelock.rs`).

use std::sync::Arc;

use ndarray::{s, ArrayViewD, ArrayViewMutD, Axis, Ix2};
use trialflow_core::{
    DataSchema, Kernel, OutputBlock, RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::latency::{covers, window_samples};
use super::StatisticsError;

/// Where one trial's window lies and where its covariance goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptTrial {
    /// First sample of the window in the trial.
    pub start: usize,
    /// Index among the kept trials (the covariance slot with `keeptrials: true`).
    pub slot: usize,
}

/// The window every kept trial contributes, decided in the dry run from the input's trial
/// definition alone (so every worker, shard and rank agrees).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowLayout {
    pub window: (f64, f64),
    /// Samples in the window.
    pub samples: usize,
    /// Per input trial: `Some` when it covers the window.
    pub trials: Vec<Option<KeptTrial>>,
    /// The first kept trial and the offset of its window's first sample (the result's
    /// trial definition row).
    pub first: usize,
    pub offset: f64,
}

impl WindowLayout {
    pub fn new(
        input: &DataSchema,
        window: (f64, f64),
        routine: &'static str,
    ) -> Result<WindowLayout, StatisticsError> {
        let def = &input.trialdefinition;
        let rate = input.samplerate;
        let mut trials = Vec::with_capacity(def.len());
        let mut kept: Option<(usize, usize, f64)> = None;
        let mut slot = 0;
        for t in 0..def.len() {
            if !covers(def, t, rate, window) {
                trials.push(None);
                continue;
            }
            let range = window_samples(def.trial_len(t), def.offset(t), rate, window);
            match kept {
                None => kept = Some((t, range.len(), def.offset(t) + range.start as f64)),
                Some((first_trial, first, _)) if first != range.len() => {
                    return Err(StatisticsError::UnequalWindows {
                        routine,
                        lo: window.0,
                        hi: window.1,
                        first_trial,
                        first,
                        trial: t,
                        len: range.len(),
                    })
                }
                Some(_) => {}
            }
            trials.push(Some(KeptTrial {
                start: range.start,
                slot,
            }));
            slot += 1;
        }
        let Some((first, samples, offset)) = kept.filter(|k| k.1 > 0) else {
            return Err(StatisticsError::NoTrialCovers {
                routine,
                lo: window.0,
                hi: window.1,
            });
        };
        Ok(WindowLayout {
            window,
            samples,
            trials,
            first,
            offset,
        })
    }

    pub fn n_kept(&self) -> usize {
        self.trials.iter().flatten().count()
    }
}

/// What `timelock` computes besides average and variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covariance {
    None,
    /// The mean over trials of each trial's covariance matrix, `(ddof)` as NumPy's `np.cov`.
    Mean {
        ddof: usize,
    },
    /// One matrix per kept trial.
    PerTrial {
        ddof: usize,
    },
}

impl Covariance {
    /// Covariance rows of a contribution or result with `c` channels and `kept` trials.
    pub fn rows(self, c: usize, kept: usize) -> usize {
        match self {
            Covariance::None => 0,
            Covariance::Mean { .. } => c,
            Covariance::PerTrial { .. } => kept * c,
        }
    }
}

/// One trial's contribution (see the module documentation).
pub struct TimelockKernel {
    pub layout: Arc<WindowLayout>,
    pub covariance: Covariance,
    /// Channels of a task (all of them when there is a covariance to compute).
    pub channels: usize,
}

impl Kernel for TimelockKernel {
    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            // Channel means and one sample's deviations from them.
            real: match self.covariance {
                Covariance::None => 0,
                _ => 2 * self.channels,
            },
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut out = output.dense_mut();
        out.fill(0.0);
        let t_len = self.layout.samples;
        let Some(kept) = self.layout.trials[input.trial] else {
            if input.channels.start == 0 {
                let (lo, hi) = self.layout.window;
                let def_len = input.trial_len;
                let (start, end) = (
                    input.offset / input.samplerate,
                    (def_len as f64 - 1.0 + input.offset) / input.samplerate,
                );
                scratch.warn(format!(
                    "trial {} ({start} s to {end} s) does not cover the latency window [{lo}, {hi}] s: left out, as Syncopy",
                    input.trial
                ));
            }
            return Ok(());
        };
        let x = input.samples();
        let x = x.slice(s![kept.start..kept.start + t_len, ..]);
        let mut out = out
            .view_mut()
            .into_dimensionality::<Ix2>()
            .expect("contributions are 2-D");
        out.row_mut(0).fill(1.0);
        out.slice_mut(s![1..t_len + 1, ..]).assign(&x);
        out.slice_mut(s![t_len + 1..2 * t_len + 1, ..])
            .zip_mut_with(&x, |o, &v| *o = v * v);
        let (ddof, slot) = match self.covariance {
            Covariance::None => return Ok(()),
            Covariance::Mean { ddof } => (ddof, 0),
            Covariance::PerTrial { ddof } => (ddof, kept.slot),
        };
        let c = x.ncols();
        let base = 2 * t_len + 1 + slot * c;
        let (means, dev) = scratch.real[..2 * c].split_at_mut(c);
        for (m, column) in means.iter_mut().zip(x.axis_iter(Axis(1))) {
            *m = column.sum() / t_len as f64;
        }
        let mut cov = out.slice_mut(s![base..base + c, ..]);
        // Upper triangle, summed over samples in order; then mirrored.
        for row in x.rows() {
            for ((d, &v), &m) in dev.iter_mut().zip(row).zip(means.iter()) {
                *d = v - m;
            }
            for i in 0..c {
                let di = dev[i];
                let mut line = cov.row_mut(i);
                for j in i..c {
                    line[j] += di * dev[j];
                }
            }
        }
        let scale = 1.0 / (t_len - ddof) as f64;
        for i in 0..c {
            for j in i..c {
                let v = cov[[i, j]] * scale;
                cov[[i, j]] = v;
                cov[[j, i]] = v;
            }
        }
        Ok(())
    }
}

/// The result from the folded contributions: avg and var (ddof 0, as Syncopy's `spy.var`
/// over trials) over the kept trials, then the covariance rows (the mean over trials, or the
/// per-trial stack as folded).
pub fn finish(state: ArrayViewD<'_, f64>, covariance: Covariance, out: ArrayViewMutD<'_, f64>) {
    let state = state
        .into_dimensionality::<Ix2>()
        .expect("contributions are 2-D");
    let mut out = out.into_dimensionality::<Ix2>().expect("results are 2-D");
    let n = state[[0, 0]];
    // The kept trials are counted in row 0, so the window's length follows from the rows.
    let cov_rows = covariance.rows(state.ncols(), n as usize);
    let t = (state.nrows() - 1 - cov_rows) / 2;
    for i in 0..t {
        for c in 0..state.ncols() {
            let mean = state[[1 + i, c]] / n;
            let var = state[[1 + t + i, c]] / n - mean * mean;
            out[[i, c]] = mean;
            // `max` would turn a NaN variance into 0; only clamp real rounding.
            out[[t + i, c]] = if var < 0.0 { 0.0 } else { var };
        }
    }
    let cov_in = state.slice(s![2 * t + 1.., ..]);
    let mut cov_out = out.slice_mut(s![2 * t.., ..]);
    match covariance {
        Covariance::None => {}
        Covariance::Mean { .. } => cov_out.zip_mut_with(&cov_in, |o, &v| *o = v / n),
        Covariance::PerTrial { .. } => cov_out.assign(&cov_in),
    }
}
