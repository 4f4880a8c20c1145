use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{Axis, Zip};
use serde::Deserialize;
use trialflow_core::routine::{ReducedState, TrialReduction};
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, TrialInput,
};

use super::StatisticsError;

/// Which summary statistic a [`TrialSummary`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Var,
    Std,
}

impl Statistic {
    /// The mean needs only the sum; the variance (and its root) also needs the sum of
    /// squares, a second row of the contribution.
    fn rows(self) -> usize {
        match self {
            Statistic::Mean => 1,
            Statistic::Var | Statistic::Std => 2,
        }
    }
}

/// Ties a registry name to its [`Statistic`], so each of `mean`, `var` and `std` is its own
/// registrable type while sharing one implementation.
pub trait SummaryName: Send + Sync + 'static {
    const NAME: &'static str;
    const STATISTIC: Statistic;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeanName;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarName;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StdName;

impl SummaryName for MeanName {
    const NAME: &'static str = "mean";
    const STATISTIC: Statistic = Statistic::Mean;
}
impl SummaryName for VarName {
    const NAME: &'static str = "var";
    const STATISTIC: Statistic = Statistic::Var;
}
impl SummaryName for StdName {
    const NAME: &'static str = "std";
    const STATISTIC: Statistic = Statistic::Std;
}

/// Unchecked parameters of `mean`, `var` and `std` (Syncopy's `dim`; unknown keys refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    pub dim: Option<String>,
}

/// The dimension Syncopy's summary statistics reduce over when the step names none.
pub const DEFAULT_DIM: &str = "trials";

impl SummaryParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dim(mut self, dim: impl Into<String>) -> Self {
        self.dim = Some(dim.into());
        self
    }

    pub fn check<S: SummaryName>(self) -> Result<TrialSummary<S>, StatisticsError> {
        let dim = self.dim.unwrap_or_else(|| DEFAULT_DIM.to_string());
        if dim != DEFAULT_DIM {
            return Err(StatisticsError::UnsupportedDim {
                routine: S::NAME,
                dim,
            });
        }
        Ok(TrialSummary { _name: PhantomData })
    }
}

/// `mean`, `var` and `std` over trials, as Syncopy 2023.9's `spy.mean/var/std(data,
/// dim='trials')`: per sample and channel across trials of one shape, with `ddof = 0` (Syncopy
/// divides by the trial count) and NaN propagating (Syncopy uses plain sums). One trial gives
/// its values and a variance of exactly 0.
///
/// Syncopy streams the trials twice (mean first, then squared deviations). A single pass is
/// what the engine's fold allows, so each trial contributes `x` and `x²` and the variance is
/// `Σx²/n - (Σx/n)²`, in f64. That cancels digits only where the mean is far above the spread
/// (about `(mean/std)² · 1e-16` relative), well below the float32 rounding of the data Syncopy
/// accumulates in; the difference is clamped at 0 so rounding never makes a negative variance.
pub struct TrialSummary<S> {
    _name: PhantomData<S>,
}

impl<S> std::fmt::Debug for TrialSummary<S>
where
    S: SummaryName,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrialSummary")
            .field("name", &S::NAME)
            .finish()
    }
}

pub type Mean = TrialSummary<MeanName>;
pub type Var = TrialSummary<VarName>;
pub type Std = TrialSummary<StdName>;

impl<S: SummaryName> ComputationalRoutine for TrialSummary<S> {
    fn name(&self) -> &str {
        S::NAME
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "dim": DEFAULT_DIM })
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        let Some(first) = input.trial_shapes.first() else {
            return Err(StatisticsError::NoTrials { routine: S::NAME }.into());
        };
        if let Some((trial, shape)) = input
            .trial_shapes
            .iter()
            .enumerate()
            .find(|(_, s)| *s != first)
        {
            return Err(StatisticsError::UnequalTrials {
                routine: S::NAME,
                first: first.clone(),
                trial,
                shape: shape.clone(),
            }
            .into());
        }
        let rows = S::STATISTIC.rows();
        let mut shape = first.clone();
        if rows > 1 {
            shape.insert(0, rows);
        }
        Ok(Some(TrialReduction::real(shape)))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::dense(
            input.kind,
            vec![input.trial_shapes[0].clone()],
        ))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.trial_shapes = output.trial_shapes.clone();
        // As Syncopy: one trial, carrying the first trial's definition row (offset included).
        schema.trialdefinition = input.trialdefinition.first_only(output.trial_shapes[0][0]);
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(Contribution {
            statistic: S::STATISTIC,
        }))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        let state = state.real();
        let n = n_trials as f64;
        let mut out = output.dense_mut();
        match S::STATISTIC {
            Statistic::Mean => Zip::from(&mut out)
                .and(&state)
                .for_each(|o, &sum| *o = sum / n),
            statistic => {
                let (sum, sumsq) = (state.index_axis(Axis(0), 0), state.index_axis(Axis(0), 1));
                let root = statistic == Statistic::Std;
                Zip::from(&mut out)
                    .and(&sum)
                    .and(&sumsq)
                    .for_each(|o, &s, &q| {
                        let mean = s / n;
                        let var = q / n - mean * mean;
                        // `max` would turn a NaN variance into 0; only clamp real rounding.
                        let var = if var < 0.0 { 0.0 } else { var };
                        *o = if root { var.sqrt() } else { var };
                    });
            }
        }
        Ok(())
    }
}

/// One trial's contribution: its values, and for the spread also their squares.
struct Contribution {
    statistic: Statistic,
}

impl Kernel for Contribution {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = &input.data;
        let mut out = output.dense_mut();
        match self.statistic {
            Statistic::Mean => out.assign(x),
            Statistic::Var | Statistic::Std => {
                out.index_axis_mut(Axis(0), 0).assign(x);
                out.index_axis_mut(Axis(0), 1)
                    .zip_mut_with(x, |o, &v| *o = v * v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trialflow_core::{DType, TrialDefinition};

    fn analog(shapes: Vec<Vec<usize>>) -> DataSchema {
        let trials: Vec<(usize, usize, f64)> = (0..shapes.len()).map(|t| (t, t + 1, 0.0)).collect();
        let mut schema = DataSchema::analog(
            DType::Float32,
            100.0,
            vec!["a".into(), "b".into()],
            TrialDefinition::from_trials(&trials, &[]),
        );
        schema.trial_shapes = shapes;
        schema
    }

    #[test]
    fn the_spread_contributes_values_and_squares_and_the_mean_only_values() {
        let schema = analog(vec![vec![5, 2]; 3]);
        let mean = SummaryParams::new().check::<MeanName>().unwrap();
        let var = SummaryParams::new().check::<VarName>().unwrap();
        assert_eq!(mean.reduction(&schema).unwrap().unwrap().shape(), [5, 2]);
        assert_eq!(var.reduction(&schema).unwrap().unwrap().shape(), [2, 5, 2]);
        assert_eq!(var.initialize(&schema).unwrap().trial_shapes, [[5, 2]]);
    }

    #[test]
    fn unequal_trials_and_other_dims_are_refused_by_name() {
        let std = SummaryParams::new().check::<StdName>().unwrap();
        let text = std
            .reduction(&analog(vec![vec![5, 2], vec![5, 2], vec![6, 2]]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("trial 2") && text.contains("[6, 2]"),
            "{text}"
        );
        let text = SummaryParams::new()
            .dim("time")
            .check::<MeanName>()
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("mean") && text.contains("dim: time"),
            "{text}"
        );
    }
}
