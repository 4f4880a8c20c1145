//! Per-trial, per-channel preprocessing with Syncopy's and SciPy's semantics: `detrend`,
//! `zscore` and `rectify`. All three keep shape and class (AnalogData in, AnalogData out) and
//! work along time with channels as the contiguous inner loop.

mod detrend;
mod errors;
mod rectify;
mod registration;
mod zscore;

pub use detrend::{Detrend, DetrendParams, DetrendType};
pub use errors::PreprocessingError;
pub use rectify::{Rectify, RectifyParams};
pub use registration::registry_entries;
pub use zscore::{ZScore, ZScoreParams};

use ndarray::{ArrayView2, ArrayViewMut2};

/// Per-channel mean of a samples x channels block, accumulated row by row (the order numpy's
/// `mean(axis=0)` uses on C-ordered data), into `mean`.
pub(crate) fn channel_means(x: ArrayView2<'_, f64>, mean: &mut [f64]) {
    mean.iter_mut().for_each(|m| *m = 0.0);
    for row in x.rows() {
        for (m, &v) in mean.iter_mut().zip(row.iter()) {
            *m += v;
        }
    }
    let n = x.nrows() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
}

/// `out = x - mean` per channel.
pub(crate) fn subtract_means(
    x: ArrayView2<'_, f64>,
    mean: &[f64],
    mut out: ArrayViewMut2<'_, f64>,
) {
    for (row_in, mut row_out) in x.rows().into_iter().zip(out.rows_mut()) {
        for ((o, &v), &m) in row_out.iter_mut().zip(row_in.iter()).zip(mean) {
            *o = v - m;
        }
    }
}
