//! `mtmconvol` against Syncopy 2023.9, with the reference outputs
//! `fixtures/reference/make_timefreq.py mtmconvol` generated (see the JSON's `generator` and
//! `conventions`): every case runs through the engine sequentially, in parallel and with one
//! channel per task, which must agree bit for bit, and must match Syncopy's values, frequency
//! axis, taper labels, trial definition, samplerate and time axis. Lists of times follow what
//! Syncopy documents (Syncopy 2023.9 fails on them; `docs/routines.md`).
//!
//! Tolerances are `tests/spectral_reference.rs`'s: Syncopy stores complex64 before converting
//! while trialflow computes in f64 and rounds once, so values agree to 1e-5 relative, or,
//! for values tiny next to their spectrum, to 4e-6 of the largest magnitude of the same time,
//! taper and channel. Angles are compared modulo 2π to 1e-5 plus `1e-6 · max|X| / |X|`.
//!
//! Then: the calibration (a sine's power), bitwise equality of the CLI's execution modes
//! (sequential, parallel, channel groups, shards), and the bad inputs the dry run refuses.

use ndarray::{ArrayD, Axis};
use serde_json::{json, Value};
use trialflow::in_memory::InMemoryRecording;
use trialflow::prelude::*;

mod common;
use common::every_mode::{self, modes_keeptrials, recording, run_step};
use common::reference::{self, array, assert_phase_within_float32, assert_within_float32, number};
use common::{list, read_data, read_trialdefinition, trialflow, write_file, TempDir};

/// The bound for tiny values, relative to the peak of their time, taper and channel.
const FLOOR: f64 = 4e-6;

fn fixture() -> Value {
    reference::fixture("timefreq_mtmconvol.json")
}

/// Runs a case in every mode (one channel per task for the grouped sequential one), checks
/// they agree bit for bit, returns the sequential result.
fn run_all_modes(case: &Value, input: &Value) -> (ArrayD<f64>, DataSchema) {
    let name = case["name"].as_str().unwrap();
    let keeptrials = case["keeptrials"].as_bool().unwrap();
    let source = recording(input, DType::Float32);
    every_mode::run_all_modes(name, modes_keeptrials(1, keeptrials), |mode| {
        run_step("mtmconvol", &case["params"], &source, mode)
    })
}

/// Largest |value| per (time, taper, channel) of a `(times, tapers, freqs, channels)` array.
fn peak(a: &ArrayD<f64>, t: usize, k: usize, c: usize) -> f64 {
    a.index_axis(Axis(0), t)
        .index_axis(Axis(0), k)
        .index_axis(Axis(1), c)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
}

/// The axes and metadata Syncopy wrote: frequencies, taper labels, trial definition,
/// samplerate and each trial's time axis, all exactly.
fn check_axes(case: &Value, schema: &DataSchema) {
    let name = case["name"].as_str().unwrap();
    let freq: Vec<f64> = array(&case["freq"]).iter().copied().collect();
    assert_eq!(schema.freq.as_ref().unwrap(), &freq, "{name}: freq");
    let taper: Vec<&str> = case["taper"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(schema.taper.as_ref().unwrap(), &taper, "{name}: taper");
    assert_eq!(
        schema.samplerate,
        number(&case["samplerate"]),
        "{name}: samplerate"
    );
    let def = &schema.trialdefinition;
    if !case["keeptrials"].as_bool().unwrap() {
        // One trial, as Syncopy, with the mean of the trials' offsets.
        assert_eq!(def.len(), 1, "{name}");
        assert_eq!(
            def.trial_len(0),
            case["shape"][0].as_u64().unwrap() as usize
        );
    }
    let trl = array(&case["trialdefinition"]);
    assert_eq!(
        def.values(),
        trl.as_slice().unwrap(),
        "{name}: trialdefinition"
    );
    for (trial, want) in case["time"].as_array().unwrap().iter().enumerate() {
        let want: Vec<f64> = array(want).iter().copied().collect();
        let offset = def.offset(trial);
        let ours: Vec<f64> = (0..def.trial_len(trial))
            .map(|i| (i as f64 + offset) / schema.samplerate)
            .collect();
        assert_eq!(ours, want, "{name}: time of trial {trial}");
    }
}

#[test]
fn mtmconvol_matches_syncopy() {
    let doc = fixture();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let (mut compared, mut worst, mut n_cases) = (0, 0.0f64, 0);
    for case in cases {
        let params = &case["params"];
        if params["output"] == "fourier" {
            continue; // in `mtmconvol_fourier_matches_syncopy`
        }
        n_cases += 1;
        let name = case["name"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let (got, schema) = run_all_modes(case, input);
        let want = array(&case["expected"]);
        assert_eq!(got.shape(), want.shape(), "{name}");
        check_axes(case, &schema);
        let angle = params["output"] == "angle";
        let magnitude = case.get("abs").map(array);
        let dims = want.shape().to_vec();
        for t in 0..dims[0] {
            for k in 0..dims[1] {
                for c in 0..dims[3] {
                    let floor = FLOOR * peak(&want, t, k, c);
                    let mag_peak = magnitude.as_ref().map(|m| peak(m, t, k, c));
                    for f in 0..dims[2] {
                        let (a, b) = (got[[t, k, f, c]], want[[t, k, f, c]]);
                        let at = format!("{name} [{t},{k},{f},{c}]");
                        compared += 1;
                        if angle {
                            let m = magnitude.as_ref().unwrap()[[t, k, f, c]];
                            assert_phase_within_float32(&at, a, b, m, mag_peak.unwrap());
                            continue;
                        }
                        worst = worst.max(assert_within_float32(&at, a, b, floor));
                    }
                }
            }
        }
    }
    assert!(n_cases >= 28);
    eprintln!(
        "mtmconvol: {n_cases} cases, {compared} values compared with Syncopy, worst {worst:.3} of the tolerance"
    );
}

/// `output: fourier`: complex coefficients, compared by the modulus of the difference with
/// the rule of the real outputs.
#[test]
fn mtmconvol_fourier_matches_syncopy() {
    let doc = fixture();
    let mut n_cases = 0;
    for case in doc["cases"].as_array().unwrap() {
        if case["params"]["output"] != "fourier" {
            continue;
        }
        n_cases += 1;
        let name = case["name"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let (got, schema) = run_all_modes(case, input);
        let want = array(&case["expected"]);
        // MemorySink gives complex results a trailing (re, im) axis, as the fixture does.
        assert_eq!(got.shape(), want.shape(), "{name}");
        check_axes(case, &schema);
        let modulus = |a: &ArrayD<f64>| a.map_axis(Axis(4), |z| z[0].hypot(z[1]));
        let wm = modulus(&want);
        let dims = wm.shape().to_vec();
        for t in 0..dims[0] {
            for k in 0..dims[1] {
                for c in 0..dims[3] {
                    let floor = FLOOR * peak(&wm, t, k, c);
                    for f in 0..dims[2] {
                        let d = (got[[t, k, f, c, 0]] - want[[t, k, f, c, 0]])
                            .hypot(got[[t, k, f, c, 1]] - want[[t, k, f, c, 1]]);
                        let tol = f64::max(1e-5 * wm[[t, k, f, c]], floor);
                        assert!(d <= tol, "{name} [{t},{k},{f},{c}]: |difference| {d:e}");
                    }
                }
            }
        }
    }
    assert!(n_cases >= 2);
}

/// Syncopy 2023.9 fails on every list of times in the fixture; the fixture records how, so
/// a newer Syncopy that computes them shows up here when the fixture is regenerated.
#[test]
fn syncopy_2023_9_fails_on_lists_of_times() {
    let doc = fixture();
    let listed: Vec<&Value> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["params"]["toi"].is_array())
        .collect();
    assert!(listed.len() >= 4);
    for case in listed {
        let note = case["syncopy_list"].as_str().unwrap();
        assert!(note.starts_with("failed"), "{}: {note}", case["name"]);
    }
}

/// Channels x samples of `amp · sin(2π f0 t)` in f64 for one trial.
fn sine_recording(n: usize, fs: f64, amp: f64, f0: f64) -> InMemoryRecording {
    let data = ndarray::Array2::from_shape_fn((n, 2), |(i, c)| {
        amp * (2.0 * std::f64::consts::PI * f0 * i as f64 / fs + c as f64).sin()
    });
    InMemoryRecording::new(data, fs, TrialDefinition::from_trials(&[(0, n, 0.0)], &[]))
        .unwrap()
        .with_dtype(DType::Float64)
}

/// A sine of amplitude A at a bin's frequency, hann window: at every time point whose
/// window lies inside the trial, the sine's bin with its two neighbours hold A²/2, the
/// sine's power, and the bin itself about A²/3 (hann's peak; SciPy's symmetric hann of L
/// samples sums to (L - 1)/2, not L/2, which moves the peak by up to 1/L).
#[test]
fn a_sine_has_power_a2_over_2_at_every_interior_time() {
    let (fs, amp, f0, n) = (1000.0, 3.0, 50.0, 1000);
    let half_a2 = amp * amp / 2.0;
    let params = json!({"t_ftimwin": 0.2, "toi": "all"});
    let (out, schema) = run_step(
        "mtmconvol",
        &params,
        &sine_recording(n, fs, amp, f0),
        ExecutionOptions::sequential(),
    )
    .unwrap();
    let freq = schema.freq.unwrap();
    let k = freq.iter().position(|&f| f == f0).unwrap();
    assert_eq!(out.shape(), &[n, 1, freq.len(), 2]);
    let l = 200;
    let mut interior = 0;
    for t in l / 2..n - l / 2 {
        for c in 0..2 {
            let p = |i: usize| out[[t, 0, i, c]];
            let band = p(k - 1) + p(k) + p(k + 1);
            assert!((band - half_a2).abs() < 2e-5 * half_a2, "t {t}: {band}");
            let third = amp * amp / 3.0;
            assert!(
                (p(k) - third).abs() < 1.5 / l as f64 * third,
                "t {t}: {}",
                p(k)
            );
        }
        interior += 1;
    }
    assert_eq!(interior, n - l);
    // Near the edges the window holds zeros past the trial: less power.
    assert!(out[[0, 0, k, 0]] < 0.75 * half_a2);
}

/// A pipeline reading `in.spy` with one mtmconvol step.
fn pipeline(mode: &str, cpw: &str, step: &str) -> String {
    format!(
        "input: in.spy\noutput: out.spy\nexecution:\n  mode: {mode}\n  workers: 2\n  chan_per_worker: {cpw}\nsteps:\n  - routine: mtmconvol\n{step}"
    )
}

fn spectral_file(container: &std::path::Path) -> std::path::PathBuf {
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with(".spectral"))
        .unwrap_or_else(|| panic!("no .spectral in {}", container.display()));
    container.join(name)
}

/// The CLI's modes write the same bits: sequential, parallel, channel groups and shards
/// merged, for an overlap, every sample and a list of times, on trials of unequal lengths.
#[test]
fn every_execution_mode_writes_the_same_bits() {
    let tmp = TempDir::new("mtmconvol_modes");
    common::generate(&tmp.path, "in.spy", true);
    let steps = [
        "    t_ftimwin: 0.1\n    toi: 0.5\n    foilim: [0, 200]\n",
        "    t_ftimwin: 0.05\n    toi: all\n    tapsmofrq: 30\n    keeptapers: true\n    foilim: [20, 100]\n",
        "    t_ftimwin: 0.08\n    toi: [0.0, 0.02, 0.05, 0.11]\n    output: fourier\n    foi: [10, 40]\n",
    ];
    for step in steps {
        let mut reference: Option<(Vec<u64>, Vec<f64>)> = None;
        let mut compare = |label: &str, container: &std::path::Path| {
            let file = spectral_file(container);
            let data = read_data(&file);
            let (_, trl) = read_trialdefinition(&file);
            match &reference {
                None => reference = Some((data.bits, trl)),
                Some((b, t)) => {
                    assert!(*b == data.bits, "{label}: {step}");
                    assert_eq!(*t, trl, "{label}: {step}");
                }
            }
        };
        for (mode, cpw) in [
            ("sequential", "null"),
            ("parallel", "null"),
            ("parallel", "2"),
        ] {
            let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
            write_file(&tmp.path, "p.yaml", &pipeline(mode, cpw, step));
            trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
            compare(
                &format!("{mode}, chan_per_worker {cpw}"),
                &tmp.join("out.spy"),
            );
        }
        let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
        write_file(&tmp.path, "p.yaml", &pipeline("parallel", "null", step));
        for shard in ["1/3", "0/3", "2/3"] {
            trialflow(&tmp.path, &["run", "p.yaml", "--shard", shard, "-q"]).ok();
        }
        trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
        compare("3 shards", &tmp.join("out.spy"));
    }
}

/// Bad parameters for the input are refused by the dry run (exit 2, one line naming the
/// parameter and, where one trial is the reason, the trial), before anything is written.
#[test]
fn bad_input_is_refused_up_front() {
    let tmp = TempDir::new("mtmconvol_bad");
    common::generate(&tmp.path, "in.spy", true);
    let cases: &[(&str, &[&str])] = &[
        (
            "    t_ftimwin: 2.0\n",
            &["t_ftimwin", "trial", "longer than the trial"],
        ),
        ("    t_ftimwin: 0\n", &["t_ftimwin", "> 0"]),
        ("    t_ftimwin: -0.1\n", &["t_ftimwin"]),
        ("    t_ftimwin: 0.0001\n", &["t_ftimwin", "one sample"]),
        (
            "    t_ftimwin: 0.1\n    toi: [0.0, 50.0]\n",
            &["toi", "trial 0", "outside the trial's time axis"],
        ),
        ("    t_ftimwin: 0.1\n    foi: [10, 600]\n", &["foi", "600"]),
        ("    t_ftimwin: 0.1\n    foilim: [10, 501]\n", &["foilim"]),
        ("    t_ftimwin: 0.02\n    tapsmofrq: 400\n", &["tapsmofrq"]),
    ];
    for (step, needles) in cases {
        write_file(&tmp.path, "p.yaml", &pipeline("sequential", "null", step));
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).assert_error(2, needles);
        assert!(!tmp.join("out.spy").exists(), "{step}");
        assert!(!tmp.join("out.spy.partial").exists(), "{step}");
    }
}
