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

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use trialflow::{DType, ExecutionOptions};

mod common;
use common::{pipeline, recording, run_once, signal, CHANNELS, SAMPLES, TRIALS};

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

fn spectral(c: &mut Criterion) {
    let data = signal(true);
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
            let mut source = recording(&data, TRIALS, DType::Float32);
            group.bench_function(BenchmarkId::new(label, mode), |b| {
                b.iter(|| run_once(&pipeline, &mut source))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, spectral);
criterion_main!(benches);
