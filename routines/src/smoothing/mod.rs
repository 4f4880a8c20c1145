//! Smoothing along time with SciPy's exact semantics: `gaussian`
//! (`scipy.ndimage.gaussian_filter1d`), `savgol` (`scipy.signal.savgol_filter`),
//! `moving_average` (`scipy.ndimage.uniform_filter1d`) and `median_filter`
//! (`scipy.ndimage.median_filter` along time only). All four keep shape and class (AnalogData
//! in, AnalogData out), work per trial and channel in f64, and take SciPy's parameter names.
//!
//! Boundary handling is ndimage's (`NI_ExtendLine`): the extension continues periodically as
//! far as a kernel reaches, so kernels longer than a trial give SciPy's numbers. The linear
//! filters read the task's samples as contiguous rows (channels contiguous) and compute
//! blocks of output rows, vectorised over rows x channels, in
//! `NI_Correlate1D`'s (or `NI_UniformFilter1D`'s) order of operations for every value, so
//! results do not depend on blocking or channel grouping. Kernels and coefficient tables
//! are built once, in `plan`. `median_filter` slides a sorted window per channel.
//!
//! Windows and kernels are limited to [`MAX_TAPS`] taps, so an absurd `sigma` is refused
//! with a message instead of allocating gigabytes.

mod boundary;
mod correlate;
mod errors;
mod gaussian;
mod linalg;
mod median_filter;
mod moving_average;
mod registration;
mod savgol;

pub use boundary::ExtendMode;
pub use correlate::Simd;
pub use errors::SmoothingError;
pub use gaussian::{Gaussian, GaussianParams};
pub use median_filter::{MedianFilter, MedianFilterParams};
pub use moving_average::{MovingAverage, MovingAverageParams};
pub use registration::registry_entries;
pub use savgol::{Savgol, SavgolMode, SavgolParams, MAX_POLYORDER};

use boundary::{block_rows, contiguous, for_each_out_block, Lines};
use trialflow_core::{OutputBlock, Scratch, ScratchSize, TrialInput};

/// The longest kernel or window any smoothing routine accepts, in taps (samples). A Gaussian
/// with `sigma: 1e9` would need 8e9 taps; it is refused with a message naming `sigma` and
/// `truncate` instead.
pub const MAX_TAPS: usize = 10_000_001;

/// numpy's pairwise summation (`pairwise_sum` in `numpy/_core/src/umath/loops_utils.h.src`),
/// which `ndarray.sum()` uses for contiguous float64: the same rounding as SciPy's kernel
/// normalisation.
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Scratch of the row-wise kernels: a contiguous copy of the block (used only when the input
/// view is strided), a row of `cval`, an output block (used only when the output view is
/// strided) and `extra` values for the kernel.
pub(crate) fn row_scratch(samples: usize, channels: usize, extra: usize) -> ScratchSize {
    ScratchSize {
        real: samples * channels + channels + block_rows(channels) * channels + extra,
        ..ScratchSize::default()
    }
}

/// Runs a row-wise kernel over one task: `f(lines, i0, dst, extra)` writes output rows
/// `i0..i0 + dst.len() / channels` into `dst` (channels contiguous), with `extra` scratch
/// values of its own. Blocks come in order, so `f` may carry state from one block to the
/// next (in `extra`).
pub(crate) fn row_task(
    input: &TrialInput<'_>,
    output: &mut OutputBlock<'_>,
    scratch: &mut Scratch,
    mode: ExtendMode,
    cval: f64,
    extra: usize,
    mut f: impl FnMut(&Lines<'_>, usize, &mut [f64], &mut [f64]),
) {
    let x = input.samples();
    let (n, ch) = x.dim();
    if n == 0 || ch == 0 {
        return;
    }
    // A no-op when the engine sized the scratch from the plan, as it does.
    scratch.reserve(row_scratch(n, ch, extra));
    let (copy, rest) = scratch.real.split_at_mut(n * ch);
    let (cval_row, rest) = rest.split_at_mut(ch);
    let (acc, rest) = rest.split_at_mut(block_rows(ch) * ch);
    let extra = &mut rest[..extra];
    cval_row.fill(cval);
    let data = contiguous(&x, copy);
    let lines = Lines::new(data, n, ch, mode, cval_row);
    let mut out = output.samples_mut();
    for_each_out_block(&mut out, acc, |i0, dst| f(&lines, i0, dst, extra));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::BuildError;
    use serde_json::Value;

    fn build(
        name: &str,
        yaml_like: Value,
    ) -> Result<Box<dyn trialflow_core::ComputationalRoutine>, BuildError> {
        crate::build_builtin(name, yaml_like.as_object().unwrap().clone())
    }

    /// Views the engine never hands out (a strided output, an input with a row stride wider
    /// than its channels) give the same bits as contiguous ones.
    #[test]
    fn strided_views_give_the_same_bits() {
        use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};
        use trialflow_core::{DType, DataSchema, TrialDefinition};

        let (n, wide) = (37, 6);
        let big = Array2::from_shape_fn((n, wide), |(i, c)| {
            ((i * 7 + c * 3) % 11) as f64 - 4.5 + (i as f64 * 0.3).sin()
        });
        let schema = DataSchema::analog(
            DType::Float64,
            1000.0,
            (0..wide).map(|c| format!("c{c}")).collect(),
            TrialDefinition::from_trials(&[(0, n, 0.0)], &[]),
        );
        let cases = [
            (
                "gaussian",
                serde_json::json!({"sigma": 2.0, "order": 1, "mode": "wrap"}),
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 8, "polyorder": 3}),
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 7, "polyorder": 2, "mode": "mirror"}),
            ),
            (
                "moving_average",
                serde_json::json!({"size": 4, "origin": -1}),
            ),
            (
                "median_filter",
                serde_json::json!({"size": 5, "mode": "nearest"}),
            ),
        ];
        for (name, params) in cases {
            let routine = build(name, params).unwrap();
            let plan = routine
                .plan(&[n, 3], &schema, &mut trialflow_core::Planner::new())
                .unwrap();
            let run = |input: ArrayView2<'_, f64>, out: ArrayViewMut2<'_, f64>| {
                let mut scratch = Scratch::default();
                scratch.reserve(plan.scratch_size());
                let task = TrialInput {
                    data: input.into_dyn(),
                    data_f32: None,
                    events: None,
                    trial_len: input.nrows(),
                    trial: 0,
                    channels: 1..4,
                    samplerate: 1000.0,
                    offset: 0.0,
                };
                let mut block = OutputBlock::Dense(out.into_dyn());
                plan.compute(&task, &mut block, &mut scratch).unwrap();
            };
            let strided_in = big.slice(s![.., 1..4]);
            let contiguous_in = strided_in.to_owned();
            let mut reference = Array2::from_elem((n, 3), f64::NAN);
            run(contiguous_in.view(), reference.view_mut());
            let mut wide_out = Array2::from_elem((n, 7), f64::NAN);
            run(strided_in, wide_out.slice_mut(s![.., 2..5]));
            let got = wide_out.slice(s![.., 2..5]);
            assert!(
                got.iter()
                    .zip(reference.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}"
            );
            assert!(reference.iter().all(|v| v.is_finite()), "{name}");
        }
    }

    #[test]
    fn pairwise_sum_blocks() {
        let a: Vec<f64> = (0..1000).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let naive: f64 = a.iter().sum();
        assert!((pairwise_sum(&a) - naive).abs() < 1e-12);
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.5]), 1.5);
    }

    #[test]
    fn every_routine_is_registered_and_documented() {
        for name in ["gaussian", "savgol", "moving_average", "median_filter"] {
            let entry = crate::builtin_entry(name).unwrap_or_else(|| panic!("{name} registered"));
            assert!(!entry.doc.params.is_empty());
            assert!(entry.doc.example.contains(name));
        }
    }

    #[test]
    fn errors_are_one_line_and_name_the_parameter() {
        let cases = [
            ("gaussian", serde_json::json!({"sigma": "wide"}), "sigma"),
            (
                "gaussian",
                serde_json::json!({"sigma": 1.0, "radius": 2.5}),
                "radius",
            ),
            (
                "gaussian",
                serde_json::json!({"sigma": 1.0, "sigmaa": 2}),
                "sigmaa",
            ),
            ("gaussian", serde_json::json!({}), "sigma"),
            ("gaussian", serde_json::json!({"sigma": 0}), "sigma"),
            ("gaussian", serde_json::json!({"sigma": 1e9}), "sigma"),
            (
                "savgol",
                serde_json::json!({"window_length": 5}),
                "polyorder",
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 5, "polyorder": 5}),
                "polyorder",
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 5, "polyorder": 2, "mode": "reflect"}),
                "reflect",
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 0, "polyorder": 0}),
                "window_length",
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 5, "polyorder": 2, "deriv": -1}),
                "deriv",
            ),
            (
                "savgol",
                serde_json::json!({"window_length": 5, "polyorder": 2, "deriv": 1, "delta": 0.0}),
                "delta",
            ),
            (
                "moving_average",
                serde_json::json!({"size": 4, "origin": 2}),
                "origin",
            ),
            ("moving_average", serde_json::json!({"size": 0}), "size"),
            (
                "median_filter",
                serde_json::json!({"size": 3, "mode": "grid-wrap"}),
                "mode",
            ),
            ("median_filter", serde_json::json!({"size": 3.5}), "size"),
        ];
        for (name, params, key) in cases {
            let err = build(name, params.clone())
                .err()
                .unwrap_or_else(|| panic!("{name} {params} must fail"));
            let msg = err.to_string();
            assert!(msg.contains(key), "{name} {params}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
