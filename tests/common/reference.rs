//! Reading the reference JSON that `fixtures/reference/make_*.py` write: numbers (with
//! non-finite values as the strings "NaN", "Infinity", "-Infinity") and nested arrays.

use ndarray::{Array2, ArrayD, IxDyn};
use serde_json::Value;

/// A JSON number, or one of the strings the fixture scripts write for non-finite values.
pub fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

/// A list of rows as a 2-D array.
pub fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(number))
        .collect();
    Array2::from_shape_vec((rows.len(), cols), flat).unwrap()
}

/// Nested lists of any depth as an n-D array (the shape from the first item at each level).
pub fn array(v: &Value) -> ArrayD<f64> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        shape.push(items.len());
        cur = &items[0];
    }
    let mut flat = Vec::new();
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            other => out.push(number(other)),
        }
    }
    walk(v, &mut flat);
    ArrayD::from_shape_vec(IxDyn(&shape), flat).unwrap()
}

/// The committed reference document `fixtures/reference/<file>`.
pub fn fixture(file: &str) -> Value {
    let path = format!("{}/fixtures/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An input's `trials` rows `[start, stop, offset]` as the engine's `(start, stop, offset)`.
pub fn trials(input: &Value) -> Vec<(usize, usize, f64)> {
    input["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            (
                number(&r[0]) as usize,
                number(&r[1]) as usize,
                number(&r[2]),
            )
        })
        .collect()
}

/// Syncopy stores spectra as float32 (complex64): trialflow's `a` agrees with Syncopy's `b`
/// to 1e-5 relative, or to `floor` where a value is tiny next to its spectrum (a fraction
/// of the largest magnitude of the same trial or time, taper and channel). Asserts it and
/// returns `|a - b|` as a fraction of the tolerance.
pub fn assert_within_float32(at: &str, a: f64, b: f64, floor: f64) -> f64 {
    let tol = f64::max(1e-5 * b.abs(), floor);
    assert!((a - b).abs() <= tol, "{at}: {a} vs {b} (tol {tol:e})");
    (a - b).abs() / tol
}

/// A phase from float32 coefficients: `a` agrees with Syncopy's `b` modulo 2π to 1e-5 plus
/// `1e-6 · peak / magnitude`, the error float32 rounding allows at |X| = `magnitude` when
/// the largest |X| of the same trial or time, taper and channel is `peak`.
pub fn assert_phase_within_float32(at: &str, a: f64, b: f64, magnitude: f64, peak: f64) {
    let tol = 1e-5 + 1e-6 * peak / magnitude;
    let d = (a - b).rem_euclid(2.0 * std::f64::consts::PI);
    let d = d.min(2.0 * std::f64::consts::PI - d);
    assert!(d <= tol, "{at}: {a} vs {b} (|X| {magnitude}, tol {tol:e})");
}
