//! The engine's rules for steps that reduce across trials: a reduction may end a fused
//! pipeline (earlier steps still saved per trial, or averaged with `keeptrials: false`); a
//! step after it is refused up front naming both; a custom reducing routine (the trial
//! variance, as #15's statistics will be) gets its folded state and trial count and gives
//! the same bits in every mode; `keeptrials: false` now runs as shards and merges to the
//! whole run's bits; and a run whose single trial cannot fit in memory is refused with both
//! numbers.

mod common;

use std::sync::Arc;

use common::*;
use ndarray::{Array2, ArrayD, Axis};
use serde_json::json;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::routine::{ReducedState, TrialReduction};
use trialflow::Registry;

fn built(name: &str, params: serde_json::Value) -> Box<dyn ComputationalRoutine> {
    Registry::builtin()
        .build(name, params.as_object().unwrap().clone())
        .unwrap()
}

fn step(name: &str, routine: Box<dyn ComputationalRoutine>, save: bool) -> Step {
    Step {
        routine,
        name: name.into(),
        save,
        dtype: None,
    }
}

fn recording(trials: usize, len: usize, channels: usize) -> InMemoryRecording {
    let data = Array2::from_shape_fn((trials * len, channels), |(i, c)| {
        let (t, s) = ((i / len) as f64, (i % len) as f64);
        (0.37 * s + 1.3 * c as f64 + 0.11 * t * t).sin() + 0.01 * t
    });
    InMemoryRecording::contiguous(data, 100.0, &vec![len; trials]).unwrap()
}

/// The variance over trials per sample and channel (ddof 0): contributions (x, x²) per
/// trial, `sumsq / n - (sum / n)²` at the end. A test-local routine on the public API.
struct TrialVariance;

impl ComputationalRoutine for TrialVariance {
    fn name(&self) -> &str {
        "trial_variance"
    }
    fn cfg(&self) -> serde_json::Value {
        json!({})
    }
    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        let shape = &input.trial_shapes[0];
        Ok(Some(TrialReduction::real(vec![2, shape[0], shape[1]])))
    }
    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::dense(
            DataKind::Analog,
            vec![input.trial_shapes[0].clone()],
        ))
    }
    fn plan(&self, _: &[usize], _: &DataSchema, _: &mut Planner) -> Result<Plan, RoutineError> {
        Ok(Arc::new(VarianceKernel))
    }
    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        let state = state.real();
        let n = n_trials as f64;
        let (sum, sumsq) = (state.index_axis(Axis(0), 0), state.index_axis(Axis(0), 1));
        let mut out = output.dense_mut();
        ndarray::Zip::from(&mut out)
            .and(&sum)
            .and(&sumsq)
            .for_each(|o, &s, &q| *o = q / n - (s / n) * (s / n));
        Ok(())
    }
}

struct VarianceKernel;

impl Kernel for VarianceKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let mut out = output.dense_mut();
        out.index_axis_mut(Axis(0), 0).assign(&x);
        out.index_axis_mut(Axis(0), 1)
            .zip_mut_with(&x, |o, &v| *o = v * v);
        Ok(())
    }
}

fn modes() -> Vec<ExecutionOptions> {
    vec![
        ExecutionOptions::sequential(),
        ExecutionOptions::parallel(2),
        ExecutionOptions {
            chan_per_worker: Some(1),
            ..ExecutionOptions::parallel(2)
        },
        ExecutionOptions {
            chan_per_worker: Some(2),
            ..ExecutionOptions::sequential()
        },
    ]
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_custom_reduction_gets_its_folded_state_and_trial_count_in_every_mode() {
    let (trials, len, channels) = (11, 30, 3);
    let source = recording(trials, len, channels);
    let data = source.data().to_owned();
    let mut first: Option<ArrayD<f64>> = None;
    for execution in modes() {
        let mut sink = MemorySink::new();
        let pipeline = Pipeline::new(
            vec![step("var", Box::new(TrialVariance), false)],
            execution.clone(),
        );
        run_pipeline(&pipeline, &mut source.clone(), &mut sink, None).unwrap();
        let got = sink.object("var").unwrap().data.clone().unwrap();
        assert_eq!(got.shape(), &[len, channels]);
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(bits(f), bits(&got), "{execution:?}"),
        }
    }
    let got = first.unwrap();
    for s in 0..len {
        for c in 0..channels {
            let xs: Vec<f64> = (0..trials).map(|t| data[[t * len + s, c]]).collect();
            let mean = xs.iter().sum::<f64>() / trials as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / trials as f64;
            assert!(
                (got[[s, c]] - var).abs() < 1e-12,
                "{s} {c}: {} vs {var}",
                got[[s, c]]
            );
        }
    }
}

#[test]
fn a_reduction_ends_a_fused_pipeline_with_earlier_steps_saved() {
    let source = recording(6, 64, 2);
    for keeptrials in [true, false] {
        let mut execution = ExecutionOptions::parallel(2);
        execution.keeptrials = keeptrials;
        let pipeline = Pipeline::new(
            vec![
                step("smooth", built("gaussian", json!({"sigma": 2.0})), true),
                step(
                    "spectrum",
                    built("mtmfft", json!({"output": "fourier"})),
                    true,
                ),
                step("itc", built("itc", json!({})), false),
            ],
            execution,
        );
        let mut sink = MemorySink::new();
        run_pipeline(&pipeline, &mut source.clone(), &mut sink, None).unwrap();
        let smooth = sink.object("smooth").unwrap().data.clone().unwrap();
        let spectrum = sink.object("spectrum").unwrap().data.clone().unwrap();
        let itc = sink.object("itc").unwrap().data.clone().unwrap();
        let trials = if keeptrials { 6 } else { 1 };
        assert_eq!(smooth.shape(), &[64 * trials, 2], "keeptrials {keeptrials}");
        assert_eq!(spectrum.shape()[0], trials, "keeptrials {keeptrials}");
        assert_eq!(itc.shape(), &[1, 1, 33, 2], "keeptrials {keeptrials}");
        assert!(itc.iter().all(|v| (0.0..=1.0 + 1e-12).contains(v)));
    }
}

#[test]
fn a_step_after_a_reduction_is_refused_naming_both() {
    let tmp = TempDir::new("reduce-then");
    generate(&tmp.path, "in.spy", false);
    write_file(
        &tmp.path,
        "p.yaml",
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: mtmfft\n    output: fourier\n  - routine: itc\n    name: coherence\n  - routine: itc\n    name: again\n",
    );
    let out = trialflow(&tmp.path, &["run", "p.yaml", "-q"]);
    out.assert_error(
        2,
        &[
            "step 3 'again' (itc)",
            "step 2 'coherence' (itc)",
            "reduces across trials",
        ],
    );
    assert!(!tmp.join("out.spy").exists() && !tmp.join("out.spy.partial").exists());

    // The library refuses it the same way, before anything runs.
    let pipeline = Pipeline::new(
        vec![
            step("var", Box::new(TrialVariance), false),
            step("rect", built("rectify", json!({})), false),
        ],
        ExecutionOptions::sequential(),
    );
    let mut sink = MemorySink::new();
    let error = run_pipeline(&pipeline, &mut recording(3, 10, 2), &mut sink, None).unwrap_err();
    assert_eq!(error.class(), ErrorClass::User);
    let message = error.to_string();
    assert!(
        message.contains("'rect'") && message.contains("'var'"),
        "{message}"
    );
}

#[test]
fn keeptrials_false_runs_as_shards_and_merges_to_the_whole_run() {
    let tmp = TempDir::new("avg-shards");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "13",
            "--samples",
            "120",
            "--channels",
            "3",
        ],
    )
    .ok();
    let pipeline = |out: &str, mode: &str| {
        write_file(
            &tmp.path,
            "p.yaml",
            &format!("input: in.spy\noutput: {out}\nexecution:\n  mode: {mode}\n  keeptrials: false\nsteps:\n  - routine: rectify\n    name: rect\n    save: true\n  - routine: mtmfft\n"),
        );
    };
    pipeline("whole.spy", "sequential");
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    for count in [2usize, 4] {
        let out = format!("s{count}.spy");
        pipeline(&out, "parallel");
        for index in 0..count {
            let shard = format!("{index}/{count}");
            trialflow(&tmp.path, &["run", "p.yaml", "--shard", &shard, "-q"]).ok();
        }
        trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
        for suffix in ["_rect.analog", "_mtmfft.spectral"] {
            let file = |c: &str| {
                let dir = tmp.join(c);
                let name = list(&dir)
                    .into_iter()
                    .find(|n| n.ends_with(suffix))
                    .unwrap();
                read_data(&dir.join(name))
            };
            let (a, b) = (file("whole.spy"), file(&out));
            assert_eq!(a.shape[0], if suffix == "_rect.analog" { 120 } else { 1 });
            assert!(
                a.bits == b.bits,
                "{count} shards: {suffix} differs from the whole run"
            );
        }
    }
}

#[test]
fn a_trial_too_large_for_memory_is_refused_with_both_numbers() {
    let tmp = TempDir::new("reduce-memory");
    generate(&tmp.path, "in.spy", false);
    write_file(
        &tmp.path,
        "p.yaml",
        "input: in.spy\noutput: out.spy\nexecution:\n  mode: sequential\nsteps:\n  - routine: mtmfft\n    output: fourier\n    tapsmofrq: 100\n    keeptapers: true\n  - routine: itc\n",
    );
    // 64 KiB available, half allowed: one trial's coefficients alone are larger.
    let out = trialflow_env(
        &tmp.path,
        &["run", "p.yaml", "-q"],
        &[("TRIALFLOW_AVAILABLE_MEMORY", "65536")],
    );
    out.assert_error(
        2,
        &[
            "even one trial does not fit",
            "output block needs",
            "scratch",
            "32.00 KiB allowed",
        ],
    );
    assert!(!tmp.join("out.spy").exists());
    let dry = trialflow(&tmp.path, &["run", "p.yaml", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
}
