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
