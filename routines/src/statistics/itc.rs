use std::sync::Arc;

use serde::Deserialize;
use trialflow_core::routine::{ReducedState, TrialReduction, ValueKind};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, TrialInput,
};

use super::StatisticsError;

/// Unchecked parameters of `itc` (Syncopy's `itc` has none; unknown keys are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItcParams {}

impl ItcParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(self) -> Itc {
        Itc
    }
}

/// Inter-trial phase coherence, as Syncopy 2023.9's `spy.itc`: per time, frequency and
/// channel, `|(1/K) Σ_k (1/N) Σ_trials X/|X||` over the `K` tapers and `N` trials. The unit
/// vectors are averaged over trials per taper, the complex means over tapers, and only then
/// is the magnitude taken, as Syncopy does; a zero coefficient has no phase and, as in
/// Syncopy (`0/0`), makes its element NaN.
///
/// The output keeps the input's dims (time, taper, freq, channel) with one taper row, and the
/// first trial's time axis and trial definition (every trial has the same shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Itc;

const NAME: &str = "itc";

impl ComputationalRoutine for Itc {
    fn name(&self) -> &str {
        NAME
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn input_kind(&self) -> DataKind {
        DataKind::Spectral
    }

    fn input_values(&self) -> ValueKind {
        ValueKind::Complex
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        let n_trials = input.n_trials();
        if n_trials < 2 {
            return Err(StatisticsError::TooFewTrials {
                routine: NAME,
                n_trials,
            }
            .into());
        }
        let first = &input.trial_shapes[0];
        if let Some((trial, shape)) = input
            .trial_shapes
            .iter()
            .enumerate()
            .find(|(_, s)| *s != first)
        {
            return Err(StatisticsError::UnequalTrials {
                routine: NAME,
                first: first.clone(),
                trial,
                shape: shape.clone(),
            }
            .into());
        }
        if first.len() != 4 {
            return Err(StatisticsError::NotSpectral {
                routine: NAME,
                trial: 0,
                shape: first.clone(),
            }
            .into());
        }
        Ok(Some(TrialReduction::complex(first.clone())))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let mut shape = input.trial_shapes[0].clone();
        shape[1] = 1;
        Ok(OutputShape::dense(DataKind::Spectral, vec![shape]))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = input.trialdefinition.first_only(output.trial_shapes[0][0]);
        // Syncopy drops the taper selection it averaged over; the one row keeps the
        // default label a single-taper spectrum gets.
        schema.taper = Some(vec![TAPER_LABEL.to_string()]);
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(Itc))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        let sum = state.complex();
        let mut out = output.dense_mut();
        let (times, tapers, freqs, channels) = {
            let s = sum.shape();
            (s[0], s[1], s[2], s[3])
        };
        let n = n_trials as f64;
        let k = tapers as f64;
        for t in 0..times {
            for f in 0..freqs {
                for c in 0..channels {
                    let mut mean = trialflow_core::Complex64::new(0.0, 0.0);
                    for taper in 0..tapers {
                        mean += sum[[t, taper, f, c]] / n;
                    }
                    out[[t, 0, f, c]] = (mean / k).norm();
                }
            }
        }
        Ok(())
    }
}

/// The taper label of the single row Syncopy's `itc` keeps.
const TAPER_LABEL: &str = "taper1";

/// The contribution of one trial: its coefficients scaled to unit length.
impl Kernel for Itc {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.complex_values();
        output
            .complex_mut()
            .zip_mut_with(&x, |unit, &z| *unit = z / z.norm());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trialflow_core::{DType, TrialDefinition};

    fn spectra(shapes: Vec<Vec<usize>>) -> DataSchema {
        let trials: Vec<(usize, usize, f64)> = (0..shapes.len()).map(|t| (t, t + 1, 0.0)).collect();
        let mut schema = DataSchema::analog(
            DType::Complex64,
            100.0,
            vec!["a".into(), "b".into()],
            TrialDefinition::from_trials(&trials, &[]),
        );
        schema.kind = DataKind::Spectral;
        schema.trial_shapes = shapes.into();
        schema
    }

    #[test]
    fn one_trial_and_unequal_trials_are_refused_by_name() {
        let one = Itc.reduction(&spectra(vec![vec![1, 1, 5, 2]])).unwrap_err();
        let text = one.to_string();
        assert!(
            text.contains("1 trial") && text.contains("at least 2"),
            "{text}"
        );
        let unequal = spectra(vec![vec![3, 1, 5, 2], vec![3, 1, 5, 2], vec![4, 1, 5, 2]]);
        let text = Itc.reduction(&unequal).unwrap_err().to_string();
        assert!(
            text.contains("trial 2") && text.contains("[4, 1, 5, 2]"),
            "{text}"
        );
        let fine = Itc
            .reduction(&spectra(vec![vec![3, 2, 5, 2]; 2]))
            .unwrap()
            .unwrap();
        assert_eq!((fine.shape(), fine.is_complex()), (&[3, 2, 5, 2][..], true));
        assert_eq!(
            Itc.initialize(&spectra(vec![vec![3, 2, 5, 2]; 2]))
                .unwrap()
                .trial_shapes,
            [[3, 1, 5, 2]]
        );
    }
}
