//! Syncopy opens trialflow's `timelock` results (`spy.load` with checksums) as TimeLockData
//! and finds the `data` (the cut trials), trial definition, `avg`, `var` and `cov` of its
//! own `spy.timelockanalysis` of the same input
//! (`timelock_parity.py`): a Syncopy-written input with unequal trials and offsets, with and
//! without covariance, one matrix per trial, and a window some trials do not cover.

use super::{python_json, repo, run_trialflow, temp_dir};

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_timelock_data_with_its_own_values() {
    let dir = temp_dir("timelock");
    let writer = repo().join("tests/interop/write_with_syncopy.py");
    let syncopy_input = python_json(&[writer.to_str().unwrap(), dir.to_str().unwrap()]);
    let input = syncopy_input["hdf5_path"].as_str().unwrap().to_string();
    let script = repo().join("tests/interop/timelock_parity.py");
    let cases = [
        ("latency: [-0.01, 0.02]", r#"{"latency": [-0.01, 0.02]}"#),
        (
            "latency: minperiod\n    covariance: true",
            r#"{"latency": "minperiod", "covariance": true}"#,
        ),
        (
            "latency: [0.0, 0.03]\n    covariance: true\n    keeptrials: true\n    ddof: 0",
            r#"{"latency": [0.0, 0.03], "covariance": true, "keeptrials": true, "ddof": 0}"#,
        ),
        ("latency: poststim", r#"{"latency": "poststim"}"#),
    ];
    for (i, (params, kwargs)) in cases.iter().enumerate() {
        let pipeline = dir.join(format!("tl{i}.yaml"));
        let output = dir.join(format!("tl{i}.spy"));
        std::fs::write(
            &pipeline,
            format!(
                "input: {input}\noutput: {}\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n  - routine: timelock\n    {params}\n",
                output.display()
            ),
        )
        .unwrap();
        run_trialflow(&["run", pipeline.to_str().unwrap(), "-q"]);
        let report = python_json(&[
            script.to_str().unwrap(),
            &input,
            output.to_str().unwrap(),
            kwargs,
        ]);
        assert_eq!(report["ok"], true, "{kwargs}: {report}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Syncopy opens trialflow's `psth` results (`keeptrials: true`, the default) and finds the
/// per-trial histograms (`data`), trial definition, `avg` and `var` of its own `spike_psth`
/// of the same SpikeData (trialflow's `find_peaks` of a Syncopy-written input, which Syncopy
/// loads too; every local maximum at least 5 samples apart, so every channel fires in every
/// trial, where Syncopy's backend maps channels right): `psth_parity.py`.
#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_psth_data_with_its_own_values() {
    let dir = temp_dir("psth");
    let writer = repo().join("tests/interop/write_with_syncopy.py");
    let syncopy_input = python_json(&[writer.to_str().unwrap(), dir.to_str().unwrap()]);
    let input = syncopy_input["hdf5_path"].as_str().unwrap().to_string();
    let peaks = dir.join("peaks.spy");
    let pipeline = dir.join("peaks.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "input: {input}\noutput: {}\nsteps:\n  - routine: find_peaks\n    distance: 5\n    name: peaks\n",
            peaks.display()
        ),
    )
    .unwrap();
    run_trialflow(&["run", pipeline.to_str().unwrap(), "-q"]);
    let spikes = peaks.join("peaks_peaks.spike");
    assert!(spikes.exists(), "{}", spikes.display());
    let script = repo().join("tests/interop/psth_parity.py");
    let cases = [
        ("binsize: 0.02", r#"{"binsize": 0.02}"#),
        (
            "binsize: 0.025\n    latency: [-0.1, 0.1]\n    vartriallen: false\n    output: spikecount",
            r#"{"binsize": 0.025, "latency": [-0.1, 0.1], "vartriallen": false, "output": "spikecount"}"#,
        ),
        ("latency: poststim", r#"{"latency": "poststim"}"#),
    ];
    for (i, (params, kwargs)) in cases.iter().enumerate() {
        let pipeline = dir.join(format!("ps{i}.yaml"));
        let output = dir.join(format!("ps{i}.spy"));
        std::fs::write(
            &pipeline,
            format!(
                "input: {}\noutput: {}\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n  - routine: psth\n    {params}\n",
                spikes.display(),
                output.display()
            ),
        )
        .unwrap();
        run_trialflow(&["run", pipeline.to_str().unwrap(), "-q"]);
        let report = python_json(&[
            script.to_str().unwrap(),
            spikes.to_str().unwrap(),
            output.to_str().unwrap(),
            kwargs,
        ]);
        assert_eq!(report["ok"], true, "{kwargs}: {report}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
