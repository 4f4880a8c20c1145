//! A routine defined outside the library, as a short trait impl, run sequentially and in
//! parallel over a generated recording; the two results must be bitwise identical.
//!
//! Run with `cargo run --example custom_routine`.

use trialflow::prelude::*;
use trialflow::synthetic::{generate_recording, GenerateOptions};

/// Clips every sample to `[-limit, limit]`: the simplest useful routine. Everything but the
/// kernel (output shape, metadata, storage, log) comes from the trait's defaults.
struct Clip {
    limit: f64,
}

impl ComputationalRoutine for Clip {
    fn name(&self) -> &str {
        "clip"
    }

    /// Recorded in the result's `cfg` and `_log`, so the result documents how it was made.
    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "limit": self.limit })
    }

    fn compute_function(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _plan: &Plan,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let limit = self.limit;
        output
            .samples_mut()
            .zip_mut_with(&input.samples(), |out, &x| *out = x.clamp(-limit, limit));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    trialflow::hdf5::init_hdf5();
    let dir = std::env::temp_dir().join(format!("trialflow-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let recording = generate_recording(
        &dir.join("recording.spy"),
        &GenerateOptions {
            trials: 40,
            samples: 1000,
            channels: 8,
            samplerate: 1000.0,
            seed: 3,
            dtype: DType::Float32,
            unequal: true,
            overwrite: true,
        },
    )?;

    let mut results = Vec::new();
    for (label, execution) in [
        ("sequential", ExecutionOptions::sequential()),
        ("parallel", ExecutionOptions::parallel(2)),
    ] {
        let mut source = SpyReader::open(&recording)?;
        let out = dir.join(format!("{label}.spy"));
        let mut sink = SpyWriter::create(&out, Default::default())?;
        let pipeline = Pipeline::new(vec![Step::new(Clip { limit: 1.5 })], execution);
        let report = run_pipeline(&pipeline, &mut source, &mut sink, None)?;
        drop(sink);
        println!(
            "{label:>10}: {} tasks on {} worker(s) in {:.3} s -> {}",
            report.tasks,
            report.workers,
            report.elapsed.as_secs_f64(),
            out.join(format!("{label}_clip.analog")).display()
        );
        let file = hdf5::File::open(out.join(format!("{label}_clip.analog")))?;
        let data: Vec<f32> = file.dataset("data")?.read_raw()?;
        assert!(data.iter().all(|v| v.abs() <= 1.5), "every sample clipped");
        results.push(data);
    }
    let identical = results[0]
        .iter()
        .zip(&results[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(identical, "sequential and parallel results differ");
    println!("sequential and parallel results are bitwise identical");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
