//! Time-frequency routines inside fused pipelines: `itc` and `keeptrials: false` after
//! mtmconvol, wavelet and superlet, with their calibration properties (identical trials give
//! ITC 1; a trial average equals the mean of the per-trial results) and the same bits in
//! every execution mode, through the command line (sequential, parallel, channel groups,
//! shards and their merge) and, with `--features mpi`, on MPI ranks.

mod common;

use std::path::Path;

use common::*;
use ndarray::{Array2, ArrayD};
use serde_json::{json, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::Registry;

/// The time-frequency steps under test, each giving complex coefficients.
fn fourier_steps() -> Vec<(&'static str, Value)> {
    vec![
        (
            "mtmconvol",
            json!({"t_ftimwin": 0.25, "toi": 0.5, "output": "fourier", "foilim": [4.0, 40.0]}),
        ),
        (
            "wavelet",
            json!({"foi": [6.0, 12.0, 24.0], "output": "fourier"}),
        ),
    ]
}

fn steps(routines: &[(&str, Value)], execution: ExecutionOptions) -> Pipeline {
    let registry = Registry::builtin();
    let steps = routines
        .iter()
        .enumerate()
        .map(|(k, (name, params))| Step {
            routine: registry
                .build(name, params.as_object().unwrap().clone())
                .unwrap(),
            name: format!("s{k}"),
            save: k + 1 == routines.len(),
            dtype: None,
        })
        .collect();
    Pipeline::new(steps, execution)
}

fn run(
    routines: &[(&str, Value)],
    source: &InMemoryRecording,
    execution: ExecutionOptions,
) -> (ArrayD<f64>, DataSchema) {
    let mut sink = MemorySink::new();
    let pipeline = steps(routines, execution);
    run_pipeline(&pipeline, &mut source.clone(), &mut sink, None).unwrap();
    let last = format!("s{}", routines.len() - 1);
    let object = sink.object(&last).unwrap();
    (
        object.data.clone().unwrap(),
        object.metadata.as_ref().unwrap().schema.clone(),
    )
}

/// A deterministic pseudo-random signal (a small LCG), so the test needs no RNG crate.
fn noise(rows: usize, channels: usize, seed: u64) -> Array2<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    Array2::from_shape_fn((rows, channels), |_| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    })
}

#[test]
fn itc_after_time_frequency_steps_is_one_for_identical_trials() {
    let (trials, len) = (6, 400);
    let one = noise(len, 2, 3);
    let data = Array2::from_shape_fn((trials * len, 2), |(i, c)| one[[i % len, c]]);
    let source = InMemoryRecording::contiguous(data, 200.0, &vec![len; trials]).unwrap();
    for (name, params) in fourier_steps() {
        let (got, schema) = run(
            &[(name, params), ("itc", json!({}))],
            &source,
            ExecutionOptions::parallel(2),
        );
        assert_eq!(schema.n_trials(), 1, "{name}: itc is one trial");
        let mut checked = 0;
        for v in got.iter().filter(|v| v.is_finite()) {
            assert!((v - 1.0).abs() < 1e-6, "{name}: ITC {v}");
            checked += 1;
        }
        assert!(checked > 0, "{name}: no finite ITC value");
    }
}

#[test]
fn itc_after_time_frequency_steps_tends_to_zero_for_noise() {
    let (trials, len) = (64, 400);
    let data = noise(trials * len, 2, 11);
    let source = InMemoryRecording::contiguous(data, 200.0, &vec![len; trials]).unwrap();
    for (name, params) in fourier_steps() {
        let (got, _) = run(
            &[(name, params), ("itc", json!({}))],
            &source,
            ExecutionOptions::parallel(2),
        );
        let finite: Vec<f64> = got.iter().copied().filter(|v| v.is_finite()).collect();
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        // |mean of N unit vectors of random phase| has mean ~0.89 / sqrt(N).
        assert!(
            mean < 1.5 / (trials as f64).sqrt(),
            "{name}: mean ITC {mean}"
        );
    }
}

/// `keeptrials: false` after a time-frequency step is the mean of its per-trial results
/// (to float32 storage precision), for mtmconvol, wavelet and superlet.
#[test]
fn trial_averages_of_time_frequency_steps_are_the_mean_of_the_trials() {
    let (trials, len) = (5, 300);
    let data = noise(trials * len, 3, 5);
    let source = InMemoryRecording::contiguous(data, 250.0, &vec![len; trials]).unwrap();
    for (name, params) in [
        (
            "mtmconvol",
            json!({"t_ftimwin": 0.2, "toi": 0.5, "output": "pow"}),
        ),
        (
            "wavelet",
            json!({"foi": [8.0, 16.0, 32.0], "output": "abs"}),
        ),
        (
            "superlet",
            json!({"foi": [8.0, 16.0, 32.0], "order_max": 3, "adaptive": true}),
        ),
    ] {
        let routines = [(name, params)];
        let (each, _) = run(&routines, &source, ExecutionOptions::parallel(2));
        let (mean, schema) = run(
            &routines,
            &source,
            ExecutionOptions {
                keeptrials: false,
                ..ExecutionOptions::parallel(2)
            },
        );
        assert_eq!(schema.n_trials(), 1, "{name}");
        let rows = mean.shape()[0];
        let per_row = mean.len() / rows;
        let each = each.as_slice().unwrap();
        for (i, m) in mean.iter().enumerate() {
            let (r, rest) = (i / per_row, i % per_row);
            let expected: f64 = (0..trials)
                .map(|t| each[(t * rows + r) * per_row + rest])
                .sum::<f64>()
                / trials as f64;
            let scale = expected.abs().max(1e-12);
            assert!(
                (m - expected).abs() / scale < 1e-5,
                "{name}: value {i}: {m} vs {expected}"
            );
        }
    }
}

const BODY: &str = "steps:
  - routine: wavelet
    foi: [5, 10, 20]
    output: fourier
    name: tfr
    save: true
  - routine: itc
  ";

fn write_pipeline(dir: &Path, name: &str, out: &str, execution: &str) {
    write_file(
        dir,
        name,
        &format!("input: in.spy\noutput: {out}\nexecution:\n{execution}\n{BODY}\n"),
    );
}

/// wavelet (saved, per trial) -> itc (one result) and mtmconvol averaged over trials give
/// the same bits in every mode, including shards and their merge.
#[test]
fn fused_time_frequency_pipelines_give_the_same_bits_in_every_mode() {
    let tmp = TempDir::new("tf-pipelines");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "10",
            "--samples",
            "500",
            "--channels",
            "4",
        ],
    )
    .ok();
    let modes = [
        ("seq", "  mode: sequential"),
        ("par", "  mode: parallel\n  workers: 2"),
        (
            "groups",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 1",
        ),
    ];
    for (name, execution) in modes {
        write_pipeline(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("{name}.spy"),
            execution,
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    for (name, _) in &modes[1..] {
        assert_same_results(&tmp.join(format!("{name}.spy")), &tmp.join("seq.spy"), name);
    }
    write_pipeline(&tmp.path, "sh.yaml", "sh.spy", "  mode: parallel");
    for shard in ["2/3", "0/3", "1/3"] {
        trialflow(&tmp.path, &["run", "sh.yaml", "--shard", shard, "-q"]).ok();
    }
    trialflow(&tmp.path, &["merge", "sh.yaml", "-q"]).ok();
    assert_same_results(&tmp.join("sh.spy"), &tmp.join("seq.spy"), "shards");

    // A trial average of mtmconvol power, sequential against two shards.
    let averaged = "steps:\n  - routine: mtmconvol\n    t_ftimwin: 0.1\n    toi: 0.5\n";
    for (name, execution) in [
        ("avgseq", "{mode: sequential, keeptrials: false}"),
        ("avgsh", "{keeptrials: false}"),
    ] {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("input: in.spy\noutput: {name}.spy\nexecution: {execution}\n{averaged}"),
        );
    }
    trialflow(&tmp.path, &["run", "avgseq.yaml", "-q"]).ok();
    for shard in ["1/2", "0/2"] {
        trialflow(&tmp.path, &["run", "avgsh.yaml", "--shard", shard, "-q"]).ok();
    }
    trialflow(&tmp.path, &["merge", "avgsh.yaml", "-q"]).ok();
    assert_same_results(
        &tmp.join("avgsh.spy"),
        &tmp.join("avgseq.spy"),
        "trial average on shards",
    );
}

/// The same wavelet -> itc pipeline on 2 MPI ranks gives the sequential bits.
#[cfg(feature = "mpi")]
#[test]
fn fused_time_frequency_pipelines_on_mpi_ranks_match_sequential() {
    let tmp = TempDir::new("tf-mpi");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "7",
            "--samples",
            "400",
            "--channels",
            "3",
        ],
    )
    .ok();
    write_pipeline(&tmp.path, "seq.yaml", "seq.spy", "  mode: sequential");
    write_pipeline(&tmp.path, "mpi.yaml", "mpi.spy", "  mode: mpi");
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    runs::mpirun(Path::new(BIN), &tmp.path, 2, &["run", "mpi.yaml", "-q"]).ok();
    assert_same_results(&tmp.join("mpi.spy"), &tmp.join("seq.spy"), "MPI");
}
