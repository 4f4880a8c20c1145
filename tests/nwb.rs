//! NWB input against what pynwb/h5py read from the same files (`fixtures/nwb/make_nwb.py`
//! wrote them and `expected.json`): the catalog (series, time base, scaling, labels, tables),
//! values in volts by NWB's formula bit for bit, trials cut from the trials table and around
//! events, every execution mode giving the same bits, `import`, and every bad input.

mod common;

use std::path::{Path, PathBuf};

use common::reference::number;
use common::*;
use serde_json::Value;
use trialflow::hdf5::nwb::{NwbFile, NwbSource, Scale, TimeBase};
use trialflow::prelude::TrialSource;
use trialflow::TrialDefinition;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nwb")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Copies the fixtures into `dir`, so runs read them from there (and cannot touch them).
fn stage(dir: &Path) {
    for name in ["session.nwb", "single.nwb", "irregular.nwb"] {
        std::fs::copy(fixtures().join(name), dir.join(name)).unwrap();
    }
}

fn series_cases() -> Vec<(String, Value)> {
    let e = expected();
    let mut cases = Vec::new();
    for file in ["session.nwb", "single.nwb"] {
        for s in e[file]["series"].as_array().unwrap() {
            cases.push((file.to_string(), s.clone()));
        }
    }
    cases
}

#[test]
fn the_catalog_matches_what_pynwb_reads() {
    init();
    for (file, want) in series_cases() {
        let nwb = NwbFile::open(&fixtures().join(&file)).unwrap();
        let path = want["path"].as_str().unwrap();
        let s = nwb.choose_series(Some(path)).unwrap();
        let ctx = format!("{file} {path}");
        assert_eq!(
            s.shape.to_vec(),
            vec![
                want["shape"][0].as_u64().unwrap() as usize,
                want["shape"][1].as_u64().unwrap() as usize
            ],
            "{ctx}"
        );
        assert_eq!(s.stored.name(), want["dtype"].as_str().unwrap(), "{ctx}");
        assert_eq!(s.time.start(), number(&want["t0"]), "{ctx}");
        assert!(
            (s.time.rate() - number(&want["rate"])).abs() < 1e-9,
            "{ctx}"
        );
        assert_eq!(
            matches!(s.time, TimeBase::Timestamps { .. }),
            want["timestamps"] == true,
            "{ctx}"
        );
        assert_eq!(s.conversion, number(&want["conversion"]), "{ctx}");
        assert_eq!(s.offset, number(&want["offset"]), "{ctx}");
        let cc: Option<Vec<f64>> = want["channel_conversion"]
            .as_array()
            .map(|a| a.iter().map(number).collect());
        assert_eq!(s.channel_conversion, cc, "{ctx}");
        assert_eq!(s.compressed, !want["compression"].is_null(), "{ctx}");
        let labels: Vec<String> = want["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        assert_eq!(nwb.channel_labels(s, None).unwrap(), labels, "{ctx}");
    }
    let nwb = NwbFile::open(&fixtures().join("session.nwb")).unwrap();
    let trials = nwb.table("trials").unwrap();
    let want = &expected()["session.nwb"]["trials"];
    assert_eq!(trials.rows, want["rows"].as_u64().unwrap() as usize);
    let names: Vec<&str> = trials.columns.iter().map(|c| c.name.as_str()).collect();
    let want_names: Vec<&str> = want["colnames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(names, want_names);
    for column in [
        "start_time",
        "stop_time",
        "stim_on_time",
        "condition",
        "correct",
    ] {
        let values = nwb.numeric_column(trials, column).unwrap();
        let want: Vec<f64> = want["columns"][column]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v.as_f64()
                    .or_else(|| v.as_bool().map(|b| f64::from(u8::from(b))))
                    .unwrap()
            })
            .collect();
        assert_eq!(values, want, "column {column}");
    }
}

#[test]
fn values_are_nwbs_formula_bit_for_bit_and_raw_is_as_stored() {
    init();
    for (file, want) in series_cases() {
        let nwb = NwbFile::open(&fixtures().join(&file)).unwrap();
        let s = nwb.choose_series(want["path"].as_str()).unwrap().clone();
        let n = s.shape[0];
        let channels = s.shape[1];
        for (scale, key) in [(Scale::Unit, "scaled"), (Scale::Raw, "stored")] {
            let whole = TrialDefinition::from_trials(&[(0, n, 0.0)], &[]);
            let labels = nwb.channel_labels(&s, None).unwrap();
            let mut source =
                NwbSource::new(&nwb, &s, whole, labels, scale, Value::Null, String::new()).unwrap();
            let mut out = Vec::new();
            source.read_trial(0, &mut out).unwrap();
            assert_eq!(out.len(), n * channels);
            for (k, row) in want["rows"].as_array().unwrap().iter().enumerate() {
                let r = row.as_u64().unwrap() as usize;
                for c in 0..channels {
                    let expect = number(&want[key][k][c]);
                    let got = out[r * channels + c];
                    assert!(
                        got.to_bits() == expect.to_bits(),
                        "{file} {} {key} row {r} channel {c}: {got} != {expect}",
                        s.path
                    );
                }
            }
        }
    }
}

fn run_yaml(dir: &Path, name: &str, yaml: &str) -> Outcome {
    write_file(dir, name, yaml);
    trialflow(dir, &["run", name, "-q"])
}

#[test]
fn trials_from_the_table_and_around_events_land_on_the_right_samples() {
    let tmp = TempDir::new("nwb-trials");
    stage(&tmp.path);
    let e = expected();
    let raw = &e["session.nwb"]["series"][0];
    let (t0, rate) = (number(&raw["t0"]), number(&raw["rate"]));
    let columns = &e["session.nwb"]["trials"]["columns"];
    let times = |c: &str| -> Vec<f64> {
        columns[c]
            .as_array()
            .unwrap()
            .iter()
            .map(number_or_bool)
            .collect()
    };

    // One trial per table row; numeric columns become trialinfo, in table order.
    run_yaml(&tmp.path, "t.yaml", "input: {path: session.nwb, series: raw}\noutput: t.spy\ntrials: {table: trials}\nsteps:\n  - routine: rectify\n").ok();
    let (rows, cols) = read_trialdefinition_rows(&tmp.join("t.spy/t_rectify.analog"));
    assert_eq!(
        cols,
        3 + 5,
        "start, stop, offset + start_time, stop_time, stim_on_time, condition, correct"
    );
    let (start, stop) = (times("start_time"), times("stop_time"));
    let mut at = 0.0;
    for (i, row) in rows.iter().enumerate() {
        let len = ((stop[i] - t0) * rate).round() - ((start[i] - t0) * rate).round();
        assert_eq!(row[0], at, "trial {i} start (stacked)");
        assert_eq!(row[1] - row[0], len, "trial {i} length");
        assert_eq!(row[2], 0.0);
        assert_eq!(row[6], times("condition")[i]);
        at += len;
    }
    // Their names are in `.info` (Syncopy's trialinfo has none) and in `cfg`.
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.join("t.spy/t_rectify.analog.info")).unwrap(),
    )
    .unwrap();
    let names = serde_json::json!([
        "start_time",
        "stop_time",
        "stim_on_time",
        "condition",
        "correct"
    ]);
    assert_eq!(info["info"]["trialinfo_columns"], names, "{info}");
    assert_eq!(info["cfg"]["trials"]["trialinfo_columns"], names);

    // Windows around stim_on_time: one length, time 0 at the event.
    run_yaml(&tmp.path, "a.yaml", "input: {path: session.nwb, series: raw}\noutput: a.spy\ntrials: {table: trials, align: stim_on_time, pre: 0.1, post: 0.25}\nsteps:\n  - routine: rectify\n    dtype: float64\n").ok();
    let (rows, _) = read_trialdefinition_rows(&tmp.join("a.spy/a_rectify.analog"));
    let data = read_data(&tmp.join("a.spy/a_rectify.analog"));
    let stim = times("stim_on_time");
    let scaled_all = whole_series(&tmp.join("session.nwb"), "/acquisition/raw");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[1] - row[0], 350.0);
        assert_eq!(row[2], -100.0);
        // The event's sample in the continuous series is trial row 100.
        let event = ((stim[i] - t0) * rate).round() as usize;
        let got = data.values[(row[0] as usize + 100) * 8 + 3];
        assert_eq!(
            got.to_bits(),
            scaled_all[event * 8 + 3].abs().to_bits(),
            "trial {i}"
        );
    }
}

fn number_or_bool(v: &Value) -> f64 {
    v.as_bool()
        .map(|b| f64::from(u8::from(b)))
        .unwrap_or_else(|| number(v))
}

fn whole_series(file: &Path, path: &str) -> Vec<f64> {
    init();
    let nwb = NwbFile::open(file).unwrap();
    let s = nwb.choose_series(Some(path)).unwrap().clone();
    let whole = TrialDefinition::from_trials(&[(0, s.shape[0], 0.0)], &[]);
    let labels = nwb.channel_labels(&s, None).unwrap();
    let mut source = NwbSource::new(
        &nwb,
        &s,
        whole,
        labels,
        Scale::Unit,
        Value::Null,
        String::new(),
    )
    .unwrap();
    let mut out = Vec::new();
    source.read_trial(0, &mut out).unwrap();
    out
}

fn read_trialdefinition_rows(file: &Path) -> (Vec<Vec<f64>>, usize) {
    init();
    let f = h5_open(file).unwrap();
    let ds = f.dataset("trialdefinition").unwrap();
    let shape = ds.shape();
    let values: Vec<f64> = ds.read_raw().unwrap();
    (
        values.chunks(shape[1]).map(|r| r.to_vec()).collect(),
        shape[1],
    )
}

#[test]
fn every_mode_gives_the_same_bits_with_trials() {
    let tmp = TempDir::new("nwb-modes");
    stage(&tmp.path);
    let body = "trials: {events: [2.31, 3.0007, 3.5, 4.75, 6.1, 7.2], pre: 0.05, post: 0.3}\nsteps:\n  - routine: median_filter\n    size: 5\n    name: smooth\n    save: true\n  - routine: find_peaks\n    height: 0.0001\n";
    let input = "input: {path: session.nwb, series: raw}\n";
    let modes = [
        ("seq", "  mode: sequential"),
        ("par", "  mode: parallel\n  workers: 2"),
        (
            "groups",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 3",
        ),
        ("files", "  mode: parallel\n  parallel_store: false"),
    ];
    for (name, execution) in modes {
        run_yaml(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("{input}output: {name}.spy\nexecution:\n{execution}\n{body}"),
        )
        .ok();
    }
    for (name, _) in &modes[1..] {
        assert_same_results(&tmp.join(format!("{name}.spy")), &tmp.join("seq.spy"), name);
    }
    write_file(
        &tmp.path,
        "sh.yaml",
        &format!("{input}output: sh.spy\n{body}"),
    );
    for shard in ["1/2", "0/2"] {
        trialflow(&tmp.path, &["run", "sh.yaml", "--shard", shard, "-q"]).ok();
    }
    trialflow(&tmp.path, &["merge", "sh.yaml", "-q"]).ok();
    assert_same_results(&tmp.join("sh.spy"), &tmp.join("seq.spy"), "shards");
}

#[test]
fn import_writes_analogdata_and_info_lists_the_file() {
    let tmp = TempDir::new("nwb-import");
    stage(&tmp.path);
    let before = fingerprint(&tmp.path);
    trialflow(
        &tmp.path,
        &["import", "session.nwb", "out.spy", "--series", "lfp", "-q"],
    )
    .ok();
    let data = read_data(&tmp.join("out.spy/out_raw.analog"));
    assert_eq!(data.dtype, "float32", "integer input is stored as float32");
    let e = expected();
    let lfp = &e["session.nwb"]["series"][2];
    // Without `trials`, the file's trials table defines the trials: check one value.
    let (rows, _) = read_trialdefinition_rows(&tmp.join("out.spy/out_raw.analog"));
    assert_eq!(rows.len(), 6);
    let info = trialflow(&tmp.path, &["info", "session.nwb"]).ok();
    for needle in [
        "/acquisition/raw",
        "/processing/ecephys/LFP/lfp",
        "int16",
        "chunks [256, 4]",
        "/intervals/trials (6 rows)",
        "stim_on_time",
    ] {
        assert!(
            info.stdout.contains(needle),
            "info shows {needle}:\n{}",
            info.stdout
        );
    }
    assert!(lfp["shape"][0].as_u64().unwrap() > 0);
    // Inputs stay unchanged.
    let after = fingerprint(&tmp.path);
    for name in ["session.nwb", "single.nwb", "irregular.nwb"] {
        let key = tmp.join(name);
        assert_eq!(before.get(&key), after.get(&key), "{name} untouched");
    }
}

#[test]
fn bad_nwb_inputs_exit_2_naming_the_culprit() {
    let tmp = TempDir::new("nwb-bad");
    stage(&tmp.path);
    std::fs::write(tmp.join("fake.nwb"), b"not hdf5 at all").unwrap();
    std::fs::create_dir(tmp.join("zarr.nwb")).unwrap();
    std::fs::write(tmp.join("zarr.nwb/.zgroup"), b"{\"zarr_format\": 2}").unwrap();
    std::fs::write(tmp.join("events.csv"), b"time,kind\n2.5,a\n3.x,b\n").unwrap();
    {
        // An NWB file (it has `nwb_version`) with no ElectricalSeries anywhere.
        init();
        let f = h5_create(tmp.join("empty.nwb")).unwrap();
        let version: hdf5::types::VarLenUnicode = "2.7.0".parse().unwrap();
        f.new_attr::<hdf5::types::VarLenUnicode>()
            .create("nwb_version")
            .unwrap()
            .write_scalar(&version)
            .unwrap();
        f.create_group("acquisition").unwrap();
    }
    let steps = "steps:\n  - routine: rectify\n";
    let cases: &[(&str, &str, &[&str])] = &[
        ("input: fake.nwb\n", "", &["fake.nwb", "not an NWB file"]),
        ("input: zarr.nwb\n", "", &["zarr.nwb", "Zarr"]),
        (
            "input: empty.nwb\n",
            "",
            &["empty.nwb", "no ElectricalSeries"],
        ),
        (
            "input: session.nwb\n",
            "",
            &["3 ElectricalSeries", "series:"],
        ),
        (
            "input: {path: session.nwb, series: nope}\n",
            "",
            &["series: nope", "/acquisition/raw"],
        ),
        ("input: irregular.nwb\n", "", &["irregular", "sample"]),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {table: epochs}\n",
            &["epochs", "trials"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {table: trials, align: nope, pre: 0.1, post: 0.1}\n",
            &["nope", "stim_on_time"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {events: [3.0], pre: -0.1, post: 0.1}\n",
            &["trials.pre", "negative"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {events: [3.0], pre: 0, post: 0.0001}\n",
            &["holds no sample"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {events: [3.0, 100.0], pre: 0.1, post: 0.1}\n",
            &["trial 1", "not inside the recording"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {events_file: missing.csv, column: time, pre: 0.1, post: 0.1}\n",
            &["missing.csv", "cannot be read"],
        ),
        (
            "input: {path: session.nwb, series: raw}\n",
            "trials: {events_file: events.csv, column: time, pre: 0.1, post: 0.1}\n",
            &["events.csv", "line 3", "3.x"],
        ),
        (
            "input: {path: session.nwb, series: raw, channel_labels: nope}\n",
            "",
            &["channel_labels: nope", "location"],
        ),
    ];
    for (i, (input, trials, needles)) in cases.iter().enumerate() {
        let name = format!("bad{i}.yaml");
        write_file(
            &tmp.path,
            &name,
            &format!("{input}output: out{i}.spy\n{trials}{steps}"),
        );
        let out = trialflow(&tmp.path, &["run", &name]);
        out.assert_error(2, needles);
        assert!(!tmp.join(format!("out{i}.spy")).exists());
    }
}

/// An NWB run with `trials:` and `select:` (gzip chunks decoded on the workers) killed with
/// SIGKILL resumes to the uninterrupted run's bits.
#[test]
fn nwb_runs_with_trials_and_select_resume_to_the_same_bits() {
    let tmp = TempDir::new("nwb-resume");
    stage(&tmp.path);
    let body = "trials: {length: 1.0, overlap: 0.99}\nselect: {channels: [7, 0, 3], latency: [0.1, 0.9]}\nexecution: {mode: parallel, workers: 2}\nsteps:\n  - routine: median_filter\n    size: 101\n    save: true\n  - routine: rectify\n";
    let input = "input: {path: session.nwb, series: raw}\n";
    write_file(
        &tmp.path,
        "p.yaml",
        &format!("{input}output: out.spy\n{body}"),
    );
    write_file(
        &tmp.path,
        "whole.yaml",
        &format!("{input}output: whole.spy\n{body}"),
    );
    trialflow(&tmp.path, &["run", "whole.yaml", "-q"]).ok();
    let mut resumed = false;
    for checkpoints in [1, 2] {
        let _ = std::fs::remove_dir_all(tmp.join("out.spy"));
        if run_and_kill(Path::new(BIN), &tmp.path, "p.yaml", checkpoints, &[]) {
            let out = trialflow(&tmp.path, &["run", "p.yaml", "--resume"]).ok();
            resumed |= out.stderr.contains("resumed an interrupted run");
        } else {
            trialflow(&tmp.path, &["run", "p.yaml", "-q", "--overwrite"]).ok();
        }
        assert_same_results(&tmp.join("out.spy"), &tmp.join("whole.spy"), "resumed");
    }
    assert!(resumed, "no run was resumed from completed tasks");
}

/// Channel labels come from the table the series' `electrodes` region references (its
/// `table` object reference), wherever that table lives in the file.
#[test]
fn labels_follow_the_electrodes_reference() {
    init();
    let tmp = TempDir::new("nwb-electrodes-ref");
    stage(&tmp.path);
    let file = tmp.join("session.nwb");
    let expected_labels = {
        let nwb = NwbFile::open(&file).unwrap();
        let s = nwb.choose_series(Some("raw")).unwrap().clone();
        nwb.channel_labels(&s, None).unwrap()
    };
    {
        let h5 = h5_open_rw(&file).unwrap();
        h5.relink(
            "/general/extracellular_ephys/electrodes",
            "/general/extracellular_ephys/moved_electrodes",
        )
        .unwrap();
    }
    let nwb = NwbFile::open(&file).unwrap();
    let s = nwb.choose_series(Some("raw")).unwrap().clone();
    assert_eq!(nwb.channel_labels(&s, None).unwrap(), expected_labels);
}
