use std::sync::Arc;

use serde::Deserialize;
use trialflow_core::routine::{ReducedState, TrialReduction};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, TrialDefinition,
};

use super::latency::{Latency, LatencyParam};
use super::timelock_kernel::{finish, Covariance, TimelockKernel, WindowLayout};
use super::StatisticsError;

const NAME: &str = "timelock";

/// Unchecked parameters of `timelock`, Syncopy's `timelockanalysis`: `latency` (a window
/// `[t0, t1]` in seconds or `maxperiod` (default), `minperiod`, `prestim`, `poststim`),
/// `covariance` (default false), `ddof` (of the covariance; default NumPy's 1) and
/// `keeptrials` (default false: the trial mean of the covariance; true: one per trial).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelockParams {
    pub latency: Option<LatencyParam>,
    pub covariance: Option<bool>,
    pub ddof: Option<usize>,
    pub keeptrials: Option<bool>,
}

impl TimelockParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn latency(mut self, t0: f64, t1: f64) -> Self {
        self.latency = Some(LatencyParam::Window([t0, t1]));
        self
    }

    pub fn covariance(mut self, on: bool) -> Self {
        self.covariance = Some(on);
        self
    }

    pub fn ddof(mut self, ddof: usize) -> Self {
        self.ddof = Some(ddof);
        self
    }

    pub fn keeptrials(mut self, keep: bool) -> Self {
        self.keeptrials = Some(keep);
        self
    }

    pub fn check(self) -> Result<Timelock, StatisticsError> {
        let latency = Latency::check(self.latency, NAME)?;
        let ddof = self.ddof.unwrap_or(1);
        let covariance = match (
            self.covariance.unwrap_or(false),
            self.keeptrials.unwrap_or(false),
        ) {
            (false, _) => Covariance::None,
            (true, false) => Covariance::Mean { ddof },
            (true, true) => Covariance::PerTrial { ddof },
        };
        Ok(Timelock {
            latency,
            covariance,
            ddof,
            keeptrials: self.keeptrials.unwrap_or(false),
        })
    }
}

/// Syncopy 2023.9's `timelockanalysis` on AnalogData: the average and variance over trials
/// (ddof 0, as `spy.var(dim='trials')`) of the samples inside the latency window, and on
/// request the channel covariance (`np.cov(trial, ddof, rowvar=False)` per trial, then the
/// trial mean or, with `keeptrials`, one matrix per trial). As Syncopy, only the trials
/// covering the whole window count; the others are left out, each named by a warning in
/// the log. A window outside every trial, or one no trial covers, is refused in the dry run.
///
/// TimeLockData out, one trial of the window's length whose `data` is the average (Syncopy
/// also copies the cut trials into `data`; trialflow streams them and keeps only the sums),
/// with the datasets `avg`, `var` and `cov`. The trial definition row is the first kept
/// trial's, with the window's offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timelock {
    latency: Latency,
    covariance: Covariance,
    /// The covariance's ddof (1 unless set), in `cfg` even without covariance.
    ddof: usize,
    keeptrials: bool,
}

impl Timelock {
    fn layout(&self, input: &DataSchema) -> Result<WindowLayout, StatisticsError> {
        let window = self
            .latency
            .window(&input.trialdefinition, input.samplerate, NAME)?;
        let layout = WindowLayout::new(input, window, NAME)?;
        if let Covariance::Mean { ddof } | Covariance::PerTrial { ddof } = self.covariance {
            if ddof >= layout.samples {
                return Err(StatisticsError::DdofTooLarge {
                    routine: NAME,
                    ddof,
                    samples: layout.samples,
                });
            }
        }
        Ok(layout)
    }

    fn result_rows(&self, layout: &WindowLayout, channels: usize) -> usize {
        2 * layout.samples + self.covariance.rows(channels, layout.n_kept())
    }
}

impl ComputationalRoutine for Timelock {
    fn name(&self) -> &str {
        NAME
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "latency": self.latency.to_json(),
            "covariance": self.covariance != Covariance::None,
            "ddof": self.ddof,
            "keeptrials": self.keeptrials,
        })
    }

    fn channel_independent(&self) -> bool {
        self.covariance == Covariance::None
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        let layout = self.layout(input)?;
        let c = input.n_channels();
        let rows = self.result_rows(&layout, c) + 1;
        Ok(Some(TrialReduction::real(vec![rows, c])))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let layout = self.layout(input)?;
        let c = input.n_channels();
        Ok(OutputShape::dense(
            DataKind::TimeLock,
            vec![vec![self.result_rows(&layout, c), c]],
        ))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let layout = self.layout(input)?;
        let mut schema = input.clone();
        schema.kind = DataKind::TimeLock;
        schema.trial_shapes = output.trial_shapes.clone();
        let row = input.trialdefinition.row(layout.first);
        let mut values = vec![0.0, layout.samples as f64, layout.offset];
        values.extend_from_slice(&row[3..]);
        schema.trialdefinition = TrialDefinition::from_rows(values, row.len(), layout.samples)
            .map_err(RoutineError::failed)?;
        Ok(schema)
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(TimelockKernel {
            layout: Arc::new(self.layout(input)?),
            covariance: self.covariance,
            channels: *task_shape.last().unwrap_or(&0),
        }))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        _n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        finish(state.real(), self.covariance, output.dense_mut());
        Ok(())
    }
}
