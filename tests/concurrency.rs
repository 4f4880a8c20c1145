//! Several `trialflow` processes at once: many readers of one input must all succeed with
//! identical results (HDF5 file locking must not get in the way, even while another program
//! holds the input open for writing with a lock), and two
//! runs writing one output must not interleave: exactly one finishes, the other is refused
//! with a clear message, and the finished container is complete.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

/// Starts `trialflow ARGS` in `cwd` without waiting.
fn spawn(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("TRIALFLOW_AVAILABLE_MEMORY")
        .env_remove("TRIALFLOW_BACKTRACE")
        .env_remove("HDF5_USE_FILE_LOCKING")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("the trialflow binary runs")
}

fn finish(child: Child) -> Outcome {
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// 12 trials of ~1000 samples x 8 channels, float32 (0.4 MB).
fn recording(dir: &Path) {
    trialflow(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            "12",
            "--samples",
            "1000",
            "--channels",
            "8",
            "--unequal",
        ],
    )
    .ok();
}

/// Hashes and sizes of a folder's files (not mtimes: closing the write handle held by the
/// test itself touches the input's mtime).
fn contents(dir: &Path) -> Vec<(String, u64)> {
    fingerprint(dir)
        .into_values()
        .map(|(hash, size, _)| (hash, size))
        .collect()
}

const PIPELINE: &str = "input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n  - routine: gaussian\n    sigma: 4\n  - routine: zscore\n";

#[test]
fn sixteen_concurrent_runs_on_one_input_agree() {
    let tmp = TempDir::new("conc-16");
    recording(&tmp.path);
    write_file(&tmp.path, "p.yaml", PIPELINE);
    let input_before = contents(&tmp.join("in.spy"));

    // Another program has the input open for writing with HDF5 file locking on, as h5py (and
    // Syncopy, which opens its files "r+") does by default: a reader that locked would fail
    // with "unable to lock file". The environment variable overrides the access property,
    // so it is switched on just for this open.
    init();
    std::env::set_var("HDF5_USE_FILE_LOCKING", "TRUE");
    let holder = hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(true))
        .open_rw(tmp.join("in.spy/in_raw.analog"));
    std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE");
    let holder = holder.unwrap();
    // The control: a run whose environment insists on locking is refused, so the lock is
    // real (and the refusal is one clear line).
    let locked = trialflow_env(
        &tmp.path,
        &["run", "p.yaml", "-q", "--set", "output=locked"],
        &[("HDF5_USE_FILE_LOCKING", "TRUE")],
    );
    locked.assert_error(2, &["in_raw.analog", "unable to lock file"]);

    let outputs: Vec<String> = (0..16).map(|i| format!("out{i:02}")).collect();
    let children: Vec<Child> = outputs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let set_output = format!("output={out}");
            let workers = format!("execution.workers={}", 1 + i % 2);
            let mode = if i % 4 == 3 {
                "execution.mode=sequential"
            } else {
                "execution.mode=parallel"
            };
            spawn(
                &tmp.path,
                &[
                    "run",
                    "p.yaml",
                    "-q",
                    "--set",
                    &set_output,
                    "--set",
                    &workers,
                    "--set",
                    mode,
                ],
                &[],
            )
        })
        .collect();
    let outcomes: Vec<Outcome> = children.into_iter().map(finish).collect();
    drop(holder);

    for (out, outcome) in outputs.iter().zip(&outcomes) {
        assert_eq!(outcome.code, 0, "{out}: {}", outcome.stderr);
    }
    let first = read_data(&tmp.join("out00.spy/out00_zscore.analog"));
    assert_eq!(first.shape[1], 8);
    for out in &outputs[1..] {
        let data = read_data(&tmp.join(format!("{out}.spy/{out}_zscore.analog")));
        assert_eq!(data.shape, first.shape, "{out}");
        assert!(data.bits == first.bits, "{out} differs from out00");
    }
    assert_eq!(
        contents(&tmp.join("in.spy")),
        input_before,
        "the input changed"
    );
}

/// What a refused second writer may say, depending on how far the first one got.
const REFUSALS: &[&str] = &[
    "another trialflow run is writing this output",
    "already exists",
    "appeared while the run was going",
];

#[test]
fn two_runs_writing_one_output_do_not_interleave() {
    let tmp = TempDir::new("conc-same-out");
    recording(&tmp.path);
    write_file(&tmp.path, "p.yaml", PIPELINE);
    // The reference: the same pipeline, alone.
    trialflow(
        &tmp.path,
        &["run", "p.yaml", "-q", "--set", "output=reference"],
    )
    .ok();
    let reference = read_data(&tmp.join("reference.spy/reference_zscore.analog"));

    for round in 0..4 {
        let out = format!("same{round}");
        let set_output = format!("output={out}");
        let args = ["run", "p.yaml", "-q", "--set", set_output.as_str()];
        let a = spawn(&tmp.path, &args, &[]);
        let b = spawn(&tmp.path, &args, &[]);
        let outcomes = [finish(a), finish(b)];
        let winners = outcomes.iter().filter(|o| o.code == 0).count();
        assert_eq!(
            winners, 1,
            "round {round}: exactly one run must succeed: {outcomes:?}"
        );
        let loser = outcomes.iter().find(|o| o.code != 0).unwrap();
        assert_eq!(loser.code, 2, "round {round}: {loser:?}");
        assert_one_error_line(&loser.stderr, &[&out]);
        assert!(
            REFUSALS.iter().any(|r| loser.stderr.contains(r)),
            "round {round}: unclear refusal: {}",
            loser.stderr
        );
        let data = read_data(&tmp.join(format!("{out}.spy/{out}_zscore.analog")));
        assert_eq!(data.shape, reference.shape, "round {round}");
        assert!(
            data.bits == reference.bits,
            "round {round}: the surviving output is not the complete result"
        );
        assert!(
            !tmp.join(format!("{out}.spy.partial")).exists(),
            "round {round}: a staging folder was left behind"
        );
    }
}
