use std::sync::Arc;

use serde::Deserialize;
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, OutputShape, Plan, Planner, RoutineError,
    TrialDefinition,
};

use super::latency::{Latency, LatencyParam};
use super::timelock_kernel::{Covariance, TimelockKernel, WindowLayout};
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

/// Syncopy 2023.9's `timelockanalysis` on AnalogData: the trials cut to the latency window
/// (as Syncopy, only the trials covering the whole window are kept; the others are left
/// out, each named by a warning in the log), their average and variance over trials (ddof
/// 0, as `spy.var(dim='trials')`), and on request the channel covariance (`np.cov(trial,
/// ddof, rowvar=False)` per trial, then the trial mean or, with `keeptrials`, one matrix
/// per trial). A window outside every trial, or one no trial covers, is refused in the dry
/// run.
///
/// TimeLockData out, whose `data` holds the kept trials cut to the window, with Syncopy's
/// trial definition (the trials back to back, each row's offset its window's first sample,
/// trialinfo kept). This step writes the cut trials (a left-out trial as zero rows, which
/// the writer drops from the trial definition); the storage writer computes `avg`, `var`
/// and `cov` from the stored trials at finalize (`storage/src/writer/timelock.rs`).
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
}

impl ComputationalRoutine for Timelock {
    fn name(&self) -> &str {
        NAME
    }

    /// The storage writer reads `covariance`, `ddof` and `keeptrials` from here to compute
    /// `cov` at finalize.
    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "latency": self.latency.to_json(),
            "covariance": self.covariance != Covariance::None,
            "ddof": self.ddof,
            "keeptrials": self.keeptrials,
        })
    }

    /// Each channel is cut on its own; the covariance is computed at finalize from the
    /// stored trials, so channel groups are fine with it too.
    fn channel_independent(&self) -> bool {
        true
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let layout = self.layout(input)?;
        let c = input.n_channels();
        let shapes = layout
            .trials
            .iter()
            .map(|kept| vec![if kept.is_some() { layout.samples } else { 0 }, c])
            .collect();
        Ok(OutputShape::dense(DataKind::TimeLock, shapes))
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
        let def = &input.trialdefinition;
        let mut values = Vec::with_capacity(def.values().len());
        let mut at = 0usize;
        for (t, kept) in layout.trials.iter().enumerate() {
            let row = def.row(t);
            let (len, offset) = match kept {
                Some(k) => (layout.samples, row[2] + k.start as f64),
                None => (0, row[2]),
            };
            values.extend_from_slice(&[at as f64, (at + len) as f64, offset]);
            values.extend_from_slice(&row[3..]);
            at += len;
        }
        schema.trialdefinition =
            TrialDefinition::from_rows(values, def.columns(), at).map_err(RoutineError::failed)?;
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(TimelockKernel {
            layout: Arc::new(self.layout(input)?),
        }))
    }
}
