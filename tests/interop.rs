//! Interoperability with real Syncopy 2023.9, in the pinned venv that `scripts/python-env.sh`
//! creates: Syncopy writes inputs that trialflow processes, and Syncopy's `spy.load`
//! (with checksum verification) opens what trialflow writes and runs `freqanalysis` on it.
//!
//! These tests need Python, so they are `#[ignore]`d in a plain `cargo test`;
//! `scripts/test.sh` (the README's test command) creates the venv and runs them with
//! `TRIALFLOW_INTEROP_PYTHON` pointing at its interpreter.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;
use serde_json::Value;
use trialflow::hdf5::{SpyWriter, WriterOptions};
use trialflow::in_memory::InMemoryRecording;
use trialflow::model::{EventColumn, EventColumnKind};
use trialflow::prelude::*;

#[path = "interop/mtmconvol.rs"]
mod mtmconvol;

fn python() -> PathBuf {
    PathBuf::from(std::env::var("TRIALFLOW_INTEROP_PYTHON").expect(
        "set TRIALFLOW_INTEROP_PYTHON to the interop venv's python (scripts/python-env.sh prints it)",
    ))
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trialflow-interop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn python_json(args: &[&str]) -> Value {
    let out = Command::new(python())
        .args(args)
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && doc.get("error").is_none(),
        "python {args:?} failed: {doc}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    doc
}

/// Runs the `trialflow` binary and insists that it succeeds, showing its stderr if not.
fn run_trialflow(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_trialflow"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trialflow {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Has Syncopy write its test recording (`write_with_syncopy.py`: unequal trials, offsets,
/// trialinfo) into `dir`; returns the path of the HDF5 file.
fn syncopy_input(dir: &Path) -> String {
    let writer = repo().join("tests/interop/write_with_syncopy.py");
    let input = python_json(&[writer.to_str().unwrap(), dir.to_str().unwrap()]);
    input["hdf5_path"].as_str().unwrap().to_string()
}

/// Writes the pipeline `yaml` to `path` and runs it (`trialflow run PATH -q`), insisting that
/// it succeeds.
fn run_yaml(path: &Path, yaml: &str) {
    std::fs::write(path, yaml).unwrap();
    run_trialflow(&["run", path.to_str().unwrap(), "-q"]);
}

/// Runs the check `tests/interop/<script> ARGS...` and insists that its JSON report says
/// `"ok": true` (`what` names the case in the failure); returns the report.
fn parity(script: &str, args: &[&str], what: &str) -> Value {
    let script = repo().join("tests/interop").join(script);
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let report = python_json(&all);
    assert_eq!(report["ok"], true, "{what}: {report}");
    report
}

fn summary(path: &Path) -> Value {
    let script = repo().join("tests/interop/syncopy_summary.py");
    python_json(&[
        script.to_str().unwrap(),
        path.to_str().unwrap(),
        "--freqanalysis",
        "--max-elements",
        "200000",
    ])
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        Value::String(s) if s == "NaN" => vec![f64::NAN],
        other => panic!("unexpected {other}"),
    }
}

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_input_through_trialflow_and_back_into_syncopy() {
    let dir = temp_dir("roundtrip");
    let writer = repo().join("tests/interop/write_with_syncopy.py");
    let input = python_json(&[writer.to_str().unwrap(), dir.to_str().unwrap()]);
    let input_path = input["hdf5_path"].as_str().unwrap();
    let input_bytes = std::fs::read(input_path).unwrap();

    std::fs::create_dir_all(dir.join("work")).unwrap();
    run_yaml(
        &dir.join("pipeline.yaml"),
        &format!(
            "input: {input_path}\noutput: work/results.spy\nexecution:\n  mode: parallel\n  workers: 2\n  chan_per_worker: 3\n  parallel_store: true\nsteps:\n  - routine: detrend\n    name: detrended\n    save: true\n  - routine: zscore\n  - routine: rectify\n"
        ),
    );
    assert_eq!(
        std::fs::read(input_path).unwrap(),
        input_bytes,
        "input unchanged"
    );

    // Move the container (virtual datasets with relative sources) before Syncopy opens it.
    std::fs::create_dir_all(dir.join("moved")).unwrap();
    let moved = dir.join("moved/results.spy");
    std::fs::rename(dir.join("work/results.spy"), &moved).unwrap();
    let doc = summary(&moved);
    let objects = doc["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{doc}");

    let n_trials = input["trialdefinition"].as_array().unwrap().len();
    for (object, tag) in objects.iter().zip(["detrended", "rectify"]) {
        assert_eq!(object["tag"], tag);
        assert_eq!(object["class"], "AnalogData");
        assert_eq!(object["dtype"], "float32");
        assert_eq!(object["shape"], input["shape"]);
        assert_eq!(object["trialdefinition"], input["trialdefinition"]);
        assert_eq!(object["samplerate"], input["samplerate"]);
        assert_eq!(object["channel"], input["channel"]);
        // Syncopy reads exactly the values trialflow wrote.
        let file = hdf5::File::open(moved.join(format!("results_{tag}.analog"))).unwrap();
        let ours: Vec<f32> = file.dataset("data").unwrap().read_raw().unwrap();
        let theirs = floats(&object["data"]);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(*a as f64, *b, "{tag}");
        }
        let spectral = &object["freqanalysis"];
        assert_eq!(spectral["class"], "SpectralData");
        let shape = spectral["shape"].as_array().unwrap();
        assert_eq!(shape[0].as_u64().unwrap() as usize, n_trials);
        assert_eq!(shape[3], input["shape"][1]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Per trial and channel, the power (or, with `fourier`, the complex coefficient) of a naive
/// DFT at a few frequencies: a small spectral routine that exercises SpectralData output (one
/// time row per trial, taper and freq axes), real and complex.
#[derive(Clone)]
struct NaivePower {
    freqs: Vec<f64>,
    fourier: bool,
}

impl ComputationalRoutine for NaivePower {
    fn name(&self) -> &str {
        "naive_power"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "freqs": self.freqs, "fourier": self.fourier })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let shapes = (0..input.n_trials())
            .map(|_| vec![1, 1, self.freqs.len(), input.n_channels()])
            .collect();
        let shape = OutputShape::dense(DataKind::Spectral, shapes);
        Ok(if self.fourier {
            shape.with_complex_values()
        } else {
            shape
        })
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.kind = DataKind::Spectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = input.trialdefinition.restacked(&vec![1; input.n_trials()]);
        schema.freq = Some(self.freqs.clone());
        schema.taper = Some(vec!["boxcar".into()]);
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for NaivePower {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let n = x.nrows() as f64;
        for (k, &f) in self.freqs.iter().enumerate() {
            for c in 0..x.ncols() {
                let (mut re, mut im) = (0.0, 0.0);
                for (i, &v) in x.column(c).iter().enumerate() {
                    let phase = 2.0 * std::f64::consts::PI * f * i as f64 / input.samplerate;
                    re += v * phase.cos();
                    im -= v * phase.sin();
                }
                if self.fourier {
                    output.complex_mut()[[0, 0, k, c]] = Complex64::new(re / n, im / n);
                } else {
                    output.dense_mut()[[0, 0, k, c]] = (re * re + im * im) / (n * n);
                }
            }
        }
        Ok(())
    }
}

/// Threshold crossings as SpikeData events.
#[derive(Clone)]
struct Crossings;

impl ComputationalRoutine for Crossings {
    fn name(&self) -> &str {
        "crossings"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::events(
            input.n_trials(),
            vec![
                EventColumn::new("peak_heights", EventColumnKind::Float),
                EventColumn::new("left_bases", EventColumnKind::SampleIndex),
            ],
        ))
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for Crossings {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let events = output.events_mut();
        for (c, column) in x.columns().into_iter().enumerate() {
            for (i, &v) in column.iter().enumerate() {
                if v > 1.2 {
                    let channel = (input.channels.start + c) as i64;
                    events.push(i as i64, channel, 0, &[v, i as f64]);
                }
            }
        }
        Ok(())
    }
}

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_spectral_and_spike_objects_written_by_trialflow() {
    trialflow::hdf5::init_hdf5();
    let dir = temp_dir("kinds");
    let lengths = [64usize, 80, 72];
    let total: usize = lengths.iter().sum();
    let data = Array2::from_shape_fn((total, 3), |(i, c)| {
        (i as f64 * 0.3 + c as f64).sin() * (1.0 + 0.4 * c as f64)
    });
    let mut source = InMemoryRecording::contiguous(data, 200.0, &lengths)
        .unwrap()
        .with_dtype(DType::Float32);
    let mut power: Vec<f64> = Vec::new();
    for (tag, step) in [
        (
            "spectral",
            Step::new(NaivePower {
                freqs: vec![5.0, 10.0, 20.0],
                fourier: false,
            }),
        ),
        (
            "fourier",
            Step::new(NaivePower {
                freqs: vec![5.0, 10.0, 20.0],
                fourier: true,
            }),
        ),
        ("spike", Step::new(Crossings)),
    ] {
        let out = dir.join(format!("{tag}.spy"));
        let mut writer = SpyWriter::create(&out, WriterOptions::default()).unwrap();
        let pipeline = Pipeline::new(vec![step.named(tag)], ExecutionOptions::parallel(2));
        run_pipeline(&pipeline, &mut source, &mut writer, None).unwrap();
        drop(writer);
        let doc = summary(&out);
        let object = &doc["objects"][0];
        match tag {
            "fourier" => {
                assert_eq!(object["class"], "SpectralData", "{doc}");
                assert_eq!(object["dtype"], "complex64", "{doc}");
                assert_eq!(object["shape"], serde_json::json!([3, 1, 3, 3]));
                // Complex values come as [re, im] pairs; power must match the real run's.
                let pairs = floats(&object["data"]);
                assert_eq!(pairs.len(), 3 * 3 * 3 * 2);
                assert_eq!(power.len(), pairs.len() / 2, "the real run came first");
                for (z, p) in pairs.chunks(2).zip(&power) {
                    let from_fourier = z[0] * z[0] + z[1] * z[1];
                    assert!(
                        (from_fourier - p).abs() <= 1e-5 * p.abs().max(1e-3),
                        "{z:?} {p}"
                    );
                }
            }
            "spectral" => {
                power = floats(&object["data"]);
                assert_eq!(object["class"], "SpectralData", "{doc}");
                assert_eq!(object["shape"], serde_json::json!([3, 1, 3, 3]));
                assert_eq!(object["freq"], serde_json::json!([5.0, 10.0, 20.0]));
                assert_eq!(object["taper"], serde_json::json!(["boxcar"]));
                assert_eq!(
                    object["trialdefinition"],
                    serde_json::json!([[0.0, 1.0, 0.0], [1.0, 2.0, 0.0], [2.0, 3.0, 0.0]])
                );
            }
            _ => {
                assert_eq!(object["class"], "SpikeData", "{doc}");
                let rows = floats(&object["data"]);
                assert!(rows.len() >= 30 && rows.len().is_multiple_of(3));
                let samples: Vec<f64> = rows.chunks(3).map(|r| r[0]).collect();
                assert!(
                    samples.windows(2).all(|w| w[0] <= w[1]),
                    "ordered by sample"
                );
                assert_eq!(object["unit"], serde_json::json!(["unit0"]));
                assert_eq!(
                    object["trialdefinition"],
                    serde_json::json!([[0.0, 64.0, 0.0], [64.0, 144.0, 0.0], [144.0, 216.0, 0.0]])
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs the Syncopy venv with pynwb: run scripts/test.sh"]
fn syncopy_opens_an_nwb_import_with_pynwbs_values() {
    let dir = temp_dir("nwb-import");
    let nwb = repo().join("fixtures/nwb/session.nwb");
    let out = dir.join("imported.spy");
    run_trialflow(&[
        "import",
        nwb.to_str().unwrap(),
        out.to_str().unwrap(),
        "--series",
        "raw",
        "-q",
    ]);
    let report = parity(
        "nwb_import_check.py",
        &[nwb.to_str().unwrap(), "raw", out.to_str().unwrap()],
        "nwb import",
    );
    assert_eq!(report["trials"], 6);
}

/// `select:` against Syncopy's own `selectdata` on a Syncopy-written input with unequal
/// trials and offsets: the same trials (in the given order), channels, time axes and values.
#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn select_matches_syncopys_selectdata() {
    let dir = temp_dir("select");
    let input_path = syncopy_input(&dir);
    let cases = [
        (
            "trials: [4, 0, 2]\n  channels: [chan3, chan1]\n  latency: [-0.05, 0.08]",
            r#"{"trials": [4, 0, 2], "channel": ["chan3", "chan1"], "latency": [-0.05, 0.08]}"#,
        ),
        ("latency: [-0.0205, 0.1]", r#"{"latency": [-0.0205, 0.1]}"#),
        (
            "trials: [1, 3]\n  channels: [2]",
            r#"{"trials": [1, 3], "channel": [2]}"#,
        ),
    ];
    for (i, (select, syncopy)) in cases.iter().enumerate() {
        let output = dir.join(format!("sel{i}.spy"));
        run_yaml(
            &dir.join(format!("select{i}.yaml")),
            &format!(
                "input: {input_path}\noutput: {}\nselect:\n  {select}\nsteps:\n  - routine: rectify\n",
                output.display()
            ),
        );
        parity(
            "select_parity.py",
            &[&input_path, output.to_str().unwrap(), syncopy],
            &format!("case {i} ({select})"),
        );
    }
}

/// `trials: {events, pre, post}` on a Syncopy input against Syncopy's `definetrial` with the
/// trial definition those events map to.
#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn trials_around_events_match_syncopys_definetrial() {
    let dir = temp_dir("definetrial");
    let input_path = syncopy_input(&dir);
    let output = dir.join("events.spy");
    run_yaml(
        &dir.join("events.yaml"),
        &format!(
            "input: {input_path}\noutput: {}\ntrials: {{events: [0.1004, 0.4, 0.5996, 0.85], pre: 0.05, post: 0.1206}}\nsteps:\n  - routine: rectify\n",
            output.display()
        ),
    );
    let report = parity(
        "definetrial_parity.py",
        &[
            &input_path,
            output.to_str().unwrap(),
            "[0.1004, 0.4, 0.5996, 0.85]",
            "0.05",
            "0.1206",
        ],
        "events",
    );
    assert_eq!(report["trials"], 4);
}

#[path = "interop/crossspectral.rs"]
mod crossspectral;

#[path = "interop/statistics.rs"]
mod statistics;

#[path = "interop/timelock.rs"]
mod timelock;
