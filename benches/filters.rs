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
//!
//! `sos_kernel/<path>` times the Butterworth cascade alone (`sosfiltfilt` of one trial of
//! 2000 x 64, lowpass 40 Hz order 4, through `SosCascade::filtfilt`) on each instruction set
//! this CPU has: `scalar` is the baseline-target loop (the kernel before run-time dispatch),
//! so the paths compare the kernel before and after in one binary.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use trialflow::{DType, ExecutionOptions};
use trialflow_routines::filters::{butter_sos, FilterType, SosCascade};
use trialflow_routines::smoothing::Simd;

mod common;
use common::{pipeline, recording, run_once, signal, CHANNELS, SAMPLES, TRIALS};

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

fn filters(c: &mut Criterion) {
    let data = signal(true);
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
            let mut source = recording(&data, TRIALS, DType::Float32);
            group.bench_function(BenchmarkId::new(label, mode), |b| {
                b.iter(|| run_once(&pipeline, &mut source))
            });
        }
    }
    group.finish();
}

/// The cascade alone, one trial per iteration, on every SIMD path this CPU has.
fn sos_kernel(c: &mut Criterion) {
    let data = signal(true);
    let sections = butter_sos(4, &[40.0], FilterType::Lowpass, 1000.0);
    let mut group = c.benchmark_group("sos_kernel");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes((SAMPLES * CHANNELS * 4) as u64));
    let trial = data.slice(ndarray::s![..SAMPLES, ..]).to_owned();
    let trial = trial.as_slice().expect("standard layout");
    for simd in Simd::ALL {
        let Some(cascade) = SosCascade::new(sections.clone()).force_simd(simd) else {
            eprintln!("sos_kernel/{}: skipped, this CPU lacks it", simd.name());
            continue;
        };
        let p = cascade.padlen();
        let mut ext = vec![0.0; (SAMPLES + 2 * p) * CHANNELS];
        let mut state = vec![0.0; cascade.state_len(CHANNELS)];
        group.bench_function(simd.name(), |b| {
            b.iter(|| {
                ext[p * CHANNELS..(p + SAMPLES) * CHANNELS].copy_from_slice(trial);
                cascade.filtfilt(&mut ext, SAMPLES, CHANNELS, &mut state);
                std::hint::black_box(ext[p * CHANNELS])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, filters, sos_kernel);
criterion_main!(benches);
