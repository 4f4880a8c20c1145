//! The cross-spectral products of `coh`/`csd`/Granger alone: one trial's packed contribution
//! (`dyadic_product_packed`, upper triangle and auto-spectra) from its spectra, 3 dpss tapers
//! x 1001 frequencies (issue 15's workload: `tapsmofrq: 2`, 2000 samples at 1000 Hz), at 16
//! and 64 channels, beside the unpacked block (`dyadic_product`, every pair) it must equal.
//!
//! `cargo bench --bench connectivity_products`. The contribution is 34 MB at 64 channels, so
//! the figure is bounded by the memory the stores reach as much as by the arithmetic: the
//! `cached` variant writes 16 frequencies (in cache) for comparison, per frequency.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array3;
use num_complex::Complex64 as C64;
use trialflow_routines::connectivity::{
    dyadic_product, dyadic_product_packed, packed_stage_len, ChannelPairs, CsdBlock, Packing,
};

const TAPERS: usize = 3;

fn spectra(freqs: usize, channels: usize) -> Array3<C64> {
    Array3::from_shape_fn((TAPERS, freqs, channels), |(k, f, c)| {
        C64::new(
            (0.9 * k as f64 + 0.003 * f as f64 - c as f64).sin(),
            (1.7 * k as f64 + 0.005 * f as f64 + 0.6 * c as f64).cos(),
        )
    })
}

fn products(c: &mut Criterion) {
    let mut group = c.benchmark_group("connectivity_products");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for (label, freqs) in [("trial", 1001), ("cached", 16)] {
        for channels in [16, 64] {
            let x = spectra(freqs, channels);
            let pairs = ChannelPairs::all(channels);
            let packing = Packing::of(&pairs);
            let mut out = vec![C64::default(); freqs * packing.len(&pairs)];
            let mut stage = vec![0.0; packed_stage_len(TAPERS, &pairs)];
            group.throughput(Throughput::Elements(freqs as u64));
            let id = format!("{label}_packed");
            group.bench_function(BenchmarkId::new(id, channels), |b| {
                b.iter(|| {
                    dyadic_product_packed(x.view(), &pairs, packing, &mut out, &mut stage);
                    black_box(&out);
                })
            });
            let mut block = CsdBlock::zeros(freqs, &pairs);
            let id = format!("{label}_block");
            group.bench_function(BenchmarkId::new(id, channels), |b| {
                b.iter(|| {
                    dyadic_product(x.view(), &pairs, &mut block);
                    black_box(&block);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
