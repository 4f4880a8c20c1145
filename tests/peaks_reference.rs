//! find_peaks and find_peaks_cwt against reference outputs that
//! `fixtures/reference/make_peaks.py` generated with pinned SciPy 1.18.1: every case runs
//! through the registry and the engine, and the events (samples in the recording's sample
//! space, ordered by trial, sample and channel) and their properties must match SciPy's.

use std::collections::BTreeSet;

use ndarray::Array2;
use serde_json::{Map, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::model::{EventBlock, EventColumn, EventColumnKind};
use trialflow::prelude::*;
use trialflow::Registry;

mod common;
use common::reference::number;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/reference/peaks.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Case {
    name: String,
    routine: String,
    params: Map<String, Value>,
    data: Array2<f64>,
    float32: bool,
    trials: Vec<(usize, usize)>,
    /// [trial][channel] -> {peaks, properties}
    expected: Value,
    warnings: Value,
}

fn cases() -> Vec<Case> {
    let doc = fixture();
    let inputs = doc["inputs"].as_object().unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let input = &inputs[c["input"].as_str().unwrap()];
            let rows = input["data"].as_array().unwrap();
            let cols = rows[0].as_array().unwrap().len();
            let flat: Vec<f64> = rows
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(number))
                .collect();
            let params = c
                .get("params_trialflow")
                .unwrap_or(&c["params"])
                .as_object()
                .unwrap()
                .clone();
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                routine: c["routine"].as_str().unwrap().to_string(),
                params,
                data: Array2::from_shape_vec((rows.len(), cols), flat).unwrap(),
                float32: input["dtype"] == "float32",
                trials: c["trials"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        (
                            t[0].as_u64().unwrap() as usize,
                            t[1].as_u64().unwrap() as usize,
                        )
                    })
                    .collect(),
                expected: c["expected"].clone(),
                warnings: c["warnings"].clone(),
            }
        })
        .collect()
}

struct Outcome {
    events: EventBlock,
    columns: Vec<EventColumn>,
    warnings: Vec<String>,
}

fn run_case(case: &Case, mode: ExecutionOptions) -> Outcome {
    let routine = Registry::builtin()
        .build(&case.routine, case.params.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let trials: Vec<(usize, usize, f64)> = case.trials.iter().map(|&(a, b)| (a, b, 0.0)).collect();
    let def = TrialDefinition::from_trials(&trials, &[]);
    let mut source = InMemoryRecording::new(case.data.clone(), 1000.0, def).unwrap();
    if case.float32 {
        source = source.with_dtype(DType::Float32);
    }
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![Step {
            routine,
            name: "out".into(),
            save: false,
            dtype: None,
        }],
        mode,
    );
    let report = run_pipeline(&pipeline, &mut source, &mut sink, None)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let object = sink.object("out").unwrap();
    Outcome {
        events: object.events.clone(),
        columns: object.spec.schema.event_columns.clone(),
        warnings: report.warnings,
    }
}

/// SciPy's results as event rows in the recording's sample space, ordered by (sample,
/// channel) like the engine orders them.
fn expected_rows(case: &Case, columns: &[EventColumn]) -> EventBlock {
    let mut rows: Vec<(i64, i64, Vec<f64>)> = Vec::new();
    for (t, &(start, _)) in case.trials.iter().enumerate() {
        for (c, ch) in case.expected[t].as_array().unwrap().iter().enumerate() {
            let props = ch["properties"].as_object().unwrap();
            let names: Vec<&String> = props.keys().collect();
            let ours: Vec<&String> = columns.iter().map(|col| &col.name).collect();
            assert_eq!(
                ours, names,
                "{}: property columns (SciPy's order)",
                case.name
            );
            for (j, p) in ch["peaks"].as_array().unwrap().iter().enumerate() {
                let values = columns
                    .iter()
                    .map(|col| {
                        let v = number(&props[&col.name][j]);
                        match col.kind {
                            EventColumnKind::SampleIndex | EventColumnKind::SamplePosition => {
                                v + start as f64
                            }
                            _ => v,
                        }
                    })
                    .collect();
                rows.push((start as i64 + p.as_i64().unwrap(), c as i64, values));
            }
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let mut block = EventBlock::with_columns(columns.len());
    for (s, c, v) in rows {
        block.push(s, c, 0, &v);
    }
    block
}

fn assert_close(case: &str, what: &str, i: usize, got: f64, want: f64, integer: bool) {
    if want.is_nan() {
        assert!(got.is_nan(), "{case}: {what}[{i}]: expected NaN, got {got}");
        return;
    }
    if got == want {
        return;
    }
    assert!(
        !integer && (got - want).abs() <= 1e-10 * want.abs(),
        "{case}: {what}[{i}]: {got} vs SciPy {want}"
    );
}

/// (trial, channel, "prominence" | "width") for each warning.
fn warning_set_ours(warnings: &[String]) -> BTreeSet<(usize, usize, &'static str)> {
    warnings
        .iter()
        .map(|w| {
            let field = |key: &str| -> usize {
                let rest = &w[w.find(key).unwrap_or_else(|| panic!("{key} in {w}")) + key.len()..];
                rest[..rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len())]
                    .parse()
                    .unwrap()
            };
            let kind = if w.contains("prominence of 0") {
                "prominence"
            } else if w.contains("width of 0") {
                "width"
            } else {
                panic!("unexpected warning {w}")
            };
            (field(", trial "), field(": channel "), kind)
        })
        .collect()
}

fn warning_set_scipy(case: &Case) -> BTreeSet<(usize, usize, &'static str)> {
    let mut set = BTreeSet::new();
    for (t, trial) in case.warnings.as_array().unwrap().iter().enumerate() {
        for (c, msgs) in trial.as_array().unwrap().iter().enumerate() {
            for m in msgs.as_array().unwrap() {
                let m = m.as_str().unwrap();
                let kind = if m.contains("prominence of 0") {
                    "prominence"
                } else {
                    assert!(m.contains("width of 0"), "{m}");
                    "width"
                };
                set.insert((t, c, kind));
            }
        }
    }
    set
}

#[test]
fn peaks_match_scipy_reference_outputs() {
    let cases = cases();
    assert!(cases.len() >= 90, "fixture holds the expected cases");
    let mut compared = 0;
    for case in &cases {
        let out = run_case(case, ExecutionOptions::sequential());
        let want = expected_rows(case, &out.columns);
        let got = &out.events;
        let name = &case.name;
        assert_eq!(got.sample, want.sample, "{name}: peak samples");
        assert_eq!(got.channel, want.channel, "{name}: peak channels");
        assert!(got.unit.iter().all(|&u| u == 0), "{name}: unit 0");
        for (k, col) in out.columns.iter().enumerate() {
            for (i, (&a, &b)) in got.columns[k].iter().zip(&want.columns[k]).enumerate() {
                assert_close(name, &col.name, i, a, b, col.is_integer());
            }
        }
        assert_eq!(
            warning_set_ours(&out.warnings),
            warning_set_scipy(case),
            "{name}: PeakPropertyWarnings"
        );
        compared += got.len();
    }
    assert!(
        compared > 2000,
        "the fixtures exercise many peaks ({compared})"
    );
}

#[test]
fn results_do_not_depend_on_mode_or_channel_grouping() {
    for case in cases() {
        let reference = run_case(&case, ExecutionOptions::sequential());
        let mut per_channel = ExecutionOptions::sequential();
        per_channel.chan_per_worker = Some(1);
        let mut parallel_groups = ExecutionOptions::parallel(2);
        parallel_groups.chan_per_worker = Some(2);
        for (label, mode) in [
            ("parallel(2)", ExecutionOptions::parallel(2)),
            ("chan_per_worker 1", per_channel),
            ("parallel(2) chan_per_worker 2", parallel_groups),
        ] {
            let out = run_case(&case, mode);
            assert_eq!(
                out.events.sample, reference.events.sample,
                "{}: {label}",
                case.name
            );
            assert_eq!(
                out.events.channel, reference.events.channel,
                "{}: {label}",
                case.name
            );
            for (a, b) in out.events.columns.iter().zip(&reference.events.columns) {
                let a: Vec<u64> = a.iter().map(|v| v.to_bits()).collect();
                let b: Vec<u64> = b.iter().map(|v| v.to_bits()).collect();
                assert_eq!(a, b, "{}: {label}", case.name);
            }
        }
    }
}

#[test]
fn several_trials_are_in_recording_sample_space_and_ordered() {
    for case in cases().iter().filter(|c| c.trials.len() > 1) {
        let out = run_case(case, ExecutionOptions::parallel(2));
        let ev = &out.events;
        assert!(ev.len() > 10, "{}: has peaks", case.name);
        let trial_of = |s: i64| {
            case.trials
                .iter()
                .position(|&(a, b)| (a as i64..b as i64).contains(&s))
                .unwrap_or_else(|| panic!("{}: sample {s} outside every trial", case.name))
        };
        for i in 1..ev.len() {
            let prev = (
                trial_of(ev.sample[i - 1]),
                ev.sample[i - 1],
                ev.channel[i - 1],
            );
            let this = (trial_of(ev.sample[i]), ev.sample[i], ev.channel[i]);
            assert!(
                prev <= this,
                "{}: rows {} and {i} out of order",
                case.name,
                i - 1
            );
        }
        // Sample-index properties lie in the peak's own trial.
        for (k, col) in out.columns.iter().enumerate() {
            if col.kind == EventColumnKind::SampleIndex {
                for i in 0..ev.len() {
                    assert_eq!(
                        trial_of(ev.columns[k][i] as i64),
                        trial_of(ev.sample[i]),
                        "{}: {} of row {i}",
                        case.name,
                        col.name
                    );
                }
            }
        }
        // The peak's value is the recording's value at its sample.
        if let Some(h) = out.columns.iter().position(|c| c.name == "peak_heights") {
            for i in 0..ev.len() {
                let v = case.data[[ev.sample[i] as usize, ev.channel[i] as usize]];
                assert_eq!(ev.columns[h][i], v);
            }
        }
    }
}

#[test]
fn invalid_parameters_are_refused_naming_the_parameter() {
    let registry = Registry::builtin();
    let build = |routine: &str, json: Value| {
        registry
            .build(routine, json.as_object().unwrap().clone())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    use serde_json::json;
    for (routine, params, needle) in [
        ("find_peaks", json!({"distance": 0.5}), "distance must be"),
        (
            "find_peaks",
            json!({"wlen": 1}),
            "wlen must be larger than 1",
        ),
        (
            "find_peaks",
            json!({"rel_height": -1}),
            "rel_height must be",
        ),
        (
            "find_peaks",
            json!({"height": [3, 1]}),
            "height: the minimum 3",
        ),
        (
            "find_peaks",
            json!({"prominence": [[0, 1, 2], [3, 4, 5]]}),
            "`prominence`: array-valued bounds",
        ),
        (
            "find_peaks",
            json!({"width": [1]}),
            "`width`: a list bound needs exactly two",
        ),
        ("find_peaks", json!({"heigth": 1}), "unknown field `heigth`"),
        ("find_peaks_cwt", json!({}), "widths is required"),
        (
            "find_peaks_cwt",
            json!({"widths": [1, 0]}),
            "widths must be positive",
        ),
        (
            "find_peaks_cwt",
            json!({"widths": [1, 2], "wavelet": "morlet"}),
            "`wavelet`: must be 'ricker'",
        ),
        (
            "find_peaks_cwt",
            json!({"widths": [1, 2, 3], "max_distances": [1, 1]}),
            "max_distances has 2 entries",
        ),
        (
            "find_peaks_cwt",
            json!({"widths": 2, "noise_perc": 101}),
            "noise_perc",
        ),
        (
            "find_peaks_cwt",
            json!({"widths": 2, "window_size": -1}),
            "window_size",
        ),
    ] {
        let err = build(routine, params.clone());
        assert!(err.contains(needle), "{routine} {params}: {err}");
    }
}

#[test]
fn cfg_records_every_parameter_with_defaults() {
    let registry = Registry::builtin();
    let fp = registry
        .build(
            "find_peaks",
            serde_json::json!({"height": 1})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    assert_eq!(
        fp.cfg(),
        serde_json::json!({"height": [1.0, null], "threshold": null, "distance": null,
            "prominence": null, "width": null, "wlen": null, "rel_height": 0.5,
            "plateau_size": null})
    );
    let cwt = registry
        .build(
            "find_peaks_cwt",
            serde_json::json!({"widths": [1, 2, 6]})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    assert_eq!(
        cwt.cfg(),
        serde_json::json!({"widths": [1.0, 2.0, 6.0], "wavelet": "ricker",
            "max_distances": [0.25, 0.5, 1.5], "gap_thresh": 1.0, "min_length": 1.0,
            "min_snr": 1.0, "noise_perc": 10.0, "window_size": null})
    );
}

/// The pipeline in docs/routines.md (gaussian smoothing fused with find_peaks) parses and
/// runs, and the YAML bound syntax reaches the routine.
#[test]
fn documented_pipeline_parses_and_runs() {
    let docs = include_str!("../docs/routines.md");
    let section = &docs[docs.find("## Peak finding").expect("docs section")..];
    let start = section.find("```yaml\nsteps:").expect("pipeline example") + "```yaml\n".len();
    let steps = &section[start..start + section[start..].find("```").unwrap()];
    let dir = std::env::temp_dir().join(format!("trialflow-peaks-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pipeline.yaml");
    std::fs::write(&file, format!("input: in.analog\noutput: out.spy\n{steps}")).unwrap();
    let config = trialflow::pipeline::load_pipeline(&file, &[], &Registry::builtin())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).ok();
    let names: Vec<_> = config
        .pipeline
        .steps
        .iter()
        .map(|s| s.routine.name())
        .collect();
    assert_eq!(names, ["gaussian", "find_peaks"]);
    assert_eq!(
        config.pipeline.steps[1].routine.cfg()["height"],
        serde_json::json!([0.5, null])
    );

    let data = Array2::from_shape_fn((400, 2), |(i, c)| ((i as f64) / (9.0 + c as f64)).sin());
    let mut source = InMemoryRecording::contiguous(data, 100.0, &[200, 200]).unwrap();
    let mut sink = MemorySink::new();
    run_pipeline(&config.pipeline, &mut source, &mut sink, None).unwrap();
    let object = sink.object("find_peaks").unwrap();
    assert!(object.events.len() >= 4, "a smoothed sine has peaks");
    let names: Vec<_> = object
        .spec
        .schema
        .event_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names[0], "peak_heights");
    assert!(names.contains(&"prominences") && names.contains(&"right_ips"));
}
