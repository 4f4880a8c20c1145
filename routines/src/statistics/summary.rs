use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;
use trialflow_core::routine::{ReducedState, TrialReduction};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, TrialDefinition,
};

use super::over_axis::{AxisKernel, DataAxis};
use super::over_trials::{self, contribution_rows, ContributionKernel};
use super::StatisticsError;

/// Which summary statistic a [`Summary`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Var,
    Std,
    Median,
}

/// Ties a registry name to its [`Statistic`], so each of `mean`, `var`, `std` and `median`
/// is its own registrable type while sharing one implementation.
pub trait SummaryName: Send + Sync + 'static {
    const NAME: &'static str;
    const STATISTIC: Statistic;
}

macro_rules! summary_names {
    ($($name:ident = $text:literal, $statistic:ident;)*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;
        impl SummaryName for $name {
            const NAME: &'static str = $text;
            const STATISTIC: Statistic = Statistic::$statistic;
        }
    )*};
}

summary_names! {
    MeanName = "mean", Mean;
    VarName = "var", Var;
    StdName = "std", Std;
    MedianName = "median", Median;
}

/// What a statistic reduces over: every trial into one (`trials`), or one axis of each trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Trials,
    Axis(DataAxis),
}

impl Dim {
    fn as_str(self) -> &'static str {
        match self {
            Dim::Trials => "trials",
            Dim::Axis(axis) => axis.as_str(),
        }
    }
}

/// Unchecked parameters of `mean`, `var`, `std` and `median`: Syncopy's `dim`. The filter
/// keys of `median_filter` are read only to refuse them with a pointer to that routine
/// (`median` was the filter's name before it became Syncopy's statistic); any other key is
/// refused by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    pub dim: Option<String>,
    #[serde(default)]
    size: Option<serde_json::Value>,
    #[serde(default)]
    mode: Option<serde_json::Value>,
    #[serde(default)]
    cval: Option<serde_json::Value>,
    #[serde(default)]
    origin: Option<serde_json::Value>,
}

impl SummaryParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dim(mut self, dim: impl Into<String>) -> Self {
        self.dim = Some(dim.into());
        self
    }

    pub fn check<S: SummaryName>(self) -> Result<Summary<S>, StatisticsError> {
        let filter_key = [
            ("size", &self.size),
            ("mode", &self.mode),
            ("cval", &self.cval),
            ("origin", &self.origin),
        ]
        .into_iter()
        .find_map(|(key, value)| value.as_ref().map(|_| key));
        if let Some(key) = filter_key {
            return Err(StatisticsError::FilterKey {
                routine: S::NAME,
                key,
            });
        }
        let dim = match self.dim.as_deref() {
            None => return Err(StatisticsError::MissingDim { routine: S::NAME }),
            Some("trials") => Dim::Trials,
            Some("time") => Dim::Axis(DataAxis::Time),
            // The engine places a task's output block at the task's input channels, so an
            // output with fewer channels than its input cannot be written yet.
            Some("channel") => {
                return Err(StatisticsError::ChannelDimUnavailable { routine: S::NAME })
            }
            Some(other) => {
                return Err(StatisticsError::UnknownDim {
                    routine: S::NAME,
                    dim: other.to_string(),
                })
            }
        };
        if S::STATISTIC == Statistic::Median && dim == Dim::Trials {
            return Err(StatisticsError::MedianOverTrials);
        }
        Ok(Summary {
            dim,
            _name: PhantomData,
        })
    }
}

/// Syncopy 2023.9's `spy.mean/var/std/median(data, dim)` on AnalogData, SpectralData and
/// CrossSpectralData (real values; `dim: time` of the N-d kinds reduces their time axis).
///
/// `dim: trials` (not `median`) is one result from trials of one shape, with `ddof = 0` and NaN
/// propagating, as Syncopy's `_trial_statistics` (plain sums; one trial gives its values and
/// a variance of exactly 0); see `over_trials` for how it is folded. `dim: time` or
/// `channel` reduces each trial over that axis to a singleton, as Syncopy's `NumpyStatDim`
/// (NumPy's nan-functions, so NaN values are left out); see `over_axis`. Metadata follows
/// Syncopy: over time each trial keeps one sample with the definition row `[k, k + 1, 0]`;
/// over channels the one channel is labelled with the statistic's name.
pub struct Summary<S> {
    dim: Dim,
    _name: PhantomData<S>,
}

impl<S: SummaryName> Summary<S> {
    pub fn dimension(&self) -> Dim {
        self.dim
    }
}

impl<S: SummaryName> std::fmt::Debug for Summary<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("name", &S::NAME)
            .field("dim", &self.dim)
            .finish()
    }
}

pub type Mean = Summary<MeanName>;
pub type Var = Summary<VarName>;
pub type Std = Summary<StdName>;
pub type Median = Summary<MedianName>;

impl<S: SummaryName> ComputationalRoutine for Summary<S> {
    fn name(&self) -> &str {
        S::NAME
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "dim": self.dim.as_str() })
    }

    /// Syncopy's statistics take any continuous data. Over trials every kind of one trial
    /// shape folds the same way; over time an N-d trial reduces its first axis.
    fn input_kinds(&self) -> Vec<DataKind> {
        vec![
            DataKind::Analog,
            DataKind::Spectral,
            DataKind::CrossSpectral,
        ]
    }

    fn channel_independent(&self) -> bool {
        self.dim != Dim::Axis(DataAxis::Channel)
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        if self.dim != Dim::Trials {
            return Ok(None);
        }
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
        let mut shape = first.clone();
        let rows = contribution_rows(S::STATISTIC);
        if rows > 1 {
            shape.insert(0, rows);
        }
        Ok(Some(TrialReduction::real(shape)))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let shapes = match self.dim {
            Dim::Trials => vec![input.trial_shapes[0].clone()],
            Dim::Axis(axis) => input
                .trial_shapes
                .iter()
                .map(|shape| {
                    let mut shape = shape.clone();
                    shape[axis.index()] = 1;
                    shape
                })
                .collect(),
        };
        Ok(OutputShape::dense(input.kind, shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.trial_shapes = output.trial_shapes.clone();
        let lengths: Vec<usize> = output.trial_shapes.iter().map(|s| s[0]).collect();
        schema.trialdefinition = match self.dim {
            // As Syncopy: one trial, carrying the first trial's definition row.
            Dim::Trials => input.trialdefinition.first_only(lengths[0]),
            // Syncopy stacks one sample per trial without offset or trial info.
            Dim::Axis(DataAxis::Time) => {
                let rows: Vec<(usize, usize, f64)> =
                    (0..lengths.len()).map(|k| (k, k + 1, 0.0)).collect();
                TrialDefinition::from_trials(&rows, &[])
            }
            Dim::Axis(DataAxis::Channel) => input.trialdefinition.restacked(&lengths),
        };
        if self.dim == Dim::Axis(DataAxis::Channel) {
            schema.channels = vec![S::NAME.to_string()];
        }
        Ok(schema)
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(match self.dim {
            Dim::Trials => Arc::new(ContributionKernel {
                statistic: S::STATISTIC,
            }),
            Dim::Axis(axis) => Arc::new(AxisKernel {
                statistic: S::STATISTIC,
                axis,
                line: task_shape[axis.index()],
            }),
        })
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        over_trials::finish(S::STATISTIC, state.real(), n_trials, output.dense_mut());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trialflow_core::DType;

    fn analog(shapes: Vec<Vec<usize>>) -> DataSchema {
        let trials: Vec<(usize, usize, f64)> = (0..shapes.len()).map(|t| (t, t + 1, 0.5)).collect();
        let mut schema = DataSchema::analog(
            DType::Float32,
            100.0,
            vec!["a".into(), "b".into()],
            TrialDefinition::from_trials(&trials, &[]),
        );
        schema.trial_shapes = shapes.into();
        schema
    }

    fn dim<S: SummaryName>(dim: &str) -> Summary<S> {
        SummaryParams::new().dim(dim).check::<S>().unwrap()
    }

    #[test]
    fn the_spread_over_trials_contributes_values_and_squares_and_the_mean_only_values() {
        let schema = analog(vec![vec![5, 2]; 3]);
        let mean = dim::<MeanName>("trials");
        let var = dim::<VarName>("trials");
        assert_eq!(mean.reduction(&schema).unwrap().unwrap().shape(), [5, 2]);
        assert_eq!(var.reduction(&schema).unwrap().unwrap().shape(), [2, 5, 2]);
        assert_eq!(var.initialize(&schema).unwrap().trial_shapes, [[5, 2]]);
    }

    #[test]
    fn a_statistic_over_an_axis_keeps_trials_and_makes_that_axis_a_singleton() {
        let schema = analog(vec![vec![5, 2], vec![7, 2]]);
        let time = dim::<MedianName>("time");
        assert!(time.reduction(&schema).unwrap().is_none());
        let shape = time.initialize(&schema).unwrap();
        assert_eq!(shape.trial_shapes, [[1, 2], [1, 2]]);
        let meta = time.process_metadata(&schema, &shape).unwrap();
        assert_eq!(
            meta.trialdefinition.values(),
            [0.0, 1.0, 0.0, 1.0, 2.0, 0.0]
        );
        let channel = Summary::<StdName> {
            dim: Dim::Axis(DataAxis::Channel),
            _name: PhantomData,
        };
        assert!(!channel.channel_independent() && time.channel_independent());
        let shape = channel.initialize(&schema).unwrap();
        assert_eq!(shape.trial_shapes, [[5, 1], [7, 1]]);
        let meta = channel.process_metadata(&schema, &shape).unwrap();
        assert_eq!(meta.channels, ["std"]);
        assert_eq!(meta.trialdefinition.offset(1), 0.5);
    }

    #[test]
    fn bad_parameters_and_unequal_trials_are_refused_by_name() {
        let std = dim::<StdName>("trials");
        let text = std
            .reduction(&analog(vec![vec![5, 2], vec![5, 2], vec![6, 2]]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("trial 2") && text.contains("[6, 2]"),
            "{text}"
        );
        let refused = |params: SummaryParams| params.check::<MedianName>().unwrap_err().to_string();
        let text = refused(SummaryParams::new().dim("trials"));
        assert!(
            text.contains("median") && text.contains("trials") && text.contains("time"),
            "{text}"
        );
        let text = refused(SummaryParams {
            size: Some(serde_json::json!(5)),
            ..SummaryParams::new()
        });
        assert!(
            text.contains("median_filter") && text.contains("size"),
            "{text}"
        );
        let text = refused(SummaryParams::new().dim("freq"));
        assert!(
            text.contains("dim: freq") && text.contains("channel"),
            "{text}"
        );
        let text = refused(SummaryParams::new());
        assert!(text.contains("dim"), "{text}");
        let text = refused(SummaryParams::new().dim("channel"));
        assert!(
            text.contains("dim: channel") && text.contains("time"),
            "{text}"
        );
    }
}
