//! A user's own binary (`examples/custom_routine.rs`: `trialflow::cli::main_with` with the
//! built-in registry plus a custom `clip` routine) runs a YAML pipeline that uses the custom
//! routine through every front-end path: `routines`, a plain run in every mode, `--resume`
//! after a kill, `--shard` + `merge`, `slurm`, and refusals with exit code 2. (MPI is in
//! `tests/mpi.rs`, which runs under `mpirun`.)

mod common;

use std::path::Path;

use common::*;

fn custom(cwd: &Path, args: &[&str]) -> Outcome {
    run_binary(&custom_routine_binary(), cwd, args, &[])
}

fn pipeline(output: &str, execution: &str) -> String {
    format!(
        "input: in.spy\noutput: {output}\nexecution:\n{execution}\nsteps:\n  - routine: median_filter\n    size: 5\n    name: smooth\n    save: true\n  - routine: clip\n    limit: 1.5\n"
    )
}

fn recording(dir: &Path, trials: &str, samples: &str) {
    custom(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            trials,
            "--samples",
            samples,
            "--channels",
            "6",
            "--unequal",
        ],
    )
    .ok();
}

#[test]
fn routines_lists_the_custom_routine_beside_the_builtins() {
    let tmp = TempDir::new("custom-routines");
    let all = custom(&tmp.path, &["routines"]).ok();
    for name in ["clip", "detrend", "find_peaks", "mtmfft"] {
        assert!(
            all.stdout.lines().any(|l| l.starts_with(name)),
            "{name} listed:\n{}",
            all.stdout
        );
    }
    let clip = custom(&tmp.path, &["routines", "clip"]).ok();
    assert!(clip.stdout.contains("limit (number > 0, default required)"));
    custom(&tmp.path, &["routines", "clp"]).assert_error(2, &["unknown routine 'clp'", "clip"]);
}

#[test]
fn custom_routine_runs_in_every_mode_with_the_same_bits() {
    let tmp = TempDir::new("custom-modes");
    recording(&tmp.path, "9", "300");
    let modes = [
        ("seq", "  mode: sequential"),
        ("par", "  mode: parallel\n  workers: 2"),
        (
            "groups",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 2",
        ),
        ("files", "  mode: parallel\n  parallel_store: false"),
        ("debug", "  mode: debug"),
    ];
    for (name, execution) in modes {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline(&format!("{name}.spy"), execution),
        );
        custom(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    for (name, _) in &modes[1..] {
        assert_same_results(
            &tmp.join(format!("{name}.spy")),
            &tmp.join("seq.spy"),
            &format!("{name} against sequential"),
        );
    }
    // The clip really ran, on the saved median output: compare with clamping it here.
    let smooth = read_data(&tmp.join("seq.spy/seq_smooth.analog"));
    let clipped = read_data(&tmp.join("seq.spy/seq_clip.analog"));
    assert_eq!(smooth.shape, clipped.shape);
    assert!(
        smooth.values.iter().any(|v| v.abs() > 1.5),
        "the data reach past the limit"
    );
    for (s, c) in smooth.values.iter().zip(&clipped.values) {
        assert_eq!(s.clamp(-1.5, 1.5), *c);
    }
    let cfg = read_info(&tmp.join("seq.spy/seq_clip.analog"));
    assert!(
        cfg.to_string().contains("\"limit\":1.5"),
        "cfg records the custom parameter"
    );
}

#[test]
fn custom_routine_resumes_after_a_kill_and_refuses_a_changed_parameter() {
    let tmp = TempDir::new("custom-resume");
    recording(&tmp.path, "60", "4000");
    let execution = "  mode: parallel\n  workers: 2";
    write_file(&tmp.path, "p.yaml", &pipeline("out.spy", execution));
    write_file(&tmp.path, "whole.yaml", &pipeline("whole.spy", execution));
    custom(&tmp.path, &["run", "whole.yaml", "-q"]).ok();
    let bin = custom_routine_binary();

    // A changed custom parameter is a different computation: resuming into it is refused.
    if run_and_kill(&bin, &tmp.path, "p.yaml", 1, &[]) {
        custom(
            &tmp.path,
            &["run", "p.yaml", "--resume", "--set", "steps.1.limit=2.5"],
        )
        .assert_error(2, &["cannot resume", "clip"]);
    }

    let mut resumed = false;
    for checkpoints in [1, 3] {
        let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
        let _ = std::fs::remove_dir_all(tmp.join("out.spy.partial"));
        if run_and_kill(&bin, &tmp.path, "p.yaml", checkpoints, &[]) {
            let out = custom(&tmp.path, &["run", "p.yaml", "--resume"]).ok();
            resumed |= out.stderr.contains("resumed an interrupted run");
        }
        assert!(!tmp.join("out.spy.partial").exists(), "staging removed");
        assert_same_results(
            &tmp.join("out.spy"),
            &tmp.join("whole.spy"),
            &format!("resumed after {checkpoints} checkpoints"),
        );
    }
    assert!(resumed, "no run was resumed from completed tasks");
}

#[test]
fn custom_routine_runs_as_shards_then_merges() {
    let tmp = TempDir::new("custom-shards");
    recording(&tmp.path, "11", "300");
    write_file(
        &tmp.path,
        "seq.yaml",
        &pipeline("seq.spy", "  mode: sequential"),
    );
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("out.spy", "  mode: parallel"),
    );
    custom(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    for shard in ["2/3", "0/3", "1/3"] {
        custom(&tmp.path, &["run", "p.yaml", "--shard", shard, "-q"]).ok();
        assert!(!tmp.join("out.spy").exists(), "no output before the merge");
    }
    custom(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
    assert_same_results(&tmp.join("out.spy"), &tmp.join("seq.spy"), "merged shards");

    // The SLURM script runs this same binary, so its shards know `clip` too.
    let script = custom(&tmp.path, &["slurm", "p.yaml", "--array", "3"]).ok();
    let bin = custom_routine_binary();
    assert!(
        script.stdout.contains(&format!("{} run", bin.display())),
        "{}",
        script.stdout
    );
}

#[test]
fn bad_custom_parameters_exit_2_naming_the_step() {
    let tmp = TempDir::new("custom-bad");
    recording(&tmp.path, "3", "100");
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("out.spy", "  mode: sequential"),
    );
    custom(&tmp.path, &["run", "p.yaml", "--set", "steps.1.limit=-2"])
        .assert_error(2, &["steps[1] (clip)", "`limit`", "-2"]);
    custom(&tmp.path, &["run", "p.yaml", "--set", "steps.1.limt=2"])
        .assert_error(2, &["steps[1] (clip)", "limt"]);
    custom(&tmp.path, &["run", "p.yaml", "--set", "steps.1.limit=null"])
        .assert_error(2, &["steps[1] (clip)", "`limit` is required"]);
    assert!(!tmp.join("out.spy").exists());
    // The stock binary does not know the custom routine, and says which ones it knows.
    trialflow(&tmp.path, &["run", "p.yaml"]).assert_error(2, &["unknown routine 'clip'"]);
}
