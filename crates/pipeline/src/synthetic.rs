//! Synthetic recordings for demos, tests and benchmarks: per-channel oscillations, a slow
//! drift, a gamma burst after t = 0, white noise and sparse transient events. Each trial is
//! generated from its own seed, so a recording is the same whatever order it is written in.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use trialflow_core::engine::{ObjectMetadata, ObjectSpec, ResultSink, StoreLayout, TaskPlacement};
use trialflow_core::{DType, DataKind, DataSchema, TrialDefinition};
use trialflow_hdf5::{SpyWriter, WriterOptions};

use crate::error::PipelineError;

/// What `trialflow generate` writes.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub trials: usize,
    pub samples: usize,
    pub channels: usize,
    pub samplerate: f64,
    pub seed: u64,
    pub dtype: DType,
    /// Vary trial lengths by up to +-20% around `samples`.
    pub unequal: bool,
    pub overwrite: bool,
}

/// A small, fast, deterministic generator (SplitMix64): enough for synthetic data, and
/// dependency-free.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        g.next_u64();
        g
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Trial lengths, offsets (t = 0 at 20% of each trial) and a condition column.
fn trial_layout(opts: &GenerateOptions) -> TrialDefinition {
    let mut rng = SplitMix64::new(opts.seed, u64::MAX);
    let mut trials = Vec::with_capacity(opts.trials);
    let mut info = Vec::with_capacity(opts.trials);
    let mut start = 0usize;
    for t in 0..opts.trials {
        let len = if opts.unequal {
            ((opts.samples as f64) * (0.8 + 0.4 * rng.uniform())).round() as usize
        } else {
            opts.samples
        }
        .max(1);
        trials.push((start, start + len, -((len / 5) as f64)));
        info.push(vec![(1 + t % 2) as f64]);
        start += len;
    }
    TrialDefinition::from_trials(&trials, &info)
}

/// One trial of synthetic data, samples x channels.
pub fn synthetic_trial(
    opts: &GenerateOptions,
    trial: usize,
    len: usize,
    offset: f64,
) -> Array2<f64> {
    let mut rng = SplitMix64::new(opts.seed, trial as u64);
    let fs = opts.samplerate;
    let two_pi = 2.0 * std::f64::consts::PI;
    let channel_params: Vec<(f64, f64, f64, f64)> = (0..opts.channels)
        .map(|c| {
            let freq = 8.0 + (c % 5) as f64;
            let amp = 1.0 + 0.25 * (c % 3) as f64;
            let phase = two_pi * rng.uniform();
            let drift = 0.5 * (rng.uniform() - 0.5);
            (freq, amp, phase, drift)
        })
        .collect();
    let mut x = Array2::<f64>::zeros((len, opts.channels));
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        let t = (i as f64 + offset) / fs;
        let burst = if t > 0.0 {
            0.8 * (two_pi * 40.0 * t).sin() * (-((t - 0.15) / 0.05).powi(2)).exp()
        } else {
            0.0
        };
        for (v, &(freq, amp, phase, drift)) in row.iter_mut().zip(&channel_params) {
            *v = amp * (two_pi * freq * t + phase).sin() + drift * t + burst + 0.5 * rng.normal();
        }
    }
    // Transient events: on average two per channel and trial, 2 ms wide.
    let width = (0.002 * fs).max(1.0);
    for c in 0..opts.channels {
        let events = (rng.uniform() * 4.0) as usize;
        for _ in 0..events {
            let centre = rng.uniform() * len as f64;
            let amp = 3.0 + 2.0 * rng.uniform();
            let lo = (centre - 4.0 * width).max(0.0) as usize;
            let hi = ((centre + 4.0 * width) as usize + 1).min(len);
            for i in lo..hi {
                let d = (i as f64 - centre) / width;
                x[[i, c]] += amp * (-0.5 * d * d).exp();
            }
        }
    }
    x
}

/// Writes a synthetic AnalogData recording as `<out>/<base>_raw.analog`; returns its path.
pub fn generate_recording(out: &Path, opts: &GenerateOptions) -> Result<PathBuf, PipelineError> {
    if opts.trials == 0 || opts.samples == 0 || opts.channels == 0 {
        return Err(PipelineError::user(
            "--trials, --samples and --channels must each be at least 1",
        ));
    }
    if !(opts.samplerate.is_finite() && opts.samplerate > 0.0) {
        return Err(PipelineError::user(format!(
            "--samplerate must be positive, got {}",
            opts.samplerate
        )));
    }
    // What generating holds in memory at once: the trial table and one trial (up to 20 %
    // longer with --unequal) as f64. Refuse sizes no machine holds instead of aborting.
    let needed = (opts.trials as u128) * 3 * 8
        + (opts.samples as u128 * 6 / 5 + 1) * opts.channels as u128 * 8 * 2;
    let available = trialflow_core::engine::available_memory().unwrap_or(u64::MAX) as u128;
    if needed > available / 2 {
        return Err(PipelineError::user(format!(
            "--trials {} x --samples {} x --channels {} needs about {} of memory at once; available is {}: generate fewer trials or shorter ones",
            opts.trials,
            opts.samples,
            opts.channels,
            trialflow_core::error::Bytes(needed.min(u64::MAX as u128) as u64),
            trialflow_core::error::Bytes(available.min(u64::MAX as u128) as u64),
        )));
    }
    let trialdefinition = trial_layout(opts);
    let channels: Vec<String> = (1..=opts.channels)
        .map(|c| format!("channel{c:03}"))
        .collect();
    let schema = DataSchema::analog(
        opts.dtype,
        opts.samplerate,
        channels,
        trialdefinition.clone(),
    );
    let placements = (0..opts.trials)
        .map(|t| {
            let rows = trialdefinition.samples(t);
            TaskPlacement {
                task: t,
                trial: t,
                shape: vec![rows.len(), opts.channels],
                rows,
                channels: 0..opts.channels,
            }
        })
        .collect::<Vec<_>>()
        .into();
    let spec = ObjectSpec {
        tag: "raw".into(),
        schema: schema.clone(),
        layout: StoreLayout::Single,
        placements,
        handover: 1,
    };
    let mut writer = SpyWriter::create(
        out,
        WriterOptions {
            overwrite: opts.overwrite,
            ..WriterOptions::default()
        },
    )?;
    let object_path = writer.object_path("raw", DataKind::Analog);
    let id = writer.preallocate(&spec)?;
    for t in 0..opts.trials {
        let len = trialdefinition.trial_len(t);
        let block = synthetic_trial(opts, t, len, trialdefinition.offset(t));
        writer.write_dense(id, &spec.placements[t], block.view().into_dyn().into())?;
    }
    let cfg = serde_json::json!({
        "generate": {
            "trials": opts.trials,
            "samples": opts.samples,
            "channels": opts.channels,
            "samplerate": opts.samplerate,
            "seed": opts.seed,
            "dtype": opts.dtype.numpy_name(),
            "unequal": opts.unequal,
        }
    });
    let log = format!(
        "{}generated a synthetic recording with trialflow {}\n",
        trialflow_core::engine::log_header(),
        env!("CARGO_PKG_VERSION")
    );
    writer.finalize(
        id,
        &ObjectMetadata {
            schema,
            log,
            cfg,
            info: serde_json::json!({}),
        },
    )?;
    writer.commit()?;
    Ok(object_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> GenerateOptions {
        GenerateOptions {
            trials: 3,
            samples: 100,
            channels: 2,
            samplerate: 500.0,
            seed: 7,
            dtype: DType::Float32,
            unequal: true,
            overwrite: false,
        }
    }

    #[test]
    fn trials_are_deterministic_and_independent_of_order() {
        let o = opts();
        let a = synthetic_trial(&o, 2, 50, -10.0);
        let _ = synthetic_trial(&o, 1, 50, -10.0);
        let b = synthetic_trial(&o, 2, 50, -10.0);
        assert_eq!(a, b);
    }

    #[test]
    fn unequal_lengths_stay_within_twenty_percent() {
        let def = trial_layout(&GenerateOptions {
            trials: 50,
            ..opts()
        });
        for t in 0..def.len() {
            let len = def.trial_len(t);
            assert!((80..=120).contains(&len), "{len}");
        }
    }
}
