//! The numbers of `timelock`: which samples of which trial count (the window layout) and
//! one trial's output (its window), and the finish of `psth`'s trial reduction
//! (`keeptrials: false`) that turns folded sums into the average and variance.
//!
//! `timelock` writes the cut trials; `avg`, `var` and `cov` are computed from them by the
//! storage writer at finalize (`storage/src/writer/timelock.rs`).

use std::sync::Arc;

use ndarray::{s, ArrayViewD, ArrayViewMutD, Ix2};
use trialflow_core::{DataSchema, Kernel, OutputBlock, RoutineError, Samples, Scratch, TrialInput};

use super::latency::{covers, window_samples};
use super::StatisticsError;

/// Where one trial's window lies and where its covariance goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptTrial {
    /// First sample of the window in the trial.
    pub start: usize,
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
        // The first kept trial and its window's length.
        let mut kept: Option<(usize, usize)> = None;
        // `window_samples` scans the trial's samples: trials of the same length and offset
        // (usually all of them) reuse the last one's answer.
        let mut last: Option<((usize, u64), std::ops::Range<usize>)> = None;
        for t in 0..def.len() {
            if !covers(def, t, rate, window) {
                trials.push(None);
                continue;
            }
            let key = (def.trial_len(t), def.offset(t).to_bits());
            let range = match &last {
                Some((k, range)) if *k == key => range.clone(),
                _ => {
                    let range = window_samples(key.0, def.offset(t), rate, window);
                    last = Some((key, range.clone()));
                    range
                }
            };
            match kept {
                None => kept = Some((t, range.len())),
                Some((first_trial, first)) if first != range.len() => {
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
            trials.push(Some(KeptTrial { start: range.start }));
        }
        let Some((_, samples)) = kept.filter(|k| k.1 > 0) else {
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
        })
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

/// One trial's output: its samples inside the window, or nothing (zero rows) for a trial
/// that does not cover it.
pub struct TimelockKernel {
    pub layout: Arc<WindowLayout>,
}

impl Kernel for TimelockKernel {
    /// Float32 input is read as stored and widened as it is cut: the engine's widening copy
    /// of the whole trial would be one more pass over it.
    fn reads_f32(&self) -> bool {
        true
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let Some(kept) = self.layout.trials[input.trial] else {
            if input.channels.start == 0 {
                let (lo, hi) = self.layout.window;
                let (start, end) = (
                    input.offset / input.samplerate,
                    (input.trial_len as f64 - 1.0 + input.offset) / input.samplerate,
                );
                scratch.warn(format!(
                    "trial {} ({start} s to {end} s) does not cover the latency window [{lo}, {hi}] s: left out, as Syncopy",
                    input.trial
                ));
            }
            return Ok(());
        };
        let t_len = self.layout.samples;
        let mut out = output
            .dense_mut()
            .into_dimensionality::<Ix2>()
            .expect("trials are 2-D");
        let window = s![kept.start..kept.start + t_len, ..];
        match input.analog() {
            Samples::F64(x) => out.assign(&x.slice(window)),
            Samples::F32(x) => out.zip_mut_with(&x.slice(window), |o, &v| *o = f64::from(v)),
        }
        Ok(())
    }
}

/// `psth`'s result (`keeptrials: false`) from the folded contributions (row 0 the count of
/// trials, then `T` rows of sums, `T` of sums of squares): the average and variance (ddof 0,
/// as Syncopy's `spy.var` over trials), packed as `T` rows each.
pub fn finish(state: ArrayViewD<'_, f64>, out: ArrayViewMutD<'_, f64>) {
    let state = state
        .into_dimensionality::<Ix2>()
        .expect("contributions are 2-D");
    let mut out = out.into_dimensionality::<Ix2>().expect("results are 2-D");
    let n = state[[0, 0]];
    let t = (state.nrows() - 1) / 2;
    for i in 0..t {
        for c in 0..state.ncols() {
            let mean = state[[1 + i, c]] / n;
            let var = state[[1 + t + i, c]] / n - mean * mean;
            out[[i, c]] = mean;
            // `max` would turn a NaN variance into 0; only clamp real rounding.
            out[[t + i, c]] = if var < 0.0 { 0.0 } else { var };
        }
    }
}
