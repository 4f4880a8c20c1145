//! What the in-memory routine benchmarks (`routines`, `spectral`, `filters`) share: the
//! deterministic signal (reproducible in NumPy by `benches/scipy_routines.py`), a one-step
//! pipeline through the registry, and one timed run into a `MemorySink`.

#![allow(dead_code)]

use std::hint::black_box;

use ndarray::{s, Array2};
use serde_json::Value;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::Registry;
use trialflow::{run_pipeline, DType, ExecutionOptions, Pipeline, Step};

pub const TRIALS: usize = 20;
pub const SAMPLES: usize = 2000;
pub const CHANNELS: usize = 64;

/// splitmix64's finaliser of `i + 1`, as a uniform in [0, 1) (53 bits).
pub fn uniform(i: u64) -> f64 {
    let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The full recording's samples x channels (TRIALS * SAMPLES rows): per channel `c`, with
/// `t = row / 1000`, `sin(2π (5 + c/2) t + c/10) + 0.4 sin(2π (40 + c) t) + 0.5 (u - 0.5)`,
/// optionally rounded to f32.
pub fn signal(f32_values: bool) -> Array2<f64> {
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

/// The first `trials` trials of `data` as a recording stored in `dtype`.
pub fn recording(data: &Array2<f64>, trials: usize, dtype: DType) -> InMemoryRecording {
    let rows = data.slice(s![..trials * SAMPLES, ..]).to_owned();
    InMemoryRecording::contiguous(rows, 1000.0, &vec![SAMPLES; trials])
        .expect("valid recording")
        .with_dtype(dtype)
}

/// A one-step pipeline (output tag `out`) of a registered routine.
pub fn pipeline(routine: &str, params: &Value, execution: ExecutionOptions) -> Pipeline {
    let built = Registry::builtin()
        .build(
            routine,
            params.as_object().expect("params are an object").clone(),
        )
        .unwrap_or_else(|e| panic!("{routine}: {e}"));
    Pipeline::new(
        vec![Step {
            routine: built,
            name: "out".into(),
            save: false,
            dtype: None,
        }],
        execution,
    )
}

/// One full run; returns the output's value count (dense) or event count.
pub fn run_once(pipeline: &Pipeline, source: &mut InMemoryRecording) -> usize {
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
