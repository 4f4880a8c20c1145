//! End-to-end throughput on a ~100 MB float32 recording (200 trials x 2000 samples x 64
//! channels): `trialflow run` of a cheap routine (`rectify`) through the library entry point,
//! in every combination of `mode` (sequential / parallel) and `parallel_store` (false / true),
//! against a baseline of what HDF5 alone needs to read the input trial by trial and write an
//! output dataset of the same size. Two supplementary benchmarks split the gap: the same
//! baseline with the engine's type conversions (read as f64, narrow to f32 before writing), and
//! the SHA-1 checksum the writer computes over each finished output file.
//!
//! Run with `cargo bench --bench throughput`. The recording is generated once into
//! `$TRIALFLOW_BENCH_DIR` (default: `<temp dir>/trialflow-bench-throughput`) and reused by
//! later runs. Outputs are deleted before each timed iteration (outside the timing), so every
//! iteration writes a fresh container; the input stays in the page cache after the first
//! read, so this measures CPU and memory-bandwidth cost rather than disk speed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::s;
use trialflow::cli;
use trialflow::synthetic::{generate_recording, GenerateOptions};
use trialflow::DType;
use trialflow::Registry;

const TRIALS: usize = 200;
const SAMPLES: usize = 2000;
const CHANNELS: usize = 64;

fn bench_dir() -> PathBuf {
    std::env::var_os("TRIALFLOW_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("trialflow-bench-throughput"))
}

/// The recording's object file, generated on first use.
fn recording(dir: &Path) -> PathBuf {
    let container = dir.join("recording.spy");
    let object = container.join("recording_raw.analog");
    let info = container.join("recording_raw.analog.info");
    if object.is_file() && info.is_file() {
        return object;
    }
    std::fs::create_dir_all(dir).expect("bench folder can be created");
    let opts = GenerateOptions {
        trials: TRIALS,
        samples: SAMPLES,
        channels: CHANNELS,
        samplerate: 1000.0,
        seed: 42,
        dtype: DType::Float32,
        unequal: false,
        overwrite: true,
    };
    let started = Instant::now();
    let path = generate_recording(&container, &opts).expect("recording is generated");
    eprintln!(
        "generated {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    path
}

fn input_bytes() -> u64 {
    (TRIALS * SAMPLES * CHANNELS * std::mem::size_of::<f32>()) as u64
}

fn remove_output(container: &Path) {
    if container.exists() {
        std::fs::remove_dir_all(container).expect("old output can be removed");
    }
}

/// Writes the pipeline for one variant and returns (pipeline path, output container).
fn pipeline_file(dir: &Path, input: &Path, mode: &str, parallel_store: bool) -> (PathBuf, PathBuf) {
    let tag = format!("{mode}_store{}", if parallel_store { "T" } else { "F" });
    let output = dir.join(format!("out_{tag}.spy"));
    let pipeline = dir.join(format!("pipeline_{tag}.yaml"));
    let text = format!(
        "input: {input}\noutput: {output}\nexecution:\n  mode: {mode}\n  workers: 2\n  parallel_store: {parallel_store}\nsteps:\n  - routine: rectify\n",
        input = input.display(),
        output = output.display(),
    );
    std::fs::write(&pipeline, text).expect("pipeline file can be written");
    (pipeline, output)
}

fn run_cli(pipeline: &Path) {
    let args: Vec<OsString> = vec![
        "trialflow".into(),
        "run".into(),
        pipeline.as_os_str().to_owned(),
        "--overwrite".into(),
        "-q".into(),
    ];
    let code = cli::run_cli(&Registry::builtin(), args);
    assert_eq!(code, 0, "trialflow run {} failed", pipeline.display());
}

/// The baseline: read the input's `data` trial by trial (as stored, f32) and write each trial
/// into a new file's dataset of the same shape. No conversion, no compute, no metadata.
fn hdf5_copy(input: &Path, output: &Path) {
    let file = hdf5::File::open(input).expect("input opens");
    let data = file.dataset("data").expect("input has data");
    let shape = data.shape();
    let trl_ds = file
        .dataset("trialdefinition")
        .expect("input has a trialdefinition");
    let columns = trl_ds.shape()[1];
    let trl: Vec<f64> = trl_ds.read_raw().expect("trialdefinition reads");
    let out = hdf5::File::create(output).expect("output is created");
    let target = out
        .new_dataset::<f32>()
        .shape(shape.clone())
        .create("data")
        .expect("output dataset is created");
    for row in trl.chunks(columns) {
        let (start, end) = (row[0] as usize, row[1] as usize);
        let block = data
            .read_slice_2d::<f32, _>(s![start..end, ..])
            .expect("trial reads");
        target
            .write_slice(&block, s![start..end, ..])
            .expect("trial writes");
    }
    out.close().expect("output closes");
}

/// The baseline with the engine's type conversions: read each trial as f64 (HDF5 converts),
/// narrow it back to f32 in Rust, write it. Everything a run must do except compute,
/// scheduling and metadata.
fn hdf5_copy_via_f64(input: &Path, output: &Path) {
    let file = hdf5::File::open(input).expect("input opens");
    let data = file.dataset("data").expect("input has data");
    let shape = data.shape();
    let trl_ds = file
        .dataset("trialdefinition")
        .expect("input has a trialdefinition");
    let columns = trl_ds.shape()[1];
    let trl: Vec<f64> = trl_ds.read_raw().expect("trialdefinition reads");
    let out = hdf5::File::create(output).expect("output is created");
    let target = out
        .new_dataset::<f32>()
        .shape(shape.clone())
        .create("data")
        .expect("output dataset is created");
    let mut narrow: Vec<f32> = Vec::new();
    for row in trl.chunks(columns) {
        let (start, end) = (row[0] as usize, row[1] as usize);
        let block = data
            .read_slice_2d::<f64, _>(s![start..end, ..])
            .expect("trial reads");
        narrow.clear();
        narrow.extend(block.iter().map(|&v| v as f32));
        let view = ndarray::ArrayView2::from_shape(block.dim(), &narrow[..]).expect("same shape");
        target
            .write_slice(view, s![start..end, ..])
            .expect("trial writes");
    }
    out.close().expect("output closes");
}

/// Times `f` per iteration, running `before` (untimed) first each time.
fn timed(iters: u64, mut before: impl FnMut(), mut f: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        before();
        let started = Instant::now();
        f();
        total += started.elapsed();
    }
    total
}

fn throughput(c: &mut Criterion) {
    trialflow_hdf5::init_hdf5();
    let dir = bench_dir();
    let input = recording(&dir);
    let bytes = input_bytes();

    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(bytes));

    let baseline_out = dir.join("baseline_copy.h5");
    group.bench_function(BenchmarkId::new("hdf5_baseline", "read+write f32"), |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    let _ = std::fs::remove_file(&baseline_out);
                },
                || hdf5_copy(&input, &baseline_out),
            )
        })
    });
    // Supplementary: how much the engine's fixed costs weigh (see README).
    let f64_out = dir.join("baseline_copy_f64.h5");
    group.bench_function(
        BenchmarkId::new("hdf5_baseline", "read f64+write f32"),
        |b| {
            b.iter_custom(|iters| {
                timed(
                    iters,
                    || {
                        let _ = std::fs::remove_file(&f64_out);
                    },
                    || hdf5_copy_via_f64(&input, &f64_out),
                )
            })
        },
    );
    // The checksum `SpyWriter::finalize` computes over each output file (here over the
    // baseline's output, which has the same size as a run's).
    if !baseline_out.is_file() {
        hdf5_copy(&input, &baseline_out);
    }
    group.bench_function(BenchmarkId::new("file_sha1", "output"), |b| {
        b.iter(|| trialflow_hdf5::file_sha1(&baseline_out).expect("output hashes"))
    });

    for mode in ["sequential", "parallel"] {
        for parallel_store in [false, true] {
            let (pipeline, output) = pipeline_file(&dir, &input, mode, parallel_store);
            let id = BenchmarkId::new(
                "run_rectify",
                format!("{mode}/parallel_store={parallel_store}"),
            );
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    timed(iters, || remove_output(&output), || run_cli(&pipeline))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
