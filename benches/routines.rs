//! Kernel throughput of every built-in routine, run through the engine on an in-memory
//! recording (20 trials x 2000 samples x 64 channels) into a `MemorySink`: no file I/O, so the
//! time is the routine's compute plus the engine's per-task handling and the sink's copy.
//! `benches/scipy_routines.py` times the same routines with SciPy on the same data.
//!
//! Run with `cargo bench --bench routines`; filter with e.g. `-- routines/gaussian`. Each
//! benchmark declares `Throughput::Bytes` of *input* (8 bytes per value for float64, 4 for
//! float32), so criterion's MiB/s are input MiB per second. Variants: `float64` and `float32`
//! (`InMemoryRecording::with_dtype(DType::Float32)` over values rounded to f32), sequential;
//! plus `parallel2/<dtype>` for `gaussian` and `find_peaks`.
//!
//! The signal is deterministic and reproducible in NumPy (see `scipy_routines.py`): per
//! channel `c`, with `t = row / 1000`,
//! `sin(2π (5 + c/2) t + c/10) + 0.4 sin(2π (40 + c) t) + 0.5 (u - 0.5)`, where `u` in [0, 1)
//! is the splitmix64 hash of the flat index `row * 64 + c`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{s, Array2};
use serde_json::{json, Map, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::routines::registry::Registry;
use trialflow::{run_pipeline, DType, ExecutionOptions, Pipeline, Step};

const TRIALS: usize = 20;
const SAMPLES: usize = 2000;
const CHANNELS: usize = 64;

/// splitmix64's finaliser of `i + 1`, as a uniform in [0, 1) (53 bits).
fn uniform(i: u64) -> f64 {
    let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The full recording's samples x channels (TRIALS * SAMPLES rows), optionally rounded to f32.
fn signal(f32_values: bool) -> Array2<f64> {
    let two_pi = 2.0 * std::f64::consts::PI;
    Array2::from_shape_fn((TRIALS * SAMPLES, CHANNELS), |(r, c)| {
        let t = r as f64 / 1000.0;
        let cf = c as f64;
        let v = (two_pi * (5.0 + cf / 2.0) * t + cf / 10.0).sin()
            + 0.4 * (two_pi * (40.0 + cf) * t).sin()
            + 0.5 * (uniform((r * CHANNELS + c) as u64) - 0.5);
        if f32_values {
            v as f32 as f64
        } else {
            v
        }
    })
}

/// One routine of the comparison: registry name, parameters, and how many trials it runs on.
struct Case {
    label: &'static str,
    routine: &'static str,
    params: Value,
    trials: usize,
}

fn cases() -> Vec<Case> {
    let case = |label, routine, params, trials| Case {
        label,
        routine,
        params,
        trials,
    };
    vec![
        case("gaussian", "gaussian", json!({"sigma": 3.0}), TRIALS),
        case(
            "savgol",
            "savgol",
            json!({"window_length": 11, "polyorder": 3}),
            TRIALS,
        ),
        case(
            "moving_average",
            "moving_average",
            json!({"size": 9}),
            TRIALS,
        ),
        case("median", "median", json!({"size": 9}), TRIALS),
        case(
            "find_peaks",
            "find_peaks",
            json!({"height": 0.5, "distance": 5, "prominence": 0.2}),
            TRIALS,
        ),
        // Fewer trials: it is the slowest kernel (three transform rows per channel); the
        // throughput below is scaled to the trials actually run.
        case(
            "find_peaks_cwt",
            "find_peaks_cwt",
            json!({"widths": [2, 4, 8]}),
            5,
        ),
        case("detrend", "detrend", json!({}), TRIALS),
        case("zscore", "zscore", json!({}), TRIALS),
        case("rectify", "rectify", json!({}), TRIALS),
    ]
}

fn params(value: &Value) -> Map<String, Value> {
    value.as_object().expect("params are an object").clone()
}

fn pipeline(case: &Case, execution: ExecutionOptions) -> Pipeline {
    let routine = Registry::builtin()
        .build(case.routine, params(&case.params))
        .unwrap_or_else(|e| panic!("{}: {e}", case.label));
    Pipeline::new(
        vec![Step {
            routine,
            name: "out".into(),
            save: false,
            dtype: None,
        }],
        execution,
    )
}

fn recording(data: &Array2<f64>, trials: usize, dtype: DType) -> InMemoryRecording {
    let rows = data.slice(s![..trials * SAMPLES, ..]).to_owned();
    InMemoryRecording::contiguous(rows, 1000.0, &vec![SAMPLES; trials])
        .expect("valid recording")
        .with_dtype(dtype)
}

/// One full run; returns the output's event count (peak routines) or value count.
fn run_once(pipeline: &Pipeline, source: &mut InMemoryRecording) -> usize {
    let mut sink = MemorySink::new();
    run_pipeline(pipeline, source, &mut sink, None).expect("run succeeds");
    let out = sink.object("out").expect("output object");
    let n = match &out.data {
        Some(d) => d.len(),
        None => out.events.len(),
    };
    black_box(&sink.objects);
    n
}

fn routines(c: &mut Criterion) {
    let f64_data = signal(false);
    let f32_data = signal(true);
    let mut group = c.benchmark_group("routines");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    for case in cases() {
        let mut variants = vec![("sequential", ExecutionOptions::sequential())];
        if matches!(case.label, "gaussian" | "find_peaks") {
            variants.push(("parallel2", ExecutionOptions::parallel(2)));
        }
        for (mode, execution) in variants {
            let pipeline = pipeline(&case, execution);
            for (dtype, data, width) in [
                (DType::Float64, &f64_data, 8u64),
                (DType::Float32, &f32_data, 4u64),
            ] {
                let dtype_name = if dtype == DType::Float32 {
                    "float32"
                } else {
                    "float64"
                };
                let mut source = recording(data, case.trials, dtype);
                let values = (case.trials * SAMPLES * CHANNELS) as u64;
                group.throughput(Throughput::Bytes(values * width));
                let id = if mode == "sequential" {
                    BenchmarkId::new(case.label, dtype_name)
                } else {
                    BenchmarkId::new(case.label, format!("{mode}/{dtype_name}"))
                };
                // Criterion calls the closure only for benchmarks its filter selects (but
                // several times each): print the output size once, to compare with SciPy's.
                let mut reported = false;
                group.bench_function(id, |b| {
                    if !reported {
                        reported = true;
                        let count = run_once(&pipeline, &mut source);
                        let unit = if case.routine.starts_with("find_peaks") {
                            "events"
                        } else {
                            "values"
                        };
                        eprintln!(
                            "routines/{}/{mode}/{dtype_name}: {} trials, output {count} {unit}",
                            case.label, case.trials
                        );
                    }
                    b.iter(|| run_once(&pipeline, &mut source))
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, routines);
criterion_main!(benches);
