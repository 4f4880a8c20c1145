use crate::params::{setters, Keyword};
use serde::Deserialize;
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TrialInput,
};

use super::boundary::{check_origin, ExtendMode};
use super::{row_scratch, row_task, SmoothingError, MAX_TAPS};

/// Unchecked parameters of `moving_average`, as written in a pipeline (SciPy's names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovingAverageParams {
    pub size: Option<i64>,
    pub mode: Option<ExtendMode>,
    pub cval: Option<f64>,
    pub origin: Option<i64>,
}

setters!(MovingAverageParams {
    size: i64,
    mode: ExtendMode,
    cval: f64,
    origin: i64,
});

/// Checks a window `size` parameter: an integer in `1..=MAX_TAPS`.
pub(crate) fn check_size(size: Option<i64>) -> Result<usize, SmoothingError> {
    let size = size.ok_or(SmoothingError::Missing("size"))?;
    if size < 1 {
        return Err(SmoothingError::range("size", "an integer >= 1", size));
    }
    if size as u64 > MAX_TAPS as u64 {
        return Err(SmoothingError::KernelTooLong {
            what: format!("size {size}"),
            taps: size.to_string(),
            limit: MAX_TAPS,
            hint: "use a smaller size",
        });
    }
    Ok(size as usize)
}

impl MovingAverageParams {
    pub fn check(self) -> Result<MovingAverage, SmoothingError> {
        let size = check_size(self.size)?;
        let origin = check_origin("size", size, self.origin.unwrap_or(0))?;
        Ok(MovingAverage {
            size,
            mode: self.mode.unwrap_or_default(),
            cval: self.cval.unwrap_or(0.0),
            origin,
        })
    }
}

/// `scipy.ndimage.uniform_filter1d(x, size, axis=0, mode, cval, origin)` per trial and
/// channel: the mean of `x[i - size/2 - origin ..= i - size/2 - origin + size - 1]` (integer
/// division, so an even window reaches one sample further back than forward).
///
/// Computed as SciPy 1.18's `NI_UniformFilter1D` does: a running sum of the window, updated
/// by `+ entering - leaving`, divided by `size` for each output. Results match SciPy's bit
/// for bit, including its quirk: once a NaN (or an Inf, whose exit gives Inf - Inf) enters
/// the running sum, every later output of that trial and channel is NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MovingAverage {
    size: usize,
    mode: ExtendMode,
    cval: f64,
    origin: isize,
}

impl ComputationalRoutine for MovingAverage {
    fn name(&self) -> &str {
        "moving_average"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "size": self.size,
            "mode": self.mode.as_str(),
            "cval": self.cval,
            "origin": self.origin,
        })
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(MovingAverageKernel {
            routine: *self,
            // The running sums: one per channel.
            scratch: row_scratch(task_shape[0], task_shape[1], task_shape[1]),
        }))
    }
}

/// A running sum per channel over blocks of one shape.
struct MovingAverageKernel {
    routine: MovingAverage,
    scratch: ScratchSize,
}

impl Kernel for MovingAverageKernel {
    fn scratch_size(&self) -> ScratchSize {
        self.scratch
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let routine = &self.routine;
        let ch = input.channels.len();
        let size = routine.size as isize;
        let fsize = routine.size as f64;
        // Position t of SciPy's line buffer holds x[t - (size / 2 + origin)].
        let shift = size / 2 + routine.origin;
        row_task(
            input,
            output,
            scratch,
            routine.mode,
            routine.cval,
            ch,
            |lines, i0, dst, tmp| {
                for (r, row) in dst.chunks_exact_mut(ch).enumerate() {
                    let i = (i0 + r) as isize;
                    if i == 0 {
                        tmp.fill(0.0);
                        for t in 0..size {
                            for (s, &v) in tmp.iter_mut().zip(lines.at(t - shift)) {
                                *s += v;
                            }
                        }
                    } else {
                        let enter = lines.at(i + size - 1 - shift);
                        let leave = lines.at(i - 1 - shift);
                        for ((s, &a), &b) in tmp.iter_mut().zip(enter).zip(leave) {
                            *s += a - b;
                        }
                    }
                    for (d, &s) in row.iter_mut().zip(tmp.iter()) {
                        *d = s / fsize;
                    }
                }
            },
        );
        Ok(())
    }
}
