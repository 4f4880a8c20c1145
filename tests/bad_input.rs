//! What `trialflow run` does with bad pipelines, bad inputs and bad outputs, as a table: each
//! case sets up a folder (a recording, a corrupted or hand-made input), writes a pipeline,
//! runs the binary and checks that
//! - the exit code is the expected one (2: the user's mistake; 1: a failure while running),
//! - stderr is exactly one line starting with `error:`, without panic or backtrace noise, and
//!   names the culprit (key, routine, file or trial),
//! - nothing was written or changed: no output container, no `.partial` staging folder, and
//!   the input's bytes and mtimes are as before (the whole folder is fingerprinted).

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
    // A failure while running keeps completed tasks in the staging folder for --resume; a
    // refusal up front (exit 2) leaves nothing at all.
    if case.code == 2 {
        assert!(
            !tmp.join("out.spy.partial").exists(),
            "{context}: a staging folder was left behind"
        );
    }
    let _ = std::fs::remove_dir_all(tmp.join("out.spy.partial"));
    let after = fingerprint(&tmp.path);
    assert_eq!(
        after, before,
        "{context}: the folder (input included) changed"
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

fn integer_data(dir: &Path) {
    init();
    let f = hdf5::File::create(dir.join("in.analog")).unwrap();
    let ds = f
        .new_dataset::<i32>()
        .shape((20, 2))
        .create("data")
        .unwrap();
    ds.write_raw(&(0..40).collect::<Vec<i32>>()).unwrap();
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
    let f = hdf5::File::create(dir.join("in.analog")).unwrap();
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
    let f = hdf5::File::create(dir.join("in.analog")).unwrap();
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
    std::fs::remove_file(dir.join("vin.spy/vin_zscore.parts/3.h5")).unwrap();
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
    input_integer_data: "integer data",
        integer_data, Some(concat!("input: in.analog\noutput: out.spy\n", steps!())), RUN, 2,
        &["in.analog", "float32 and float64"];
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

    input_virtual_dataset_missing_source: "virtual-dataset input whose source file 3.h5 is missing",
        virtual_missing_part,
        Some("input: vin.spy/vin_zscore.analog\noutput: out.spy\nexecution:\n  mode: sequential\nsteps:\n  - routine: rectify\n"),
        RUN, 2, &["vin_zscore", "3.h5"];
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
