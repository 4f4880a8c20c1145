//! Kernel throughput of the spectral routines, run through the engine on an in-memory float32
//! recording (20 trials x 2000 samples x 64 channels, values rounded to f32) into a
//! `MemorySink`: no file I/O, so the time is the transform plus the engine's per-task
//! handling and the sink's copy. `benches/syncopy_spectral.py` and `trialflow run` time the
//! end-to-end comparison on the 102 MB file (see `benches/README.md`).
//!
//! Run with `cargo bench --bench spectral`; filter with e.g. `-- spectral/mtmfft_hann`.
//! Throughput is `Throughput::Bytes` of *input* (4 bytes per value), so criterion's MiB/s are
//! input MiB per second. Variants: sequential and `parallel2`.
//!
//! The signal is the one of `benches/routines.rs`: per channel `c`, with `t = row / 1000`,
//! `sin(2π (5 + c/2) t + c/10) + 0.4 sin(2π (40 + c) t) + 0.5 (u - 0.5)`, where `u` in [0, 1)
//! is the splitmix64 hash of the flat index `row * 64 + c`.

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

/// splitmix64's finaliser of `i + 1`, as a uniform in [0, 1) (53 bits).
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
            "mtmfft_hann_pow",
            "mtmfft",
            json!({"taper": "hann", "output": "pow"}),
        ),
        (
            "mtmfft_dpss4_pow",
            "mtmfft",
            json!({"tapsmofrq": 4.0, "output": "pow"}),
        ),
        (
            "mtmfft_hann_fourier",
            "mtmfft",
            json!({"output": "fourier"}),
        ),
        ("welch_256", "welch", json!({"nperseg": 256})),
    ]
}

fn pipeline(routine: &str, params: &Value, execution: ExecutionOptions) -> Pipeline {
    let routine = Registry::builtin()
        .build(routine, params.as_object().expect("object").clone())
        .unwrap_or_else(|e| panic!("{routine}: {e}"));
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

fn run_once(pipeline: &Pipeline, source: &mut InMemoryRecording) -> usize {
    let mut sink = MemorySink::new();
    run_pipeline(pipeline, source, &mut sink, None).expect("run succeeds");
    let n = sink
        .object("out")
        .and_then(|o| o.data.as_ref())
        .map_or(0, |d| d.len());
    black_box(&sink.objects);
    n
}

fn spectral(c: &mut Criterion) {
    let data = signal();
    let mut group = c.benchmark_group("spectral");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes((TRIALS * SAMPLES * CHANNELS * 4) as u64));
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
                b.iter(|| run_once(&pipeline, &mut source))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, spectral);
criterion_main!(benches);
