//! The `select:` section (Syncopy's `selectdata`): trials by index or condition, channels by
//! label or index in the order given, a closed latency window on each trial's time axis; the
//! output holds exactly those samples, in every mode; a selection that leaves nothing is
//! refused naming the key.

mod common;

use std::path::Path;

use common::*;

fn rows(file: &Path) -> Vec<Vec<f64>> {
    init();
    let f = h5_open(file).unwrap();
    let ds = f.dataset("trialdefinition").unwrap();
    let cols = ds.shape()[1];
    let values: Vec<f64> = ds.read_raw().unwrap();
    values.chunks(cols).map(<[f64]>::to_vec).collect()
}

fn labels(file: &Path) -> Vec<String> {
    read_info(file)["channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn trials_channels_and_latency_keep_exactly_the_selected_samples() {
    let tmp = TempDir::new("select");
    // Event trials with time 0 at the event: offsets -50 samples.
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "4",
            "--samples",
            "500",
            "--channels",
            "5",
        ],
    )
    .ok();
    let input = read_data(&tmp.join("in.spy/in_raw.analog"));
    let all = labels(&tmp.join("in.spy/in_raw.analog"));
    let body = "trials: {events: [0.1, 0.6, 1.1, 1.6], pre: 0.05, post: 0.2}\nselect:\n  trials: [3, 1]\n  channels: [channel005, 1]\n  latency: [-0.01, 0.02]\nsteps:\n  - routine: rectify\n    dtype: float64\n";
    for (name, execution) in [
        ("seq", "sequential"),
        ("par", "parallel\n  chan_per_worker: 1"),
    ] {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("input: in.spy\noutput: {name}.spy\nexecution:\n  mode: {execution}\n{body}"),
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    assert_same_results(
        &tmp.join("par.spy"),
        &tmp.join("seq.spy"),
        "select in parallel",
    );
    let object = tmp.join("seq.spy/seq_rectify.analog");
    assert_eq!(labels(&object), vec![all[4].clone(), all[1].clone()]);
    let out = read_data(&object);
    let trl = rows(&object);
    assert_eq!(trl.len(), 2);
    // [-10 ms, 20 ms] closed at 1 kHz: 31 samples, the first at t = -10 ms.
    for (k, (row, event)) in trl.iter().zip([1600usize, 600]).enumerate() {
        assert_eq!(row[1] - row[0], 31.0, "trial {k}");
        assert_eq!(row[2], -10.0, "trial {k} offset");
        for r in 0..31 {
            let sample = event - 10 + r;
            for (j, c) in [4usize, 1].iter().enumerate() {
                let want = input.values[sample * 5 + c].abs();
                let got = out.values[(k * 31 + r) * 2 + j];
                assert_eq!(got, want, "trial {k} row {r} channel {c}");
            }
        }
    }
}

#[test]
fn where_selects_nwb_trials_by_condition() {
    let tmp = TempDir::new("select-where");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nwb/session.nwb"),
        tmp.join("session.nwb"),
    )
    .unwrap();
    write_file(
        &tmp.path,
        "p.yaml",
        "input: {path: session.nwb, series: raw}\noutput: out.spy\ntrials: {table: trials}\nselect: {where: \"condition == 2 and correct == 1\", latency: poststim}\nsteps:\n  - routine: rectify\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let trl = rows(&tmp.join("out.spy/out_rectify.analog"));
    // Conditions are i % 3 + 1 and correct is i % 2: only trial 1 has condition 2, correct 1.
    assert_eq!(trl.len(), 1);
    assert_eq!(trl[0][3 + 3], 2.0, "condition");
    assert_eq!(trl[0][3 + 4], 1.0, "correct");
}

#[test]
fn selections_that_leave_nothing_are_refused_naming_the_key() {
    let tmp = TempDir::new("select-bad");
    generate(&tmp.path, "in.spy", false);
    let base = "input: in.spy\noutput: out.spy\nsteps:\n  - routine: rectify\n";
    for (select, needles) in [
        ("{trials: [99]}", &["select.trials", "99"][..]),
        ("{channels: [nope]}", &["select.channels", "nope"]),
        (
            "{latency: [10, 11]}",
            &["select.latency", "outside every selected trial"],
        ),
        (
            "{where: \"trialinfo_0 > 1e9\"}",
            &["select", "no trial is left"],
        ),
        ("{where: \"x >\"}", &["select.where"]),
        ("{where: \"speed == 1\"}", &["unknown column 'speed'"]),
        ("{trails: [1]}", &["select.trails"]),
    ] {
        write_file(&tmp.path, "p.yaml", &format!("select: {select}\n{base}"));
        trialflow(&tmp.path, &["run", "p.yaml"]).assert_error(2, needles);
        assert!(!tmp.join("out.spy").exists());
    }
}
