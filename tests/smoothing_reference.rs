//! gaussian, savgol, moving_average and median_filter against reference outputs that
//! `fixtures/reference/make_smoothing.py` generated with pinned SciPy (see the JSON's
//! `generator` field). Every case runs through the engine, sequentially, in parallel and
//! with one channel per task; the three must agree bit for bit.

use ndarray::Array2;
use serde_json::Value;
use trialflow::in_memory::InMemoryRecording;
use trialflow::prelude::*;

mod common;
use common::every_mode::{assert_same_bits, bits, modes, run_step};
use common::reference::{self, matrix};

fn fixture() -> Value {
    reference::fixture("smoothing.json")
}

struct Case {
    name: String,
    routine: String,
    params: serde_json::Map<String, Value>,
    input: Array2<f64>,
    f32: bool,
    expected: Option<Array2<f64>>,
    error: Option<String>,
}

fn cases() -> Vec<Case> {
    let doc = fixture();
    let inputs = &doc["inputs"];
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let input = &inputs[c["input"].as_str().unwrap()];
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                routine: c["routine"].as_str().unwrap().to_string(),
                params: c["params"].as_object().unwrap().clone(),
                input: matrix(&input["data"]),
                f32: input["dtype"] == "float32",
                expected: (!c["expected"].is_null()).then(|| matrix(&c["expected"])),
                error: c["error"].as_str().map(str::to_string),
            }
        })
        .collect()
}

fn run_case(case: &Case, mode: ExecutionOptions) -> Result<Array2<f64>, Error> {
    let dtype = if case.f32 {
        DType::Float32
    } else {
        DType::Float64
    };
    let n = case.input.nrows();
    let source = InMemoryRecording::contiguous(case.input.clone(), 1000.0, &[n])?.with_dtype(dtype);
    let params = Value::Object(case.params.clone());
    let (data, _) = run_step(&case.routine, &params, &source, mode)?;
    Ok(data.into_dimensionality().unwrap())
}

/// How close the results came, per routine: values compared, values bitwise equal to SciPy's,
/// and the largest difference as a fraction of the allowed tolerance (f64 cases).
#[derive(Default)]
struct Closeness {
    values: usize,
    identical: usize,
    worst: f64,
}

/// The tolerance of `tests/preprocessing_reference.rs`: f64 to 1e-10 relative plus 1e-13 of
/// the input column's magnitude; f32 to one f32 rounding.
fn compare(case: &Case, got: &Array2<f64>, expected: &Array2<f64>, stats: &mut Closeness) {
    let name = &case.name;
    assert_eq!(got.shape(), expected.shape(), "{name}");
    for c in 0..got.ncols() {
        let scale = case
            .input
            .column(c)
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        for r in 0..got.nrows() {
            let (a, b) = (got[[r, c]], expected[[r, c]]);
            stats.values += 1;
            if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
                stats.identical += 1;
            }
            if b.is_nan() {
                assert!(a.is_nan(), "{name} [{r},{c}]: expected NaN, got {a}");
                continue;
            }
            if a == b {
                continue;
            }
            if case.f32 {
                let ulp = (b.abs() as f32).max(f32::MIN_POSITIVE) as f64 * f32::EPSILON as f64;
                assert!((a - b).abs() <= ulp, "{name} [{r},{c}]: {a} vs {b}");
            } else {
                let tol = 1e-10 * b.abs() + 1e-13 * scale;
                stats.worst = stats.worst.max((a - b).abs() / tol);
                assert!(
                    (a - b).abs() <= tol,
                    "{name} [{r},{c}]: {a} vs {b} (diff {:e}, tol {tol:e})",
                    (a - b).abs()
                );
            }
        }
    }
}

#[test]
fn smoothing_matches_scipy_reference_outputs() {
    let cases = cases();
    assert!(cases.len() >= 200, "fixture holds the expected cases");
    for routine in ["gaussian", "savgol", "moving_average", "median_filter"] {
        assert!(
            cases.iter().filter(|c| c.routine == routine).count() >= 30,
            "{routine}"
        );
    }
    let mut stats: std::collections::BTreeMap<&str, Closeness> = Default::default();
    for case in &cases {
        let result = run_case(case, ExecutionOptions::sequential());
        if let Some(scipy_error) = &case.error {
            let err = result.expect_err(&case.name);
            assert!(
                err.to_string().contains("NaN or Inf"),
                "{}: SciPy raised ({scipy_error}); we must refuse too: {err}",
                case.name
            );
            continue;
        }
        let got = result.unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let entry = stats.entry(case.routine.as_str()).or_default();
        let (v0, i0, w0) = (entry.values, entry.identical, entry.worst);
        entry.worst = 0.0;
        compare(case, &got, case.expected.as_ref().unwrap(), entry);
        // SMOOTHING_REFERENCE_VERBOSE=1 (with --nocapture) shows how close each case came.
        if std::env::var_os("SMOOTHING_REFERENCE_VERBOSE").is_some() {
            eprintln!(
                "{}: {}/{} bitwise equal, worst {:.3} of the tolerance",
                case.name,
                entry.identical - i0,
                entry.values - v0,
                entry.worst
            );
        }
        entry.worst = entry.worst.max(w0);
    }
    for (routine, s) in &stats {
        eprintln!(
            "{routine}: {} values, {} bitwise equal to SciPy, worst f64 difference {:.3} of the tolerance",
            s.values, s.identical, s.worst
        );
    }
}

#[test]
fn reference_results_do_not_depend_on_mode_or_channel_groups() {
    for case in cases().iter().filter(|c| c.error.is_none()) {
        assert_same_bits(&case.name, modes(1), |mode| {
            bits(&run_case(case, mode).unwrap().into_dyn())
        });
    }
}
