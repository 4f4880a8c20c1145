//! mtmfft against Syncopy 2023.9 and welch / dpss against SciPy 1.18.1, with the reference
//! outputs `fixtures/reference/make_spectral.py` generated (see each JSON's `generator`).
//! Every case runs through the engine sequentially, in parallel and with one channel per
//! task; the three must agree bit for bit.
//!
//! Tolerances. Syncopy stores float32 and complex64 and detrends float32 data in float32,
//! while trialflow computes in f64 and rounds once: values agree to 1e-5 relative, except
//! where a value is tiny next to its spectrum (a demeaned DC bin, a leakage floor), where
//! float32 rounding elsewhere in the FFT dominates. There the bound is 4e-6 of the largest
//! magnitude of the same trial, taper and channel (of pow for pow, of |X| otherwise; the
//! worst seen is about 3e-6, on a demeaned DC bin next to large channel offsets). Angles
//! are compared modulo 2π to 1e-5 plus the phase error float32 rounding allows,
//! `1e-6 · max|X| / |X|` (from the same call with `output: abs`). welch is compared with
//! SciPy in f64 to 1e-10 relative plus 1e-13 of the spectrum's maximum per trial and
//! channel; dpss tapers to 1e-10 of the taper's peak.

use ndarray::{ArrayD, Axis};
use serde_json::Value;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::routines::spectral::{dpss, DpssNorm};
use trialflow::Registry;

mod common;
use common::every_mode::{self, modes_keeptrials, run_step};
use common::reference::{array, assert_phase_within_float32, assert_within_float32, fixture};

/// The bound for tiny values, relative to the peak of their trial, taper and channel.
const FLOOR: f64 = 4e-6;

/// A reference input as a recording stored as the input's `dtype` (float64 unless said).
fn recording(input: &Value) -> InMemoryRecording {
    let dtype = if input["dtype"] == "float32" {
        DType::Float32
    } else {
        DType::Float64
    };
    every_mode::recording(input, dtype)
}

/// Runs a case in every mode (one channel per task for the grouped sequential one), checks
/// they agree bit for bit, returns the sequential result.
fn run_all_modes(
    routine: &str,
    name: &str,
    params: &Value,
    input: &Value,
    keeptrials: bool,
) -> (ArrayD<f64>, DataSchema) {
    let source = recording(input);
    every_mode::run_all_modes(name, modes_keeptrials(1, keeptrials), |mode| {
        run_step(routine, params, &source, mode)
    })
}

/// Largest |value| per (trial, taper, channel) of a `(trials, tapers, freqs, channels)` array.
fn peak(a: &ArrayD<f64>, t: usize, k: usize, c: usize) -> f64 {
    a.index_axis(Axis(0), t)
        .index_axis(Axis(0), k)
        .index_axis(Axis(1), c)
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()))
}

#[test]
fn mtmfft_matches_syncopy() {
    let doc = fixture("spectral_mtmfft.json");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 50);
    let mut compared = 0;
    let mut worst = 0.0f64;
    // values that needed the floor, and their largest difference relative to the peak
    let mut floor_used = 0;
    let mut worst_floor = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let params = &case["params"];
        if params["output"] == "fourier" {
            // Complex output: compared in `mtmfft_fourier_matches_syncopy` once stored.
            continue;
        }
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let keeptrials = case["keeptrials"].as_bool().unwrap();
        let (got, schema) = run_all_modes("mtmfft", name, params, input, keeptrials);
        let want = array(&case["expected"]);
        assert_eq!(got.shape(), want.shape(), "{name}");
        // Axes and trial definition as Syncopy writes them.
        let freq: Vec<f64> = array(&case["freq"]).iter().copied().collect();
        assert_eq!(schema.freq.as_ref().unwrap(), &freq, "{name}: freq");
        let taper: Vec<String> = case["taper"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(schema.taper.as_ref().unwrap(), &taper, "{name}: taper");
        if keeptrials {
            let trl = array(&case["trialdefinition"]);
            let ours = schema.trialdefinition.values();
            assert_eq!(ours, trl.as_slice().unwrap(), "{name}: trialdefinition");
        }
        let output = params["output"].as_str().unwrap_or("pow");
        let magnitude = case.get("abs").map(array);
        let (nt, nk, nf, nc) = (
            want.shape()[0],
            want.shape()[1],
            want.shape()[2],
            want.shape()[3],
        );
        for t in 0..nt {
            for k in 0..nk {
                for c in 0..nc {
                    let floor = FLOOR * peak(&want, t, k, c);
                    let mag_peak = magnitude.as_ref().map(|m| peak(m, t, k, c));
                    for f in 0..nf {
                        let (a, b) = (got[[t, k, f, c]], want[[t, k, f, c]]);
                        let at = format!("{name} [{t},{k},{f},{c}]");
                        compared += 1;
                        if output == "angle" {
                            let m = magnitude.as_ref().unwrap()[[t, k, f, c]];
                            assert_phase_within_float32(&at, a, b, m, mag_peak.unwrap());
                            continue;
                        }
                        if (a - b).abs() > 1e-5 * b.abs() {
                            floor_used += 1;
                            worst_floor = worst_floor.max((a - b).abs() / (floor / FLOOR));
                        }
                        worst = worst.max(assert_within_float32(&at, a, b, floor));
                    }
                }
            }
        }
    }
    eprintln!(
        "mtmfft: {compared} values compared with Syncopy, worst {worst:.3} of the tolerance; {floor_used} tiny values needed the floor (worst difference {worst_floor:.2e} of their spectrum's peak)"
    );
}

#[test]
fn welch_matches_scipy() {
    let doc = fixture("spectral_scipy.json");
    let mut n_cases = 0;
    let mut worst = 0.0f64;
    for case in doc["cases"].as_array().unwrap() {
        if case["routine"] != "welch" {
            continue;
        }
        n_cases += 1;
        let name = case["name"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let (got, schema) = run_all_modes("welch", name, &case["params"], input, true);
        let want = array(&case["expected"]);
        // ours: (trials, 1, freqs, channels); SciPy per trial: (freqs, channels)
        assert_eq!(got.shape()[1], 1, "{name}");
        let got = got.index_axis(Axis(1), 0).to_owned();
        assert_eq!(got.shape(), want.shape(), "{name}");
        let freq: Vec<f64> = array(&case["freq"]).iter().copied().collect();
        let ours = schema.freq.as_ref().unwrap();
        assert_eq!(ours.len(), freq.len(), "{name}");
        for (a, b) in ours.iter().zip(&freq) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{name}: freq {a} vs {b}");
        }
        for t in 0..want.shape()[0] {
            for c in 0..want.shape()[2] {
                let col = want.index_axis(Axis(0), t);
                let scale = col
                    .index_axis(Axis(1), c)
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold(0.0f64, |m, v| m.max(v.abs()));
                for f in 0..want.shape()[1] {
                    let (a, b) = (got[[t, f, c]], want[[t, f, c]]);
                    if b.is_nan() {
                        assert!(a.is_nan(), "{name} [{t},{f},{c}]: expected NaN, got {a}");
                        continue;
                    }
                    let tol = 1e-10 * b.abs() + 1e-13 * scale;
                    worst = worst.max((a - b).abs() / tol);
                    assert!(
                        (a - b).abs() <= tol,
                        "{name} [{t},{f},{c}]: {a} vs {b} (tol {tol:e})"
                    );
                }
            }
        }
    }
    assert!(n_cases >= 30);
    eprintln!("welch: {n_cases} cases, worst {worst:.3} of the tolerance");
}

#[test]
fn welch_reports_scipys_shortened_segments() {
    let doc = fixture("spectral_scipy.json");
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["warnings"].as_array().is_none_or(|w| w.is_empty()))
        .expect("a case where SciPy warns");
    let input = &doc["inputs"][case["input"].as_str().unwrap()];
    let built = Registry::builtin()
        .build("welch", case["params"].as_object().unwrap().clone())
        .unwrap();
    let mut source = recording(input);
    let mut sink = MemorySink::new();
    let step = Step {
        routine: built,
        name: "out".into(),
        save: false,
        dtype: None,
    };
    let pipeline = Pipeline::new(vec![step], ExecutionOptions::sequential());
    let report = run_pipeline(&pipeline, &mut source, &mut sink, None).unwrap();
    let n_warn = case["warnings"].as_array().unwrap().len();
    assert_eq!(report.warnings.len(), n_warn, "{:?}", report.warnings);
    assert!(format!("{:?}", report.warnings).contains("using nperseg"));
}

#[test]
fn dpss_matches_scipy() {
    let doc = fixture("spectral_scipy.json");
    let mut n = 0;
    for case in doc["cases"].as_array().unwrap() {
        if case["routine"] != "dpss" {
            continue;
        }
        n += 1;
        let name = case["name"].as_str().unwrap();
        let m = case["m"].as_u64().unwrap() as usize;
        let nw = case["nw"].as_f64().unwrap();
        let sym = case["sym"].as_bool().unwrap();
        let (k, norm) = match case["kmax"].as_u64() {
            Some(k) => (k as usize, DpssNorm::UnitEnergy),
            None => (1, DpssNorm::Approximate),
        };
        let want = array(&case["expected"]);
        let got = dpss(m, nw, k, sym, norm);
        assert_eq!(got.len(), want.shape()[0], "{name}");
        for (i, taper) in got.iter().enumerate() {
            let row = want.index_axis(Axis(0), i);
            let peak = row.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert_eq!(taper.len(), row.len(), "{name}");
            for (j, (a, b)) in taper.iter().zip(row.iter()).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-10 * peak,
                    "{name} taper {i} [{j}]: {a} vs {b}"
                );
            }
        }
    }
    assert!(n >= 8);
}

/// `output: fourier`: complex64 coefficients, compared by modulus of the difference with the
/// same rule as real outputs (1e-5 relative, or 4e-6 of the largest |X| of the trial, taper
/// and channel).
#[test]
fn mtmfft_fourier_matches_syncopy() {
    let doc = fixture("spectral_mtmfft.json");
    let mut n_cases = 0;
    for case in doc["cases"].as_array().unwrap() {
        if case["params"]["output"] != "fourier" {
            continue;
        }
        n_cases += 1;
        let name = case["name"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let (got, schema) = run_all_modes("mtmfft", name, &case["params"], input, true);
        let want = array(&case["expected"]);
        // MemorySink gives complex results a trailing (re, im) axis, as the fixture does.
        assert_eq!(got.shape(), want.shape(), "{name}");
        assert_eq!(schema.freq.as_ref().unwrap().len(), want.shape()[2]);
        let modulus = |a: &ArrayD<f64>| a.map_axis(Axis(4), |z| z[0].hypot(z[1]));
        let (gm, wm) = (modulus(&got), modulus(&want));
        let dims = wm.shape().to_vec();
        for t in 0..dims[0] {
            for k in 0..dims[1] {
                for c in 0..dims[3] {
                    let floor = FLOOR * peak(&wm, t, k, c);
                    for f in 0..dims[2] {
                        let d = (got[[t, k, f, c, 0]] - want[[t, k, f, c, 0]])
                            .hypot(got[[t, k, f, c, 1]] - want[[t, k, f, c, 1]]);
                        let tol = f64::max(1e-5 * wm[[t, k, f, c]], floor);
                        assert!(
                            d <= tol,
                            "{name} [{t},{k},{f},{c}]: |X| {} vs {}, |difference| {d:e}",
                            gm[[t, k, f, c]],
                            wm[[t, k, f, c]]
                        );
                    }
                }
            }
        }
    }
    assert!(n_cases >= 2);
}
