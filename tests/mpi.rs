//! `execution.mode: mpi` under a real `mpirun`: 2 and 3 ranks, with and without channel
//! groups, give the sequential result bit for bit; a failing rank stops every rank and rank 0
//! names the task. Built only with `--features mpi` (scripts/test.sh runs it), since it needs
//! OpenMPI.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;

use common::*;

fn mpirun(dir: &Path, ranks: usize, args: &[&str]) -> Outcome {
    runs::mpirun(Path::new(BIN), dir, ranks, args)
}

const STEPS: &str = "steps:\n  - routine: median_filter\n    size: 7\n    name: smooth\n    save: true\n  - routine: find_peaks\n    height: 0.5\n";

#[test]
fn mpi_ranks_give_the_sequential_result_bit_for_bit() {
    let tmp = TempDir::new("mpi");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "13",
            "--samples",
            "400",
            "--channels",
            "5",
            "--unequal",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "seq.yaml",
        &format!("input: in.spy\noutput: seq.spy\nexecution:\n  mode: sequential\n{STEPS}"),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    for ranks in [2, 3] {
        for cpw in ["null", "2"] {
            let yaml = format!(
                "input: in.spy\noutput: out.spy\nexecution:\n  mode: mpi\n  chan_per_worker: {cpw}\n{STEPS}"
            );
            write_file(&tmp.path, "p.yaml", &yaml);
            let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
            let out = mpirun(&tmp.path, ranks, &["run", "p.yaml"]);
            assert_eq!(out.code, 0, "{ranks} ranks: {}", out.stderr);
            // Only rank 0 speaks.
            assert_eq!(out.stderr.matches("wrote").count(), 1, "{}", out.stderr);
            assert!(out.stderr.contains(&format!("on {ranks} MPI ranks")));
            assert!(!tmp.join("out.spy.partial").exists());
            assert_same_results(
                &tmp.join("out.spy"),
                &tmp.join("seq.spy"),
                &format!("{ranks} ranks, chan_per_worker {cpw}"),
            );
        }
    }
}

#[test]
fn a_failing_rank_stops_every_rank_and_rank_0_names_the_task() {
    let tmp = TempDir::new("mpi-fail");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "30",
            "--samples",
            "400",
            "--channels",
            "4",
        ],
    )
    .ok();
    {
        init();
        let f = h5_open_rw(tmp.join("in.spy/in_raw.analog")).unwrap();
        let ds = f.dataset("data").unwrap();
        let mut values: ndarray::Array2<f32> = ds.read_2d().unwrap();
        values[[400 * 25 + 3, 2]] = f32::NAN; // trial 25: in the last rank's shard
        ds.write(&values).unwrap();
    }
    let yaml = "input: in.spy\noutput: out.spy\nexecution:\n  mode: mpi\nsteps:\n  - routine: detrend\n    type: linear\n";
    write_file(&tmp.path, "p.yaml", yaml);
    let out = mpirun(&tmp.path, 3, &["run", "p.yaml"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one report, from rank 0: {}", out.stderr);
    assert!(errors[0].contains("MPI rank 2 of 3"), "{}", errors[0]);
    assert!(errors[0].contains("trial 25"), "{}", errors[0]);
    assert!(!tmp.join("out.spy").exists());
    // Completed shards are kept: fix nothing, the same failure repeats under --resume.
    let again = mpirun(&tmp.path, 3, &["run", "p.yaml", "--resume"]);
    assert_ne!(again.code, 0);
}

/// A user's own binary (`examples/custom_routine.rs`, built with `--features mpi` by
/// scripts/test.sh) runs its custom routine on MPI ranks with the sequential result's bits.
#[test]
fn a_custom_routine_runs_on_mpi_ranks() {
    let bin = custom_routine_binary();
    let tmp = TempDir::new("mpi-custom");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "7",
            "--samples",
            "300",
            "--channels",
            "3",
        ],
    )
    .ok();
    let steps = "steps:\n  - routine: detrend\n  - routine: clip\n    limit: 1.5\n";
    write_file(
        &tmp.path,
        "seq.yaml",
        &format!("input: in.spy\noutput: seq.spy\nexecution:\n  mode: sequential\n{steps}"),
    );
    write_file(
        &tmp.path,
        "p.yaml",
        &format!("input: in.spy\noutput: out.spy\nexecution:\n  mode: mpi\n{steps}"),
    );
    run_binary(&bin, &tmp.path, &["run", "seq.yaml", "-q"], &[]).ok();
    let out = runs::mpirun(&bin, &tmp.path, 2, &["run", "p.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("on 2 MPI ranks"), "{}", out.stderr);
    assert_same_results(
        &tmp.join("out.spy"),
        &tmp.join("seq.spy"),
        "custom routine on MPI",
    );
}

/// `trials:` and `select:` on MPI ranks give the sequential result's bits.
#[test]
fn cut_and_selected_trials_on_mpi_ranks_match_sequential() {
    let tmp = TempDir::new("mpi-trials");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "9",
            "--samples",
            "400",
            "--channels",
            "4",
        ],
    )
    .ok();
    let body = "trials: {events: [0.2, 0.9, 1.5, 2.2, 3.1], pre: 0.1, post: 0.2}\nselect: {channels: [3, 1], latency: [-0.05, 0.15]}\nsteps:\n  - routine: detrend\n";
    write_file(
        &tmp.path,
        "seq.yaml",
        &format!("input: in.spy\noutput: seq.spy\nexecution: {{mode: sequential}}\n{body}"),
    );
    write_file(
        &tmp.path,
        "p.yaml",
        &format!("input: in.spy\noutput: out.spy\nexecution: {{mode: mpi}}\n{body}"),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    let out = mpirun(&tmp.path, 2, &["run", "p.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_results(
        &tmp.join("out.spy"),
        &tmp.join("seq.spy"),
        "trials and select on MPI",
    );
}

/// An NWB input (int16 in gzip chunks, decoded on each rank's workers) with trials from
/// its table and a selection gives the sequential result's bits on MPI ranks.
#[test]
fn nwb_trials_and_select_on_mpi_ranks_match_sequential() {
    let tmp = TempDir::new("mpi-nwb");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nwb/session.nwb"),
        tmp.join("session.nwb"),
    )
    .unwrap();
    let body = "input: {path: session.nwb, series: raw}\ntrials: {table: trials, align: stim_on_time, pre: 0.1, post: 0.3}\nselect: {where: \"condition >= 1\", channels: [6, 2, 5]}\nsteps:\n  - routine: detrend\n    save: true\n  - routine: find_peaks\n    height: 0.00001\n";
    write_file(
        &tmp.path,
        "seq.yaml",
        &format!("output: seq.spy\nexecution: {{mode: sequential}}\n{body}"),
    );
    write_file(
        &tmp.path,
        "p.yaml",
        &format!("output: out.spy\nexecution: {{mode: mpi, workers: 2}}\n{body}"),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    let out = mpirun(&tmp.path, 2, &["run", "p.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_results(&tmp.join("out.spy"), &tmp.join("seq.spy"), "NWB on MPI");
}
