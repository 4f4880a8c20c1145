use serde::Deserialize;
use trialflow_core::{ComputationalRoutine, OutputBlock, Plan, RoutineError, Scratch, TrialInput};

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

    fn compute_function(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _plan: &Plan,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        output.samples_mut().zip_mut_with(&x, |o, &v| *o = v.abs());
        Ok(())
    }
}
