//! `trials:` on a Syncopy input: trials cut anew from the stacked recording (time `t` is
//! sample `round(t x samplerate)`), the same bits in every mode, and shards cut differently
//! are never merged.

mod common;

use std::path::Path;

use common::*;

fn recording(dir: &Path) {
    trialflow(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            "5",
            "--samples",
            "400",
            "--channels",
            "3",
        ],
    )
    .ok();
}

fn rows(file: &Path) -> Vec<Vec<f64>> {
    init();
    let f = h5_open(file).unwrap();
    let ds = f.dataset("trialdefinition").unwrap();
    let cols = ds.shape()[1];
    let values: Vec<f64> = ds.read_raw().unwrap();
    values.chunks(cols).map(<[f64]>::to_vec).collect()
}

#[test]
fn segments_and_event_windows_cut_the_stacked_recording() {
    let tmp = TempDir::new("spy-trials");
    recording(&tmp.path);
    let input = read_data(&tmp.join("in.spy/in_raw.analog"));
    write_file(
        &tmp.path,
        "seg.yaml",
        "input: in.spy\noutput: seg.spy\ntrials: {length: 0.25, overlap: 0.2}\nsteps:\n  - routine: rectify\n",
    );
    trialflow(&tmp.path, &["run", "seg.yaml", "-q"]).ok();
    let seg = rows(&tmp.join("seg.spy/seg_rectify.analog"));
    // 2000 samples at 1000 Hz, 250-sample segments stepping by 200: starts 0, 200, ..., 1600.
    assert_eq!(seg.len(), 9);
    let out = read_data(&tmp.join("seg.spy/seg_rectify.analog"));
    // Trial 3 covers input samples 600..850; the output stacks trials, 250 rows each.
    for r in 0..250 {
        for c in 0..3 {
            let want = input.values[(600 + r) * 3 + c].abs();
            assert_eq!(out.values[(3 * 250 + r) * 3 + c], want);
        }
    }

    let events = "trials: {events: [0.1004, 0.5, 1.95], pre: 0.05, post: 0.1, outside: drop}\n";
    for (name, execution) in [("seq", "sequential"), ("par", "parallel")] {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("input: in.spy\noutput: {name}.spy\nexecution: {{mode: {execution}}}\n{events}steps:\n  - routine: detrend\n"),
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    assert_same_results(&tmp.join("par.spy"), &tmp.join("seq.spy"), "events");
    let ev = rows(&tmp.join("seq.spy/seq_detrend.analog"));
    assert_eq!(
        ev.len(),
        2,
        "the window at 1.95 s runs past 2.0 s and is dropped"
    );
    assert_eq!(ev[0][1] - ev[0][0], 150.0);
    assert_eq!(ev[0][2], -50.0);
    let log = read_info(&tmp.join("seq.spy/seq_detrend.analog"));
    assert!(
        log.to_string().contains("dropped 1 trial"),
        "the log names the dropped trial"
    );
}

#[test]
fn shards_cut_differently_are_not_merged_and_tables_need_nwb() {
    let tmp = TempDir::new("spy-trials-shards");
    recording(&tmp.path);
    let base = "input: in.spy\noutput: out.spy\nsteps:\n  - routine: rectify\n";
    write_file(
        &tmp.path,
        "a.yaml",
        &format!("trials: {{length: 0.2}}\n{base}"),
    );
    write_file(
        &tmp.path,
        "b.yaml",
        &format!("trials: {{length: 0.25}}\n{base}"),
    );
    trialflow(&tmp.path, &["run", "a.yaml", "--shard", "0/2", "-q"]).ok();
    let second = trialflow(&tmp.path, &["run", "b.yaml", "--shard", "1/2", "-q"]);
    if second.code == 0 {
        let merged = trialflow(&tmp.path, &["merge", "a.yaml", "-q"]);
        assert_ne!(
            merged.code, 0,
            "shards of different trials merged: {}",
            merged.stderr
        );
    }
    assert!(!tmp.join("out.spy").exists());
    write_file(
        &tmp.path,
        "t.yaml",
        &format!("trials: {{table: trials}}\n{base}"),
    );
    trialflow(&tmp.path, &["run", "t.yaml"]).assert_error(2, &["trials.table", "NWB"]);
}

/// A run with `trials:` and `select:` killed with SIGKILL resumes to the uninterrupted
/// run's bits.
#[test]
fn cut_and_selected_runs_resume_to_the_same_bits() {
    let tmp = TempDir::new("spy-trials-resume");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "60",
            "--samples",
            "4000",
            "--channels",
            "12",
        ],
    )
    .ok();
    let body = "trials: {length: 0.5, overlap: 0.25}\nselect: {channels: [11, 0, 5], latency: [0.0, 0.3]}\nexecution: {mode: parallel, workers: 2}\nsteps:\n  - routine: median_filter\n    size: 31\n    save: true\n  - routine: rectify\n";
    write_file(
        &tmp.path,
        "p.yaml",
        &format!("input: in.spy\noutput: out.spy\n{body}"),
    );
    write_file(
        &tmp.path,
        "whole.yaml",
        &format!("input: in.spy\noutput: whole.spy\n{body}"),
    );
    trialflow(&tmp.path, &["run", "whole.yaml", "-q"]).ok();
    let mut resumed = false;
    for checkpoints in [1, 2] {
        let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
        if run_and_kill(Path::new(BIN), &tmp.path, "p.yaml", checkpoints, &[]) {
            let out = trialflow(&tmp.path, &["run", "p.yaml", "--resume"]).ok();
            resumed |= out.stderr.contains("resumed an interrupted run");
        }
        assert_same_results(&tmp.join("out.spy"), &tmp.join("whole.spy"), "resumed");
    }
    assert!(resumed, "no run was resumed from completed tasks");
}
