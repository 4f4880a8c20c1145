//! Smoothing along time with SciPy's exact semantics: `gaussian`
//! (`scipy.ndimage.gaussian_filter1d`), `savgol` (`scipy.signal.savgol_filter`),
//! `moving_average` (`scipy.ndimage.uniform_filter1d`) and `median`
//! (`scipy.ndimage.median_filter` along time only). All four keep shape and class (AnalogData
//! in, AnalogData out), work per trial and channel in f64, and take SciPy's parameter names.
//!
//! Boundary handling is ndimage's (`NI_ExtendLine`): the extension continues periodically as
//! far as a kernel reaches, so kernels longer than a trial give SciPy's numbers. The linear
//! filters read the task's samples as contiguous rows (channels contiguous) and compute
//! blocks of output rows, vectorised over rows x channels, in
//! `NI_Correlate1D`'s (or `NI_UniformFilter1D`'s) order of operations for every value, so
//! results do not depend on blocking or channel grouping. Kernels and coefficient tables
//! are built once, in `plan`. `median` slides a sorted window per channel.
//!
//! Windows and kernels are limited to [`MAX_TAPS`] taps, so an absurd `sigma` is refused
//! with a message instead of allocating gigabytes.

mod boundary;
mod correlate;
mod errors;
mod gaussian;
mod linalg;
mod median;
mod moving_average;
mod savgol;

pub use boundary::ExtendMode;
pub use errors::SmoothingError;
pub use gaussian::{Gaussian, GaussianParams};
pub use median::{Median, MedianParams};
pub use moving_average::{MovingAverage, MovingAverageParams};
pub use savgol::{Savgol, SavgolMode, SavgolParams, MAX_POLYORDER};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use trialflow_core::{DataKind, OutputBlock, RoutineError, Scratch, ScratchSize, TrialInput};

use crate::params::{BuildError, ParamDoc};
use crate::registry::{RoutineDoc, RoutineEntry};
use boundary::{block_rows, contiguous, for_each_out_block, Lines};

/// The longest kernel or window any smoothing routine accepts, in taps (samples). A Gaussian
/// with `sigma: 1e9` would need 8e9 taps; it is refused with a message naming `sigma` and
/// `truncate` instead.
pub const MAX_TAPS: usize = 10_000_001;

/// The registry entries of this family.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        gaussian_entry(),
        savgol_entry(),
        moving_average_entry(),
        median_entry(),
    ]
}

/// Deserialises unchecked parameters; on a type error, finds the offending key so the
/// message names it (`parameter `sigma`: invalid type: string "a", expected f64`).
fn parse_named<P: DeserializeOwned>(params: Map<String, Value>) -> Result<P, BuildError> {
    match serde_json::from_value::<P>(Value::Object(params.clone())) {
        Ok(p) => Ok(p),
        Err(e) => {
            for (key, value) in &params {
                let mut single = Map::new();
                single.insert(key.clone(), value.clone());
                if let Err(e1) = serde_json::from_value::<P>(Value::Object(single)) {
                    let message = e1.to_string();
                    return Err(BuildError::Params(
                        if message.starts_with("unknown field") {
                            message
                        } else {
                            format!("parameter `{key}`: {message}")
                        },
                    ));
                }
            }
            Err(BuildError::Params(e.to_string()))
        }
    }
}

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
        complex: 0,
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

const MODE_DOC: &str = "boundary extension as in scipy.ndimage: reflect (d c b a | a b c d | d c b a), mirror (d c b | a b c d | c b a), nearest (a a a | a b c d | d d d), constant (cval), wrap (b c d | a b c d | a b c); it repeats periodically for kernels longer than the trial";

fn gaussian_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "gaussian",
            summary: "Gaussian smoothing (or Gaussian-derivative filtering) along time, per trial and channel.",
            matches: "scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, order=0, mode='reflect', cval=0.0, truncate=4.0, radius=None)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "sigma",
                    kind: "number > 0",
                    default: "required",
                    doc: "standard deviation of the Gaussian, in samples",
                },
                ParamDoc {
                    name: "order",
                    kind: "0 | 1 | 2 | 3",
                    default: "0",
                    doc: "0 smooths; k > 0 convolves with the k-th derivative of the Gaussian",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "truncate",
                    kind: "number > 0",
                    default: "4.0",
                    doc: "kernel radius in standard deviations: radius = int(truncate * sigma + 0.5)",
                },
                ParamDoc {
                    name: "radius",
                    kind: "integer >= 0 | null",
                    default: "null",
                    doc: "kernel radius in samples; overrides truncate (at most 5000000)",
                },
            ],
            example: "- routine: gaussian\n  sigma: 2.5\n  mode: reflect",
        },
        build: |params| {
            let p: GaussianParams = parse_named(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn savgol_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "savgol",
            summary: "Savitzky-Golay filter (local least-squares polynomial, or its derivative) along time, per trial and channel.",
            matches: "scipy.signal.savgol_filter(x, window_length, polyorder, deriv=0, delta=1.0, axis=0, mode='interp', cval=0.0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "window_length",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "filter length in samples; even lengths are allowed; with mode interp at most the trial length",
                },
                ParamDoc {
                    name: "polyorder",
                    kind: "integer >= 0",
                    default: "required",
                    doc: "order of the fitted polynomial; less than window_length and at most 100",
                },
                ParamDoc {
                    name: "deriv",
                    kind: "integer >= 0",
                    default: "0",
                    doc: "derivative order; deriv > polyorder gives zeros",
                },
                ParamDoc {
                    name: "delta",
                    kind: "number",
                    default: "1.0",
                    doc: "sample spacing used to scale derivatives (1 / samplerate for per-second units); nonzero when deriv > 0",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"interp\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "interp",
                    doc: "interp fits a polynomial to the first and last window_length samples for the edges; the others extend as in scipy.ndimage ('reflect' is refused, as SciPy refuses it)",
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
            ],
            example: "- routine: savgol\n  window_length: 11\n  polyorder: 3",
        },
        build: |params| {
            let p: SavgolParams = parse_named(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn moving_average_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "moving_average",
            summary: "Moving average (boxcar) along time, per trial and channel.",
            matches: "scipy.ndimage.uniform_filter1d(x, size, axis=0, mode='reflect', cval=0.0, origin=0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "size",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "window length in samples; an even window covers x[i - size/2 - origin .. i + size/2 - 1 - origin]",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "origin",
                    kind: "integer",
                    default: "0",
                    doc: "shifts the window left by origin samples; -(size // 2) <= origin <= (size - 1) // 2",
                },
            ],
            example: "- routine: moving_average\n  size: 5",
        },
        build: |params| {
            let p: MovingAverageParams = parse_named(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn median_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "median",
            summary: "Running median along time, per trial and channel (even sizes take the upper median).",
            matches: "scipy.ndimage.median_filter(x, size=(size, 1), mode='reflect', cval=0.0, origin=(origin, 0)) on the samples x channels trial",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "size",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "window length in samples; the result is the element of rank size // 2 of the sorted window",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "origin",
                    kind: "integer",
                    default: "0",
                    doc: "shifts the window left by origin samples; -(size // 2) <= origin <= (size - 1) // 2",
                },
            ],
            example: "- routine: median\n  size: 5",
        },
        build: |params| {
            let p: MedianParams = parse_named(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn build(
        name: &str,
        yaml_like: Value,
    ) -> Result<Box<dyn trialflow_core::ComputationalRoutine>, BuildError> {
        Registry::builtin().build(name, yaml_like.as_object().unwrap().clone())
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
            ("median", serde_json::json!({"size": 5, "mode": "nearest"})),
        ];
        for (name, params) in cases {
            let routine = build(name, params).unwrap();
            let plan = routine.plan(&[n, 3], &schema).unwrap();
            let run = |input: ArrayView2<'_, f64>, out: ArrayViewMut2<'_, f64>| {
                let mut scratch = Scratch::default();
                scratch.reserve(plan.scratch_size());
                let task = TrialInput {
                    data: input.into_dyn(),
                    trial: 0,
                    channels: 1..4,
                    samplerate: 1000.0,
                    offset: 0.0,
                };
                let mut block = OutputBlock::Dense(out.into_dyn());
                routine
                    .compute_function(&task, &mut block, &plan, &mut scratch)
                    .unwrap();
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
        let registry = Registry::builtin();
        for name in ["gaussian", "savgol", "moving_average", "median"] {
            let entry = registry
                .get(name)
                .unwrap_or_else(|| panic!("{name} registered"));
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
                "median",
                serde_json::json!({"size": 3, "mode": "grid-wrap"}),
                "mode",
            ),
            ("median", serde_json::json!({"size": 3.5}), "size"),
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
