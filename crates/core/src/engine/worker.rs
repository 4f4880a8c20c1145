use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{ArrayView2, ArrayViewD, ArrayViewMutD, Axis, Dimension, IxDyn, Slice};

use crate::error::{Error, Result, TaskContext};
use crate::model::EventBlock;
use crate::routine::{OutputBlock, Scratch, TrialInput};
use num_complex::Complex64;

use super::options::Pipeline;
use super::pool::Pool;
use super::prepare::PreparedPipeline;
use super::tasks::Task;

/// One saved step's output for one task, on its way to the writer.
#[derive(Debug)]
pub(crate) enum SavedOutput {
    Dense { data: Vec<f64>, shape: IxDyn },
    Events(EventBlock),
}

/// A task's saved outputs, one per output object.
#[derive(Debug)]
pub(crate) struct TaskResult {
    pub task: usize,
    pub outputs: Vec<SavedOutput>,
    /// Warnings kernels raised: (step index, message with its context).
    pub warnings: Vec<(usize, String)>,
}

/// Buffers pooled between workers and the writer.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    pub dense: Pool<Vec<f64>>,
    pub events: Pool<EventBlock>,
    pub trials: Pool<Vec<f64>>,
}

/// What one compute worker owns: an output buffer and scratch per step, reused across tasks
/// so that, once warmed up, a task allocates nothing.
pub(crate) struct WorkerState {
    dense: Vec<Vec<f64>>,
    events: Vec<EventBlock>,
    scratch: Vec<Scratch>,
    catch_panics: bool,
}

impl WorkerState {
    pub fn new(prepared: &PreparedPipeline, catch_panics: bool) -> Self {
        let n = prepared.steps.len();
        let mut scratch: Vec<Scratch> = (0..n).map(|_| Scratch::default()).collect();
        for (s, step) in scratch.iter_mut().zip(&prepared.steps) {
            s.reserve(step.scratch);
        }
        let events = prepared
            .steps
            .iter()
            .map(|s| EventBlock::with_columns(s.output.event_columns.len()))
            .collect();
        WorkerState {
            dense: vec![Vec::new(); n],
            events,
            scratch,
            catch_panics,
        }
    }

    /// Runs every step on one task. `trial` holds the whole trial (all channels).
    pub fn run_task(
        &mut self,
        pipeline: &Pipeline,
        prepared: &PreparedPipeline,
        task: &Task,
        trial: ArrayView2<'_, f64>,
        pools: &Pools,
    ) -> Result<TaskResult> {
        let mut warnings = Vec::new();
        for (k, step) in prepared.steps.iter().enumerate() {
            let (before, after) = self.dense.split_at_mut(k);
            let data: ArrayViewD<'_, f64> = if k == 0 {
                trial
                    .slice_axis(Axis(1), Slice::from(task.channels.clone()))
                    .into_dyn()
            } else {
                let prev = &prepared.steps[k - 1];
                let shape = prev.task_output_shape(task);
                let n = shape.size();
                ArrayViewD::from_shape(shape, &before[k - 1][..n])
                    .expect("buffer sized to the declared shape")
            };
            let input = TrialInput {
                data,
                trial: task.trial,
                channels: task.channels.clone(),
                samplerate: step.input.samplerate,
                offset: step.input.trialdefinition.offset(task.trial),
            };
            let plan = step.plan_for(task);
            let routine = pipeline.steps[k].routine.as_ref();
            let scratch = &mut self.scratch[k];
            let context = || TaskContext {
                trial: Some(task.trial),
                channels: Some(task.channels.clone()),
                ..step.context()
            };
            let outcome = if step.output.kind.is_dense() {
                let shape = step.task_output_shape(task);
                let n = shape.size() * step.output.dtype.components();
                let buf = &mut after[0];
                if buf.len() < n {
                    buf.resize(n, 0.0);
                }
                let mut out = if step.output.dtype.is_complex() {
                    let view = ArrayViewMutD::from_shape(shape, as_complex(&mut buf[..n]))
                        .expect("buffer sized to the declared shape");
                    OutputBlock::Complex(view)
                } else {
                    let view = ArrayViewMutD::from_shape(shape, &mut buf[..n])
                        .expect("buffer sized to the declared shape");
                    OutputBlock::Dense(view)
                };
                call(self.catch_panics, || {
                    routine.compute_function(&input, &mut out, plan, scratch)
                })
            } else {
                let events = &mut self.events[k];
                events.clear();
                let mut out = OutputBlock::Events(events);
                call(self.catch_panics, || {
                    routine.compute_function(&input, &mut out, plan, scratch)
                })
            };
            for warning in self.scratch[k].take_warnings() {
                warnings.push((k, format!("{}: {warning}", context())));
            }
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    return Err(Error::Routine {
                        context: Box::new(context()),
                        source,
                    })
                }
                Err(message) => {
                    return Err(Error::Panic {
                        context: Box::new(context()),
                        message,
                    })
                }
            }
            if step.output.kind.is_dense() {
                let n = step.task_output_values_shape(task).size();
                self.dense[k].truncate(n);
            }
        }

        let mut outputs = Vec::with_capacity(prepared.objects.len());
        for &k in &prepared.object_steps {
            let step = &prepared.steps[k];
            if step.output.kind.is_dense() {
                let data = std::mem::replace(&mut self.dense[k], pools.dense.take());
                outputs.push(SavedOutput::Dense {
                    data,
                    shape: step.task_output_values_shape(task),
                });
            } else {
                let mut fresh = pools.events.take();
                fresh.clear();
                fresh
                    .columns
                    .resize(step.output.event_columns.len(), Vec::new());
                let events = std::mem::replace(&mut self.events[k], fresh);
                outputs.push(SavedOutput::Events(events));
            }
        }
        Ok(TaskResult {
            task: task.index,
            outputs,
            warnings,
        })
    }
}

/// The engine keeps complex values as interleaved (re, im) f64, so buffers, pools, averaging
/// and sinks stay real-valued; kernels see them as `Complex64`.
fn as_complex(values: &mut [f64]) -> &mut [Complex64] {
    assert!(
        values.len().is_multiple_of(2),
        "complex buffers hold (re, im) pairs"
    );
    // SAFETY: `Complex<f64>` is `#[repr(C)]` with fields `re`, `im` (num-complex documents
    // it as FFI-equivalent to `[f64; 2]`), so it has f64's alignment and twice its size; the
    // slice covers exactly `len / 2` such pairs and the borrow is carried over unchanged.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), values.len() / 2) }
}

/// Calls a kernel, turning a panic into an error message unless the run is in debug mode.
fn call<T>(catch_panics: bool, f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    if !catch_panics {
        return Ok(f());
    }
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_string()
        }
    })
}
