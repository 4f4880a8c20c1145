//! Syncopy opens trialflow's `mtmconvol` results (`spy.load` with checksums) and finds its
//! own time axis, trial definition, frequencies, taper labels and values
//! (`mtmconvol_parity.py`), on a Syncopy-written input with unequal trials, offsets and
//! trialinfo.

use super::{parity, run_yaml, syncopy_input, temp_dir};

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_mtmconvol_results_with_its_own_axes_and_values() {
    let dir = temp_dir("mtmconvol");
    let input_path = syncopy_input(&dir);
    // (trialflow step keys, the same as spy.freqanalysis keyword arguments)
    let cases = [
        (
            "t_ftimwin: 0.1\n    toi: 0.5",
            r#"{"t_ftimwin": 0.1, "toi": 0.5}"#,
        ),
        (
            "t_ftimwin: 0.05\n    toi: all\n    tapsmofrq: 20\n    keeptapers: true\n    foilim: [10, 60]",
            r#"{"t_ftimwin": 0.05, "toi": "all", "tapsmofrq": 20, "keeptapers": true, "foilim": [10, 60]}"#,
        ),
        (
            "t_ftimwin: 0.08\n    toi: 0.25\n    output: fourier\n    foi: [10, 17, 24]\n    polyremoval: 1",
            r#"{"t_ftimwin": 0.08, "toi": 0.25, "output": "fourier", "foi": [10, 17, 24], "polyremoval": 1}"#,
        ),
    ];
    for (i, (step, syncopy)) in cases.iter().enumerate() {
        let output = dir.join(format!("tf{i}.spy"));
        run_yaml(
            &dir.join(format!("mtmconvol{i}.yaml")),
            &format!(
                "input: {input_path}\noutput: {}\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n  - routine: mtmconvol\n    {step}\n",
                output.display()
            ),
        );
        parity(
            "mtmconvol_parity.py",
            &[&input_path, output.to_str().unwrap(), syncopy],
            &format!("case {i} ({step})"),
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
