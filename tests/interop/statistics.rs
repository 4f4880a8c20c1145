//! Syncopy opens trialflow's `mean`, `var`, `std` and `median` results (`spy.load` with
//! checksums) and finds the values, trial definition and labels of its own
//! `spy.mean/var/std/median(data, dim)` (`statistics_parity.py`): over trials on a
//! trialflow-generated recording of equal trials, over time on a Syncopy-written input with
//! unequal trials and offsets.

use super::{python_json, repo, run_trialflow, temp_dir};

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_summary_statistics_with_its_own_values() {
    let dir = temp_dir("statistics");
    let writer = repo().join("tests/interop/write_with_syncopy.py");
    let syncopy_input = python_json(&[writer.to_str().unwrap(), dir.to_str().unwrap()]);
    let unequal = syncopy_input["hdf5_path"].as_str().unwrap().to_string();
    let equal = dir.join("equal.spy");
    run_trialflow(&[
        "generate",
        equal.to_str().unwrap(),
        "--trials",
        "9",
        "--samples",
        "150",
        "--channels",
        "3",
    ]);
    let equal = equal.to_str().unwrap().to_string();
    let script = repo().join("tests/interop/statistics_parity.py");
    let cases = [
        ("mean", "trials", &equal),
        ("var", "trials", &equal),
        ("std", "trials", &equal),
        ("mean", "time", &unequal),
        ("var", "time", &unequal),
        ("std", "time", &unequal),
        ("median", "time", &unequal),
    ];
    for (i, (operation, dim, input)) in cases.iter().enumerate() {
        let pipeline = dir.join(format!("stat{i}.yaml"));
        let output = dir.join(format!("stat{i}.spy"));
        std::fs::write(
            &pipeline,
            format!(
                "input: {input}\noutput: {}\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n  - routine: {operation}\n    dim: {dim}\n",
                output.display()
            ),
        )
        .unwrap();
        run_trialflow(&["run", pipeline.to_str().unwrap(), "-q"]);
        let report = python_json(&[
            script.to_str().unwrap(),
            input,
            output.to_str().unwrap(),
            operation,
            dim,
        ]);
        assert_eq!(report["ok"], true, "{operation} over {dim}: {report}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
