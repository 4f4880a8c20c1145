use serde::Deserialize;
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Samples,
    Scratch, TrialInput,
};

/// Unchecked parameters of `rectify` (it has none; unknown keys are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectifyParams {}

impl RectifyParams {
    pub fn new() -> Self {
        Self::default()
    }
}

impl RectifyParams {
    pub fn check(self) -> Result<Rectify, super::PreprocessingError> {
        Ok(Rectify)
    }
}

/// `|x|`, as Syncopy's `preprocessing(rectify=True)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rectify;

impl ComputationalRoutine for Rectify {
    fn name(&self) -> &str {
        "rectify"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(Rectify))
    }
}

/// Rectification needs no plan state: the routine is its own kernel.
impl Kernel for Rectify {
    /// Float32 input is read as stored and widened where it is read: the engine's widening
    /// copy of the trial would be a pass over memory as long as the kernel's own.
    fn reads_f32(&self) -> bool {
        true
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut out = output.samples_mut();
        match input.analog() {
            Samples::F64(x) => out.zip_mut_with(&x, |o, &v| *o = v.abs()),
            Samples::F32(x) => out.zip_mut_with(&x, |o, &v| *o = f64::from(v).abs()),
        }
        Ok(())
    }
}
