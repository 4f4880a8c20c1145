//! Complex-valued outputs (Fourier coefficients, analytic signals): identical in every mode,
//! averaged as complex numbers, stored as complex64/complex128 in h5py's `{r, i}` layout in
//! both storage layouts, and refused as the input of a later step.

mod common;

use ndarray::{Array2, ArrayD};
use trialflow::hdf5::{SpyWriter, WriterOptions};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::routines::preprocessing::Rectify;

/// Per trial and channel, the DFT coefficient at a few frequencies divided by the trial
/// length: complex SpectralData (one time row per trial).
#[derive(Clone)]
struct NaiveFourier {
    freqs: Vec<f64>,
}

impl ComputationalRoutine for NaiveFourier {
    fn name(&self) -> &str {
        "naive_fourier"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "freqs": self.freqs })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let shapes = (0..input.n_trials())
            .map(|_| vec![1, 1, self.freqs.len(), input.n_channels()])
            .collect();
        Ok(OutputShape::dense(DataKind::Spectral, shapes).with_complex_values())
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.kind = DataKind::Spectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = input.trialdefinition.restacked(&vec![1; input.n_trials()]);
        schema.freq = Some(self.freqs.clone());
        schema.taper = Some(vec!["boxcar".into()]);
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for NaiveFourier {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let mut out = output.complex_mut();
        let n = x.nrows() as f64;
        for (k, &f) in self.freqs.iter().enumerate() {
            for c in 0..x.ncols() {
                let mut z = Complex64::new(0.0, 0.0);
                for (i, &v) in x.column(c).iter().enumerate() {
                    let phase = -2.0 * std::f64::consts::PI * f * i as f64 / input.samplerate;
                    z += Complex64::from_polar(v, phase);
                }
                out[[0, 0, k, c]] = z / n;
            }
        }
        Ok(())
    }
}

fn recording() -> InMemoryRecording {
    let lengths = [40usize, 40, 40, 40];
    let total: usize = lengths.iter().sum();
    let data = Array2::from_shape_fn((total, 5), |(i, c)| {
        (i as f64 * 0.31 + c as f64).sin() * (1.0 + 0.3 * c as f64) + 0.01 * (i % 3) as f64
    });
    InMemoryRecording::contiguous(data, 100.0, &lengths).unwrap()
}

fn step() -> Step {
    Step::new(NaiveFourier {
        freqs: vec![5.0, 12.5, 20.0],
    })
    .named("fourier")
}

fn run(rec: &InMemoryRecording, execution: ExecutionOptions) -> ArrayD<f64> {
    let mut source = rec.clone();
    let mut sink = MemorySink::new();
    run_pipeline(
        &Pipeline::new(vec![step()], execution),
        &mut source,
        &mut sink,
        None,
    )
    .unwrap();
    let object = sink.object("fourier").unwrap();
    assert_eq!(object.spec.schema.dtype, DType::Complex128);
    object.data.clone().unwrap()
}

/// The expected coefficient of trial `t`, freq `k`, channel `c` computed independently.
fn expected(rec: &InMemoryRecording, t: usize, f: f64, c: usize) -> Complex64 {
    let data = rec.data();
    let (re, im) = (0..40).fold((0.0, 0.0), |(re, im), i| {
        let v = data[[t * 40 + i, c]];
        let phase = 2.0 * std::f64::consts::PI * f * i as f64 / 100.0;
        (re + v * phase.cos(), im - v * phase.sin())
    });
    Complex64::new(re / 40.0, im / 40.0)
}

#[test]
fn complex_values_are_identical_in_every_mode_and_correct() {
    let rec = recording();
    let reference = run(&rec, ExecutionOptions::sequential());
    assert_eq!(reference.shape(), &[4, 1, 3, 5, 2]);
    for t in 0..4 {
        for (k, f) in [5.0, 12.5, 20.0].into_iter().enumerate() {
            for c in 0..5 {
                let z = expected(&rec, t, f, c);
                let got = Complex64::new(reference[[t, 0, k, c, 0]], reference[[t, 0, k, c, 1]]);
                assert!((z - got).norm() < 1e-12, "trial {t} freq {f} channel {c}");
            }
        }
    }
    for (workers, cpw) in [(1, None), (2, None), (3, Some(2)), (2, Some(1))] {
        let mut opts = ExecutionOptions::parallel(workers);
        opts.chan_per_worker = cpw;
        let got = run(&rec, opts);
        let same = got
            .iter()
            .zip(reference.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "workers {workers} chan_per_worker {cpw:?} differ");
    }
}

#[test]
fn complex_values_average_over_trials_as_complex_numbers() {
    let rec = recording();
    let per_trial = run(&rec, ExecutionOptions::sequential());
    let mut opts = ExecutionOptions::parallel(2);
    opts.keeptrials = false;
    let mean = run(&rec, opts);
    assert_eq!(mean.shape(), &[1, 1, 3, 5, 2]);
    for k in 0..3 {
        for c in 0..5 {
            for part in 0..2 {
                let sum: f64 = (0..4).map(|t| per_trial[[t, 0, k, c, part]]).sum();
                assert!((mean[[0, 0, k, c, part]] - sum / 4.0).abs() < 1e-15);
            }
        }
    }
}

#[test]
fn a_complex_step_cannot_feed_a_later_step() {
    let mut source = recording();
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![step(), Step::new(Rectify)],
        ExecutionOptions::sequential(),
    );
    let err = run_pipeline(&pipeline, &mut source, &mut sink, None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("complex"), "{text}");
    assert!(text.contains("rectify"), "{text}");
    assert_eq!(err.class(), ErrorClass::User);
}

#[test]
fn a_complex_dtype_on_a_real_routine_is_refused() {
    let mut source = recording();
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![Step::new(Rectify).with_dtype(DType::Complex64)],
        ExecutionOptions::sequential(),
    );
    let err = run_pipeline(&pipeline, &mut source, &mut sink, None).unwrap_err();
    assert!(err.to_string().contains("complex64"), "{err}");
}

#[test]
fn complex_outputs_are_stored_as_complex64_and_complex128_in_both_layouts() {
    let dir = common::TempDir::new("complex");
    let rec = recording();
    let reference = run(&rec, ExecutionOptions::sequential());
    for (label, dtype, execution) in [
        ("single32", DType::Float32, ExecutionOptions::sequential()),
        ("pertask32", DType::Float32, ExecutionOptions::parallel(2)),
        ("single64", DType::Float64, ExecutionOptions::sequential()),
        ("pertask64", DType::Float64, ExecutionOptions::parallel(2)),
    ] {
        common::init();
        let out = dir.join(format!("{label}.spy"));
        let mut writer = SpyWriter::create(&out, WriterOptions::default()).unwrap();
        let mut source = rec.clone().with_dtype(dtype);
        let pipeline = Pipeline::new(vec![step()], execution);
        run_pipeline(&pipeline, &mut source, &mut writer, None).unwrap();
        drop(writer);
        let file = out.join(format!("{label}_fourier.spectral"));
        let stored = common::read_data(&file);
        let info = common::read_info(&file);
        let want = if dtype == DType::Float32 {
            "complex64"
        } else {
            "complex128"
        };
        assert_eq!(stored.dtype, want, "{label}");
        assert_eq!(info["data_dtype"], want, "{label}");
        assert_eq!(stored.shape, vec![4, 1, 3, 5], "{label}");
        assert_eq!(stored.is_virtual, label.starts_with("pertask"), "{label}");
        // float32 input is rounded on the way in, then the coefficients on the way out.
        let tolerance = if dtype == DType::Float32 { 1e-6 } else { 1e-15 };
        for (got, want) in stored.values.iter().zip(reference.iter()) {
            assert!((got - want).abs() <= tolerance, "{label}: {got} vs {want}");
        }
    }
}
