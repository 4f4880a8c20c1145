use serde::Deserialize;
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TrialInput,
};

use super::{channel_means, subtract_means, PreprocessingError};
use crate::params::{keyword_serde, setters, Keyword};

/// What `scipy.signal.detrend` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetrendType {
    /// The least-squares line.
    #[default]
    Linear,
    /// The mean.
    Constant,
}

impl Keyword for DetrendType {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("linear", DetrendType::Linear),
        ("l", DetrendType::Linear),
        ("constant", DetrendType::Constant),
        ("c", DetrendType::Constant),
    ];
    const EXPECTED: &'static str = "'linear' or 'constant'";
}
keyword_serde!(DetrendType);

/// Parameters of `detrend`: what a pipeline step deserialises into and the typed builder
/// (`DetrendParams::new().kind(DetrendType::Constant)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetrendParams {
    #[serde(rename = "type")]
    pub kind: Option<DetrendType>,
}

setters!(DetrendParams { kind: DetrendType });

impl DetrendParams {
    pub fn check(self) -> Result<Detrend, PreprocessingError> {
        Ok(Detrend {
            kind: self.kind.unwrap_or_default(),
        })
    }
}

/// `scipy.signal.detrend(x, axis=0, type=...)` per trial and channel.
///
/// The linear fit uses the closed form on centred data, `x - mean - slope * (t - mean_t)`,
/// which equals SciPy's least-squares fit on the regressor `(1..N)/N` without forming the
/// normal equations. A single-sample trial detrends to 0, as SciPy's minimum-norm solution
/// does. A channel containing NaN or Inf is refused for `linear`, as SciPy refuses it
/// ("array must not contain infs or NaNs"); `constant` gives NaN there, as SciPy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detrend {
    kind: DetrendType,
}

impl Detrend {
    pub fn kind(&self) -> DetrendType {
        self.kind
    }
}

impl ComputationalRoutine for Detrend {
    fn name(&self) -> &str {
        "detrend"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "type": self.kind })
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(DetrendKernel {
            kind: self.kind,
            channels: task_shape[1],
        }))
    }
}

/// `detrend` for blocks of `channels` channels.
struct DetrendKernel {
    kind: DetrendType,
    channels: usize,
}

impl Kernel for DetrendKernel {
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
        if x.nrows() == 0 {
            return Ok(()); // an empty trial stays empty
        }
        let channels = x.ncols();
        let (mean, slope) = scratch.real[..2 * channels].split_at_mut(channels);
        channel_means(x, mean);
        subtract_means(x, mean, out.view_mut());
        if self.kind == DetrendType::Constant {
            return Ok(());
        }
        if let Some(c) = mean.iter().position(|m| !m.is_finite()) {
            return Err(PreprocessingError::NonFinite {
                channel: input.channels.start + c,
            }
            .into_runtime());
        }
        let n = x.nrows();
        if n < 2 {
            return Ok(());
        }
        // Regressor t_i = (i + 1) / N, centred: t_i - mean_t = (i - (N - 1) / 2) / N.
        let nf = n as f64;
        let centre = (nf - 1.0) / 2.0;
        slope.iter_mut().for_each(|s| *s = 0.0);
        let mut sum_tt = 0.0;
        for (i, row) in out.rows().into_iter().enumerate() {
            let dt = (i as f64 - centre) / nf;
            sum_tt += dt * dt;
            for (s, &v) in slope.iter_mut().zip(row.iter()) {
                *s += dt * v;
            }
        }
        slope.iter_mut().for_each(|s| *s /= sum_tt);
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            let dt = (i as f64 - centre) / nf;
            for (o, &s) in row.iter_mut().zip(slope.iter()) {
                *o -= s * dt;
            }
        }
        Ok(())
    }
}
