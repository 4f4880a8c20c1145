//! Syncopy opens trialflow's `mean`, `var`, `std` and `median` results (`spy.load` with
//! checksums) and finds the values, trial definition and labels of its own
//! `spy.mean/var/std/median(data, dim)` (`statistics_parity.py`): over trials on a
//! trialflow-generated recording of equal trials, over time on a Syncopy-written input with
//! unequal trials and offsets.

use super::{parity, run_trialflow, run_yaml, syncopy_input, temp_dir};

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_summary_statistics_with_its_own_values() {
    let dir = temp_dir("statistics");
    let unequal = syncopy_input(&dir);
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
        let output = dir.join(format!("stat{i}.spy"));
        run_yaml(
            &dir.join(format!("stat{i}.yaml")),
            &format!(
                "input: {input}\noutput: {}\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n  - routine: {operation}\n    dim: {dim}\n",
                output.display()
            ),
        );
        parity(
            "statistics_parity.py",
            &[input, output.to_str().unwrap(), operation, dim],
            &format!("{operation} over {dim}"),
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
