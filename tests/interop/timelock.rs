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
