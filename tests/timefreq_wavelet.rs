//! `wavelet` and `superlet` against Syncopy 2023.9, with the reference outputs
//! `fixtures/reference/make_wavelets.py` generated (see the JSON's `generator`): values, time
//! and frequency axes, trial definitions and samplerates, for unequal trials with offsets,
//! `toi` lists on and off the sample grid, foi lists and foilim, Morlet/Paul/DOG, superlets
//! multiplicative and adaptive, every output and `keeptrials: false`. Every case runs
//! sequentially, in parallel and with one channel per task, bit for bit the same; shards
//! merged by the CLI equal a sequential run. Also: calibration (a Morlet transform of a tone
//! peaks at the tone with Syncopy's normalisation; a superlet of order 1 is the Morlet-SL
//! wavelet transform of its `c_1`), bad input refused with exit code 2, and Syncopy's
//! `spy.load` of a result (needs the interop venv, so `#[ignore]`d like `tests/interop.rs`).
//!
//! Tolerances. Syncopy convolves float32 data in float64 but stores every wavelet response
//! as complex64 (superlets raise those to fractional powers in complex64 too), while
//! trialflow computes in f64 and rounds once: values agree to 1e-5 relative, except values
//! tiny next to their neighbours (a zero crossing of `real`, a superlet response near zero),
//! where complex64 rounding of the larger values around dominates: there the bound is
//! `FLOOR` times the largest |W| of the same trial, frequency and channel. Angles are
//! compared modulo 2π to 1e-5 plus the phase error that rounding allows,
//! `1e-6 · max|W| / |W|` (|W| from the same call with `output: abs`).

use std::path::Path;

use ndarray::{Array2, ArrayD, Axis};
use num_complex::Complex64;
use serde_json::{json, Value};
use trialflow::in_memory::InMemoryRecording;
use trialflow::prelude::*;
use trialflow::routines::wavelets::MorletSl;

mod common;
use common::every_mode::{self, bits, modes_keeptrials, run_step};
use common::reference::{self, array, assert_phase_within_float32, assert_within_float32, number};
use common::{read_data, trialflow, write_file, TempDir};

/// The bound for tiny values, relative to the largest |W| of their trial, frequency and
/// channel.
const FLOOR: f64 = 4e-6;

fn fixture() -> Value {
    reference::fixture("timefreq_wavelet.json")
}

fn recording(input: &Value) -> InMemoryRecording {
    every_mode::recording(input, DType::Float32)
}

/// Runs a case in every mode (one channel per task for the grouped sequential one), checks
/// they agree bit for bit, returns the sequential result.
fn run_all_modes(
    routine: &str,
    name: &str,
    params: &Value,
    source: &InMemoryRecording,
    keeptrials: bool,
) -> (ArrayD<f64>, DataSchema) {
    every_mode::run_all_modes(name, modes_keeptrials(1, keeptrials), |mode| {
        run_step(routine, params, source, mode)
    })
}

/// The time axis of every trial, as Syncopy's `SpectralData.time`: `(arange(len) + offset)
/// / samplerate`.
fn time_axes(schema: &DataSchema) -> Vec<Vec<f64>> {
    let def = &schema.trialdefinition;
    (0..schema.n_trials())
        .map(|t| {
            (0..def.trial_len(t))
                .map(|k| (k as f64 + def.offset(t)) / schema.samplerate)
                .collect()
        })
        .collect()
}

/// |W| of a real output value, or of a complex one with a trailing (re, im) axis.
fn magnitudes(a: &ArrayD<f64>, complex: bool) -> ArrayD<f64> {
    if complex {
        a.map_axis(Axis(4), |z| z[0].hypot(z[1]))
    } else {
        a.mapv(f64::abs)
    }
}

/// The largest of `m[rows, 0, f, c]`.
fn peak(m: &ArrayD<f64>, rows: std::ops::Range<usize>, f: usize, c: usize) -> f64 {
    rows.map(|t| m[[t, 0, f, c]])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

#[test]
fn wavelet_and_superlet_match_syncopy() {
    let doc = fixture();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let (mut compared, mut worst, mut floor_used) = (0usize, 0.0f64, 0usize);
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let routine = case["routine"].as_str().unwrap();
        let params = &case["params"];
        let keeptrials = case["keeptrials"].as_bool().unwrap();
        let output = params["output"].as_str().unwrap_or("pow");
        seen.insert(format!("{routine} {output}"));
        let source = recording(&doc["inputs"][case["input"].as_str().unwrap()]);
        let (got, schema) = run_all_modes(routine, name, params, &source, keeptrials);
        let want = array(&case["expected"]);
        assert_eq!(got.shape(), want.shape(), "{name}");

        // Axes exactly as Syncopy's.
        let freq: Vec<f64> = array(&case["freq"]).iter().copied().collect();
        assert_eq!(schema.freq.as_ref().unwrap(), &freq, "{name}: freq");
        assert_eq!(schema.taper.as_ref().unwrap(), &["None".to_string()]);
        assert_eq!(
            schema.samplerate,
            number(&case["samplerate"]),
            "{name}: samplerate"
        );
        {
            // With keeptrials: false, one trial with the mean of the offsets, as Syncopy.
            let trl = array(&case["trialdefinition"]);
            let ours = schema.trialdefinition.values();
            assert_eq!(ours, trl.as_slice().unwrap(), "{name}: trialdefinition");
            let time: Vec<Vec<f64>> = case["time"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| array(t).iter().copied().collect())
                .collect();
            assert_eq!(time_axes(&schema), time, "{name}: time");
        }

        let complex = output == "fourier";
        let magnitude = match case.get("abs") {
            Some(a) => array(a),
            None => magnitudes(&want, complex),
        };
        let def = &schema.trialdefinition;
        for trial in 0..schema.n_trials() {
            let rows = def.samples(trial);
            for f in 0..want.shape()[2] {
                for c in 0..want.shape()[3] {
                    let floor = FLOOR * peak(&magnitude, rows.clone(), f, c);
                    for t in rows.clone() {
                        compared += 1;
                        let at = format!("{name} [{t},0,{f},{c}]");
                        if complex {
                            let d = (got[[t, 0, f, c, 0]] - want[[t, 0, f, c, 0]])
                                .hypot(got[[t, 0, f, c, 1]] - want[[t, 0, f, c, 1]]);
                            let tol = f64::max(1e-5 * magnitude[[t, 0, f, c]], floor);
                            assert!(d <= tol, "{at}: |difference| {d:e} > {tol:e}");
                            worst = worst.max(d / tol);
                            continue;
                        }
                        let (a, b) = (got[[t, 0, f, c]], want[[t, 0, f, c]]);
                        if output == "angle" {
                            let m = magnitude[[t, 0, f, c]];
                            assert_phase_within_float32(&at, a, b, m, floor / FLOOR);
                            continue;
                        }
                        if (a - b).abs() > 1e-5 * b.abs() {
                            floor_used += 1;
                        }
                        worst = worst.max(assert_within_float32(&at, a, b, floor));
                    }
                }
            }
        }
    }
    for needed in [
        "wavelet pow",
        "wavelet abs",
        "wavelet real",
        "wavelet imag",
        "wavelet angle",
        "wavelet absreal",
        "wavelet absimag",
        "wavelet fourier",
        "superlet pow",
        "superlet fourier",
        "superlet angle",
    ] {
        assert!(seen.contains(needed), "the fixture covers {needed}");
    }
    eprintln!(
        "wavelets: {compared} values compared with Syncopy, worst {worst:.3} of the tolerance; {floor_used} tiny values needed the floor"
    );
}

/// A recording of one channel holding `amplitude · sin(2π f t)`.
fn tone(fs: f64, n: usize, f: f64, amplitude: f64) -> InMemoryRecording {
    let data = Array2::from_shape_fn((n, 1), |(i, _)| {
        amplitude * (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin()
    });
    InMemoryRecording::new(data, fs, TrialDefinition::from_trials(&[(0, n, 0.0)], &[])).unwrap()
}

/// A Morlet transform of a tone peaks at the tone's frequency, with the magnitude Syncopy's
/// normalisation gives: `|W| = A √(2π) π^(-1/4) g / (16 π √dt)`, where `g = exp(-(w0 - 2π f
/// s)² / 2)` is the Morlet's response at the scale `s` whose label is `f` (Syncopy's
/// wavelets are not amplitude-calibrated: A = 2 at 1 kHz gives |W|² = 5.57, not A²/2).
#[test]
fn morlet_of_a_tone_peaks_at_the_tone_with_syncopys_normalisation() {
    let (fs, n, f0, amplitude) = (1000.0, 1000, 20.0, 2.0);
    let source = tone(fs, n, f0, amplitude);
    let params = json!({"foilim": [5, 60], "output": "abs"});
    let (got, schema) =
        run_step("wavelet", &params, &source, ExecutionOptions::sequential()).unwrap();
    let freq = schema.freq.unwrap();
    let centre = n / 2;
    let column: Vec<f64> = (0..freq.len()).map(|f| got[[centre, 0, f, 0]]).collect();
    let best = (0..freq.len())
        .max_by(|&a, &b| column[a].total_cmp(&column[b]))
        .unwrap();
    assert!((freq[best] - f0).abs() < 1e-9, "peak at {} Hz", freq[best]);
    // The scale of the label f0 (Morlet, w0 = 6): s = period (w0 + √(w0² + 2)) / (4π).
    let w0 = 6.0f64;
    let pi = std::f64::consts::PI;
    let s = (1.0 / f0) * (w0 + (w0 * w0 + 2.0).sqrt()) / (4.0 * pi);
    let g = (-(w0 - 2.0 * pi * f0 * s).powi(2) / 2.0).exp();
    let expected =
        amplitude * (2.0 * pi).sqrt() * pi.powf(-0.25) * g / (16.0 * pi * (1.0 / fs).sqrt());
    let rel = (column[best] - expected).abs() / expected;
    assert!(rel < 1e-3, "|W| {} vs {expected} ({rel:e})", column[best]);
    // Every interior time point sees the same magnitude.
    for t in [300, 450, 700] {
        let v = got[[t, 0, best, 0]];
        assert!((v - column[best]).abs() < 1e-3 * expected, "t {t}: {v}");
    }
}

/// A superlet of order 1 is one Morlet-SL wavelet transform with `c_1` cycles: equal to a
/// direct time-domain convolution with that wavelet, sampled as Syncopy samples it, and
/// bit-identical to the adaptive superlet of orders 1..1.
#[test]
fn superlet_of_order_one_is_the_morlet_of_c_1() {
    let fs = 200.0;
    let n = 240;
    let data = Array2::from_shape_fn((n, 2), |(i, c)| {
        let t = i as f64 / fs;
        (2.0 * std::f64::consts::PI * (12.0 + 9.0 * c as f64) * t).sin()
            + 0.5 * (2.0 * std::f64::consts::PI * 31.0 * t + c as f64).cos()
            + 0.1 * ((i * 37 % 11) as f64 - 5.0)
    });
    let source = InMemoryRecording::new(
        data.clone(),
        fs,
        TrialDefinition::from_trials(&[(0, n, 0.0)], &[]),
    )
    .unwrap();
    let c_1 = 5.0;
    let foi = [8.0, 21.0, 40.0];
    let params =
        json!({"order_max": 1, "c_1": 5, "foi": foi, "output": "fourier", "polyremoval": null});
    let (got, _) = run_step("superlet", &params, &source, ExecutionOptions::sequential()).unwrap();
    let adaptive = json!({"order_max": 1, "c_1": 5, "foi": foi, "output": "fourier", "polyremoval": null, "adaptive": true});
    let (same, _) = run_step(
        "superlet",
        &adaptive,
        &source,
        ExecutionOptions::sequential(),
    )
    .unwrap();
    assert_eq!(bits(&got), bits(&same));

    let dt = 1.0 / fs;
    let pi = std::f64::consts::PI;
    for (fi, &f) in foi.iter().enumerate() {
        let s = MorletSl::scale_from_period(1.0 / f);
        // _get_superlet_support: arange((-M+1)/2, (M+1)/2) * dt with M = 10 s c / dt.
        let m = 10.0 * s * c_1 / dt;
        let start = (-m + 1.0) / 2.0;
        let len = ((m + 1.0) / 2.0 - start).ceil() as usize;
        let kernel: Vec<Complex64> = (0..len)
            .map(|i| {
                MorletSl { cycles: c_1 }.time((start + i as f64) * dt, s) * (dt.sqrt() / (4.0 * pi))
            })
            .collect();
        let centre = (len - 1) / 2;
        for c in 0..2 {
            let mut largest = 0.0f64;
            let mut worst = 0.0f64;
            for i in 0..n {
                let mut want = Complex64::new(0.0, 0.0);
                for k in 0..n {
                    let j = i as isize + centre as isize - k as isize;
                    if j >= 0 && (j as usize) < len {
                        want += kernel[j as usize] * data[[k, c]];
                    }
                }
                let ours = Complex64::new(got[[i, 0, fi, c, 0]], got[[i, 0, fi, c, 1]]);
                largest = largest.max(want.norm());
                worst = worst.max((ours - want).norm());
            }
            assert!(
                worst <= 1e-12 * largest,
                "{f} Hz, channel {c}: {worst:e} of {largest:e}"
            );
        }
    }
}

/// One pipeline step per routine, each run as its own pipeline.
const STEPS: [&str; 2] = [
    "  - routine: superlet\n    order_max: 4\n    order_min: 2\n    adaptive: true\n    foilim: [5, 40]\n    toi: [0.02, 0.04, 0.06, 0.08, 0.1]\n",
    "  - routine: wavelet\n    wavelet: Paul\n    foi: [7, 13, 29]\n    output: fourier\n",
];

/// Both routines written by the CLI: shards merged in any order and channel groups give the
/// bits of a sequential run.
#[test]
fn shards_and_channel_groups_give_the_sequential_bits() {
    let tmp = TempDir::new("wavelet-shards");
    common::generate(&tmp.path, "in.spy", true);
    for step in STEPS {
        let yaml = |mode: &str, out: &str| {
            format!("input: in.spy\noutput: {out}\nexecution:\n  mode: {mode}\n  workers: 2\nsteps:\n{step}")
        };
        write_file(&tmp.path, "seq.yaml", &yaml("sequential", "seq.spy"));
        write_file(&tmp.path, "p.yaml", &yaml("parallel", "out.spy"));
        let _ = std::fs::remove_dir_all(tmp.join("seq.spy"));
        trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
        let reference = spectral_objects(&tmp.join("seq.spy"));
        assert_eq!(reference.len(), 1);
        for cpw in ["null", "2"] {
            let set = format!("execution.chan_per_worker={cpw}");
            let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
            for shard in ["1/2", "0/2"] {
                trialflow(
                    &tmp.path,
                    &["run", "p.yaml", "--shard", shard, "-q", "--set", &set],
                )
                .ok();
            }
            trialflow(&tmp.path, &["merge", "p.yaml", "-q", "--set", &set]).ok();
            let got = spectral_objects(&tmp.join("out.spy"));
            assert_eq!(got.len(), reference.len());
            for ((name, a), (_, b)) in got.iter().zip(&reference) {
                assert_eq!(a.0, b.0, "cpw {cpw}: {name} shape");
                assert!(
                    a.1 == b.1,
                    "cpw {cpw}: {name} differs from the sequential run"
                );
            }
        }
    }
}

/// A stored object's shape and bits.
type Stored = (Vec<usize>, Vec<u64>);

/// `(file name, (shape, bits))` of every SpectralData object of a container.
fn spectral_objects(container: &Path) -> Vec<(String, Stored)> {
    let mut names: Vec<String> = std::fs::read_dir(container)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".spectral"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let d = read_data(&container.join(&n));
            (n.split_once('_').unwrap().1.to_string(), (d.shape, d.bits))
        })
        .collect()
}

/// Bad parameters and bad trials are refused before anything runs: exit code 2 and one line
/// naming the parameter (and the trial).
#[test]
fn bad_input_is_refused_up_front() {
    let tmp = TempDir::new("wavelet-bad");
    common::generate(&tmp.path, "in.spy", true);
    let cases: &[(&str, &[&str])] = &[
        // generate's trials start at offsets before 0 and are about 0.3 s long at 1 kHz
        (
            "routine: wavelet\n    toi: [0.0, 5.0]",
            &["toi", "trial 0", "5"],
        ),
        (
            "routine: superlet\n    order_max: 2\n    toi: [-3.0, 0.0]",
            &["toi", "trial 0"],
        ),
        (
            "routine: wavelet\n    foi: [10, 600]",
            &["foi", "600", "Nyquist"],
        ),
        (
            "routine: wavelet\n    foilim: [10, 501]",
            &["foilim", "Nyquist"],
        ),
        ("routine: wavelet\n    foi: [0, 10]", &["foi", "> 0"]),
        (
            "routine: superlet\n    order_max: 2\n    foi: [-1, 10]",
            &["foi"],
        ),
        ("routine: superlet\n    order_max: 0", &["order_max"]),
        (
            "routine: superlet\n    order_max: 2\n    order_min: 3",
            &["order_min", "order_max"],
        ),
        (
            "routine: superlet\n    order_max: 2\n    order_min: 0",
            &["order_min"],
        ),
        ("routine: superlet\n    foi: [10]", &["order_max"]),
        (
            "routine: superlet\n    order_max: 3\n    adaptive: true\n    foi: [10]",
            &["foi", "two"],
        ),
        ("routine: wavelet\n    toi: 0.5", &["toi"]),
        (
            "routine: wavelet\n    wavelet: Paul\n    order: 2",
            &["order", "Paul"],
        ),
    ];
    for (step, needles) in cases {
        let yaml = format!("input: in.spy\noutput: out.spy\nsteps:\n  - {step}\n");
        write_file(&tmp.path, "bad.yaml", &yaml);
        let out = trialflow(&tmp.path, &["run", "bad.yaml", "-q"]);
        out.assert_error(2, needles);
        assert!(!tmp.join("out.spy").exists(), "{step}: nothing written");
    }
}

/// Syncopy opens what trialflow writes (`spy.load`, checksums verified) and finds the time
/// axis, frequency axis and values its own `freqanalysis` computes on the same input.
#[test]
#[ignore = "needs TRIALFLOW_INTEROP_PYTHON, the interop venv's python (scripts/test.sh sets it)"]
fn syncopy_loads_the_results_with_its_own_axes_and_values() {
    let python = std::env::var("TRIALFLOW_INTEROP_PYTHON")
        .expect("set TRIALFLOW_INTEROP_PYTHON to the interop venv's python");
    let tmp = TempDir::new("wavelet-load");
    common::generate(&tmp.path, "in.spy", true);
    let steps = [
        (
            "wavelet",
            "{\"wavelet\": \"Paul\", \"order\": 6, \"foi\": [9.0, 21.0, 44.0], \"toi\": [0.0, 0.01, 0.02, 0.03, 0.04, 0.05], \"output\": \"fourier\"}",
        ),
        ("wavelet", "{\"foilim\": [10.0, 30.0], \"output\": \"abs\"}"),
        (
            "superlet",
            "{\"order_max\": 4, \"adaptive\": true, \"foilim\": [20.0, 40.0], \"toi\": [0.0, 0.02, 0.04]}",
        ),
    ];
    for (i, (routine, kwargs)) in steps.iter().enumerate() {
        let params: Value = serde_json::from_str(kwargs).unwrap();
        let mut yaml =
            format!("input: in.spy\noutput: out{i}.spy\nsteps:\n  - routine: {routine}\n");
        for (k, v) in params.as_object().unwrap() {
            yaml.push_str(&format!("    {k}: {v}\n"));
        }
        write_file(&tmp.path, "p.yaml", &yaml);
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let script = format!(
            r#"
import json, numpy as np, syncopy as spy
ours = spy.load("out{i}.spy")
ref = spy.freqanalysis(spy.load("in.spy"), method="{routine}", **json.loads('{kwargs}'))
a, b = np.asarray(ours.data[()]), np.asarray(ref.data[()])
mag = np.abs(b)
print(json.dumps({{
  "dimord": ours.dimord, "shape": [list(a.shape), list(b.shape)],
  "freq": bool(np.array_equal(ours.freq, ref.freq)),
  "samplerate": [float(ours.samplerate), float(ref.samplerate)],
  "time": all(np.array_equal(x, y) for x, y in zip(ours.time, ref.time)) and len(ours.time) == len(ref.time),
  "worst": float(np.max(np.abs(a - b) / np.maximum(mag, 1e-5 * mag.max()))),
}}))
"#
        );
        let out = std::process::Command::new(&python)
            .arg("-c")
            .arg(&script)
            .current_dir(&tmp.path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "{routine}: not JSON ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(doc["dimord"], json!(["time", "taper", "freq", "channel"]));
        assert_eq!(doc["shape"][0], doc["shape"][1], "{routine} {kwargs}");
        assert_eq!(doc["freq"], json!(true), "{routine} {kwargs}");
        assert_eq!(
            doc["samplerate"][0], doc["samplerate"][1],
            "{routine} {kwargs}"
        );
        assert_eq!(doc["time"], json!(true), "{routine} {kwargs}");
        let worst = doc["worst"].as_f64().unwrap();
        assert!(
            worst < 1e-4,
            "{routine} {kwargs}: worst relative difference {worst:e}"
        );
    }
}
