//! Statistics over trials (`dim: trials`) as a trial reduction: each trial contributes its
//! values (and their squares for the spread), the engine folds the contributions in its
//! fixed tree order, and the finish divides.
//!
//! Syncopy streams the trials twice (the mean, then the squared deviations from it). The
//! engine's fold is a single pass, so the variance is `Σx²/n - (Σx/n)²` in f64. That cancels
//! digits only where the mean is far above the spread (about `(mean/std)² · 1e-16` relative),
//! well below the float32 rounding of the data Syncopy accumulates in; the difference is
//! clamped at 0 so rounding never makes a negative variance.

use ndarray::{ArrayViewD, ArrayViewMutD, Axis, Zip};
use trialflow_core::{Kernel, OutputBlock, RoutineError, Scratch, TrialInput};

use super::Statistic;

/// Rows of one trial's contribution ahead of the trial's own axes: the mean needs only the
/// sum, the spread also the sum of squares.
pub fn contribution_rows(statistic: Statistic) -> usize {
    match statistic {
        Statistic::Var | Statistic::Std => 2,
        Statistic::Mean | Statistic::Median => 1,
    }
}

/// One trial's contribution: its values, and for the spread also their squares.
pub struct ContributionKernel {
    pub statistic: Statistic,
}

impl Kernel for ContributionKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = &input.data;
        let mut out = output.dense_mut();
        if contribution_rows(self.statistic) == 1 {
            out.assign(x);
        } else {
            out.index_axis_mut(Axis(0), 0).assign(x);
            out.index_axis_mut(Axis(0), 1)
                .zip_mut_with(x, |o, &v| *o = v * v);
        }
        Ok(())
    }
}

/// The statistic from the folded contributions of `n_trials` trials.
pub fn finish(
    statistic: Statistic,
    state: ArrayViewD<'_, f64>,
    n_trials: usize,
    mut out: ArrayViewMutD<'_, f64>,
) {
    let n = n_trials as f64;
    if contribution_rows(statistic) == 1 {
        Zip::from(&mut out)
            .and(&state)
            .for_each(|o, &sum| *o = sum / n);
        return;
    }
    let (sum, sumsq) = (state.index_axis(Axis(0), 0), state.index_axis(Axis(0), 1));
    let root = statistic == Statistic::Std;
    Zip::from(&mut out)
        .and(&sum)
        .and(&sumsq)
        .for_each(|o, &s, &q| {
            let mean = s / n;
            let var = q / n - mean * mean;
            // `max` would turn a NaN variance into 0; only clamp real rounding.
            let var = if var < 0.0 { 0.0 } else { var };
            *o = if root { var.sqrt() } else { var };
        });
}
