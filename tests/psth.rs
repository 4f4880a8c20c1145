//! `psth` (Syncopy's `spike_psth`) through the command line: the TimeLockData it writes for
//! Syncopy's SpikeData inputs of `fixtures/reference/make_psth.py` against Syncopy's own
//! (`keeptrials: true`, the default: the per-trial histograms in `data` with Syncopy's trial
//! definition, `avg`, `var`), on the events `find_peaks` finds (fused) and on a saved
//! SpikeData object, a known spike train against a hand count, `keeptrials: false`, the same
//! bits in every mode (parallel, shards with their merge, MPI ranks), and refusals (dense
//! input, bad parameters). The pure numerics are checked against Syncopy in
//! `tests/psth_numerics.rs`.
//!
//! Tolerance: histograms agree exactly for counts and to 1e-6 relative otherwise (Syncopy
//! stores float32, as trialflow does for these float32 objects); averages and variances,
//! which Syncopy sums in float32, to 1e-5 relative or 1e-5 of the largest magnitude.

mod common;

use std::path::{Path, PathBuf};

use common::reference::{array, number};
use common::*;
use ndarray::ArrayD;
use serde_json::Value;

fn timelock_file(container: &Path) -> PathBuf {
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with(".timelock"))
        .unwrap_or_else(|| panic!("{}: {:?}", container.display(), list(container)));
    container.join(name)
}

fn dataset(file: &Path, name: &str) -> ArrayD<f64> {
    init();
    h5_open(file)
        .unwrap()
        .dataset(name)
        .unwrap()
        .read_dyn::<f64>()
        .unwrap()
}

fn bits(file: &Path) -> Vec<u64> {
    ["data", "avg", "var"]
        .iter()
        .flat_map(|n| {
            dataset(file, n)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pipeline(input: &str, out: &str, execution: &str, steps: &str) -> String {
    format!("input: {input}\noutput: {out}\nexecution:\n{execution}steps:\n{steps}")
}

/// Writes a fixture input as `<dir>/<name>.spike` (int64 rows [sample, channel, unit],
/// trialdefinition, samplerate) with a `.info` naming its channels and units.
fn write_spikes(dir: &Path, name: &str, input: &Value) -> PathBuf {
    init();
    let events = array(&input["events"]);
    let trials = array(&input["trials"]);
    let path = dir.join(format!("{name}.spike"));
    let f = h5_create(&path).unwrap();
    let rows: Vec<i64> = events.iter().map(|&v| v as i64).collect();
    f.new_dataset::<i64>()
        .shape(events.shape().to_vec())
        .create("data")
        .unwrap()
        .write_raw(&rows)
        .unwrap();
    let def: Vec<f64> = trials.iter().copied().collect();
    f.new_dataset::<f64>()
        .shape(trials.shape().to_vec())
        .create("trialdefinition")
        .unwrap()
        .write_raw(&def)
        .unwrap();
    f.close().unwrap();
    let column_max = |k: usize| events.outer_iter().map(|r| r[k] as usize).max().unwrap();
    let info = serde_json::json!({
        "dataclass": "SpikeData",
        "samplerate": number(&input["samplerate"]),
        "channel": (0..=column_max(1)).map(|c| format!("channel{c}")).collect::<Vec<_>>(),
        "unit": (0..=column_max(2)).map(|u| format!("unit{u}")).collect::<Vec<_>>(),
        "dimord": ["sample", "channel", "unit"],
    });
    write_file(dir, &format!("{name}.spike.info"), &info.to_string());
    path
}

/// Worst |got - want| / tolerance (NaN matching NaN), tolerance `rel` of the value or of
/// the dataset's largest magnitude.
fn worst(name: &str, got: &ArrayD<f64>, want: &ArrayD<f64>, rel: f64) -> f64 {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    let scale = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            if g.is_nan() || w.is_nan() {
                return if g.is_nan() && w.is_nan() {
                    0.0
                } else {
                    f64::INFINITY
                };
            }
            (g - w).abs() / (rel * w.abs()).max(rel * scale).max(f64::MIN_POSITIVE)
        })
        .fold(0.0, f64::max)
}

#[test]
fn psth_of_syncopy_spikes_is_syncopys_timelock_data() {
    let path = format!(
        "{}/fixtures/reference/psth.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tmp = TempDir::new("psth-parity");
    for (name, input) in doc["inputs"].as_object().unwrap() {
        write_spikes(&tmp.path, name, input);
    }
    let mut compared = 0;
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let mut step = "  - routine: psth\n".to_string();
        for (key, value) in case["params"].as_object().unwrap() {
            step.push_str(&format!("    {key}: {value}\n"));
        }
        let out = format!("c{i}.spy");
        let input = format!("{}.spike", case["input"].as_str().unwrap());
        write_file(
            &tmp.path,
            "p.yaml",
            &pipeline(&input, &out, "  mode: parallel\n  workers: 2\n", &step),
        );
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let file = timelock_file(&tmp.join(&out));
        let info = read_info(&file);
        assert_eq!(
            info["channel"], case["channels"],
            "{name}: every pair fires"
        );
        assert!(
            (info["samplerate"].as_f64().unwrap() - number(&case["samplerate"])).abs()
                <= 1e-9 * number(&case["samplerate"]),
            "{name}: samplerate"
        );
        let (shape, def) = read_trialdefinition(&file);
        let want_def = array(&case["trialdefinition"]);
        assert_eq!(shape, want_def.shape(), "{name}: trialdefinition");
        assert_eq!(def, want_def.iter().copied().collect::<Vec<_>>(), "{name}");
        let per_trial = array(&case["per_trial"]);
        let (k, b, c) = (
            per_trial.shape()[0],
            per_trial.shape()[1],
            per_trial.shape()[2],
        );
        let want_data = per_trial.into_shape_with_order(vec![k * b, c]).unwrap();
        let w = [
            worst(name, &dataset(&file, "data"), &want_data, 1e-6),
            worst(name, &dataset(&file, "avg"), &array(&case["avg"]), 1e-5),
            worst(name, &dataset(&file, "var"), &array(&case["var"]), 1e-5),
        ];
        assert!(
            w.iter().all(|&w| w <= 1.0),
            "{name}: {w:?} times the tolerance"
        );
        compared += 1;
    }
    assert!(compared >= 6, "{compared} cases compared");
}

const PEAKS_PSTH: &str = "  - routine: find_peaks\n    height: 1.0\n    distance: 5\n  - routine: psth\n    binsize: 0.025\n    latency: [-0.1, 0.2]\n";

/// Three trials of one channel at 1000 Hz, 200 samples each with t = 0 at sample 50, zero
/// but for single-sample spikes of 1 at known times: `find_peaks` finds exactly those.
#[test]
fn a_known_spike_train_matches_a_hand_count() {
    let tmp = TempDir::new("psth-hand");
    init();
    let times: [&[i64]; 3] = [&[-40, 10, 20, 60], &[0, 30, 120], &[51, 148]];
    let mut data = vec![0f32; 600];
    for (k, spikes) in times.iter().enumerate() {
        for &t in *spikes {
            data[k * 200 + (50 + t) as usize] = 1.0;
        }
    }
    let path = tmp.join("hand.analog");
    let f = h5_create(&path).unwrap();
    f.new_dataset::<f32>()
        .shape([600, 1])
        .create("data")
        .unwrap()
        .write_raw(&data)
        .unwrap();
    let trl = [0.0, 200.0, -50.0, 200.0, 400.0, -50.0, 400.0, 600.0, -50.0];
    f.new_dataset::<f64>()
        .shape([3, 3])
        .create("trialdefinition")
        .unwrap()
        .write_raw(&trl)
        .unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
    f.close().unwrap();
    let steps = "  - routine: find_peaks\n    height: 0.5\n  - routine: psth\n    binsize: 0.05\n    output: spikecount\n";
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("hand.analog", "o.spy", "  mode: sequential\n", steps),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let file = timelock_file(&tmp.join("o.spy"));
    // maxperiod: -0.05 s to 0.149 s; 50 ms bins from -0.05: [-.05, 0), [0, .05), [.05, .1),
    // [.1, .15].
    let hand = [
        [1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 1.0],
    ];
    let avg = dataset(&file, "avg");
    let var = dataset(&file, "var");
    assert_eq!(avg.shape(), [4, 1]);
    for b in 0..4 {
        let x: Vec<f64> = hand.iter().map(|t| t[b]).collect();
        let mean = x.iter().sum::<f64>() / 3.0;
        let v = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0;
        assert!(
            (avg[[b, 0]] - mean).abs() < 1e-6,
            "avg bin {b}: {}",
            avg[[b, 0]]
        );
        assert!(
            (var[[b, 0]] - v).abs() < 1e-6,
            "var bin {b}: {}",
            var[[b, 0]]
        );
    }
    let info = read_info(&file);
    assert_eq!(info["dataclass"], "TimeLockData");
    assert_eq!(info["channel"], serde_json::json!(["channel0_unit0"]));
    let rate = info["samplerate"].as_f64().unwrap();
    assert!((rate - 20.0).abs() < 1e-9, "one bin per 50 ms: {rate} Hz");
    // `data` holds each trial's histogram (keeptrials: true, the default), one trial of 4
    // bins each; first bin centre -0.025 s at 20 Hz: rint(-0.5) = -0.
    let data = dataset(&file, "data");
    assert_eq!(data.shape(), [12, 1]);
    let want: Vec<f64> = hand.iter().flatten().copied().collect();
    assert_eq!(data.iter().copied().collect::<Vec<_>>(), want);
    let (shape, def) = read_trialdefinition(&file);
    assert_eq!(shape, [3, 3]);
    assert_eq!(def, [0., 4., 0., 4., 8., 0., 8., 12., 0.]);

    // keeptrials: false keeps only the average (one trial), with the same avg and var.
    let steps = format!("{steps}    keeptrials: false\n");
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("hand.analog", "avg.spy", "  mode: sequential\n", &steps),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let file = timelock_file(&tmp.join("avg.spy"));
    assert_eq!(dataset(&file, "data"), dataset(&file, "avg"));
    for (name, want) in [("avg", &avg), ("var", &var)] {
        let got = dataset(&file, name);
        assert_eq!(got.shape(), want.shape());
        assert!(
            got.iter()
                .zip(want.iter())
                .all(|(g, w)| (g - w).abs() < 1e-6),
            "{name}: {got} vs {want}"
        );
    }
    let (shape, def) = read_trialdefinition(&file);
    assert_eq!(shape, [1, 3]);
    assert_eq!(def, [0., 4., 0.]);
}

#[test]
fn find_peaks_then_psth_gives_the_same_bits_in_every_mode_and_from_a_saved_object() {
    let tmp = TempDir::new("psth-modes");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "11",
            "--samples",
            "400",
            "--channels",
            "3",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "seq.yaml",
        &pipeline("in.spy", "seq.spy", "  mode: sequential\n", PEAKS_PSTH),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    let reference = bits(&timelock_file(&tmp.join("seq.spy")));
    let avg = dataset(&timelock_file(&tmp.join("seq.spy")), "avg");
    assert_eq!(
        avg.shape(),
        [12, 3],
        "12 bins of 25 ms, 3 channel-unit columns"
    );
    assert!(avg.iter().any(|&v| v > 0.0), "some spikes were binned");
    assert_eq!(
        dataset(&timelock_file(&tmp.join("seq.spy")), "data").shape(),
        [11 * 12, 3],
        "every trial's histogram"
    );
    write_file(
        &tmp.path,
        "par.yaml",
        &pipeline(
            "in.spy",
            "par.spy",
            "  mode: parallel\n  workers: 2\n",
            PEAKS_PSTH,
        ),
    );
    trialflow(&tmp.path, &["run", "par.yaml", "-q"]).ok();
    assert!(
        bits(&timelock_file(&tmp.join("par.spy"))) == reference,
        "parallel differs"
    );
    for count in [2usize, 3] {
        let out = format!("s{count}.spy");
        write_file(
            &tmp.path,
            "s.yaml",
            &pipeline(
                "in.spy",
                &out,
                "  mode: parallel\n  workers: 1\n",
                PEAKS_PSTH,
            ),
        );
        for index in (0..count).rev() {
            trialflow(
                &tmp.path,
                &[
                    "run",
                    "s.yaml",
                    "--shard",
                    &format!("{index}/{count}"),
                    "-q",
                ],
            )
            .ok();
        }
        trialflow(&tmp.path, &["merge", "s.yaml", "-q"]).ok();
        assert!(
            bits(&timelock_file(&tmp.join(&out))) == reference,
            "{count} shards differ"
        );
    }
    // The peaks saved, then psth on the SpikeData object.
    let save = "  - routine: find_peaks\n    height: 1.0\n    distance: 5\n    name: peaks\n";
    write_file(
        &tmp.path,
        "peaks.yaml",
        &pipeline("in.spy", "peaks.spy", "  mode: sequential\n", save),
    );
    trialflow(&tmp.path, &["run", "peaks.yaml", "-q"]).ok();
    let psth_only = "  - routine: psth\n    binsize: 0.025\n    latency: [-0.1, 0.2]\n";
    write_file(
        &tmp.path,
        "file.yaml",
        &pipeline(
            "peaks.spy/peaks",
            "file.spy",
            "  mode: parallel\n  workers: 2\n",
            psth_only,
        ),
    );
    trialflow(&tmp.path, &["run", "file.yaml", "-q"]).ok();
    assert!(
        bits(&timelock_file(&tmp.join("file.spy"))) == reference,
        "from the saved object differs"
    );
}

#[test]
fn dense_input_and_bad_parameters_are_refused_up_front() {
    let tmp = TempDir::new("psth-bad");
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
            "2",
        ],
    )
    .ok();
    let cases: [(&str, &[&str]); 4] = [
        ("  - routine: psth\n", &["psth", "SpikeData", "AnalogData"]),
        (
            "  - routine: find_peaks\n    height: 1\n  - routine: psth\n    binsize: 5\n",
            &["psth", "binsize 5"],
        ),
        (
            "  - routine: find_peaks\n    height: 1\n  - routine: psth\n    output: hz\n",
            &["psth", "output", "hz"],
        ),
        (
            "  - routine: find_peaks\n    height: 1\n  - routine: psth\n    latency: [3, 4]\n",
            &["psth", "latency", "outside every trial"],
        ),
    ];
    for (i, (steps, needles)) in cases.iter().enumerate() {
        write_file(
            &tmp.path,
            "bad.yaml",
            &pipeline(
                "in.spy",
                &format!("b{i}.spy"),
                "  mode: sequential\n",
                steps,
            ),
        );
        trialflow(&tmp.path, &["run", "bad.yaml", "-q"]).assert_error(2, needles);
    }
    assert!(list(&tmp.path)
        .iter()
        .all(|n| !n.ends_with(".spy") || n == "in.spy"));
}

/// `execution.mode: mpi` under a real `mpirun` (2 and 3 ranks): each rank writes its
/// trials' histograms and rank 0 merges them and computes `avg` and `var`, to the
/// sequential bits. Built only with `--features mpi` (scripts/test.sh runs it).
#[cfg(feature = "mpi")]
#[test]
fn mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("psth-mpi");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "11",
            "--samples",
            "400",
            "--channels",
            "3",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "seq.yaml",
        &pipeline("in.spy", "seq.spy", "  mode: sequential\n", PEAKS_PSTH),
    );
    trialflow(&tmp.path, &["run", "seq.yaml", "-q"]).ok();
    let reference = bits(&timelock_file(&tmp.join("seq.spy")));
    for ranks in [2, 3] {
        let out = format!("mpi{ranks}.spy");
        write_file(
            &tmp.path,
            "p.yaml",
            &pipeline("in.spy", &out, "  mode: mpi\n", PEAKS_PSTH),
        );
        runs::mpirun(Path::new(BIN), &tmp.path, ranks, &["run", "p.yaml"]).ok();
        assert!(
            bits(&timelock_file(&tmp.join(&out))) == reference,
            "{ranks} MPI ranks differ from sequential"
        );
    }
}
