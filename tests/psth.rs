//! `psth` (Syncopy's `spike_psth`) through the command line: on the events `find_peaks`
//! finds (fused) and on a saved SpikeData object, a known spike train against a hand count,
//! the same bits in every mode (parallel, shards with their merge), and refusals (dense
//! input, bad parameters). The numbers themselves are checked against Syncopy in
//! `tests/psth_numerics.rs`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ndarray::ArrayD;

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
    let (_, def) = read_trialdefinition(&file);
    // First bin centre -0.025 s at 20 Hz: rint(-0.5) = -0.
    assert_eq!(&def[..2], &[0.0, 4.0]);
    assert_eq!(def[2], 0.0);
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
    let cases: [(&str, &[&str]); 5] = [
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
        (
            "  - routine: find_peaks\n    height: 1\n  - routine: psth\n    keeptrials: true\n",
            &["psth", "keeptrials"],
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
