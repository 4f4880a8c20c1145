//! Throughput of the filters and transforms, run through the engine on an in-memory
//! recording (20 trials x 2000 samples x 64 channels, float32 values) into a `MemorySink`:
//! no file I/O, so the time is the kernel plus the engine's per-task handling and the
//! sink's copy. `benches/syncopy_filters.py` times Syncopy (and `trialflow run`) end to end
//! on a 102 MB file for the headline comparison.
//!
//! Run with `cargo bench --bench filters`; filter with e.g. `-- filters/butterworth`.
//! Throughput is `Throughput::Bytes` of float32 *input* (4 bytes per value), so criterion's
//! MiB/s are input MiB per second. Variants: sequential and `parallel2` (two workers).
//!
//! The signal: per channel `c`, with `t = row / 1000`,
//! `sin(2π (5 + c/2) t + c/10) + 0.4 sin(2π (40 + c) t) + 0.5 (u - 0.5)`, with `u` in [0, 1)
//! the splitmix64 hash of `row * 64 + c` (as in `benches/routines.rs`), rounded to f32.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use serde_json::{json, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::routines::registry::Registry;
use trialflow::{run_pipeline, DType, ExecutionOptions, Pipeline, Step};

const TRIALS: usize = 20;
const SAMPLES: usize = 2000;
const CHANNELS: usize = 64;

fn uniform(i: u64) -> f64 {
    let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn signal() -> Array2<f64> {
    let two_pi = 2.0 * std::f64::consts::PI;
    Array2::from_shape_fn((TRIALS * SAMPLES, CHANNELS), |(r, c)| {
        let t = r as f64 / 1000.0;
        let cf = c as f64;
        let v = (two_pi * (5.0 + cf / 2.0) * t + cf / 10.0).sin()
            + 0.4 * (two_pi * (40.0 + cf) * t).sin()
            + 0.5 * (uniform((r * CHANNELS + c) as u64) - 0.5);
        v as f32 as f64
    })
}

fn cases() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "butterworth_lp40_twopass",
            "butterworth",
            json!({"filter_type": "lp", "freq": 40, "order": 4, "direction": "twopass"}),
        ),
        (
            "butterworth_bp_onepass",
            "butterworth",
            json!({"filter_type": "bp", "freq": [8, 30], "order": 4, "direction": "onepass"}),
        ),
        (
            "firws_lp40_default",
            "firws",
            json!({"filter_type": "lp", "freq": 40}),
        ),
        ("hilbert_abs", "hilbert", json!({"output": "abs"})),
        ("downsample_250", "downsample", json!({"resamplefs": 250})),
        (
            "downsample_250_lpfreq",
            "downsample",
            json!({"resamplefs": 250, "lpfreq": 100}),
        ),
        ("resample_300", "resample", json!({"resamplefs": 300})),
    ]
}

fn pipeline(routine: &str, params: &Value, execution: ExecutionOptions) -> Pipeline {
    let routine = Registry::builtin()
        .build(routine, params.as_object().unwrap().clone())
        .expect("valid parameters");
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

fn filters(c: &mut Criterion) {
    let data = signal();
    let mut group = c.benchmark_group("filters");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes((TRIALS * SAMPLES * CHANNELS * 4) as u64));
    for (label, routine, params) in cases() {
        for (mode, execution) in [
            ("sequential", ExecutionOptions::sequential()),
            ("parallel2", ExecutionOptions::parallel(2)),
        ] {
            let pipeline = pipeline(routine, &params, execution);
            let mut source =
                InMemoryRecording::contiguous(data.clone(), 1000.0, &[SAMPLES; TRIALS])
                    .expect("valid recording")
                    .with_dtype(DType::Float32);
            group.bench_function(BenchmarkId::new(label, mode), |b| {
                b.iter(|| {
                    let mut sink = MemorySink::new();
                    run_pipeline(&pipeline, &mut source, &mut sink, None).expect("run succeeds");
                    black_box(&sink.objects);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, filters);
criterion_main!(benches);
