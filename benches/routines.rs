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

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use trialflow::{DType, ExecutionOptions, Pipeline};

mod common;
use common::{pipeline, recording, run_once, signal, CHANNELS, SAMPLES, TRIALS};

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
        case("median_filter", "median_filter", json!({"size": 9}), TRIALS),
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

fn case_pipeline(case: &Case, execution: ExecutionOptions) -> Pipeline {
    pipeline(case.routine, &case.params, execution)
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
            let pipeline = case_pipeline(&case, execution);
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
