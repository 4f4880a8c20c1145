//! detrend, zscore and rectify against reference outputs that
//! `fixtures/reference/make_preprocessing.py` generated with pinned numpy/SciPy.

use ndarray::Array2;
use serde_json::Value;
use trialflow::in_memory::InMemoryRecording;
use trialflow::prelude::*;

mod common;
use common::every_mode::{assert_same_bits, bits, modes, run_step};
use common::reference::{fixture, matrix};

fn run_case(case: &Value, mode: ExecutionOptions) -> Result<Array2<f64>, Error> {
    let input = matrix(&case["input"]);
    let routine = case["routine"].as_str().unwrap();
    let mut params = case["params"].as_object().cloned().unwrap_or_default();
    params.remove("ddof"); // zscore is always ddof 0, as Syncopy's
    let dtype = if case["dtype"] == "float32" {
        DType::Float32
    } else {
        DType::Float64
    };
    let n = input.nrows();
    let source = InMemoryRecording::contiguous(input, 1000.0, &[n])?.with_dtype(dtype);
    let (data, _) = run_step(routine, &Value::Object(params), &source, mode)?;
    Ok(data.into_dimensionality().unwrap())
}

fn cases() -> Vec<Value> {
    let doc = fixture("preprocessing.json");
    doc["cases"].as_array().unwrap().clone()
}

#[test]
fn preprocessing_matches_scipy_reference_outputs() {
    let cases = cases();
    assert!(cases.len() >= 30, "fixture holds the expected cases");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let result = run_case(case, ExecutionOptions::sequential());
        if case.get("error").is_some() {
            let err = result.expect_err(name);
            assert!(
                err.to_string().contains("NaN or Inf"),
                "{name}: SciPy raised, we must refuse too: {err}"
            );
            continue;
        }
        let got = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = matrix(&case["expected"]);
        let input = matrix(&case["input"]);
        assert_eq!(got.shape(), expected.shape(), "{name}");
        let f32_case = case["dtype"] == "float32";
        for c in 0..got.ncols() {
            let scale = input
                .column(c)
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(v.abs()));
            for r in 0..got.nrows() {
                let (a, b) = (got[[r, c]], expected[[r, c]]);
                if b.is_nan() {
                    assert!(a.is_nan(), "{name} [{r},{c}]: expected NaN, got {a}");
                    continue;
                }
                if a == b {
                    continue;
                }
                if f32_case {
                    // Both computed in f64 from the same f32 input and rounded to f32: at
                    // most one f32 rounding step apart.
                    let ulp = (b.abs() as f32).max(f32::MIN_POSITIVE) as f64 * f32::EPSILON as f64;
                    assert!((a - b).abs() <= ulp, "{name} [{r},{c}]: {a} vs {b}");
                } else {
                    let tol = 1e-10 * b.abs() + 1e-13 * scale;
                    assert!(
                        (a - b).abs() <= tol,
                        "{name} [{r},{c}]: {a} vs {b} (tol {tol:e})"
                    );
                }
            }
        }
    }
}

#[test]
fn reference_results_do_not_depend_on_mode() {
    for case in cases().iter().filter(|c| c.get("error").is_none()) {
        let name = case["name"].as_str().unwrap();
        assert_same_bits(name, modes(1), |mode| {
            bits(&run_case(case, mode).unwrap().into_dyn())
        });
    }
}
