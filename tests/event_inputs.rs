//! Events as step input (issue #15): a routine taking SpikeData (`spike_count` of
//! `examples/event_routine.rs`) gets each trial's events, with samples relative to the trial
//! start and a channel group's own channels only, from the step before it (`find_peaks`)
//! and from a saved SpikeData object, with the same bits in every mode: sequential,
//! parallel, channel groups, shards + merge, resume after a kill, and MPI ranks. The counts
//! are checked against the saved events counted here.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The `event_routine` example binary (built by `cargo test` next to the test binaries).
fn event_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/event_routine
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .join("examples")
        .join("event_routine");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test` builds it (or run `cargo build --example event_routine`)",
        bin.display()
    );
    bin
}

fn events(cwd: &Path, args: &[&str]) -> Outcome {
    run_binary(&event_binary(), cwd, args, &[])
}

fn recording(dir: &Path, trials: &str) {
    events(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            trials,
            "--samples",
            "300",
            "--channels",
            "5",
            "--unequal",
        ],
    )
    .ok();
}

const FUSED: &str = "steps:\n  - routine: find_peaks\n    height: 0.5\n    name: peaks\n    save: true\n  - routine: spike_count\n    name: counts\n    save: true\n";

const FROM_FILE: &str = "steps:\n  - routine: spike_count\n    name: counts\n    save: true\n";

const MODES: [(&str, &str); 5] = [
    ("seq", "  mode: sequential"),
    ("par", "  mode: parallel\n  workers: 2"),
    (
        "groups",
        "  mode: parallel\n  workers: 2\n  chan_per_worker: 2",
    ),
    ("seqgroups", "  mode: sequential\n  chan_per_worker: 3"),
    ("files", "  mode: parallel\n  parallel_store: false"),
];

fn pipeline(input: &str, output: &str, execution: &str, steps: &str) -> String {
    format!("input: {input}\noutput: {output}\nexecution:\n{execution}\n{steps}")
}

/// Per trial, rows `[count, sum of samples from the trial start]` x channels, counted from
/// a saved SpikeData object and its trial definition.
fn counted(spike: &Path, channels: usize) -> Vec<f64> {
    init();
    let f = h5_open(spike).unwrap();
    let rows: Vec<i64> = f.dataset("data").unwrap().read_raw().unwrap();
    let (shape, trl) = read_trialdefinition(spike);
    let mut out = vec![0.0; shape[0] * 2 * channels];
    for t in 0..shape[0] {
        let (start, stop) = (trl[t * shape[1]] as i64, trl[t * shape[1] + 1] as i64);
        for row in rows.chunks_exact(3) {
            if row[0] >= start && row[0] < stop {
                let c = row[1] as usize;
                out[t * 2 * channels + c] += 1.0;
                out[t * 2 * channels + channels + c] += (row[0] - start) as f64;
            }
        }
    }
    out
}

#[test]
fn find_peaks_events_reach_the_next_step_with_the_same_bits_in_every_mode() {
    let tmp = TempDir::new("events-fused");
    recording(&tmp.path, "9");
    for (name, execution) in MODES {
        let out = format!("{name}.spy");
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline("in.spy", &out, execution, FUSED),
        );
        events(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    for (name, _) in &MODES[1..] {
        assert_same_results(
            &tmp.join(format!("{name}.spy")),
            &tmp.join("seq.spy"),
            &format!("{name} against sequential"),
        );
    }
    let counts = read_data(&tmp.join("seq.spy/seq_counts.analog"));
    assert_eq!(counts.shape, [18, 5]);
    let expected = counted(&tmp.join("seq.spy/seq_peaks.spike"), 5);
    assert!(expected.iter().any(|&v| v > 0.0), "find_peaks found events");
    assert_eq!(
        counts.values, expected,
        "spike_count counts the saved events"
    );
}

#[test]
fn a_spikedata_object_is_an_input_with_the_fused_bits_in_every_mode() {
    let tmp = TempDir::new("events-file");
    recording(&tmp.path, "9");
    write_file(
        &tmp.path,
        "fused.yaml",
        &pipeline("in.spy", "fused.spy", "  mode: sequential", FUSED),
    );
    events(&tmp.path, &["run", "fused.yaml", "-q"]).ok();
    for (name, execution) in MODES {
        let out = format!("{name}.spy");
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline("fused.spy/peaks", &out, execution, FROM_FILE),
        );
        events(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
        let got = read_data(&tmp.join(format!("{name}.spy/{name}_counts.analog")));
        let fused = read_data(&tmp.join("fused.spy/fused_counts.analog"));
        assert!(
            got.bits == fused.bits,
            "{name}: counts differ from the fused run"
        );
    }
    // The object file itself names the input as well as its container and tag.
    write_file(
        &tmp.path,
        "direct.yaml",
        &pipeline(
            "fused.spy/fused_peaks.spike",
            "direct.spy",
            "  mode: sequential",
            FROM_FILE,
        ),
    );
    events(&tmp.path, &["run", "direct.yaml", "-q"]).ok();
    assert_same_results(&tmp.join("direct.spy"), &tmp.join("seq.spy"), "object file");
    // The input's provenance is carried forward.
    let info = read_info(&tmp.join("seq.spy/seq_counts.analog"));
    let log = info["_log"].as_str().unwrap();
    assert!(
        log.contains("find_peaks") && log.contains("spike_count"),
        "{log}"
    );
}

#[test]
fn event_inputs_run_as_shards_and_resume_with_the_same_bits() {
    let tmp = TempDir::new("events-shards");
    recording(&tmp.path, "40");
    let whole = pipeline("in.spy", "whole.spy", "  mode: sequential", FUSED);
    write_file(&tmp.path, "whole.yaml", &whole);
    events(&tmp.path, &["run", "whole.yaml", "-q"]).ok();
    // Fused, as shards then a merge.
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("in.spy", "out.spy", "  mode: parallel", FUSED),
    );
    for shard in ["2/3", "0/3", "1/3"] {
        events(&tmp.path, &["run", "p.yaml", "--shard", shard, "-q"]).ok();
    }
    events(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
    assert_same_results(
        &tmp.join("out.spy"),
        &tmp.join("whole.spy"),
        "merged shards",
    );
    // From the saved events, as shards then a merge.
    write_file(
        &tmp.path,
        "f.yaml",
        &pipeline(
            "whole.spy/peaks",
            "files.spy",
            "  mode: parallel\n  chan_per_worker: 2",
            FROM_FILE,
        ),
    );
    for shard in ["1/2", "0/2"] {
        events(&tmp.path, &["run", "f.yaml", "--shard", shard, "-q"]).ok();
    }
    events(&tmp.path, &["merge", "f.yaml", "-q"]).ok();
    let merged = read_data(&tmp.join("files.spy/files_counts.analog"));
    let fused = read_data(&tmp.join("whole.spy/whole_counts.analog"));
    assert!(
        merged.bits == fused.bits,
        "merged shards of a SpikeData input"
    );

    // Resumed after a kill, on a recording long enough to checkpoint: the same bits.
    events(
        &tmp.path,
        &[
            "generate",
            "big.spy",
            "--trials",
            "60",
            "--samples",
            "4000",
            "--channels",
            "5",
        ],
    )
    .ok();
    let big = |out: &str| pipeline("big.spy", out, "  mode: parallel\n  workers: 2", FUSED);
    write_file(&tmp.path, "bigwhole.yaml", &big("bigwhole.spy"));
    write_file(&tmp.path, "r.yaml", &big("out.spy"));
    events(&tmp.path, &["run", "bigwhole.yaml", "-q"]).ok();
    std::fs::remove_dir_all(tmp.join("out.spy")).unwrap();
    if run_and_kill(&event_binary(), &tmp.path, "r.yaml", 1, &[]) {
        let out = events(&tmp.path, &["run", "r.yaml", "--resume"]).ok();
        if !out.stderr.contains("resumed an interrupted run") {
            println!("skipped: the killed run had no completed tasks to resume from");
        }
        assert_same_results(&tmp.join("out.spy"), &tmp.join("bigwhole.spy"), "resumed");
    } else {
        println!("skipped: the run finished before it could be killed");
    }
}

#[test]
fn an_input_kind_a_step_does_not_take_is_refused_naming_both() {
    let tmp = TempDir::new("events-refused");
    recording(&tmp.path, "3");
    write_file(
        &tmp.path,
        "fused.yaml",
        &pipeline("in.spy", "fused.spy", "  mode: sequential", FUSED),
    );
    events(&tmp.path, &["run", "fused.yaml", "-q"]).ok();
    let refused = |input: &str, steps: &str, needles: &[&str]| {
        write_file(
            &tmp.path,
            "bad.yaml",
            &pipeline(input, "bad.spy", "  mode: sequential", steps),
        );
        events(&tmp.path, &["run", "bad.yaml"]).assert_error(2, needles);
        assert!(!tmp.join("bad.spy").exists());
    };
    refused(
        "in.spy",
        FROM_FILE,
        &["spike_count", "takes SpikeData", "receives AnalogData"],
    );
    refused(
        "fused.spy/peaks",
        "steps:\n  - routine: mean\n    dim: trials\n",
        &["(mean)", "AnalogData", "receives SpikeData"],
    );
    refused(
        "fused.spy/peaks",
        "select:\n  trials: [0]\nsteps:\n  - routine: spike_count\n",
        &["`select:`", "SpikeData"],
    );
}

/// Events on MPI ranks (the example built with `--features mpi`): the sequential bits.
#[cfg(feature = "mpi")]
#[test]
fn event_inputs_on_mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("events-mpi");
    recording(&tmp.path, "11");
    write_file(
        &tmp.path,
        "seq.yaml",
        &pipeline("in.spy", "seq.spy", "  mode: sequential", FUSED),
    );
    events(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    for (name, input, steps) in [
        ("fused", "in.spy", FUSED),
        ("file", "seq.spy/peaks", FROM_FILE),
    ] {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline(input, &format!("{name}.spy"), "  mode: mpi", steps),
        );
        runs::mpirun(
            &event_binary(),
            &tmp.path,
            2,
            &["run", &format!("{name}.yaml")],
        )
        .ok();
        let got = read_data(&tmp.join(format!("{name}.spy/{name}_counts.analog")));
        let seq = read_data(&tmp.join("seq.spy/seq_counts.analog"));
        assert!(got.bits == seq.bits, "{name} on MPI ranks");
    }
}
