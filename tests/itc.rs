//! `itc`, the first trial-reducing routine: parity with Syncopy 2023.9's `spy.itc` on the
//! cases `fixtures/reference/make_statistics.py` generated, its calibration properties, its
//! refusals through the command line, and the same bits in every execution mode (sequential,
//! parallel, channel groups, shards of any split with their merge, a resume after a kill).
//!
//! Tolerance. Syncopy reads complex64 coefficients and sums the unit vectors in complex64;
//! trialflow sums them in f64 and rounds the result once. Values agree to 1e-5 relative
//! plus the phase error float32 coefficients carry, `1e-6 (1 + max|X| / min|X|)` with
//! min|X| the smallest coefficient of that frequency and channel over trials and tapers
//! (the bound spectral_reference.rs uses for angles). Where min|X| is below 1e-4 of its
//! channel's largest (a demeaned DC bin, whose phase is float32 rounding noise in Syncopy
//! and f64 rounding noise here), only the range [0, 1] (or NaN for an exact 0) is checked.

mod common;

use std::path::Path;
use std::time::Duration;

use common::every_mode;
use common::reference::{self, array, number};
use common::runs::run_shards;
use common::*;
use ndarray::{Array2, ArrayD};
use serde_json::{json, Value};
use trialflow::engine::RunScope;
use trialflow::hdf5::{WriteMode, WriterOptions};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::synthetic::{generate_recording, GenerateOptions};
use trialflow::{Registry, RunReport};

fn fixture() -> Value {
    reference::fixture("statistics_itc.json")
}

fn recording(input: &Value) -> InMemoryRecording {
    every_mode::recording(input, DType::Float32)
}

/// mtmfft with `params` (output: fourier) followed by itc.
fn pipeline(params: &Value, execution: ExecutionOptions) -> Pipeline {
    let registry = Registry::builtin();
    let spectrum = registry
        .build("mtmfft", params.as_object().unwrap().clone())
        .unwrap();
    let itc = registry.build("itc", Default::default()).unwrap();
    Pipeline::new(
        vec![
            Step {
                routine: spectrum,
                name: "spectrum".into(),
                save: false,
                dtype: None,
            },
            Step {
                routine: itc,
                name: "itc".into(),
                save: false,
                dtype: None,
            },
        ],
        execution,
    )
}

fn run_memory(
    params: &Value,
    source: &InMemoryRecording,
    execution: ExecutionOptions,
) -> Result<(ArrayD<f64>, DataSchema), Error> {
    let mut sink = MemorySink::new();
    run_pipeline(
        &pipeline(params, execution),
        &mut source.clone(),
        &mut sink,
        None,
    )?;
    let object = sink.object("itc").unwrap();
    let schema = object.metadata.as_ref().unwrap().schema.clone();
    Ok((object.data.clone().unwrap(), schema))
}

/// Every mode (two channels per task for the grouped sequential one) gives the same bits
/// and schema; returns the sequential result.
fn run_all_modes(
    name: &str,
    params: &Value,
    source: &InMemoryRecording,
) -> (ArrayD<f64>, DataSchema) {
    every_mode::run_all_modes(name, every_mode::modes(2), |mode| {
        run_memory(params, source, mode)
    })
}

#[test]
fn itc_matches_syncopy() {
    let doc = fixture();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let source = recording(&doc["inputs"][case["input"].as_str().unwrap()]);
        let (got, schema) = run_all_modes(name, &case["params"], &source);
        let expected = array(&case["expected"]);
        assert_eq!(got.shape(), expected.shape(), "{name}: shape");
        assert_eq!(schema.dtype, DType::Float32, "{name}: dtype");
        let freq: Vec<f64> = case["freq"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        assert_eq!(schema.freq.as_deref(), Some(&freq[..]), "{name}: freq");
        let taper: Vec<String> = serde_json::from_value(case["taper"].clone()).unwrap();
        assert_eq!(schema.taper.as_deref(), Some(&taper[..]), "{name}: taper");
        let trialdef: Vec<f64> = array(&case["trialdefinition"]).iter().copied().collect();
        assert_eq!(
            schema.trialdefinition.values(),
            &trialdef[..],
            "{name}: trials"
        );

        let min_abs = array(&case["min_abs"]);
        let max_abs: Vec<f64> = case["max_abs"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        let (mut compared, mut skipped, mut worst) = (0, 0, 0.0f64);
        for ((idx, &want), &have) in expected.indexed_iter().zip(got.iter()) {
            let (f, c) = (idx[2], idx[3]);
            if want.is_nan() {
                assert!(have.is_nan(), "{name} {idx:?}: Syncopy NaN, got {have}");
                continue;
            }
            if min_abs[[f, c]] < 1e-4 * max_abs[c] {
                // Phase noise; a coefficient that is exactly 0 in f64 has none (NaN).
                assert!(
                    have.is_nan() || (0.0..=1.0 + 1e-6).contains(&have),
                    "{name} {idx:?}: {have}"
                );
                skipped += 1;
                continue;
            }
            assert!(have.is_finite(), "{name} {idx:?}: {have}");
            // Float32 coefficients carry a phase error of about 1e-6 max|X| / |X| (as in
            // spectral_reference.rs); the mean of unit vectors moves at most by that much.
            let bound = 1e-5 * want.abs() + 1e-6 * (1.0 + max_abs[c] / min_abs[[f, c]]);
            assert!(
                (have - want).abs() <= bound,
                "{name} {idx:?}: {have} vs Syncopy {want}"
            );
            compared += 1;
            worst = worst.max((have - want).abs() / want.abs().max(1e-3));
        }
        eprintln!("{name}: {compared} compared, {skipped} phase-noise elements, largest relative difference {worst:.1e}");
        assert!(
            compared > 10 * skipped.max(1),
            "{name}: {compared} compared, {skipped} skipped"
        );
    }
}

#[test]
fn itc_of_a_zero_channel_is_nan_like_syncopy() {
    let doc = fixture();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["input"] == "zero")
        .unwrap();
    let source = recording(&doc["inputs"]["zero"]);
    let (got, _) = run_memory(&case["params"], &source, ExecutionOptions::sequential()).unwrap();
    let channel1 = got.index_axis(ndarray::Axis(3), 1);
    assert!(channel1.iter().all(|v| v.is_nan()), "{channel1}");
    let channel0 = got.index_axis(ndarray::Axis(3), 0);
    assert!(channel0.iter().all(|v| v.is_finite()), "{channel0}");
}

fn noise(trials: usize, len: usize, channels: usize, seed: u64) -> Array2<f64> {
    // A small xorshift: the test needs independent phases, not a particular generator.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_simple_fn((trials * len, channels), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}

/// Identical trials have identical phases: ITC 1 with one taper. With several tapers
/// Syncopy averages the complex per-taper means before the magnitude, so identical trials
/// give `|mean over tapers of X_k/|X_k||` of one trial, which is checked too.
#[test]
fn itc_of_identical_trials_is_one() {
    let (trials, len) = (5, 128);
    let one = noise(1, len, 3, 7);
    let data = Array2::from_shape_fn((trials * len, 3), |(i, c)| one[[i % len, c]] + 0.25);
    let source = InMemoryRecording::contiguous(data, 256.0, &vec![len; trials]).unwrap();
    for params in [
        json!({"output": "fourier", "polyremoval": null}),
        json!({"output": "fourier", "polyremoval": null, "taper": null}),
    ] {
        let (got, _) = run_all_modes("identical", &params, &source);
        for v in got.iter() {
            assert!((v - 1.0).abs() < 1e-12, "{params}: {v}");
        }
    }
    let params =
        json!({"output": "fourier", "tapsmofrq": 6.0, "keeptapers": true, "polyremoval": null});
    let (got, _) = run_all_modes("identical, dpss", &params, &source);
    let mut sink = MemorySink::new();
    let spectrum = Pipeline::new(
        vec![Step {
            routine: Registry::builtin()
                .build("mtmfft", params.as_object().unwrap().clone())
                .unwrap(),
            name: "x".into(),
            save: false,
            dtype: Some(DType::Complex128),
        }],
        ExecutionOptions::sequential(),
    );
    run_pipeline(&spectrum, &mut source.clone(), &mut sink, None).unwrap();
    // Trial 0's coefficients, (taper, freq, channel) as (re, im) pairs.
    let x = sink.object("x").unwrap().data.clone().unwrap();
    let tapers = x.shape()[1];
    assert!(tapers > 1);
    for f in 0..x.shape()[2] {
        for c in 0..3 {
            let mut mean = Complex64::new(0.0, 0.0);
            for k in 0..tapers {
                let z = Complex64::new(x[[0, k, f, c, 0]], x[[0, k, f, c, 1]]);
                mean += z / z.norm();
            }
            let want = (mean / tapers as f64).norm();
            let have = got[[0, 0, f, c]];
            // The engine's result is rounded to float32 (the input's precision).
            assert!((have - want).abs() < 1e-6, "{f} {c}: {have} vs {want}");
        }
    }
}

#[test]
fn itc_of_random_phases_tends_to_zero() {
    for trials in [16usize, 144] {
        let len = 100;
        let data = noise(trials, len, 2, trials as u64);
        let source = InMemoryRecording::contiguous(data, 100.0, &vec![len; trials]).unwrap();
        let params = json!({"output": "fourier", "foilim": [2.0, 48.0]});
        let (got, _) = run_memory(&params, &source, ExecutionOptions::parallel(2)).unwrap();
        let scale = 1.0 / (trials as f64).sqrt();
        let mean = got.mean().unwrap();
        let max = got.iter().cloned().fold(0.0, f64::max);
        // |mean of N unit vectors of random phase| has mean sqrt(pi / 4N) ~ 0.89 / sqrt(N)
        // and P(> 4 / sqrt(N)) ~ exp(-16).
        assert!(mean < 1.5 * scale, "{trials} trials: mean ITC {mean}");
        assert!(max < 4.0 * scale, "{trials} trials: max ITC {max}");
    }
}

// --- files, the command line, shards, merge and resume ---------------------------------

const TRIALS: usize = 24;

fn generated(dir: &Path) -> std::path::PathBuf {
    init();
    let opts = GenerateOptions {
        trials: TRIALS,
        samples: 200,
        channels: 4,
        samplerate: 500.0,
        seed: 5,
        dtype: DType::Float32,
        unequal: false,
        overwrite: false,
    };
    generate_recording(&dir.join("in.spy"), &opts).expect("the recording is written")
}

const STEPS: &str = "steps:\n  - routine: mtmfft\n    output: fourier\n    tapsmofrq: 10\n    keeptapers: true\n    foilim: [0, 100]\n  - routine: itc\n";

fn itc_file(container: &Path) -> std::path::PathBuf {
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with("_itc.spectral"))
        .unwrap_or_else(|| panic!("{}: {:?}", container.display(), list(container)));
    container.join(name)
}

fn write_pipeline(dir: &Path, out: &str, execution: &str) {
    write_file(
        dir,
        "p.yaml",
        &format!("input: in.spy\noutput: {out}\nexecution:\n{execution}{STEPS}"),
    );
}

#[test]
fn every_mode_shards_and_their_merge_give_the_same_bits() {
    let tmp = TempDir::new("itc-modes");
    generated(&tmp.path);
    write_pipeline(&tmp.path, "seq.spy", "  mode: sequential\n");
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let reference = read_data(&itc_file(&tmp.join("seq.spy")));
    assert_eq!(reference.dtype, "float32");
    assert_eq!(reference.shape[..2], [1, 1]);
    let (def_shape, _) = read_trialdefinition(&itc_file(&tmp.join("seq.spy")));
    assert_eq!(def_shape[0], 1, "one trial");

    let runs: [(&str, &str); 3] = [
        ("parallel", "  mode: parallel\n  workers: 2\n"),
        (
            "channel groups",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 3\n",
        ),
        (
            "sequential, channel groups",
            "  mode: sequential\n  chan_per_worker: 1\n",
        ),
    ];
    for (i, (what, execution)) in runs.iter().enumerate() {
        let out = format!("m{i}.spy");
        write_pipeline(&tmp.path, &out, execution);
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let got = read_data(&itc_file(&tmp.join(&out)));
        assert!(got.bits == reference.bits, "{what} differs from sequential");
    }
    for count in [2usize, 3, 5] {
        let out = format!("s{count}.spy");
        write_pipeline(&tmp.path, &out, "  mode: parallel\n  workers: 1\n");
        run_shards(&tmp.path, "p.yaml", count);
        assert!(!tmp.join(&out).exists(), "shards write no output");
        trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
        let got = read_data(&itc_file(&tmp.join(&out)));
        assert!(
            got.bits == reference.bits,
            "{count} shards + merge differ from sequential"
        );
        assert!(
            !list(&tmp.join(&out)).iter().any(|n| n.starts_with("sums.")),
            "the shards' states leave with the staging folder"
        );
    }
}

#[test]
fn a_merge_without_every_shard_is_refused() {
    let tmp = TempDir::new("itc-merge-missing");
    generated(&tmp.path);
    write_pipeline(&tmp.path, "out.spy", "  mode: sequential\n");
    trialflow(&tmp.path, &["run", "p.yaml", "--shard", "0/2", "-q"]).ok();
    let merge = trialflow(&tmp.path, &["merge", "p.yaml", "-q"]);
    merge.assert_error(2, &["1/2"]);
    assert!(!tmp.join("out.spy").exists());
}

/// Runs the pipeline through the library with a writer that stops dead after writing its
/// `crash_after`-th state file (before the journal line naming it), like a kill there.
fn run_library(
    input: &Path,
    out: &Path,
    mode: WriteMode,
    crash_after: Option<usize>,
) -> Result<RunReport, Error> {
    let mut reader = SpyReader::open(input).expect("the input opens");
    let mut writer = SpyWriter::create(
        out,
        WriterOptions {
            overwrite: false,
            mode,
            durable: true,
        },
    )
    .unwrap();
    if let Some(n) = crash_after {
        writer.crash_after_sums(n);
    }
    let params = json!({"output": "fourier", "tapsmofrq": 10.0, "keeptapers": true});
    // About 150 ms a task, 1.8 s in all: the run spans three checkpoints (one every
    // 500 ms, or ten times the last one's cost if longer), even when other tests load the
    // machine and its syncs slow down (at 60 ms a task, the second came too late at times).
    let slow = |_: usize, _: usize| std::thread::sleep(Duration::from_millis(150));
    run_pipeline(
        &pipeline(&params, ExecutionOptions::parallel(2)),
        &mut reader,
        &mut writer,
        Some(&slow),
    )
}

#[test]
fn a_resume_after_a_kill_neither_drops_nor_doubles_a_trial() {
    let tmp = TempDir::new("itc-resume");
    let input = generated(&tmp.path);
    let reference = tmp.join("ref.spy");
    run_library(&input, &reference, WriteMode::Fresh, None).unwrap();

    let out = tmp.join("out.spy");
    let error = run_library(&input, &out, WriteMode::Fresh, Some(2)).expect_err("the crash");
    assert!(error.to_string().contains("injected crash"), "{error}");
    let report = run_library(&input, &out, WriteMode::Resume, None).expect("the resume");
    let from = report.resumed_from.expect("it resumed");
    assert!(from > 0 && from < TRIALS, "resumed from task {from}");
    let a = read_data(&itc_file(&reference));
    let b = read_data(&itc_file(&out));
    assert!(
        a.bits == b.bits,
        "the resumed ITC differs from the uninterrupted one"
    );

    // A shard killed the same way resumes too, and its merge gives the same bits.
    let sharded = tmp.join("sharded.spy");
    let shard = |index, resume, crash| {
        let mode = WriteMode::Shard {
            index,
            count: 2,
            resume,
        };
        let mut reader = SpyReader::open(&input).unwrap();
        let mut writer = SpyWriter::create(
            &sharded,
            WriterOptions {
                overwrite: false,
                mode,
                durable: true,
            },
        )
        .unwrap();
        if let Some(n) = crash {
            writer.crash_after_sums(n);
        }
        let params = json!({"output": "fourier", "tapsmofrq": 10.0, "keeptapers": true});
        let mut execution = ExecutionOptions::parallel(2);
        execution.scope = RunScope::Shard { index, count: 2 };
        // A shard has half the tasks: 300 ms each spans several checkpoints too.
        let slow = |_: usize, _: usize| std::thread::sleep(Duration::from_millis(300));
        run_pipeline(
            &pipeline(&params, execution),
            &mut reader,
            &mut writer,
            Some(&slow),
        )
    };
    shard(0, false, Some(2)).expect_err("the crash");
    let resumed = shard(0, true, None).expect("the shard resumes");
    assert!(resumed.resumed_from.is_some_and(|t| t > 0));
    shard(1, false, None).unwrap();
    let mut reader = SpyReader::open(&input).unwrap();
    let mut writer = SpyWriter::create(
        &sharded,
        WriterOptions {
            overwrite: false,
            mode: WriteMode::Merge,
            durable: true,
        },
    )
    .unwrap();
    let params = json!({"output": "fourier", "tapsmofrq": 10.0, "keeptapers": true});
    let mut execution = ExecutionOptions::sequential();
    execution.scope = RunScope::Merge;
    run_pipeline(
        &pipeline(&params, execution),
        &mut reader,
        &mut writer,
        None,
    )
    .unwrap();
    let c = read_data(&itc_file(&sharded));
    assert!(
        a.bits == c.bits,
        "the merged ITC of a resumed shard differs"
    );
}

#[test]
fn bad_inputs_are_refused_up_front_on_one_line() {
    let tmp = TempDir::new("itc-bad");
    generated(&tmp.path);
    let cases: [(&str, &[&str]); 3] = [
        (
            "input: in.spy\noutput: a.spy\nsteps:\n  - routine: mtmfft\n  - routine: itc\n",
            &["step 2 (itc)", "complex", "step 1 (mtmfft)", "output: fourier"],
        ),
        (
            "input: in.spy\noutput: b.spy\nselect:\n  trials: [3]\nsteps:\n  - routine: mtmfft\n    output: fourier\n  - routine: itc\n",
            &["itc", "1 trial", "trial 0", "at least 2"],
        ),
        (
            "input: in.spy\noutput: c.spy\nsteps:\n  - routine: itc\n",
            &["itc", "SpectralData", "AnalogData"],
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
/// and rank 0 merges them to the sequential bits. Built only with `--features mpi`, like
/// tests/mpi.rs (scripts/test.sh runs it), since it needs OpenMPI.
#[cfg(feature = "mpi")]
#[test]
fn mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("itc-mpi");
    generated(&tmp.path);
    write_pipeline(&tmp.path, "seq.spy", "  mode: sequential\n");
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let reference = read_data(&itc_file(&tmp.join("seq.spy")));
    for ranks in [2, 3] {
        let out = format!("mpi{ranks}.spy");
        write_pipeline(&tmp.path, &out, "  mode: mpi\n");
        runs::mpirun(Path::new(BIN), &tmp.path, ranks, &["run", "p.yaml"]).ok();
        let got = read_data(&itc_file(&tmp.join(&out)));
        assert!(
            got.bits == reference.bits,
            "{ranks} MPI ranks differ from sequential"
        );
    }
}

/// Syncopy's `spy.load` (with checksums) opens the ITC trialflow writes, and `spy.itc` of
/// the saved Fourier spectrum, loaded the same way, gives the same values. Needs the pinned
/// Syncopy venv, so it is ignored in a plain `cargo test`; scripts/test.sh runs it with
/// `TRIALFLOW_INTEROP_PYTHON` set.
#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_the_itc_and_agrees_with_its_own_itc_of_the_saved_spectrum() {
    let python = std::env::var("TRIALFLOW_INTEROP_PYTHON").expect(
        "set TRIALFLOW_INTEROP_PYTHON to the interop venv's python (scripts/python-env.sh prints it)",
    );
    let tmp = TempDir::new("itc-interop");
    generated(&tmp.path);
    write_file(
        &tmp.path,
        "p.yaml",
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: mtmfft\n    output: fourier\n    tapsmofrq: 10\n    keeptapers: true\n    save: true\n  - routine: itc\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let script = r#"
import sys, json, glob, numpy as np, syncopy as spy
root = sys.argv[1]
spec = spy.load(glob.glob(root + "/*_mtmfft.spectral")[0], checksum=True)
ours = spy.load(glob.glob(root + "/*_itc.spectral")[0], checksum=True)
with np.errstate(invalid="ignore", divide="ignore"):
    theirs = spy.itc(spec)
a, b = np.asarray(ours.data[()]), np.asarray(theirs.data[()])
print(json.dumps({"shape": list(a.shape), "theirs_shape": list(b.shape),
    "max_diff": float(np.nanmax(np.abs(a - b))),
    "trialdefinition": np.asarray(ours.trialdefinition).tolist(),
    "freq_equal": bool(np.array_equal(ours.freq, theirs.freq))}))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, tmp.join("out.spy").to_str().unwrap()])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(doc["shape"], doc["theirs_shape"], "{doc}");
    assert_eq!(doc["freq_equal"], true, "{doc}");
    assert_eq!(doc["trialdefinition"].as_array().unwrap().len(), 1, "{doc}");
    // Syncopy sums complex64 unit vectors; ours are summed in f64 and rounded once.
    assert!(doc["max_diff"].as_f64().unwrap() < 1e-5, "{doc}");
}
