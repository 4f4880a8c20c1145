//! butterworth, firws, hilbert, downsample and resample against reference outputs made by
//! `fixtures/reference/make_filters.py`:
//! - `filters.json`: SciPy 1.18.1 in float64, following Syncopy 2023.9's compute functions
//!   (compared to 1e-10 relative, plus 1e-12 of the channel's largest input for values
//!   near zero, where FFT rounding is absolute);
//! - `filters_syncopy.json`: the real Syncopy 2023.9 frontends on a float32 AnalogData of
//!   three trials with offsets and trialinfo (values to 1e-5 relative, plus samplerate and
//!   trial definition).
//!
//! Every SciPy case also runs sequentially, in parallel and with one channel per task; the
//! three must agree bit for bit.

use ndarray::{Array2, ArrayD};
use serde_json::Value;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::Registry;

mod common;
use common::every_mode::{assert_same_bits, bits, modes};
use common::reference::{array, fixture};

struct Case {
    name: String,
    routine: String,
    params: serde_json::Map<String, Value>,
    input: Array2<f64>,
    expected: Option<ArrayD<f64>>,
    error: Option<String>,
}

fn scipy_cases() -> Vec<Case> {
    let doc = fixture("filters.json");
    assert_eq!(doc["generator"]["scipy"], "1.18.1");
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            routine: c["routine"].as_str().unwrap().to_string(),
            params: c["params"].as_object().unwrap().clone(),
            input: array(&doc["inputs"][c["input"].as_str().unwrap()]["data"])
                .into_dimensionality()
                .unwrap(),
            expected: (!c["expected"].is_null()).then(|| array(&c["expected"])),
            error: c["error"].as_str().map(str::to_string),
        })
        .collect()
}

fn run(
    routine: &str,
    params: &serde_json::Map<String, Value>,
    mut source: InMemoryRecording,
    mode: ExecutionOptions,
) -> Result<(ArrayD<f64>, DataSchema), Error> {
    let built = Registry::builtin()
        .build(routine, params.clone())
        .unwrap_or_else(|e| panic!("{routine} {params:?}: {e}"));
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![Step {
            routine: built,
            name: "out".into(),
            save: false,
            dtype: None,
        }],
        mode,
    );
    run_pipeline(&pipeline, &mut source, &mut sink, None)?;
    let object = sink.object("out").unwrap();
    Ok((object.data.clone().unwrap(), object.spec.schema.clone()))
}

fn run_case(case: &Case, mode: ExecutionOptions) -> Result<ArrayD<f64>, Error> {
    let n = case.input.nrows();
    let source = InMemoryRecording::contiguous(case.input.clone(), 1000.0, &[n])?;
    run(&case.routine, &case.params, source, mode).map(|(data, _)| data)
}

/// Largest finite |value| per channel of the input.
fn channel_scale(input: &Array2<f64>) -> Vec<f64> {
    input
        .columns()
        .into_iter()
        .map(|c| {
            c.iter()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(v.abs()))
        })
        .collect()
}

/// Compares element by element; `channel_of` maps a flat index to its channel. Phases
/// (hilbert `angle`) are compared on the circle. Returns the worst |diff| / tolerance.
fn compare(
    name: &str,
    got: &ArrayD<f64>,
    expected: &ArrayD<f64>,
    rel: f64,
    abs: &[f64],
    channel_of: impl Fn(usize) -> usize,
    angle: bool,
) -> f64 {
    assert_eq!(got.shape(), expected.shape(), "{name}: shape");
    let mut worst = 0.0f64;
    for (i, (&a, &b)) in got.iter().zip(expected.iter()).enumerate() {
        if b.is_nan() {
            assert!(a.is_nan(), "{name} [{i}]: expected NaN, got {a}");
            continue;
        }
        if a == b {
            continue;
        }
        let mut diff = (a - b).abs();
        if angle {
            diff = diff.min((diff - 2.0 * std::f64::consts::PI).abs());
        }
        let tol = rel * b.abs() + abs[channel_of(i)];
        worst = worst.max(diff / tol);
        assert!(
            diff <= tol,
            "{name} [{i}]: {a} vs {b} (diff {diff:e}, tol {tol:e})"
        );
    }
    worst
}

#[test]
fn filters_match_scipy_reference_outputs() {
    let cases = scipy_cases();
    for routine in ["butterworth", "firws", "hilbert", "downsample", "resample"] {
        assert!(
            cases.iter().filter(|c| c.routine == routine).count() >= 5,
            "{routine}"
        );
    }
    let mut worst: std::collections::BTreeMap<String, f64> = Default::default();
    for case in &cases {
        let result = run_case(case, ExecutionOptions::sequential());
        if let Some(scipy_error) = &case.error {
            let err = result.expect_err(&case.name);
            // SciPy: "... greater than padlen, which is 51."; we name the same padding.
            let padlen = scipy_error
                .trim_end_matches('.')
                .rsplit(' ')
                .next()
                .unwrap();
            assert!(
                err.to_string().contains(&format!("pads {padlen} samples")),
                "{}: SciPy raised ({scipy_error}); we refuse too, but said: {err}",
                case.name
            );
            continue;
        }
        let got = result.unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let expected = case.expected.as_ref().unwrap();
        let ch = case.input.ncols();
        let per_channel = expected.len() / ch / expected.shape()[0];
        let abs: Vec<f64> = channel_scale(&case.input)
            .iter()
            .map(|s| 1e-12 * s)
            .collect();
        let angle = case.params.get("output") == Some(&Value::from("angle"));
        let w = compare(
            &case.name,
            &got,
            expected,
            1e-10,
            &abs,
            |i| (i / per_channel) % ch,
            angle,
        );
        if std::env::var_os("FILTERS_REFERENCE_VERBOSE").is_some() {
            eprintln!("{}: worst {w:.3} of the tolerance", case.name);
        }
        let entry = worst.entry(case.routine.clone()).or_default();
        *entry = entry.max(w);
    }
    for (routine, w) in worst {
        eprintln!("{routine}: worst difference {w:.3} of the tolerance");
    }
}

#[test]
fn scipy_reference_results_do_not_depend_on_mode_or_channel_groups() {
    for case in scipy_cases().iter().filter(|c| c.error.is_none()) {
        assert_same_bits(&case.name, modes(1), |mode| {
            bits(&run_case(case, mode).unwrap().into_dyn())
        });
    }
}

/// The recording `make_filters.py syncopy` gave Syncopy: float32, three trials with
/// offsets and a trialinfo column.
fn syncopy_source(doc: &Value) -> InMemoryRecording {
    let data: Array2<f64> = array(&doc["input"]["data"]).into_dimensionality().unwrap();
    let trl: Array2<f64> = array(&doc["input"]["trialdefinition"])
        .into_dimensionality()
        .unwrap();
    let def = TrialDefinition::from_rows(trl.iter().copied().collect(), trl.ncols(), data.nrows())
        .unwrap();
    InMemoryRecording::new(data, doc["samplerate"].as_f64().unwrap(), def)
        .unwrap()
        .with_dtype(DType::Float32)
}

#[test]
fn filters_match_syncopy_2023_9() {
    let doc = fixture("filters_syncopy.json");
    assert_eq!(doc["generator"]["syncopy"], "2023.9");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let input_scale = channel_scale(
        &array(&doc["input"]["data"])
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap(),
    );
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let routine = c["routine"].as_str().unwrap();
        let params = c["params"].as_object().unwrap();
        let (got, schema) = run(
            routine,
            params,
            syncopy_source(&doc),
            ExecutionOptions::parallel(2),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = array(&c["expected"]);
        // Syncopy computes Hilbert transforms in float32 (SciPy's FFT keeps the dtype) and
        // stores float32: 1e-5 relative, and 1e-5 of the input's scale near zero.
        let abs: Vec<f64> = input_scale.iter().map(|s| 1e-5 * s).collect();
        let ch = input_scale.len();
        let per_row = expected.len() / expected.shape()[0];
        let angle = params.get("output") == Some(&Value::from("angle"));
        compare(
            name,
            &got,
            &expected,
            1e-5,
            &abs,
            |i| (i % per_row) / (per_row / ch),
            angle,
        );
        let want_dtype = if c["dtype"] == "complex64" {
            DType::Complex64
        } else {
            DType::Float32
        };
        assert_eq!(schema.dtype, want_dtype, "{name}: dtype");
        assert_eq!(
            schema.samplerate,
            c["samplerate"].as_f64().unwrap(),
            "{name}: samplerate"
        );
        let trl: Array2<f64> = array(&c["trialdefinition"]).into_dimensionality().unwrap();
        let ours = &schema.trialdefinition;
        assert_eq!(ours.len(), trl.nrows(), "{name}: trials");
        let mut syncopy_stacked = 0.0;
        for t in 0..trl.nrows() {
            let (ours, theirs) = (ours.row(t), trl.row(t));
            // Lengths and offsets are Syncopy's (`_resampling_trl_definition`).
            assert_eq!(
                ours[1] - ours[0],
                theirs[1] - theirs[0],
                "{name}: trial {t} length"
            );
            assert_eq!(ours[2], theirs[2], "{name}: trial {t} offset");
            // Syncopy's starts are ceil(start * factor), which can disagree with where its
            // own data stacks the trials (then Syncopy's trial reads its neighbour's
            // samples); trialflow's starts are always where the trial's data is.
            assert_eq!(ours[0], syncopy_stacked, "{name}: trial {t} start");
            if theirs[0] != syncopy_stacked {
                eprintln!(
                    "{name}: Syncopy's trial {t} starts at {} but its data starts at {syncopy_stacked}",
                    theirs[0]
                );
            }
            syncopy_stacked += theirs[1] - theirs[0];
        }
        assert_eq!(ours.trialinfo(2), &[3.0], "{name}: trialinfo kept");
    }
}
