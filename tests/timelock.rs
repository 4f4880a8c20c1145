//! `timelock` (Syncopy's `timelockanalysis`) through the command line: parity with Syncopy
//! 2023.9 on the cases `fixtures/reference/make_timelock.py` generated (unequal trials,
//! offsets, trial and channel selections, 2 to 16 channels, covariance averaged or per
//! trial, left-out trials), the TimeLockData it writes (`data` the cut trials, exactly
//! Syncopy's, with its trial definition; `avg`, `var`, `cov`; `.info`), the same bits in
//! every execution mode (sequential, parallel, channel groups, shards with their merge, a
//! resume after a kill, MPI ranks), and refusals.
//!
//! Tolerance. Syncopy copies the cut trials into a float32 dataset and sums them in float32
//! (the mean, then the squared deviations); it computes each trial's covariance in float64
//! and stores it as float32. trialflow sums the same stored trials in f64 and rounds once.
//! Values agree to 1e-5 relative, or 1e-5 of the dataset's largest magnitude where a value
//! is near zero (a mean or covariance crossing zero).

mod common;

use std::path::{Path, PathBuf};

use common::reference::{array, number};
use common::*;
use ndarray::ArrayD;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/fixtures/reference/timelock.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes a fixture input as `<dir>/<name>.analog` (float32 `data`, trialdefinition,
/// samplerate), the way Syncopy stored it.
fn write_input(dir: &Path, name: &str, input: &Value) -> PathBuf {
    init();
    let data = array(&input["data"]);
    let trials = array(&input["trials"]);
    let path = dir.join(format!("{name}.analog"));
    let f = h5_create(&path).unwrap();
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    f.new_dataset::<f32>()
        .shape(data.shape().to_vec())
        .create("data")
        .unwrap()
        .write_raw(&values)
        .unwrap();
    let rows: Vec<f64> = trials.iter().copied().collect();
    f.new_dataset::<f64>()
        .shape(trials.shape().to_vec())
        .create("trialdefinition")
        .unwrap()
        .write_raw(&rows)
        .unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&number(&input["samplerate"]))
        .unwrap();
    f.close().unwrap();
    path
}

/// The step's YAML lines from the case's parameters (JSON is valid YAML flow style).
fn step_yaml(params: &Value) -> String {
    let mut text = "  - routine: timelock\n".to_string();
    for (key, value) in params.as_object().unwrap() {
        text.push_str(&format!("    {key}: {value}\n"));
    }
    text
}

fn write_pipeline(
    dir: &Path,
    yaml: &str,
    input: &str,
    out: &str,
    select: &Value,
    step: &str,
    execution: &str,
) {
    let select = match select {
        Value::Null => String::new(),
        s => format!("select: {s}\n"),
    };
    write_file(
        dir,
        yaml,
        &format!("input: {input}\noutput: {out}\n{select}execution:\n{execution}steps:\n{step}"),
    );
}

fn timelock_file(container: &Path) -> PathBuf {
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with(".timelock"))
        .unwrap_or_else(|| panic!("{}: {:?}", container.display(), list(container)));
    container.join(name)
}

/// One dataset of an object file as f64 (and its stored bits, f32 widened exactly).
fn dataset(file: &Path, name: &str) -> Option<ArrayD<f64>> {
    init();
    let f = h5_open(file).unwrap();
    if !f.link_exists(name) {
        return None;
    }
    Some(f.dataset(name).unwrap().read_dyn::<f64>().unwrap())
}

fn bits(file: &Path) -> Vec<(String, Vec<u64>)> {
    ["data", "avg", "var", "cov"]
        .iter()
        .filter_map(|n| {
            dataset(file, n).map(|a| (n.to_string(), a.iter().map(|v| v.to_bits()).collect()))
        })
        .collect()
}

/// Worst |got - want| / tolerance over a dataset (see the module's tolerance).
fn worst(name: &str, got: &ArrayD<f64>, want: &ArrayD<f64>) -> f64 {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / (1e-5 * w.abs()).max(1e-5 * scale).max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

#[test]
fn timelock_matches_syncopy() {
    let doc = fixture();
    let tmp = TempDir::new("timelock-parity");
    for (name, input) in doc["inputs"].as_object().unwrap() {
        write_input(&tmp.path, name, input);
    }
    let mut compared = 0;
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let input = case["input"].as_str().unwrap();
        let out = format!("c{i}.spy");
        write_pipeline(
            &tmp.path,
            "p.yaml",
            &format!("{input}.analog"),
            &out,
            &case["select"],
            &step_yaml(&case["params"]),
            "  mode: parallel\n  workers: 2\n",
        );
        let run = trialflow(&tmp.path, &["run", "p.yaml", "-q"]);
        if case.get("error").is_some() {
            run.assert_error(2, &["timelock", "latency"]);
            continue;
        }
        let run = run.ok();
        let file = timelock_file(&tmp.join(&out));
        let info = read_info(&file);
        assert_eq!(info["dataclass"], "TimeLockData", "{name}");
        assert_eq!(info["dimord"], serde_json::json!(["time", "channel"]));
        assert_eq!(
            info["_hdfFileDatasetProperties"],
            serde_json::json!(["data", "avg", "var", "cov"])
        );
        // `data` holds the kept trials cut to the window, exactly Syncopy's (float32 copies),
        // with Syncopy's trial definition.
        let (shape, def) = read_trialdefinition(&file);
        let want_def = array(&case["trialdefinition"]);
        assert_eq!(shape, want_def.shape(), "{name}: trialdefinition shape");
        assert_eq!(def, want_def.iter().copied().collect::<Vec<_>>(), "{name}");
        assert_eq!(shape[0], case["n_kept"].as_u64().unwrap() as usize);
        assert_eq!(
            dataset(&file, "data").unwrap(),
            array(&case["data"]),
            "{name}: data"
        );
        let avg = dataset(&file, "avg").unwrap();
        let mut w = worst(&format!("{name} avg"), &avg, &array(&case["avg"]));
        w = w.max(worst(
            &format!("{name} var"),
            &dataset(&file, "var").unwrap(),
            &array(&case["var"]),
        ));
        match (&case["cov"], dataset(&file, "cov")) {
            (Value::Null, None) => {}
            (want, Some(got)) if !want.is_null() => {
                w = w.max(worst(&format!("{name} cov"), &got, &array(want)));
            }
            (want, got) => panic!(
                "{name}: cov {:?}, Syncopy {want}",
                got.map(|g| g.shape().to_vec())
            ),
        }
        assert!(w <= 1.0, "{name}: {w} times the tolerance");
        // The left-out trials are named in the log, one warning each.
        let selected = match &case["select"]["trials"] {
            Value::Array(t) => t.len(),
            _ => array(&doc["inputs"][input]["trials"]).shape()[0],
        };
        let left_out = selected - case["n_kept"].as_u64().unwrap() as usize;
        let log = info["_log"].as_str().unwrap();
        assert_eq!(
            log.matches("does not cover the latency window").count(),
            left_out,
            "{name}: {log}"
        );
        drop(run);
        compared += 1;
    }
    assert!(compared >= 8, "{compared} cases compared");
}

/// A recording trialflow generates (unequal trials), and the same timelock run in `mode`.
fn modes_setup(tmp: &TempDir, step: &str, trials: &str, samples: &str, channels: &str) {
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            trials,
            "--samples",
            samples,
            "--channels",
            channels,
            "--unequal",
        ],
    )
    .ok();
    write_pipeline(
        &tmp.path,
        "p.yaml",
        "in.spy",
        "seq.spy",
        &Value::Null,
        step,
        "  mode: sequential\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
}

const COV_STEP: &str =
    "  - routine: timelock\n    latency: [0.0, 0.15]\n    covariance: true\n    keeptrials: true\n";

#[test]
fn every_mode_shards_and_their_merge_give_the_same_bits() {
    let tmp = TempDir::new("timelock-modes");
    modes_setup(&tmp, COV_STEP, "13", "300", "5");
    let seq = timelock_file(&tmp.join("seq.spy"));
    let reference = bits(&seq);
    assert_eq!(reference.len(), 4, "data, avg, var and cov");
    // `data` holds the kept trials (more than one), each of the window's length.
    let (shape, def) = read_trialdefinition(&seq);
    let t = dataset(&seq, "avg").unwrap().shape()[0];
    assert!(shape[0] > 1, "{shape:?}");
    assert_eq!(dataset(&seq, "data").unwrap().shape(), [shape[0] * t, 5]);
    assert_eq!(dataset(&seq, "cov").unwrap().shape(), [shape[0], 5, 5]);
    assert!((0..shape[0]).all(|k| def[k * shape[1] + 1] - def[k * shape[1]] == t as f64));
    let runs = [
        ("parallel", "  mode: parallel\n  workers: 2\n"),
        (
            "parallel_store",
            "  mode: parallel\n  workers: 2\n  parallel_store: true\n",
        ),
        ("debug", "  mode: debug\n"),
    ];
    for (i, (what, execution)) in runs.iter().enumerate() {
        let out = format!("m{i}.spy");
        write_pipeline(
            &tmp.path,
            "p.yaml",
            "in.spy",
            &out,
            &Value::Null,
            COV_STEP,
            execution,
        );
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        assert!(
            bits(&timelock_file(&tmp.join(&out))) == reference,
            "{what} differs from sequential"
        );
    }
    for count in [2usize, 3, 5] {
        let out = format!("s{count}.spy");
        write_pipeline(
            &tmp.path,
            "p.yaml",
            "in.spy",
            &out,
            &Value::Null,
            COV_STEP,
            "  mode: parallel\n  workers: 1\n",
        );
        for index in (0..count).rev() {
            let shard = format!("{index}/{count}");
            trialflow(&tmp.path, &["run", "p.yaml", "--shard", &shard, "-q"]).ok();
        }
        assert!(!tmp.join(&out).exists(), "shards write no output");
        trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
        assert!(
            bits(&timelock_file(&tmp.join(&out))) == reference,
            "{count} shards + merge differ from sequential"
        );
    }
    // Each channel is cut on its own and the covariance is computed from the stored trials,
    // so channel groups give the same bits, covariance included.
    write_pipeline(
        &tmp.path,
        "p.yaml",
        "in.spy",
        "cov_groups.spy",
        &Value::Null,
        COV_STEP,
        "  mode: parallel\n  workers: 2\n  chan_per_worker: 2\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    assert!(
        bits(&timelock_file(&tmp.join("cov_groups.spy"))) == reference,
        "channel groups with covariance differ from sequential"
    );
    let plain = "  - routine: timelock\n    latency: [0.0, 0.15]\n";
    write_pipeline(
        &tmp.path,
        "p.yaml",
        "in.spy",
        "plain.spy",
        &Value::Null,
        plain,
        "  mode: sequential\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let plain_bits = bits(&timelock_file(&tmp.join("plain.spy")));
    assert_eq!(plain_bits.len(), 3, "no cov without covariance");
    write_pipeline(
        &tmp.path,
        "p.yaml",
        "in.spy",
        "groups.spy",
        &Value::Null,
        plain,
        "  mode: parallel\n  workers: 2\n  chan_per_worker: 2\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    assert!(
        bits(&timelock_file(&tmp.join("groups.spy"))) == plain_bits,
        "channel groups differ from sequential"
    );
}

#[test]
fn a_resume_after_a_kill_gives_the_uninterrupted_bits() {
    let tmp = TempDir::new("timelock-resume");
    let step = "  - routine: timelock\n    latency: [0.0, 0.8]\n    covariance: true\n";
    modes_setup(&tmp, step, "160", "1500", "8");
    let reference = bits(&timelock_file(&tmp.join("seq.spy")));
    write_pipeline(
        &tmp.path,
        "out.yaml",
        "in.spy",
        "out.spy",
        &Value::Null,
        step,
        "  mode: parallel\n  workers: 2\n",
    );
    if !run_and_kill(Path::new(BIN), &tmp.path, "out.yaml", 1, &[]) {
        eprintln!("skipped: the run finished before a checkpoint could be interrupted");
        return;
    }
    assert!(!tmp.join("out.spy").exists(), "the kill left no output");
    trialflow(&tmp.path, &["run", "out.yaml", "--resume", "-q"]).ok();
    assert!(
        bits(&timelock_file(&tmp.join("out.spy"))) == reference,
        "the resumed result differs from the uninterrupted one"
    );
}

#[test]
fn a_known_evoked_response_is_the_hand_computed_mean_and_variance() {
    // Three trials, two channels, 10 Hz, offsets -2, -3 and -1: the window [0, 0.2] s holds
    // samples 2..5, 3..6 and 1..4 of them; trial 3 (offset 0) does not cover t = -0.1.
    let tmp = TempDir::new("timelock-hand");
    let rows: [[f32; 2]; 20] = [
        [0., 9.],
        [0., 9.],
        [1., 2.],
        [2., 4.],
        [3., 6.],
        [0., 0.],
        [0., 0.],
        [0., 0.],
        [3., 1.],
        [4., 1.],
        [5., 1.],
        [0., 0.],
        [2., 5.],
        [4., 5.],
        [6., 5.],
        [7., 7.],
        [7., 7.],
        [7., 7.],
        [7., 7.],
        [7., 7.],
    ];
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&v| v as f64))
        .collect();
    let input = serde_json::json!({
        "samplerate": 10.0,
        "data": flat.chunks(2).map(|c| c.to_vec()).collect::<Vec<_>>(),
        "trials": [[0, 5, -2], [5, 11, -3], [11, 15, -1], [15, 20, 0]],
    });
    write_input(&tmp.path, "hand", &input);
    let step =
        "  - routine: timelock\n    latency: [-0.1, 0.2]\n    covariance: true\n    ddof: 0\n";
    write_pipeline(
        &tmp.path,
        "p.yaml",
        "hand.analog",
        "o.spy",
        &Value::Null,
        step,
        "  mode: sequential\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let file = timelock_file(&tmp.join("o.spy"));
    // Windows [-0.1, 0.2]: trial 0 rows 1..5, trial 1 rows 2..6, trial 2 rows 0..4.
    let windows = [
        [[0., 9.], [1., 2.], [2., 4.], [3., 6.]],
        [[0., 0.], [3., 1.], [4., 1.], [5., 1.]],
        [[0., 0.], [2., 5.], [4., 5.], [6., 5.]],
    ];
    let avg = dataset(&file, "avg").unwrap();
    let var = dataset(&file, "var").unwrap();
    for s in 0..4 {
        for c in 0..2 {
            let x: Vec<f64> = windows.iter().map(|w| w[s][c]).collect();
            let mean = x.iter().sum::<f64>() / 3.0;
            let v = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0;
            assert!((avg[[s, c]] - mean).abs() < 1e-6, "avg[{s}, {c}]");
            assert!((var[[s, c]] - v).abs() < 1e-5, "var[{s}, {c}]");
        }
    }
    // The covariance (ddof 0) of each window, averaged over the three trials.
    let mut want = [[0.0f64; 2]; 2];
    for w in &windows {
        let m: Vec<f64> = (0..2)
            .map(|c| w.iter().map(|r| r[c]).sum::<f64>() / 4.0)
            .collect();
        for i in 0..2 {
            for j in 0..2 {
                want[i][j] +=
                    w.iter().map(|r| (r[i] - m[i]) * (r[j] - m[j])).sum::<f64>() / 4.0 / 3.0;
            }
        }
    }
    let cov = dataset(&file, "cov").unwrap();
    assert_eq!(cov.shape(), [2, 2]);
    for i in 0..2 {
        for j in 0..2 {
            assert!(
                (cov[[i, j]] - want[i][j]).abs() < 1e-5,
                "cov[{i}, {j}]: {} vs {}",
                cov[[i, j]],
                want[i][j]
            );
        }
    }
    // `data` is the three windows back to back, each row's offset its window's first sample.
    let data = dataset(&file, "data").unwrap();
    let want: Vec<f64> = windows.iter().flatten().flatten().copied().collect();
    assert_eq!(data.shape(), [12, 2]);
    assert_eq!(data.iter().copied().collect::<Vec<_>>(), want);
    let (shape, def) = read_trialdefinition(&file);
    assert_eq!(shape, [3, 3]);
    assert_eq!(def, [0., 4., -1., 4., 8., -1., 8., 12., -1.]);
    let log = read_info(&file)["_log"].as_str().unwrap().to_string();
    assert!(log.contains("trial 3") && log.contains("left out"), "{log}");
}

#[test]
fn bad_inputs_are_refused_up_front_on_one_line() {
    let tmp = TempDir::new("timelock-bad");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "4",
            "--samples",
            "200",
            "--channels",
            "3",
        ],
    )
    .ok();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "a.spy",
            "  - routine: timelock\n    latency: [5.0, 6.0]\n",
            &["timelock", "latency", "[5, 6]", "outside every trial"],
        ),
        (
            "b.spy",
            "  - routine: timelock\n    latency: [-1.0, 0.1]\n",
            &["timelock", "no trial covers", "[-1, 0.1]"],
        ),
        (
            "c.spy",
            "  - routine: timelock\n    latency: all\n",
            &["timelock", "latency", "'all'", "maxperiod"],
        ),
        (
            "d.spy",
            "  - routine: timelock\n    covariance: true\n    ddof: 500\n",
            &["timelock", "ddof 500"],
        ),
        (
            "e.spy",
            "  - routine: mtmfft\n  - routine: timelock\n",
            &["timelock", "AnalogData", "SpectralData"],
        ),
        (
            "f.spy",
            "  - routine: timelock\n    covarance: true\n",
            &["covarance"],
        ),
    ];
    for (out, step, needles) in cases {
        write_pipeline(
            &tmp.path,
            "bad.yaml",
            "in.spy",
            out,
            &Value::Null,
            step,
            "  mode: sequential\n",
        );
        trialflow(&tmp.path, &["run", "bad.yaml", "-q"]).assert_error(2, needles);
    }
    assert!(list(&tmp.path)
        .iter()
        .all(|n| !n.ends_with(".spy") || n == "in.spy"));
}

/// `execution.mode: mpi` under a real `mpirun` (2 and 3 ranks): the ranks fold their slices
/// and rank 0 merges them to the sequential bits. Built only with `--features mpi`
/// (scripts/test.sh runs it), since it needs OpenMPI.
#[cfg(feature = "mpi")]
#[test]
fn mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("timelock-mpi");
    modes_setup(&tmp, COV_STEP, "13", "300", "5");
    let reference = bits(&timelock_file(&tmp.join("seq.spy")));
    for ranks in [2, 3] {
        let out = format!("mpi{ranks}.spy");
        write_pipeline(
            &tmp.path,
            "p.yaml",
            "in.spy",
            &out,
            &Value::Null,
            COV_STEP,
            "  mode: mpi\n",
        );
        runs::mpirun(Path::new(BIN), &tmp.path, ranks, &["run", "p.yaml"]).ok();
        assert!(
            bits(&timelock_file(&tmp.join(&out))) == reference,
            "{ranks} MPI ranks differ from sequential"
        );
    }
}
