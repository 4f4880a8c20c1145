//! Trials longer than memory: a trial cut into time chunks (`execution.chunk_samples`, or
//! automatically when it does not fit in memory) gives bitwise the whole-trial result, dense
//! output and events alike, for every routine that declares a time support, alone and
//! fused, in sequential and parallel mode and with channel groups; a routine that needs the
//! whole trial is refused naming it; a killed chunked run resumes at trial granularity.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// Every dataset of every object file of a container, as raw bits (floats) or values
/// (integers): event columns are compared too, not only `data`.
fn everything(container: &Path) -> BTreeMap<String, Vec<u64>> {
    init();
    let mut all = BTreeMap::new();
    for name in list(container) {
        if ![".analog", ".spike"].iter().any(|ext| name.ends_with(ext)) {
            continue;
        }
        let file = h5_open(container.join(&name)).unwrap();
        for member in file.member_names().unwrap() {
            let Ok(ds) = file.dataset(&member) else {
                continue;
            };
            let key = format!("{}/{member}", name.split_once('_').unwrap().1);
            let bits: Vec<u64> = match ds.dtype().unwrap().to_descriptor().unwrap() {
                hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U4) => ds
                    .read_raw::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| u64::from(v.to_bits()))
                    .collect(),
                hdf5::types::TypeDescriptor::Float(_) => ds
                    .read_raw::<f64>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
                _ => ds
                    .read_raw::<i64>()
                    .unwrap()
                    .iter()
                    .map(|&v| v as u64)
                    .collect(),
            };
            all.insert(key, bits);
        }
    }
    all
}

fn assert_same(whole: &BTreeMap<String, Vec<u64>>, got: &BTreeMap<String, Vec<u64>>, what: &str) {
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{what}: datasets"
    );
    for (key, want) in whole {
        let have = &got[key];
        assert_eq!(want.len(), have.len(), "{what}: {key} length");
        if let Some(i) = (0..want.len()).find(|&i| want[i] != have[i]) {
            panic!(
                "{what}: {key} differs first at element {i} of {} ({:#x} vs {:#x})",
                want.len(),
                want[i],
                have[i]
            );
        }
    }
}

/// Two long trials (unequal lengths) of 11 channels: more channels than one lane of eight,
/// so channel groups split inside a trial.
fn recording(dir: &Path) {
    trialflow(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            "3",
            "--samples",
            "6000",
            "--channels",
            "11",
            "--unequal",
        ],
    )
    .ok();
}

fn yaml(steps: &str, execution: &str) -> String {
    format!("input: in.spy\noutput: out.spy\nexecution:\n{execution}steps:\n{steps}")
}

/// Runs `steps` as whole trials, then cut into chunks of several lengths in every mode,
/// comparing every dataset bit for bit. Returns the whole-trial result's size, so callers
/// can check the pipeline produced something.
fn check_chunked_equals_whole(dir: &Path, label: &str, steps: &str) -> usize {
    write_file(dir, "p.yaml", &yaml(steps, "  mode: sequential\n"));
    trialflow(dir, &["run", "p.yaml", "-q", "--overwrite"]).ok();
    let whole = everything(&dir.join("out.spy"));
    let modes = [
        "  mode: sequential\n",
        "  mode: parallel\n  workers: 2\n",
        "  mode: parallel\n  workers: 2\n  chan_per_worker: 3\n",
    ];
    for chunk in [97, 1000, 5000] {
        for mode in modes {
            let execution = format!("{mode}  chunk_samples: {chunk}\n");
            write_file(dir, "p.yaml", &yaml(steps, &execution));
            trialflow(dir, &["run", "p.yaml", "-q", "--overwrite"]).ok();
            let got = everything(&dir.join("out.spy"));
            let what = format!("{label}, chunk_samples {chunk}, {}", mode.trim());
            let object = list(&dir.join("out.spy"))
                .into_iter()
                .find(|n| n.ends_with(".analog") || n.ends_with(".spike"))
                .unwrap();
            let info = read_info(&dir.join("out.spy").join(object));
            assert_eq!(
                info["info"]["execution"]["chunk_samples"], chunk,
                "{what}: the run was cut into chunks ({info})"
            );
            assert_same(&whole, &got, &what);
        }
    }
    whole.values().map(Vec::len).sum()
}

#[test]
fn margin_routines_chunk_to_the_whole_trial_bits() {
    let tmp = TempDir::new("long-margin");
    recording(&tmp.path);
    let cases = [
        ("gaussian", "  - routine: gaussian\n    sigma: 7.5\n"),
        (
            "gaussian derivative, nearest",
            "  - routine: gaussian\n    sigma: 3\n    order: 1\n    mode: nearest\n",
        ),
        ("median_filter", "  - routine: median_filter\n    size: 31\n    origin: 3\n"),
        (
            "savgol interp",
            "  - routine: savgol\n    window_length: 41\n    polyorder: 3\n",
        ),
        (
            "savgol mirror",
            "  - routine: savgol\n    window_length: 21\n    polyorder: 2\n    deriv: 1\n    mode: mirror\n",
        ),
    ];
    for (label, steps) in cases {
        let n = check_chunked_equals_whole(&tmp.path, label, steps);
        assert!(n > 0, "{label} wrote data");
    }
}

#[test]
fn one_pass_butterworth_carries_its_state_across_chunks() {
    let tmp = TempDir::new("long-iir");
    recording(&tmp.path);
    for steps in [
        "  - routine: butterworth\n    filter_type: bp\n    freq: [5, 80]\n    order: 4\n    direction: onepass\n",
        "  - routine: butterworth\n    filter_type: hp\n    freq: 2\n    order: 6\n    direction: onepass\n",
    ] {
        check_chunked_equals_whole(&tmp.path, "butterworth onepass", steps);
    }
}

#[test]
fn peaks_from_chunks_are_the_whole_trial_peaks_each_reported_once() {
    let tmp = TempDir::new("long-peaks");
    recording(&tmp.path);
    let n = check_chunked_equals_whole(
        &tmp.path,
        "find_peaks",
        "  - routine: find_peaks\n    height: 0.2\n    threshold: 0.0\n    prominence: 0.1\n    width: 1\n    wlen: 151\n    rel_height: 0.7\n",
    );
    assert!(n > 100, "peaks were found");
    check_chunked_equals_whole(
        &tmp.path,
        "find_peaks plateau_size",
        "  - routine: find_peaks\n    plateau_size: 1\n    height: 0\n",
    );
}

/// Margins add up along a fused pipeline, a carried step in the middle included, and saved
/// intermediate steps are written chunk by chunk too.
#[test]
fn fused_pipelines_add_their_margins() {
    let tmp = TempDir::new("long-fused");
    recording(&tmp.path);
    check_chunked_equals_whole(
        &tmp.path,
        "gaussian -> median -> find_peaks",
        "  - routine: gaussian\n    sigma: 4\n    name: smooth\n    save: true\n  - routine: median_filter\n    size: 9\n  - routine: find_peaks\n    prominence: 0.05\n    wlen: 61\n",
    );
    check_chunked_equals_whole(
        &tmp.path,
        "butterworth -> gaussian -> find_peaks",
        "  - routine: butterworth\n    filter_type: lp\n    freq: 60\n    direction: onepass\n    name: filtered\n    save: true\n  - routine: gaussian\n    sigma: 2\n  - routine: find_peaks\n    height: 0.1\n",
    );
}

/// Without `chunk_samples`, a trial that does not fit in memory is cut automatically
/// (same bits); one through a routine that needs the whole trial is refused, exit 2,
/// naming the step and routine and pointing at `trials:`.
#[test]
fn trials_too_long_for_memory_chunk_or_are_refused_by_name() {
    let tmp = TempDir::new("long-refuse");
    recording(&tmp.path);
    let steps = "  - routine: gaussian\n    sigma: 5\n  - routine: find_peaks\n    height: 0.3\n";
    write_file(&tmp.path, "p.yaml", &yaml(steps, "  mode: sequential\n"));
    trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"]).ok();
    let whole = everything(&tmp.path.join("out.spy"));
    // A few hundred kB: no trial of 6000 x 11 samples fits with its outputs, a chunk does.
    let small = [("TRIALFLOW_AVAILABLE_MEMORY", "1500000")];
    trialflow_env(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"], &small).ok();
    assert_same(
        &whole,
        &everything(&tmp.path.join("out.spy")),
        "memory-chunked",
    );

    for (routine, step) in [
        ("zscore", "  - routine: zscore\n"),
        ("mtmfft", "  - routine: mtmfft\n    taper: hann\n"),
        ("hilbert", "  - routine: hilbert\n"),
        ("butterworth", "  - routine: butterworth\n    freq: 40\n"),
        ("find_peaks", "  - routine: find_peaks\n    distance: 20\n"),
        (
            "moving_average",
            "  - routine: moving_average\n    size: 5\n",
        ),
        (
            "gaussian",
            "  - routine: gaussian\n    sigma: 2\n    mode: wrap\n",
        ),
    ] {
        let steps = format!("  - routine: median_filter\n    size: 3\n{step}");
        write_file(&tmp.path, "p.yaml", &yaml(&steps, "  mode: sequential\n"));
        let out = trialflow_env(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"], &small);
        out.assert_error(
            2,
            &[routine, "whole trial", "trials:", "does not fit in memory"],
        );
        write_file(
            &tmp.path,
            "p.yaml",
            &yaml(&steps, "  mode: sequential\n  chunk_samples: 1000\n"),
        );
        let out = trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"]);
        out.assert_error(2, &[routine, "whole trial", "trials:", "chunk_samples"]);
    }
    write_file(
        &tmp.path,
        "p.yaml",
        &yaml(steps, "  mode: sequential\n  chunk_samples: 0\n"),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).assert_error(2, &["chunk_samples"]);
}

/// A plateau longer than find_peaks' margin across a chunk's edge is refused (its peak
/// could be anywhere along it), never guessed; whole trials take it.
#[test]
fn plateaus_across_a_chunk_edge_are_refused_not_guessed() {
    let tmp = TempDir::new("long-plateau");
    init();
    let n = 4000;
    let path = tmp.path.join("in.analog");
    {
        let f = h5_create(&path).unwrap();
        // Row-major samples x 2 channels: a bump, then a flat top across sample 2000.
        let values: Vec<f32> = (0..n)
            .flat_map(|i| {
                let v = if (1900..2100).contains(&i) {
                    5.0
                } else {
                    ((i as f32) * 0.05).sin()
                };
                [v, v * 0.5]
            })
            .collect();
        let ds = f.new_dataset::<f32>().shape([n, 2]).create("data").unwrap();
        ds.write_raw(&values).unwrap();
        let def = f
            .new_dataset::<f64>()
            .shape((1, 3))
            .create("trialdefinition")
            .unwrap();
        def.write_raw(&[0.0, n as f64, 0.0]).unwrap();
        f.new_attr::<f64>()
            .create("samplerate")
            .unwrap()
            .write_scalar(&1000.0)
            .unwrap();
    }
    let steps = "  - routine: find_peaks\n    height: 0\n";
    let doc = |exec: &str| {
        format!("input: in.analog\noutput: out.spy\nexecution:\n{exec}steps:\n{steps}")
    };
    write_file(&tmp.path, "p.yaml", &doc("  mode: sequential\n"));
    trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"]).ok();
    write_file(
        &tmp.path,
        "p.yaml",
        &doc("  mode: sequential\n  chunk_samples: 2000\n"),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"])
        .assert_error(2, &["find_peaks", "equal samples", "chunk", "trials:"]);
}

/// Resume granularity is the trial: a chunked run killed after some trials resumes from the
/// first unfinished trial to the same bits.
#[test]
fn a_killed_chunked_run_resumes_at_a_trial_boundary() {
    let tmp = TempDir::new("long-resume");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "40",
            "--samples",
            "20000",
            "--channels",
            "16",
        ],
    )
    .ok();
    let steps = "  - routine: gaussian\n    sigma: 6\n    name: smooth\n    save: true\n  - routine: find_peaks\n    height: 0.2\n";
    write_file(&tmp.path, "p.yaml", &yaml(steps, "  mode: sequential\n"));
    trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"]).ok();
    let whole = everything(&tmp.path.join("out.spy"));
    std::fs::remove_dir_all(tmp.path.join("out.spy")).unwrap();
    let chunked = yaml(steps, "  mode: sequential\n  chunk_samples: 777\n");
    write_file(&tmp.path, "p.yaml", &chunked);
    let killed = run_and_kill(Path::new(BIN), &tmp.path, "p.yaml", 1, &[]);
    if !killed {
        println!("skipped the kill: the run finished before its first checkpoint");
    }
    let args: &[&str] = if killed {
        &["run", "p.yaml", "-q", "--resume"]
    } else {
        &["run", "p.yaml", "-q", "--overwrite"]
    };
    trialflow(&tmp.path, args).ok();
    assert_same(&whole, &everything(&tmp.path.join("out.spy")), "resumed");
}
