//! A routine that writes CrossSpectralData, for the storage and interop tests: per trial,
//! the (hann) cross-spectra of every channel (`channel_i`) with every channel in reverse
//! order (`channel_j`, so the two label axes differ), computed by the connectivity
//! numerics. Per-trial cross-spectra need no reduction over trials, so this runs on
//! today's engine. (`channel_j` has as many channels as the input because the engine
//! still places a task's block by the task's channel range on the last axis.)

use std::sync::Arc;

use ndarray::{Array2, Array3};
use trialflow::in_memory::InMemoryRecording;
use trialflow::model::TrialDefinition;
use trialflow::prelude::*;
use trialflow::routines::connectivity::{
    ChannelPairs, CrossSpectra, CrossSpectraParams, CsdBlock, CsdPlan,
};

#[derive(Clone)]
pub struct TrialCrossSpectra;

/// Every channel against every channel, the receivers in reverse order.
pub fn pairs(channels: usize) -> ChannelPairs {
    ChannelPairs {
        senders: (0..channels).collect(),
        receivers: (0..channels).rev().collect(),
        full: false,
    }
}

fn spectra() -> CrossSpectra {
    CrossSpectraParams::new()
        .check(false)
        .expect("defaults are valid")
}

fn lengths(input: &DataSchema) -> Vec<usize> {
    (0..input.n_trials())
        .map(|t| input.trialdefinition.trial_len(t))
        .collect()
}

impl ComputationalRoutine for TrialCrossSpectra {
    fn name(&self) -> &str {
        "trial_cross_spectra"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let layout = spectra().layout(&lengths(input), input.samplerate)?;
        let shape = vec![1, layout.bins.len(), input.n_channels(), input.n_channels()];
        Ok(
            OutputShape::dense(DataKind::CrossSpectral, vec![shape; input.n_trials()])
                .with_complex_values(),
        )
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let layout = spectra().layout(&lengths(input), input.samplerate)?;
        let mut schema = input.clone();
        schema.kind = DataKind::CrossSpectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = input.trialdefinition.restacked(&vec![1; input.n_trials()]);
        schema.freq = Some(layout.freqs);
        schema.channels_j = Some(input.channels.iter().rev().cloned().collect());
        Ok(schema)
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let cs = spectra();
        let layout = cs.layout(&lengths(input), input.samplerate)?;
        Ok(Arc::new(TrialCsdKernel {
            plan: cs.plan(task_shape[0], &layout, planner),
        }))
    }
}

struct TrialCsdKernel {
    plan: CsdPlan,
}

impl Kernel for TrialCsdKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let pairs = pairs(x.ncols());
        // Test code: the buffers are made per trial.
        let mut scratch = self.plan.scratch(x.ncols());
        let mut block = CsdBlock::zeros(self.plan.n_freqs(), &pairs);
        self.plan.trial(x, &pairs, &mut block, &mut scratch)?;
        let mut out = output.complex_mut();
        for ((f, a, b), &v) in block.cross.indexed_iter() {
            out[[0, f, a, b]] = v;
        }
        Ok(())
    }
}

/// What the routine writes for these trials (samples x channels each), straight from the
/// numerics, and the frequency axis.
pub fn expected(trials: &[Array2<f64>], samplerate: f64) -> (Vec<Array3<Complex64>>, Vec<f64>) {
    let cs = spectra();
    let lens: Vec<usize> = trials.iter().map(|t| t.nrows()).collect();
    let layout = cs.layout(&lens, samplerate).unwrap();
    let mut planner = Planner::new();
    let out = trials
        .iter()
        .map(|x| {
            let plan = cs.plan(x.nrows(), &layout, &mut planner);
            let pairs = pairs(x.ncols());
            let mut scratch = plan.scratch(x.ncols());
            let mut block = CsdBlock::zeros(plan.n_freqs(), &pairs);
            plan.trial(x.view(), &pairs, &mut block, &mut scratch)
                .unwrap();
            block.cross
        })
        .collect();
    (out, layout.freqs)
}

/// 3 channels, trials of 90, 120 and 100 samples at 250 Hz with offsets, float32.
pub fn recording() -> (InMemoryRecording, Vec<Array2<f64>>) {
    let lengths = [90usize, 120, 100];
    let total: usize = lengths.iter().sum();
    let data = Array2::from_shape_fn((total, 3), |(i, c)| {
        let t = i as f64 / 250.0;
        let v = (2.0 * std::f64::consts::PI * 12.0 * t + 0.7 * c as f64).sin() * (1.0 + c as f64)
            + 0.3 * (i as f64 * 1.3 + c as f64 * 0.4).cos()
            + 0.5 * c as f64;
        v as f32 as f64
    });
    let mut rows = Vec::new();
    let mut trials = Vec::new();
    let mut start = 0;
    for (k, &n) in lengths.iter().enumerate() {
        rows.push((start, start + n, -10.0 * k as f64));
        trials.push(data.slice(ndarray::s![start..start + n, ..]).to_owned());
        start += n;
    }
    let labels = vec!["lfp_a".to_string(), "lfp_b".into(), "lfp_c".into()];
    let rec = InMemoryRecording::with_channels(
        data,
        250.0,
        TrialDefinition::from_trials(&rows, &[]),
        labels,
    )
    .unwrap()
    .with_dtype(DType::Float32);
    (rec, trials)
}
