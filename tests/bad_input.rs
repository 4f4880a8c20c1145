//! What `trialflow run` does with bad pipelines, bad inputs and bad outputs, as a table: each
//! case sets up a folder (a recording, a corrupted or hand-made input), writes a pipeline,
//! runs the binary and checks that
//! - the exit code is the expected one (2: the user's mistake; 1: a failure while running),
//! - stderr is exactly one line starting with `error:`, without panic or backtrace noise, and
//!   names the culprit (key, routine, file or trial),
//! - nothing was written or changed: no output container, no `.partial` staging folder, and
//!   the input's bytes and mtimes are as before (the whole folder is fingerprinted).
//!   A failure while running (exit 1) may keep its staging folder `out.spy.partial` (the
//!   state `--resume` continues from), so those rows check only that `out.spy` never
//!   appeared and that everything else, the input included, is unchanged.
//!
//! Usage errors that clap reports (unknown subcommands and flags, missing arguments) print
//! the usage after the `error:` line by design; `usage_cases!` checks those.

mod common;

use std::path::Path;

use common::*;

/// The steps of a valid pipeline.
macro_rules! steps {
    () => {
        "steps:\n  - routine: detrend\n  - routine: zscore\n"
    };
}

/// A valid pipeline reading `in.spy` (written by [`recording`]) into `out.spy`.
const GOOD: &str = concat!("input: in.spy\noutput: out.spy\n", steps!());

/// One row of the table.
struct Case {
    /// Prepares the folder (the input, and any corruption of it).
    setup: fn(&Path),
    /// The pipeline file `pipeline.yaml`, if any.
    yaml: Option<&'static str>,
    /// Arguments after `trialflow`.
    args: &'static [&'static str],
    code: i32,
    /// What the one-line message must contain.
    needles: &'static [&'static str],
}

const RUN: &[&str] = &["run", "pipeline.yaml"];

fn check(desc: &str, case: Case) {
    let tmp = TempDir::new("bad");
    (case.setup)(&tmp.path);
    if let Some(yaml) = case.yaml {
        write_file(&tmp.path, "pipeline.yaml", yaml);
    }
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, case.args);
    let context = format!(
        "case '{desc}': exit {}\nstdout: {}\nstderr: {}",
        out.code, out.stdout, out.stderr
    );
    assert_eq!(out.code, case.code, "{context}");
    assert!(
        std::panic::catch_unwind(|| assert_one_error_line(&out.stderr, case.needles)).is_ok(),
        "{context}"
    );
    assert!(
        !tmp.join("out.spy").exists(),
        "{context}: an output was left behind"
    );
    let staging = tmp.join("out.spy.partial");
    if case.code == 1 {
        assert_eq!(
            fingerprint_without(&tmp.path, &staging),
            before,
            "{context}: the folder (input included) changed"
        );
    } else {
        assert!(
            !staging.exists(),
            "{context}: a staging folder was left behind"
        );
        assert_eq!(
            fingerprint(&tmp.path),
            before,
            "{context}: the folder (input included) changed"
        );
    }
}

/// A usage error reported by clap: exit 2, an `error:` first line naming the problem (the
/// usage follows), no panic, nothing written.
fn check_usage(desc: &str, setup: fn(&Path), args: &[&str], needles: &[&str]) {
    let tmp = TempDir::new("usage");
    setup(&tmp.path);
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, args);
    let context = format!(
        "case '{desc}': exit {}\nstdout: {}\nstderr: {}",
        out.code, out.stdout, out.stderr
    );
    assert_eq!(out.code, 2, "{context}");
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error:"), "{context}");
    for needle in needles {
        assert!(
            first.contains(needle),
            "{context}: should mention '{needle}'"
        );
    }
    assert!(!out.stderr.contains("panicked"), "{context}");
    assert_eq!(
        fingerprint(&tmp.path),
        before,
        "{context}: something was written"
    );
}

// ---- set-ups -----------------------------------------------------------------------------

fn nothing(_: &Path) {}

/// `in.spy/in_raw.analog`: 6 unequal trials x ~300 samples x 5 channels.
fn recording(dir: &Path) {
    generate(dir, "in.spy", true);
}

fn text_file(dir: &Path) {
    write_file(dir, "in.txt", "time,channel1\n0,1.5\n1,2.5\n");
}

/// A copy of a generated object file cut to half its size (no `.info`).
fn truncated(dir: &Path) {
    generate(dir, "src.spy", true);
    let src = dir.join("src.spy/src_raw.analog");
    let dst = dir.join("trunc.analog");
    std::fs::copy(&src, &dst).unwrap();
    let len = std::fs::metadata(&dst).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&dst)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

fn info_not_json(dir: &Path) {
    recording(dir);
    write_file(dir, "in.spy/in_raw.analog.info", "{\"filename\": ");
}

fn two_objects(dir: &Path) {
    recording(dir);
    std::fs::copy(
        dir.join("in.spy/in_raw.analog"),
        dir.join("in.spy/in_copy.analog"),
    )
    .unwrap();
}

fn output_is_a_file(dir: &Path) {
    recording(dir);
    write_file(dir, "out.spy", "not a folder");
}

fn only_trialdefinition(dir: &Path) {
    write_handmade(
        &dir.join("in.analog"),
        &[],
        Some((&[0.0, 10.0, 0.0], 1)),
        false,
    );
}

fn only_data(dir: &Path) {
    write_handmade(&dir.join("in.analog"), &[100, 2], None, true);
}

fn data_3d(dir: &Path) {
    write_handmade(
        &dir.join("in.analog"),
        &[10, 2, 2],
        Some((&[0.0, 5.0, 0.0], 1)),
        true,
    );
}

fn trial_past_end(dir: &Path) {
    write_handmade(
        &dir.join("in.analog"),
        &[100, 2],
        Some((&[0.0, 50.0, 0.0, 50.0, 120.0, 0.0], 2)),
        true,
    );
}

fn start_after_stop(dir: &Path) {
    write_handmade(
        &dir.join("in.analog"),
        &[100, 2],
        Some((&[30.0, 10.0, 0.0], 1)),
        true,
    );
}

fn zero_trials(dir: &Path) {
    write_handmade(&dir.join("in.analog"), &[100, 2], Some((&[], 0)), true);
}

/// uint64 samples: integers up to int64 and uint32 are read, uint64 (which float64 cannot
/// hold exactly, and no amplifier writes) is refused.
fn uint64_data(dir: &Path) {
    init();
    let f = h5_create(dir.join("in.analog")).unwrap();
    let ds = f
        .new_dataset::<u64>()
        .shape((20, 2))
        .create("data")
        .unwrap();
    ds.write_raw(&(0..40).collect::<Vec<u64>>()).unwrap();
    let trl = f
        .new_dataset::<f64>()
        .shape((1, 3))
        .create("trialdefinition")
        .unwrap();
    trl.write_raw(&[0.0, 20.0, 0.0]).unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
}

fn no_samplerate(dir: &Path) {
    init();
    let f = h5_create(dir.join("in.analog")).unwrap();
    let ds = f
        .new_dataset::<f32>()
        .shape((20, 2))
        .create("data")
        .unwrap();
    ds.write_raw(&vec![1.0f32; 40]).unwrap();
    let trl = f
        .new_dataset::<f64>()
        .shape((1, 3))
        .create("trialdefinition")
        .unwrap();
    trl.write_raw(&[0.0, 20.0, 0.0]).unwrap();
}

/// Trial 2 of 3 holds a NaN in channel 1: linear detrend refuses it while computing, after
/// the output's staging folder exists. The routine classifies this data-dependent failure as
/// a run-time error (`PreprocessingError::into_runtime`), hence exit code 1.
fn nan_in_trial(dir: &Path) {
    init();
    let f = h5_create(dir.join("in.analog")).unwrap();
    let mut values: Vec<f32> = (0..300 * 3).map(|i| (i as f32 * 0.1).sin()).collect();
    values[(250 * 3) + 1] = f32::NAN;
    let ds = f
        .new_dataset::<f32>()
        .shape((300, 3))
        .create("data")
        .unwrap();
    ds.write_raw(&values).unwrap();
    let trl = f
        .new_dataset::<f64>()
        .shape((3, 3))
        .create("trialdefinition")
        .unwrap();
    trl.write_raw(&[0.0, 100.0, 0.0, 100.0, 200.0, 0.0, 200.0, 300.0, 0.0])
        .unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
}

/// A virtual-dataset result (parallel_store) whose per-task file 3 was lost, used as input:
/// HDF5 silently fills the missing block with the fill value (NaN).
fn virtual_missing_part(dir: &Path) {
    recording(dir);
    write_file(
        dir,
        "make-vin.yaml",
        "input: in.spy\noutput: vin.spy\nexecution:\n  parallel_store: true\nsteps:\n  - routine: zscore\n",
    );
    trialflow(dir, &["run", "make-vin.yaml", "-q"]).ok();
    let parts = dir.join("vin.spy/vin_zscore.parts");
    let first = list(&parts).into_iter().next().expect("a part file");
    std::fs::remove_file(parts.join(first)).unwrap();
}

fn empty_file(dir: &Path) {
    write_file(dir, "in.analog", "");
}

fn folder_without_objects(dir: &Path) {
    std::fs::create_dir(dir.join("in.spy")).unwrap();
    write_file(dir, "in.spy/notes.txt", "no objects here");
}

fn data_1d(dir: &Path) {
    write_handmade(
        &dir.join("in.analog"),
        &[100],
        Some((&[0.0, 5.0, 0.0], 1)),
        true,
    );
}

fn trialdefinition_two_columns(dir: &Path) {
    write_with_trialdefinition(dir, &[&[0.0, 50.0], &[50.0, 100.0]]);
}

fn trial_negative_start(dir: &Path) {
    write_with_trialdefinition(dir, &[&[0.0, 50.0, 0.0], &[-10.0, 60.0, 0.0]]);
}

fn trial_fractional_start(dir: &Path) {
    write_with_trialdefinition(dir, &[&[0.5, 50.0, 0.0]]);
}

fn trial_nan_stop(dir: &Path) {
    write_with_trialdefinition(dir, &[&[0.0, 50.0, 0.0], &[50.0, f64::NAN, 0.0]]);
}

fn samplerate_zero(dir: &Path) {
    write_with_trialdefinition(dir, &[&[0.0, 50.0, 0.0]]);
    init();
    let f = h5_open_rw(dir.join("in.analog")).unwrap();
    f.attr("samplerate").unwrap().write_scalar(&0.0f64).unwrap();
}

/// A chunked trialdefinition claiming 2^40 rows that were never written: reading it whole
/// would allocate 26 TB.
fn trialdefinition_claims_2_to_the_40_rows(dir: &Path) {
    init();
    let f = h5_create(dir.join("in.analog")).unwrap();
    f.new_dataset::<f32>()
        .shape((100, 2))
        .create("data")
        .unwrap()
        .write_raw(&[0.5f32; 200])
        .unwrap();
    f.new_dataset::<f64>()
        .chunk((1024, 3))
        .shape((1usize << 40, 3))
        .create("trialdefinition")
        .unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
}

/// A chunked, never-written `data` of 2^36 x 4 samples with one trial spanning it: a valid
/// file that no machine can process (1 TiB as float32).
fn one_trial_of_a_tebibyte(dir: &Path) {
    init();
    let rows = 1usize << 36;
    let f = h5_create(dir.join("in.analog")).unwrap();
    f.new_dataset::<f32>()
        .chunk((65536, 4))
        .shape((rows, 4))
        .create("data")
        .unwrap();
    f.new_dataset::<f64>()
        .shape((1, 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&[0.0, rows as f64, 0.0])
        .unwrap();
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
}

fn object(dir: &Path) -> std::path::PathBuf {
    dir.join("in.spy/in_raw.analog")
}

fn info_samplerate_string(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("samplerate".into(), "fast".into());
    });
}

fn with_info_channel_not_a_list(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("channel".into(), "channel001".into());
    });
}

fn info_channel_label_object(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert(
            "channel".into(),
            serde_json::json!(["a", "b", {"c": 1}, "d", "e"]),
        );
    });
}

fn info_three_channel_labels(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("channel".into(), serde_json::json!(["a", "b", "c"]));
    });
}

fn with_info_dataclass_spectral(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("dataclass".into(), "SpectralData".into());
    });
}

fn info_dataclass_number(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("dataclass".into(), 5.into());
    });
}

fn with_info_data_shape_absurd(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("data_shape".into(), serde_json::json!([u64::MAX, 5]));
    });
}

fn info_trl_shape_wrong(dir: &Path) {
    recording(dir);
    edit_info(&object(dir), |m| {
        m.insert("trl_shape".into(), serde_json::json!([1_000_000_000, 4]));
    });
}

fn info_is_a_list(dir: &Path) {
    recording(dir);
    write_file(dir, "in.spy/in_raw.analog.info", "[1, 2, 3]");
}

fn previous_output(dir: &Path) {
    recording(dir);
    std::fs::create_dir(dir.join("prev.spy")).unwrap();
    write_file(dir, "prev.spy/keep.txt", "an earlier result");
}

fn recording_and_a_file(dir: &Path) {
    recording(dir);
    write_file(dir, "afile", "a file, not a folder");
}

/// Trial 1 of 3 starts with a NaN: savgol's `interp` edge fit refuses it while running.
fn nan_at_trial_edge(dir: &Path) {
    nan_in_trial(dir);
    init();
    let f = h5_open_rw(dir.join("in.analog")).unwrap();
    let ds = f.dataset("data").unwrap();
    let mut values: Vec<f32> = ds.read_raw().unwrap();
    values.iter_mut().for_each(|v| {
        if v.is_nan() {
            *v = 0.25;
        }
    });
    values[100 * 3] = f32::NAN;
    ds.write_raw(&values).unwrap();
}

// ---- the table ---------------------------------------------------------------------------

macro_rules! cases {
    ($( $(#[$attr:meta])* $name:ident: $desc:literal, $setup:expr, $yaml:expr, $args:expr, $code:expr, $needles:expr; )*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                check($desc, Case { setup: $setup, yaml: $yaml, args: $args, code: $code, needles: $needles });
            }
        )*
    };
}

cases! {
    // The pipeline file.
    yaml_syntax_error: "YAML syntax error",
        recording, Some("input: [in.spy\noutput: out.spy\n"), RUN, 2,
        &["pipeline.yaml", "line", "column"];
    yaml_not_a_mapping: "the pipeline is a list",
        recording, Some("- input: in.spy\n"), RUN, 2, &["pipeline.yaml", "mapping"];
    unknown_top_level_key: "unknown top-level key",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nworkers: 2\n", steps!())), RUN, 2,
        &["`workers`", "expected one of"];
    unknown_execution_key: "unknown execution key",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  wokers: 2\n", steps!())), RUN, 2,
        &["execution.wokers"];
    unknown_routine: "unknown routine",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n  - routine: zscor\n"), RUN, 2,
        &["steps[1]", "zscor", "did you mean", "zscore"];
    unknown_routine_parameter: "unknown routine parameter",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    typ: linear\n"), RUN, 2,
        &["steps[0]", "detrend", "typ"];
    workers_wrong_type: "workers: two",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  workers: two\n", steps!())), RUN, 2,
        &["execution.workers", "two"];
    workers_zero: "workers: 0",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  workers: 0\n", steps!())), RUN, 2,
        &["execution.workers", "0"];
    chan_per_worker_zero: "chan_per_worker: 0",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  chan_per_worker: 0\n", steps!())), RUN, 2,
        &["execution.chan_per_worker", "0"];
    mem_thresh_above_one: "mem_thresh: 2",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  mem_thresh: 2\n", steps!())), RUN, 2,
        &["execution.mem_thresh", "2"];
    mode_unknown: "mode: fast",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  mode: fast\n", steps!())), RUN, 2,
        &["execution.mode", "fast"];
    steps_empty: "steps: []",
        recording, Some("input: in.spy\noutput: out.spy\nsteps: []\n"), RUN, 2, &["steps", "empty"];
    steps_missing: "no steps key",
        recording, Some("input: in.spy\noutput: out.spy\n"), RUN, 2, &["steps"];
    input_missing: "no input key",
        recording, Some(concat!("output: out.spy\n", steps!())), RUN, 2, &["input"];
    step_without_routine: "a step without routine",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - name: x\n"), RUN, 2, &["steps[0]", "routine"];
    step_name_invalid: "name: a/b",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    name: \"a/b\"\n"), RUN, 2,
        &["steps[0].name", "a/b"];
    step_dtype_int8: "dtype: int8",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    dtype: int8\n"), RUN, 2,
        &["steps[0].dtype", "int8"];
    step_dtype_int64: "dtype: int64 on analog data",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    dtype: int64\n"), RUN, 2,
        &["detrend", "int64"];
    routine_parameter_wrong_type: "detrend type: 5",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: 5\n"), RUN, 2,
        &["steps[0]", "detrend", "`type`"];
    detrend_type_invalid: "detrend type: quadratic",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: quadratic\n"), RUN, 2,
        &["steps[0]", "detrend", "quadratic"];
    duplicate_saved_names: "two saved steps named x",
        recording,
        Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    name: x\n    save: true\n  - routine: zscore\n    name: x\n    save: true\n"),
        RUN, 2, &["'x'", "name"];
    keeptrials_on_unequal_trials: "keeptrials: false with unequal trials",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  keeptrials: false\n", steps!())), RUN, 2,
        &["keeptrials", "trial"];

    // The command line.
    set_without_equals: "--set without =",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "execution.workers"], 2,
        &["--set", "execution.workers", "KEY.PATH=VALUE"];
    set_index_out_of_range: "--set steps.5.type=x",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "steps.5.type=x"], 2,
        &["steps.5", "out of range"];
    set_unknown_key: "--set execution.wokers=2",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "execution.wokers=2"], 2,
        &["execution.wokers"];
    pipeline_file_missing: "the pipeline file does not exist",
        recording, None, &["run", "missing.yaml"], 2, &["missing.yaml", "no such file"];

    // The input.
    input_does_not_exist: "input path does not exist",
        nothing, Some(concat!("input: nope.spy\noutput: out.spy\n", steps!())), RUN, 2,
        &["nope.spy", "does not exist"];
    input_text_file: "input is a text file",
        text_file, Some(concat!("input: in.txt\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.txt", "not an HDF5 file"];
    input_truncated: "input is a truncated HDF5 file",
        truncated, Some(concat!("input: trunc.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["trunc.analog", "truncated"];
    input_info_not_json: "the input's .info is not JSON",
        info_not_json, Some(GOOD), RUN, 2, &["in_raw.analog.info", "JSON"];
    input_container_with_two_objects: "a container with two AnalogData objects",
        two_objects, Some(GOOD), RUN, 2, &["in.spy", "in_copy.analog", "in_raw.analog"];
    input_without_data: "HDF5 input without 'data'",
        only_trialdefinition, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "'data'"];
    input_without_trialdefinition: "HDF5 input without 'trialdefinition'",
        only_data, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "'trialdefinition'"];
    input_data_3d: "3-D data",
        data_3d, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "'data'", "3 dimensions"];
    input_uint64_data: "uint64 data",
        uint64_data, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "uint8 to uint32"];
    input_without_samplerate: "no samplerate anywhere",
        no_samplerate, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "samplerate"];
    input_trial_past_end: "a trial past the end of data",
        trial_past_end, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "trial 1", "past the end"];
    input_trial_start_after_stop: "a trial starting after it stops",
        start_after_stop, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "trial 0", "after"];
    input_zero_trials: "an empty 0x3 trialdefinition",
        zero_trials, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "zero trials"];

    input_virtual_dataset_missing_source: "virtual-dataset input whose source part file is missing",
        virtual_missing_part,
        Some("input: vin.spy/vin_zscore.analog\noutput: out.spy\nexecution:\n  mode: sequential\nsteps:\n  - routine: rectify\n"),
        RUN, 2, &["vin_zscore.parts/0-", ".h5", "missing"];
    input_nan_for_linear_detrend: "NaN in a trial, refused by linear detrend while running",
        nan_in_trial, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 1,
        &["detrend", "trial 2"];

    // The output.
    output_is_the_input: "output equal to the input container",
        recording, Some(concat!("input: in.spy\noutput: in.spy\n", steps!())), RUN, 2,
        &["in.spy", "input"];
    output_is_the_input_without_extension: "output `in` names the input container in.spy",
        recording, Some(concat!("input: in.spy/in_raw.analog\noutput: in\n", steps!())), RUN, 2,
        &["in.spy", "input"];
    output_in_missing_folder: "output in a folder that does not exist",
        recording, Some(concat!("input: in.spy\noutput: nodir/out.spy\n", steps!())), RUN, 2,
        &["nodir", "does not exist"];
    output_inside_the_input_container: "output inside the input's .spy folder",
        recording, Some(concat!("input: in.spy\noutput: in.spy/sub.spy\n", steps!())), RUN, 2,
        &["in.spy", "inside the input's container"];
    output_unwritable_location: "output where no folder can be created (/proc)",
        recording, Some(concat!("input: in.spy\noutput: /proc/trialflow-bad-input.spy\n", steps!())), RUN, 2,
        &["/proc/trialflow-bad-input.spy", "cannot be created"];
    output_under_a_file: "output inside something that is a file",
        recording_and_a_file, Some(concat!("input: in.spy\noutput: afile/out.spy\n", steps!())), RUN, 2,
        &["afile", "cannot be created"];
    output_empty_name: "output: \"\"",
        recording, Some(concat!("input: in.spy\noutput: \"\"\n", steps!())), RUN, 2,
        &["not a usable output name"];
    output_exists_without_overwrite: "an existing output without --overwrite",
        previous_output, Some(concat!("input: in.spy\noutput: prev.spy\n", steps!())), RUN, 2,
        &["prev.spy", "already exists", "--overwrite"];

    // More of the pipeline file: types, shapes of the document, YAML limits.
    input_wrong_type: "input: 5",
        recording, Some(concat!("input: 5\noutput: out.spy\n", steps!())), RUN, 2,
        &["`input`", "expected a path"];
    output_missing: "no output key",
        recording, Some(concat!("input: in.spy\n", steps!())), RUN, 2, &["`output`"];
    overwrite_wrong_type: "overwrite: maybe",
        recording, Some(concat!("input: in.spy\noutput: out.spy\noverwrite: maybe\n", steps!())), RUN, 2,
        &["`overwrite`", "maybe"];
    execution_not_a_mapping: "execution: 5",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution: 5\n", steps!())), RUN, 2,
        &["`execution`", "mapping"];
    steps_not_a_list: "steps: 5",
        recording, Some("input: in.spy\noutput: out.spy\nsteps: 5\n"), RUN, 2, &["`steps`", "list"];
    step_is_a_string: "steps: [detrend]",
        recording, Some("input: in.spy\noutput: out.spy\nsteps: [detrend]\n"), RUN, 2,
        &["steps[0]", "mapping", "routine"];
    routine_not_a_string: "routine: 5",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: 5\n"), RUN, 2,
        &["steps[0].routine", "5"];
    step_save_wrong_type: "save: 3",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    save: 3\n"), RUN, 2,
        &["steps[0].save", "boolean"];
    step_name_wrong_type: "name: [a]",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    name: [a]\n"), RUN, 2,
        &["steps[0].name", "string"];
    workers_negative: "workers: -1",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  workers: -1\n", steps!())), RUN, 2,
        &["execution.workers", "-1"];
    workers_fraction: "workers: 1.5",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  workers: 1.5\n", steps!())), RUN, 2,
        &["execution.workers", "1.5"];
    workers_huge: "workers: 1e30",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  workers: 1e30\n", steps!())), RUN, 2,
        &["execution.workers"];
    chan_per_worker_negative: "chan_per_worker: -2",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  chan_per_worker: -2\n", steps!())), RUN, 2,
        &["execution.chan_per_worker", "-2"];
    mem_thresh_zero: "mem_thresh: 0",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  mem_thresh: 0\n", steps!())), RUN, 2,
        &["execution.mem_thresh", "0"];
    mem_thresh_nan: "mem_thresh: .nan",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  mem_thresh: .nan\n", steps!())), RUN, 2,
        &["pipeline.yaml", "line 4", "non-finite"];
    keeptrials_wrong_type: "keeptrials: 3",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  keeptrials: 3\n", steps!())), RUN, 2,
        &["execution.keeptrials", "boolean"];
    parallel_store_wrong_type: "parallel_store: x",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  parallel_store: x\n", steps!())), RUN, 2,
        &["execution.parallel_store", "boolean"];
    duplicate_top_level_key: "input given twice",
        recording, Some(concat!("input: in.spy\ninput: other.spy\noutput: out.spy\n", steps!())), RUN, 2,
        &["pipeline.yaml", "line 2", "duplicate", "input"];
    yaml_empty_document: "an empty pipeline file",
        recording, Some(""), RUN, 2, &["pipeline.yaml", "mapping"];
    yaml_nested_too_deeply: "a parameter nested 5000 levels deep",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: ",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n")), RUN, 2,
        &["pipeline.yaml", "line 5", "nested too deeply"];
    yaml_alias_bomb: "aliases expanding to 9^6 values",
        recording, Some(concat!(
            "input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n",
            "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
            "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
            "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n")), RUN, 2,
        &["pipeline.yaml", "too many values"];
    set_path_too_deep: "--set with a 40-part key path",
        recording, Some(GOOD),
        &["run", "pipeline.yaml", "--set", "execution.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a=1"], 2,
        &["--set", "40 parts", "at most 16"];
    set_into_a_scalar: "--set input.x=1",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "input.x=1"], 2,
        &["--set input.x=1", "`input` is not a mapping or list"];
    set_list_by_name: "--set steps.first.type=linear",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "steps.first.type=linear"], 2,
        &["steps.first", "list index"];
    set_empty_path: "--set =3",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "=3"], 2,
        &["--set =3", "key path is empty"];
    set_wrong_type: "--set execution.workers=many",
        recording, Some(GOOD), &["run", "pipeline.yaml", "--set", "execution.workers=many"], 2,
        &["execution.workers", "many"];

    // Routine parameters, refused before anything runs.
    gaussian_negative_sigma: "gaussian sigma: -1",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: gaussian\n    sigma: -1\n"), RUN, 2,
        &["steps[0] (gaussian)", "sigma", "-1"];
    gaussian_missing_sigma: "gaussian without sigma",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: gaussian\n"), RUN, 2,
        &["steps[0] (gaussian)", "sigma"];
    gaussian_sigma_string: "gaussian sigma: wide",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: gaussian\n    sigma: wide\n"), RUN, 2,
        &["steps[0] (gaussian)", "`sigma`", "wide"];
    gaussian_absurd_sigma: "gaussian sigma: 1e9 (8e9 taps) is refused, not allocated",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: gaussian\n    sigma: 1e9\n"), RUN, 2,
        &["steps[0] (gaussian)", "sigma", "taps"];
    gaussian_order_four: "gaussian order: 4",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: gaussian\n    sigma: 2\n    order: 4\n"), RUN, 2,
        &["steps[0] (gaussian)", "order", "4"];
    savgol_polyorder_not_below_window: "savgol polyorder >= window_length",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: savgol\n    window_length: 5\n    polyorder: 5\n"), RUN, 2,
        &["steps[0] (savgol)", "polyorder", "window_length"];
    savgol_window_longer_than_a_trial: "savgol interp window longer than trial 0 (259 samples)",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: savgol\n    window_length: 301\n    polyorder: 2\n"), RUN, 2,
        &["savgol", "trial 0", "259 samples", "301"];
    savgol_mode_reflect: "savgol mode: reflect",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: savgol\n    window_length: 5\n    polyorder: 2\n    mode: reflect\n"), RUN, 2,
        &["steps[0] (savgol)", "reflect"];
    savgol_absurd_window: "savgol window_length: 1e8 (mode nearest)",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: savgol\n    window_length: 100000000\n    polyorder: 2\n    mode: nearest\n"), RUN, 2,
        &["steps[0] (savgol)", "window_length", "limit"];
    moving_average_size_zero: "moving_average size: 0",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: moving_average\n    size: 0\n"), RUN, 2,
        &["steps[0] (moving_average)", "size", "0"];
    moving_average_absurd_size: "moving_average size: 1e12",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: moving_average\n    size: 1000000000000\n"), RUN, 2,
        &["steps[0] (moving_average)", "size", "limit"];
    median_filter_origin_out_of_range: "median_filter size 3, origin 5",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: median_filter\n    size: 3\n    origin: 5\n"), RUN, 2,
        &["steps[0] (median_filter)", "origin", "5"];
    find_peaks_distance_below_one: "find_peaks distance: 0.5",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks\n    distance: 0.5\n"), RUN, 2,
        &["steps[0] (find_peaks)", "distance", "0.5"];
    find_peaks_bounds_reversed: "find_peaks height: [2, 1]",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks\n    height: [2, 1]\n"), RUN, 2,
        &["steps[0] (find_peaks)", "height", "larger than the maximum"];
    find_peaks_negative_rel_height: "find_peaks rel_height: -1",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks\n    rel_height: -1\n"), RUN, 2,
        &["steps[0] (find_peaks)", "rel_height", "-1"];
    find_peaks_cwt_without_widths: "find_peaks_cwt without widths",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks_cwt\n"), RUN, 2,
        &["steps[0] (find_peaks_cwt)", "widths"];
    find_peaks_cwt_negative_width: "find_peaks_cwt widths: [-1]",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks_cwt\n    widths: [-1]\n"), RUN, 2,
        &["steps[0] (find_peaks_cwt)", "widths", "-1"];
    find_peaks_cwt_noise_perc_above_100: "find_peaks_cwt noise_perc: 101",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks_cwt\n    widths: 3\n    noise_perc: 101\n"), RUN, 2,
        &["steps[0] (find_peaks_cwt)", "noise_perc", "101"];
    zscore_unknown_parameter: "zscore ddof: 1",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: zscore\n    ddof: 1\n"), RUN, 2,
        &["steps[0] (zscore)", "ddof"];
    analog_step_after_events: "zscore after find_peaks",
        recording, Some("input: in.spy\noutput: out.spy\nsteps:\n  - routine: find_peaks\n  - routine: zscore\n"), RUN, 2,
        &["step 2 (zscore)", "SpikeData"];
    averaging_events: "keeptrials: false on find_peaks_cwt events",
        recording, Some("input: in.spy\noutput: out.spy\nexecution:\n  keeptrials: false\nsteps:\n  - routine: find_peaks_cwt\n    widths: [1, 2]\n"), RUN, 2,
        &["keeptrials", "SpikeData"];

    // More inputs: empty, not 2-D, bad trial definitions, damaged or contradicting .info.
    input_empty_file: "a 0-byte input file",
        empty_file, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "not an HDF5 file"];
    input_folder_without_objects: "a .spy folder holding no object",
        folder_without_objects, Some(GOOD), RUN, 2, &["in.spy", "no AnalogData"];
    input_data_1d: "1-D data",
        data_1d, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "'data'", "1 dimensions"];
    input_trialdefinition_two_columns: "a trialdefinition with 2 columns",
        trialdefinition_two_columns, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "2 columns"];
    input_trial_negative_start: "a trial starting at -10",
        trial_negative_start, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "trial 1", "negative"];
    input_trial_fractional_start: "a trial starting at sample 0.5",
        trial_fractional_start, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "trial 0", "whole sample"];
    input_trial_nan_stop: "a trial stopping at NaN",
        trial_nan_stop, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "trial 1", "NaN"];
    input_samplerate_zero: "samplerate attribute 0",
        samplerate_zero, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "samplerate 0"];
    input_trialdefinition_absurd: "a trialdefinition claiming 2^40 rows",
        trialdefinition_claims_2_to_the_40_rows, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "'trialdefinition'", "1099511627776"];
    input_trial_of_a_tebibyte: "one valid trial of 2^36 x 4 float32 samples",
        one_trial_of_a_tebibyte, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["memory"];
    info_samplerate_not_a_number: ".info samplerate: \"fast\"",
        info_samplerate_string, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`samplerate`", "number", "fast"];
    info_channel_not_a_list: ".info channel: \"channel001\"",
        with_info_channel_not_a_list, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`channel`", "list"];
    info_channel_label_not_a_string: ".info channel holding an object",
        info_channel_label_object, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`channel`", "{\"c\":1}"];
    info_too_few_channel_labels: ".info with 3 labels for 5 channels",
        info_three_channel_labels, Some(GOOD), RUN, 2,
        &["in_raw.analog", "3 channel labels for 5 channels"];
    info_dataclass_spectral: ".info dataclass: SpectralData",
        with_info_dataclass_spectral, Some(GOOD), RUN, 2,
        &["in_raw.analog", "SpectralData", "AnalogData"];
    info_dataclass_not_a_string: ".info dataclass: 5",
        info_dataclass_number, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`dataclass`", "5"];
    info_data_shape_absurd: ".info data_shape: [2^64 - 1, 5]",
        with_info_data_shape_absurd, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`data_shape`", "18446744073709551615", "does not describe this file"];
    info_trl_shape_contradicts: ".info trl_shape: [1e9, 4]",
        info_trl_shape_wrong, Some(GOOD), RUN, 2,
        &["in_raw.analog.info", "`trl_shape`", "1000000000"];
    info_not_an_object: ".info holding a JSON list",
        info_is_a_list, Some(GOOD), RUN, 2, &["in_raw.analog.info", "JSON object"];

    // Data-dependent failures while running (exit 1).
    input_nan_at_savgol_edge: "NaN in the interp edge window of trial 1",
        nan_at_trial_edge,
        Some("input: in.analog\noutput: out.spy\nsteps:\n  - routine: savgol\n    window_length: 7\n    polyorder: 2\n"),
        RUN, 1, &["savgol", "trial 1", "NaN"];

    // The other commands.
    info_missing_path: "trialflow info nope.spy",
        nothing, None, &["info", "nope.spy"], 2, &["nope.spy", "does not exist"];
    info_text_file: "trialflow info on a text file",
        text_file, None, &["info", "in.txt"], 2, &["in.txt", "not an HDF5 file"];
    info_truncated_file: "trialflow info on a truncated file",
        truncated, None, &["info", "trunc.analog"], 2, &["trunc.analog", "truncated"];
    info_folder_without_objects: "trialflow info on a folder without objects",
        folder_without_objects, None, &["info", "in.spy"], 2, &["in.spy", "no Syncopy objects"];
    info_absurd_trialdefinition: "trialflow info on a trialdefinition claiming 2^40 rows",
        trialdefinition_claims_2_to_the_40_rows, None, &["info", "in.analog"], 2,
        &["in.analog", "'trialdefinition'"];
    routines_unknown_name: "trialflow routines nosuch",
        nothing, None, &["routines", "nosuch"], 2, &["unknown routine", "nosuch"];
    generate_zero_trials: "trialflow generate --trials 0",
        nothing, None, &["generate", "g.spy", "--trials", "0"], 2, &["--trials"];
    generate_zero_channels: "trialflow generate --channels 0",
        nothing, None, &["generate", "g.spy", "--channels", "0"], 2, &["--channels"];
    generate_zero_samplerate: "trialflow generate --samplerate 0",
        nothing, None, &["generate", "g.spy", "--samplerate", "0"], 2, &["--samplerate", "0"];
    generate_nan_samplerate: "trialflow generate --samplerate nan",
        nothing, None, &["generate", "g.spy", "--samplerate", "nan"], 2, &["--samplerate", "NaN"];
    generate_over_existing: "trialflow generate over an existing container",
        recording, None, &["generate", "in.spy"], 2, &["in.spy", "already exists"];
    generate_in_missing_folder: "trialflow generate into a missing folder",
        nothing, None, &["generate", "nodir/g.spy"], 2, &["nodir", "does not exist"];
    merge_without_shards: "trialflow merge with no shards run",
        recording, Some(GOOD), &["merge", "pipeline.yaml"], 2, &["out.spy", "no shards to merge"];
    slurm_array_zero: "trialflow slurm --array 0",
        recording, Some(GOOD), &["slurm", "pipeline.yaml", "--array", "0"], 2, &["--array", "0"];
    on_error_unknown: "on_error: maybe",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  on_error: maybe\n", steps!())), RUN, 2,
        &["execution.on_error", "maybe"];
    #[cfg(not(feature = "mpi"))]
    mode_mpi_without_mpi_build: "mode: mpi in a build without MPI",
        recording, Some(concat!("input: in.spy\noutput: out.spy\nexecution:\n  mode: mpi\n", steps!())), RUN, 2,
        &["execution.mode", "mpi", "--features mpi"];
    generate_absurd_size: "trialflow generate --trials 1e11 --samples 1e5",
        nothing, None, &["generate", "g.spy", "--trials", "100000000000", "--samples", "100000"], 2,
        &["--trials"];
}

macro_rules! usage_cases {
    ($( $name:ident: $desc:literal, $setup:expr, $args:expr, $needles:expr; )*) => {
        $(
            #[test]
            fn $name() {
                check_usage($desc, $setup, $args, $needles);
            }
        )*
    };
}

usage_cases! {
    unknown_subcommand: "trialflow frobnicate",
        nothing, &["frobnicate"], &["unrecognized subcommand", "frobnicate"];
    unknown_run_flag: "trialflow run p.yaml --frobnicate",
        recording, &["run", "pipeline.yaml", "--frobnicate"], &["--frobnicate"];
    set_without_value: "trialflow run p.yaml --set",
        recording, &["run", "pipeline.yaml", "--set"], &["--set"];
    info_without_path: "trialflow info",
        nothing, &["info"], &["required"];
    generate_without_output: "trialflow generate",
        nothing, &["generate"], &["required"];
    generate_unknown_dtype: "trialflow generate --dtype f16",
        nothing, &["generate", "g.spy", "--dtype", "f16"], &["f16", "--dtype"];
    generate_negative_trials: "trialflow generate --trials -1",
        nothing, &["generate", "g.spy", "--trials", "-1"], &["-1"];
    shard_index_not_below_count: "trialflow run --shard 3/2",
        recording, &["run", "pipeline.yaml", "--shard", "3/2"], &["--shard", "3/2"];
    shard_not_a_fraction: "trialflow run --shard x",
        recording, &["run", "pipeline.yaml", "--shard", "x"], &["--shard", "I/N"];
    slurm_time_with_a_newline: "trialflow slurm --time with a newline (would inject a shell line)",
        recording, &["slurm", "pipeline.yaml", "--array", "2", "--time", "01:00:00\necho injected"], &["invalid value '01:00:00"];
    generate_trials_not_a_number: "trialflow generate --trials many",
        nothing, &["generate", "g.spy", "--trials", "many"], &["many", "--trials"];
}

/// `output_is_a_file` leaves `out.spy` (a file) in place, which the table's "no output"
/// check would misread; this case checks the file survives instead.
#[test]
fn output_exists_as_file_is_kept() {
    let tmp = TempDir::new("bad-outfile");
    output_is_a_file(&tmp.path);
    write_file(&tmp.path, "pipeline.yaml", GOOD);
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, &["run", "pipeline.yaml", "--overwrite"]);
    out.assert_error(2, &["out.spy", "not a folder"]);
    assert_eq!(fingerprint(&tmp.path), before);
    let out = trialflow(&tmp.path, &["run", "pipeline.yaml"]);
    out.assert_error(2, &["out.spy", "--overwrite"]);
    assert_eq!(fingerprint(&tmp.path), before);
}

/// `trialflow run` without a pipeline: clap's usage error (several lines by design), exit 2.
#[test]
fn run_without_arguments_is_a_usage_error() {
    let tmp = TempDir::new("bad-noargs");
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, &["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error:"), "{}", out.stderr);
    assert!(out.stderr.contains("<PIPELINE>"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Usage: trialflow run"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(fingerprint(&tmp.path), before);
}

/// A failed run must not destroy the result it was asked to replace.
#[test]
fn failed_overwrite_keeps_the_previous_output() {
    let tmp = TempDir::new("bad-keepold");
    recording(&tmp.path);
    nan_in_trial(&tmp.path);
    write_file(&tmp.path, "good.yaml", GOOD);
    trialflow(&tmp.path, &["run", "good.yaml", "-q"]).ok();
    write_file(
        &tmp.path,
        "nan.yaml",
        concat!("input: in.analog\noutput: out.spy\n", steps!()),
    );
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, &["run", "nan.yaml", "--overwrite"]);
    out.assert_error(1, &["detrend", "trial 2"]);
    // Completed tasks are kept for --resume, beside the untouched old output.
    assert!(out.stderr.contains("--resume"), "{}", out.stderr);
    std::fs::remove_dir_all(tmp.join("out.spy.partial")).unwrap();
    assert_eq!(
        fingerprint(&tmp.path),
        before,
        "the old output and the input are untouched"
    );
}

/// A trial with start == stop is legal (only start > stop is refused), and zscore, rectify
/// and constant detrend pass it through as an empty trial; linear detrend must too.
#[test]

fn empty_trial_passes_through_linear_detrend() {
    let tmp = TempDir::new("bad-emptytrial");
    write_handmade(
        &tmp.join("in.analog"),
        &[100, 2],
        Some((&[0.0, 0.0, 0.0, 0.0, 50.0, 0.0, 50.0, 100.0, 0.0], 3)),
        true,
    );
    let before = fingerprint(&tmp.join("in.analog"));
    for (kind, out) in [("constant", "c.spy"), ("linear", "l.spy")] {
        let yaml = format!(
            "input: in.analog\noutput: {out}\nexecution:\n  mode: sequential\nsteps:\n  - routine: detrend\n    type: {kind}\n"
        );
        write_file(&tmp.path, &format!("{kind}.yaml"), &yaml);
        let run = trialflow(&tmp.path, &["run", &format!("{kind}.yaml"), "-q"]);
        assert_eq!(
            run.code, 0,
            "detrend type {kind} on an empty trial: {}",
            run.stderr
        );
        let object = tmp.join(format!("{out}/{}_detrend.analog", &out[..1]));
        let (shape, trl) = read_trialdefinition(&object);
        assert_eq!(shape, vec![3, 3]);
        assert_eq!(&trl[..3], &[0.0, 0.0, 0.0], "{kind}: trial 0 stays empty");
        assert_eq!(read_data(&object).shape, vec![100, 2]);
    }
    assert_eq!(fingerprint(&tmp.join("in.analog")), before);
}

/// The memory estimate counts `2 x workers + 2` tasks in flight even when the run has only
/// 6 tasks, so a pipeline that needs a few hundred KiB is refused for lack of memory.
#[test]

fn memory_estimate_counts_at_most_the_tasks_that_exist() {
    let tmp = TempDir::new("bad-memwindow");
    recording(&tmp.path);
    write_file(&tmp.path, "pipeline.yaml", GOOD);
    let env = [("TRIALFLOW_AVAILABLE_MEMORY", "20000000")]; // 20 MB, 10 MB allowed
                                                            // 2 workers: window 6 = the 6 tasks; fits.
    let small = trialflow_env(
        &tmp.path,
        &[
            "run",
            "pipeline.yaml",
            "--dry-run",
            "--set",
            "execution.workers=2",
        ],
        &env,
    );
    assert_eq!(small.code, 0, "{}", small.stderr);
    // 1000 workers still have only 6 tasks to hold at once: the same peak memory.
    let many = trialflow_env(
        &tmp.path,
        &[
            "run",
            "pipeline.yaml",
            "--dry-run",
            "--set",
            "execution.workers=1000",
        ],
        &env,
    );
    assert_eq!(
        many.code, 0,
        "6 tasks cannot need more memory with more workers: {}",
        many.stderr
    );
}

/// More workers than tasks cannot speed anything up; they must not slow a 6-task run (0.1 s
/// with 2 workers) to a crawl either (1000 workers took ~19 s, 4000 more than 60 s on 2 cores).
#[test]

fn many_more_workers_than_tasks_do_not_stall() {
    let tmp = TempDir::new("bad-manyworkers");
    recording(&tmp.path);
    write_file(&tmp.path, "pipeline.yaml", GOOD);
    let started = std::time::Instant::now();
    let out = trialflow_timeout(
        &tmp.path,
        &[
            "run",
            "pipeline.yaml",
            "-q",
            "--set",
            "execution.workers=1000",
        ],
        std::time::Duration::from_secs(10),
    );
    let out = out.unwrap_or_else(|| panic!("still running after {:?}", started.elapsed()));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `--resume` after the pipeline changed: refused (exit 2) before anything is computed, and
/// the interrupted run's staging folder is kept as it was.
#[test]
fn resume_with_a_changed_pipeline_is_refused_and_keeps_the_staging() {
    let tmp = TempDir::new("bad-resume-changed");
    nan_at_trial_edge(&tmp.path);
    let savgol = |window: usize| {
        format!(
            "input: in.analog\noutput: out.spy\nexecution:\n  mode: sequential\nsteps:\n  - routine: savgol\n    window_length: {window}\n    polyorder: 2\n"
        )
    };
    write_file(&tmp.path, "a.yaml", &savgol(7));
    write_file(&tmp.path, "b.yaml", &savgol(9));
    let failed = trialflow(&tmp.path, &["run", "a.yaml"]);
    failed.assert_error(1, &["savgol", "trial 1"]);
    assert!(
        tmp.join("out.spy.partial").is_dir(),
        "the staging folder is kept"
    );
    let before = fingerprint(&tmp.path);
    let out = trialflow(&tmp.path, &["run", "b.yaml", "--resume"]);
    out.assert_error(2, &["cannot resume", "out.spy", "savgol"]);
    assert_eq!(fingerprint(&tmp.path), before, "nothing changed");
    assert!(!tmp.join("out.spy").exists());
}
