use serde::Deserialize;
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TrialInput,
};

use super::{channel_means, subtract_means};

/// Unchecked parameters of `zscore` (it has none; unknown keys are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZScoreParams {}

impl ZScoreParams {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ZScoreParams {
    pub fn check(self) -> Result<ZScore, super::PreprocessingError> {
        Ok(ZScore)
    }
}

/// `(x - mean) / std` with ddof 0, per trial and channel, as Syncopy's `preprocessing(zscore=True)`.
/// A constant channel gives NaN (0 / 0), as numpy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZScore;

impl ComputationalRoutine for ZScore {
    fn name(&self) -> &str {
        "zscore"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(ZScoreKernel {
            channels: task_shape[1],
        }))
    }
}

/// `zscore` for blocks of `channels` channels.
struct ZScoreKernel {
    channels: usize,
}

impl Kernel for ZScoreKernel {
    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            real: 2 * self.channels,
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let mut out = output.samples_mut();
        let channels = x.ncols();
        let (mean, std) = scratch.real[..2 * channels].split_at_mut(channels);
        channel_means(x, mean);
        subtract_means(x, mean, out.view_mut());
        std.iter_mut().for_each(|s| *s = 0.0);
        for row in out.rows() {
            for (s, &v) in std.iter_mut().zip(row.iter()) {
                *s += v * v;
            }
        }
        let n = x.nrows() as f64;
        std.iter_mut().for_each(|s| *s = (*s / n).sqrt());
        for mut row in out.rows_mut() {
            for (o, &s) in row.iter_mut().zip(std.iter()) {
                *o /= s;
            }
        }
        Ok(())
    }
}
