//! `mean`, `var`, `std` and `median`: parity with Syncopy 2023.9's `spy.mean/var/std/median(data,
//! dim)` (over trials and over time) on the cases `fixtures/reference/make_statistics.py
//! summary` generated (offsets, NaN, one trial, unequal trials), calibration against a
//! direct computation, the same bits in every execution mode (sequential, parallel, channel
//! groups, shards of any split with their merge), and refusals through the command line.
//!
//! Tolerance. Syncopy accumulates float32 trials in float32 (the mean, then the squared
//! deviations from it); trialflow folds `x` and `x²` in f64 and rounds the result once. The
//! float32 sums carry about `n · 2^-24` of the largest magnitude involved, so a value agrees
//! to `1e-5` relative plus `n · 2^-24 · level` for the mean and `n · 2^-24 · level · 2|x - mean|`
//! for the variance (`level` the largest |x| the element is computed from). A median is one
//! of the float32 inputs (or the mean of two), so it agrees to one float32 rounding.

mod common;

use std::path::Path;

use common::every_mode::{self, run_step};
use common::reference::{self, array, trials};
use common::runs::run_shards;
use common::*;
use ndarray::{Array2, ArrayD, Axis};
use serde_json::{json, Value};
use trialflow::in_memory::InMemoryRecording;
use trialflow::prelude::*;
use trialflow::synthetic::{generate_recording, GenerateOptions};

fn fixture() -> Value {
    reference::fixture("statistics_summary.json")
}

fn recording(input: &Value) -> InMemoryRecording {
    every_mode::recording(input, DType::Float32)
}

/// Every mode (two channels per task for the grouped sequential one) gives the same bits
/// and schema; returns the sequential result.
fn run_all_modes(
    name: &str,
    routine: &str,
    params: &Value,
    source: &InMemoryRecording,
) -> (ArrayD<f64>, DataSchema) {
    every_mode::run_all_modes(name, every_mode::modes(2), |mode| {
        run_step(routine, params, source, mode)
    })
}

/// The trials of `input` as (trial, sample, channel).
fn stacked_trials(input: &Value) -> Vec<Array2<f64>> {
    let data: Array2<f64> = array(&input["data"]).into_dimensionality().unwrap();
    trials(input)
        .iter()
        .map(|&(a, b, _)| data.slice(ndarray::s![a..b, ..]).to_owned())
        .collect()
}

/// The values one result element is computed from: across trials at (sample, channel) for
/// `dim: trials`, along trial `row`'s samples of channel `c` for `dim: time`; NaN left out.
fn sources(dim: &str, trials: &[Array2<f64>], row: usize, c: usize) -> Vec<f64> {
    let values: Vec<f64> = match dim {
        "trials" => trials.iter().map(|t| t[[row, c]]).collect(),
        _ => trials[row].column(c).to_vec(),
    };
    values.into_iter().filter(|v| !v.is_nan()).collect()
}

#[test]
fn mean_var_std_and_median_match_syncopy() {
    let doc = fixture();
    let mut compared = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let routine = case["routine"].as_str().unwrap();
        let dim = case["params"]["dim"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let trials = stacked_trials(input);
        let (got, schema) = run_all_modes(name, routine, &case["params"], &recording(input));
        let expected = array(&case["expected"]);
        assert_eq!(got.shape(), expected.shape(), "{name}");
        assert_eq!(
            schema.trialdefinition.values(),
            array(&case["trialdefinition"])
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            "{name}: trial definition"
        );
        let eps32 = f64::powi(2.0, -24);
        for ((row, c), &want) in expected
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap()
            .indexed_iter()
        {
            let have = got[[row, c]];
            if want.is_nan() {
                assert!(have.is_nan(), "{name} [{row}, {c}]: {have}, Syncopy NaN");
                continue;
            }
            let values = sources(dim, &trials, row, c);
            let n = values.len() as f64;
            let level = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let mean = values.iter().sum::<f64>() / n;
            let spread = values.iter().fold(0.0f64, |m, v| m.max((v - mean).abs()));
            let float32 = n * eps32 * level;
            let slack = match routine {
                "mean" => float32,
                "median" => eps32 * level,
                "var" => float32 * 2.0 * spread,
                // d sqrt(v) = dv / (2 sqrt(v)), and sqrt(v) >= spread / sqrt(n).
                _ => float32 * spread / (spread / n.sqrt()).max(f64::MIN_POSITIVE),
            };
            assert!(
                (have - want).abs() <= 1e-5 * want.abs() + slack,
                "{name} [{row}, {c}]: {have} vs Syncopy {want} (slack {slack:e})"
            );
            compared += 1;
        }
    }
    assert!(compared > 700, "{compared} values compared");
}

#[test]
fn the_statistics_equal_a_direct_two_pass_computation_and_one_trial_has_no_spread() {
    let (trials, len, channels) = (9, 50, 3);
    let data = Array2::from_shape_fn((trials * len, channels), |(i, c)| {
        let (t, s) = ((i / len) as f64, (i % len) as f64);
        1e3 * c as f64 + (0.21 * s + 0.7 * t + c as f64).sin() * (1.0 + 0.1 * t)
    });
    let source = InMemoryRecording::contiguous(data.clone(), 100.0, &vec![len; trials]).unwrap();
    let params = json!({"dim": "trials"});
    let (mean, _) = run_all_modes("mean", "mean", &params, &source);
    let (var, _) = run_all_modes("var", "var", &params, &source);
    let (std, _) = run_all_modes("std", "std", &params, &source);
    for s in 0..len {
        for c in 0..channels {
            let xs: Vec<f64> = (0..trials).map(|t| data[[t * len + s, c]]).collect();
            let m = xs.iter().sum::<f64>() / trials as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / trials as f64;
            assert!(
                (mean[[s, c]] - m).abs() <= 1e-12 * m.abs().max(1.0),
                "mean {s} {c}"
            );
            // The one-pass form loses (mean / std)² · 1e-16 relative: about 1e-9 here.
            assert!(
                (var[[s, c]] - v).abs() <= 1e-8 * v + 1e-12,
                "var {s} {c}: {} vs {v}",
                var[[s, c]]
            );
            assert_eq!(
                std[[s, c]].to_bits(),
                var[[s, c]].sqrt().to_bits(),
                "std {s} {c}"
            );
        }
    }
    let one =
        InMemoryRecording::contiguous(data.slice(ndarray::s![..len, ..]).to_owned(), 100.0, &[len])
            .unwrap();
    let (var, _) = run_all_modes("var of one trial", "var", &params, &one);
    assert!(
        var.iter().all(|&v| v == 0.0),
        "a single trial has exactly zero variance"
    );
    let (mean, _) = run_all_modes("mean of one trial", "mean", &params, &one);
    let first = data.slice(ndarray::s![..len, ..]);
    assert_eq!(mean.index_axis(Axis(0), 0).len(), channels);
    assert!(
        mean.iter().zip(first.iter()).all(|(a, b)| a == b),
        "the mean of one trial is the trial"
    );
}

// --- files, the command line, shards and merge ------------------------------------------

fn generated(dir: &Path, unequal: bool) -> std::path::PathBuf {
    init();
    let opts = GenerateOptions {
        trials: 13,
        samples: 120,
        channels: 4,
        samplerate: 500.0,
        seed: 9,
        dtype: DType::Float32,
        unequal,
        overwrite: false,
    };
    generate_recording(&dir.join("in.spy"), &opts).expect("the recording is written")
}

fn result_file(container: &Path, step: &str) -> std::path::PathBuf {
    let suffix = format!("_{step}.analog");
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with(&suffix))
        .unwrap_or_else(|| panic!("{}: {:?}", container.display(), list(container)));
    container.join(name)
}

fn write_pipeline(dir: &Path, out: &str, execution: &str) {
    write_file(
        dir,
        "p.yaml",
        &format!(
            "input: in.spy\noutput: {out}\nexecution:\n{execution}steps:\n  - routine: zscore\n    name: z\n    save: true\n  - routine: std\n    dim: trials\n"
        ),
    );
}

#[test]
fn every_mode_shards_and_their_merge_give_the_same_bits() {
    let tmp = TempDir::new("stats-modes");
    generated(&tmp.path, false);
    write_pipeline(&tmp.path, "seq.spy", "  mode: sequential\n");
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let reference = read_data(&result_file(&tmp.join("seq.spy"), "std"));
    assert_eq!(reference.dtype, "float32");
    assert_eq!(reference.shape, [120, 4]);
    let (def_shape, _) = read_trialdefinition(&result_file(&tmp.join("seq.spy"), "std"));
    assert_eq!(def_shape[0], 1, "one trial");
    let z = read_data(&result_file(&tmp.join("seq.spy"), "z"));
    assert_eq!(
        z.shape,
        [13 * 120, 4],
        "the earlier step is saved per trial"
    );

    let runs: [(&str, &str); 2] = [
        ("parallel", "  mode: parallel\n  workers: 2\n"),
        (
            "channel groups",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 3\n",
        ),
    ];
    for (i, (what, execution)) in runs.iter().enumerate() {
        let out = format!("m{i}.spy");
        write_pipeline(&tmp.path, &out, execution);
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let got = read_data(&result_file(&tmp.join(&out), "std"));
        assert!(got.bits == reference.bits, "{what} differs from sequential");
    }
    for count in [2usize, 5] {
        let out = format!("s{count}.spy");
        write_pipeline(&tmp.path, &out, "  mode: parallel\n  workers: 1\n");
        run_shards(&tmp.path, "p.yaml", count);
        trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
        let got = read_data(&result_file(&tmp.join(&out), "std"));
        assert!(
            got.bits == reference.bits,
            "{count} shards + merge differ from sequential"
        );
    }
}

#[test]
fn bad_inputs_are_refused_up_front_on_one_line() {
    let tmp = TempDir::new("stats-bad");
    generated(&tmp.path, true);
    let cases: [(&str, &[&str]); 7] = [
        (
            "input: in.spy\noutput: a.spy\nsteps:\n  - routine: mean\n    dim: trials\n",
            &["mean", "same shape", "trial 0", "trial 1"],
        ),
        (
            "input: in.spy\noutput: b.spy\nsteps:\n  - routine: var\n    dim: freq\n",
            &["var", "dim: freq", "trials, time or channel"],
        ),
        (
            "input: in.spy\noutput: c.spy\nsteps:\n  - routine: std\n    dim: trials\n    ddof: 1\n",
            &["std", "ddof"],
        ),
        (
            "input: in.spy\noutput: d.spy\nselect:\n  trials: [0, 0]\nsteps:\n  - routine: mean\n    dim: trials\n  - routine: zscore\n",
            &["step 2 (zscore)", "step 1 (mean)", "reduces across trials"],
        ),
        (
            "input: in.spy\noutput: e.spy\nsteps:\n  - routine: median\n    size: 5\n",
            &["median", "size", "median_filter"],
        ),
        (
            "input: in.spy\noutput: f.spy\nselect:\n  trials: [0, 0]\nsteps:\n  - routine: median\n    dim: trials\n",
            &["median over trials", "every trial in memory", "dim: time"],
        ),
        (
            "input: in.spy\noutput: g.spy\nsteps:\n  - routine: mean\n",
            &["mean", "needs dim"],
        ),
    ];
    for (yaml, needles) in cases {
        write_file(&tmp.path, "bad.yaml", yaml);
        let out = trialflow(&tmp.path, &["run", "bad.yaml", "-q"]);
        out.assert_error(2, needles);
    }
    assert!(list(&tmp.path)
        .iter()
        .all(|n| !n.ends_with(".spy") || n == "in.spy"));
}

/// `execution.mode: mpi` under a real `mpirun` (2 and 3 ranks): the ranks fold their slices
/// of the trials and rank 0 merges them to the sequential bits. Built only with
/// `--features mpi`, like tests/mpi.rs (scripts/test.sh runs it), since it needs OpenMPI.
#[cfg(feature = "mpi")]
#[test]
fn mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("stats-mpi");
    generated(&tmp.path, false);
    write_pipeline(&tmp.path, "seq.spy", "  mode: sequential\n");
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let reference = read_data(&result_file(&tmp.join("seq.spy"), "std"));
    for ranks in [2, 3] {
        let out = format!("mpi{ranks}.spy");
        write_pipeline(&tmp.path, &out, "  mode: mpi\n");
        runs::mpirun(Path::new(BIN), &tmp.path, ranks, &["run", "p.yaml"]).ok();
        let got = read_data(&result_file(&tmp.join(&out), "std"));
        assert!(
            got.bits == reference.bits,
            "{ranks} MPI ranks differ from sequential"
        );
    }
}
