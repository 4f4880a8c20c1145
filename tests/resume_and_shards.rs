//! Runs that never silently lose work: kill -9 at several points then `--resume` gives the
//! same bits as an uninterrupted run; a resume of another pipeline or input is refused;
//! shards merged in any order equal a sequential run, and a missing shard is named;
//! `on_error: continue` keeps going and reports every failure; a full disk is a clear error.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A pipeline with a saved dense step, a saved event step and a final dense step, so every
/// kind of object is resumed and merged.
fn pipeline(mode: &str) -> String {
    format!(
        "input: in.spy\noutput: out.spy\nexecution:\n  mode: {mode}\n  workers: 2\nsteps:\n  - routine: median_filter\n    size: 31\n    name: smooth\n    save: true\n  - routine: find_peaks\n    height: 0.5\n    name: peaks\n"
    )
}

fn dense_pipeline(mode: &str) -> String {
    format!(
        "input: in.spy\noutput: out.spy\nexecution:\n  mode: {mode}\n  workers: 2\nsteps:\n  - routine: median_filter\n    size: 31\n    name: smooth\n    save: true\n  - routine: rectify\n"
    )
}

/// Starts a run of the `trialflow` binary and kills it with SIGKILL once its journal shows
/// `checkpoints` checkpoints (or returns false if it finished first).
fn run_and_kill(dir: &Path, yaml: &str, checkpoints: usize, extra: &[&str]) -> bool {
    common::run_and_kill(Path::new(BIN), dir, yaml, checkpoints, extra)
}

#[test]
fn killed_runs_resume_to_the_same_bits_in_both_layouts() {
    let tmp = TempDir::new("resume");
    generate_in_spy_for_resume(&tmp.path);
    // A parallel run this short records no checkpoint before its last (they wait for the
    // parts being synced), and the last one of a run with events is not recorded: its
    // sidecars are copied into the object file, which is synced instead, so a kill then
    // starts the run afresh. Its parallel resume is thus that of the dense pipeline, killed
    // between its last checkpoint and the commit.
    for (mode, pipeline) in [
        ("sequential", pipeline("sequential")),
        ("parallel", dense_pipeline("parallel")),
    ] {
        write_file(&tmp.path, "p.yaml", &pipeline);
        write_file(
            &tmp.path,
            "whole.yaml",
            &pipeline.replace("out.spy", "whole.spy"),
        );
        trialflow(&tmp.path, &["run", "whole.yaml", "-q", "--overwrite"]).ok();
        let mut resumed_somewhere = false;
        for checkpoints in [1, 2, 4] {
            let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
            if !run_and_kill(&tmp.path, "p.yaml", checkpoints, &[]) {
                continue;
            }
            assert!(!tmp.join("out.spy").exists(), "a killed run left no output");
            assert!(tmp.join("out.spy.partial/progress.jsonl").is_file());
            // A second kill, this time of the resumed run, must be harmless too.
            if run_and_kill(&tmp.path, "p.yaml", checkpoints + 2, &["--resume"]) {
                let out = trialflow(&tmp.path, &["run", "p.yaml", "--resume"]).ok();
                resumed_somewhere |= out.stderr.contains("resumed an interrupted run");
            } else {
                resumed_somewhere = true;
            }
            assert!(!tmp.join("out.spy.partial").exists(), "staging removed");
            assert_same_results(
                &tmp.join("out.spy"),
                &tmp.join("whole.spy"),
                &format!("{mode}, killed after {checkpoints} checkpoints"),
            );
        }
        assert!(
            resumed_somewhere,
            "{mode}: no run was resumed from completed tasks"
        );
    }
}

#[test]
fn resume_refuses_another_pipeline_or_input_and_starts_fresh_when_nothing_is_left() {
    let tmp = TempDir::new("resume-refuse");
    generate_in_spy_for_resume(&tmp.path);
    write_file(&tmp.path, "p.yaml", &dense_pipeline("sequential"));
    assert!(run_and_kill(&tmp.path, "p.yaml", 1, &[]));
    let other = dense_pipeline("sequential").replace("size: 31", "size: 11");
    write_file(&tmp.path, "other.yaml", &other);
    trialflow(&tmp.path, &["run", "other.yaml", "--resume"])
        .assert_error(2, &["cannot resume", "step 1 (median_filter)"]);
    // Execution settings that do not change results may differ.
    let out = trialflow(
        &tmp.path,
        &["run", "p.yaml", "--resume", "--set", "execution.mode=debug"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("resumed an interrupted run"),
        "{}",
        out.stderr
    );

    // A changed input (same path, new contents) is refused.
    std::fs::remove_dir_all(tmp.join("out.spy")).unwrap();
    assert!(run_and_kill(&tmp.path, "p.yaml", 1, &[]));
    std::thread::sleep(Duration::from_millis(20));
    generate_in_spy_for_resume_with(&tmp.path, &["--overwrite", "--seed", "7"]);
    trialflow(&tmp.path, &["run", "p.yaml", "--resume"])
        .assert_error(2, &["cannot resume", "input"]);

    // Nothing to resume: a normal run.
    std::fs::remove_dir_all(tmp.join("out.spy.partial")).unwrap();
    trialflow(&tmp.path, &["run", "p.yaml", "--resume", "-q"]).ok();
    assert!(tmp.join("out.spy").is_dir());
}

#[test]
fn shards_merge_into_the_sequential_result_and_a_missing_shard_is_named() {
    let tmp = TempDir::new("shards");
    generate(&tmp.path, "in.spy", true);
    write_file(&tmp.path, "p.yaml", &pipeline("parallel"));
    write_file(
        &tmp.path,
        "seq.yaml",
        &pipeline("sequential").replace("out.spy", "seq.spy"),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    for cpw in ["null", "2"] {
        let set = format!("execution.chan_per_worker={cpw}");
        let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
        // Shards run in any order, as separate processes.
        for shard in ["2/3", "0/3"] {
            trialflow(
                &tmp.path,
                &["run", "p.yaml", "--shard", shard, "-q", "--set", &set],
            )
            .ok();
            assert!(!tmp.join("out.spy").exists(), "no output before the merge");
        }
        trialflow(&tmp.path, &["merge", "p.yaml", "--set", &set])
            .assert_error(2, &["missing shard 1/3"]);
        assert!(!tmp.join("out.spy").exists());
        trialflow(
            &tmp.path,
            &["run", "p.yaml", "--shard", "1/3", "-q", "--set", &set],
        )
        .ok();
        trialflow(&tmp.path, &["merge", "p.yaml", "-q", "--set", &set]).ok();
        assert!(!tmp.join("out.spy.partial").exists());
        assert_same_results(
            &tmp.join("out.spy"),
            &tmp.join("seq.spy"),
            &format!("cpw {cpw}"),
        );
    }
    // Shards of another pipeline are not merged into this one.
    let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
    trialflow(&tmp.path, &["run", "p.yaml", "--shard", "0/2", "-q"]).ok();
    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "--shard",
            "1/2",
            "-q",
            "--set",
            "steps.0.size=5",
        ],
    )
    .ok();
    trialflow(&tmp.path, &["merge", "p.yaml"])
        .assert_error(2, &["shard 1/2", "step 1 (median_filter)"]);
    let out = trialflow(&tmp.path, &["run", "p.yaml", "--shard", "4/2"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.starts_with("error:") && out.stderr.lines().next().unwrap().contains("4/2"));
}

#[test]
fn on_error_continue_runs_every_task_and_reports_every_failure() {
    let tmp = TempDir::new("continue");
    generate(&tmp.path, "in.spy", false);
    // NaN in two trials: a linear detrend refuses them at run time.
    let data_file = tmp.join("in.spy/in_raw.analog");
    {
        init();
        let f = h5_open_rw(&data_file).unwrap();
        let ds = f.dataset("data").unwrap();
        let mut values: ndarray::Array2<f32> = ds.read_2d().unwrap();
        values[[310, 1]] = f32::NAN; // trial 1
        values[[1250, 3]] = f32::NAN; // trial 4
        ds.write(&values).unwrap();
    }
    let _ = std::fs::remove_file(tmp.join("in.spy/in_raw.analog.info.tmp"));
    // The checksum in .info no longer matches; trialflow reads without checking it.
    let yaml = "input: in.spy\noutput: out.spy\nexecution:\n  on_error: continue\nsteps:\n  - routine: detrend\n    type: linear\n";
    write_file(&tmp.path, "p.yaml", yaml);
    let out = trialflow(&tmp.path, &["run", "p.yaml", "-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("2 tasks failed"), "{}", out.stderr);
    assert!(
        out.stderr.contains("trial 1") && out.stderr.contains("trial 4"),
        "{}",
        out.stderr
    );
    let file = tmp.join("out.spy/out_detrend.analog");
    let data = read_data(&file);
    let rows_per_trial = 300;
    let channels = 5;
    let trial_is_nan = |t: usize| {
        data.values[t * rows_per_trial * channels..(t + 1) * rows_per_trial * channels]
            .iter()
            .all(|v| v.is_nan())
    };
    assert!(trial_is_nan(1) && trial_is_nan(4));
    assert!(!trial_is_nan(0) && !trial_is_nan(5));
    let info = read_info(&file);
    let failed = info["info"]["failed_tasks"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["task"], 1);
    assert!(info["_log"]
        .as_str()
        .unwrap()
        .contains("failed (on_error: continue"));
}

#[test]
#[ignore = "mounts a 2 MiB tmpfs, which needs root: scripts/test.sh runs it (--include-ignored)"]
fn a_full_disk_is_a_clear_error_not_a_corrupt_file() {
    let tmp = TempDir::new("full-disk");
    generate_in_spy_for_resume(&tmp.path);
    let small = tmp.join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2M", "tmpfs"])
        .arg(&small)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        mounted,
        "mounting a 2 MiB tmpfs failed: this test needs root (scripts/test.sh runs it as root; plain `cargo test` skips it)"
    );
    let yaml = "input: ../in.spy\noutput: out.spy\nexecution:\n  mode: sequential\nsteps:\n  - routine: rectify\n";
    let pipeline = small.join("p.yaml");
    std::fs::write(&pipeline, yaml).unwrap();
    let before = fingerprint(&tmp.join("in.spy"));
    let out = trialflow(&small, &["run", "p.yaml"]);
    let listing = list(&small);
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_one_error_line(&out.stderr, &[]);
    assert!(
        out.stderr.to_lowercase().contains("no space left"),
        "{}",
        out.stderr
    );
    assert!(!listing.contains(&"out.spy".to_string()), "{listing:?}");
    assert_eq!(fingerprint(&tmp.join("in.spy")), before);
}

#[test]
fn the_slurm_script_runs_an_array_of_shards_then_the_merge() {
    let tmp = TempDir::new("slurm");
    write_file(&tmp.path, "p.yaml", &pipeline("parallel"));
    let out = trialflow(
        &tmp.path,
        &[
            "slurm",
            "p.yaml",
            "--array",
            "8",
            "--partition",
            "compute",
            "--time",
            "02:00:00",
            "--mem",
            "16G",
            "--cpus-per-task",
            "4",
            "--sbatch-extra",
            "--account=lab --qos=long",
        ],
    )
    .ok();
    let script = out.stdout;
    for needle in [
        "#!/bin/bash",
        "#SBATCH --array=0-7\n",
        "#SBATCH --partition=compute\n",
        "#SBATCH --time=02:00:00\n",
        "#SBATCH --mem=16G\n",
        "#SBATCH --cpus-per-task=4\n",
        "#SBATCH --account=lab\n",
        "#SBATCH --qos=long\n",
        "--shard \"${SLURM_ARRAY_TASK_ID}/8\" --resume",
        "--set execution.workers=4",
        "sbatch --dependency=afterok:${SLURM_ARRAY_JOB_ID}",
        " merge ",
    ] {
        assert!(script.contains(needle), "missing {needle:?} in:\n{script}");
    }
    let syntax = Command::new("bash")
        .args(["-n", "-c", &script])
        .status()
        .unwrap();
    assert!(syntax.success(), "the script is valid bash");
    trialflow(&tmp.path, &["slurm", "p.yaml", "--array", "0"]).assert_error(2, &["--array"]);
    trialflow(&tmp.path, &["slurm", "missing.yaml", "--array", "2"])
        .assert_error(2, &["missing.yaml"]);
}

#[test]
fn a_journal_whose_event_rows_are_gone_is_refused_never_read_as_zeros() {
    let tmp = TempDir::new("resume-events-gone");
    generate_in_spy_for_resume(&tmp.path);
    write_file(&tmp.path, "p.yaml", &pipeline("sequential"));
    assert!(run_and_kill(&tmp.path, "p.yaml", 1, &[]));
    let staging = tmp.join("out.spy.partial");
    let journal = std::fs::read_to_string(staging.join("progress.jsonl")).unwrap();
    assert!(
        !journal.contains("\"peaks\":0}"),
        "the checkpoint covers event rows: {journal}"
    );
    let sidecar = staging.join("peaks.events.part");
    assert!(sidecar.is_file(), "{:?}", list(&staging));
    std::fs::remove_file(&sidecar).unwrap();
    trialflow(&tmp.path, &["run", "p.yaml", "--resume"]).assert_error(
        2,
        &[
            "cannot resume",
            "peaks.events.part",
            "fewer than",
            "without --resume",
        ],
    );
    assert!(
        !tmp.join("out.spy").exists(),
        "nothing was made of the missing rows"
    );
}
