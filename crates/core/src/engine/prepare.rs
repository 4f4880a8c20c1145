use std::cell::Cell;
use std::collections::HashMap;

use ndarray::{Dimension, IxDyn};

use crate::error::{Error, Result, RoutineError, TaskContext};
use crate::model::{DType, DataKind, DataSchema, OutputShape, TrialShapes};
use crate::routine::{ComputationalRoutine, Plan, Planner, ScratchSize, TrialReduction};

use super::contain::{contained, crashed};
use super::memory::MemoryEstimate;
use super::options::{ExecutionMode, Pipeline, RunScope};
use super::sink::{ObjectSpec, StoreLayout, TaskPlacement};
use super::tasks::{build_tasks, channel_groups, Task};

/// A step after the dry run: its input and output schemas and its plans, one per distinct
/// task shape.
#[derive(Debug)]
pub struct PreparedStep {
    pub index: usize,
    pub name: String,
    pub routine_name: String,
    pub input: DataSchema,
    pub output: DataSchema,
    /// One plan per distinct task input shape (channel axis narrowed to the task's group).
    pub plans: Vec<Plan>,
    /// For each task (by index), which plan it uses: looked up without hashing or
    /// allocating in the hot loop.
    pub plan_of_task: Vec<u32>,
    /// Largest scratch any plan needs.
    pub scratch: ScratchSize,
    /// Index into [`PreparedPipeline::objects`] when this step's output is written.
    pub object: Option<usize>,
    /// What a trial-reducing step's kernel writes per task instead of an output block.
    pub reduction: Option<TrialReduction>,
}

/// How an object's result is formed across trials, when it is not written per trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossTrial {
    /// `keeptrials: false`: the mean of the step's per-trial outputs.
    Average,
    /// A trial-reducing step: its `finish_reduction` of the folded contributions.
    Reduction,
}

impl PreparedStep {
    pub fn context(&self) -> TaskContext {
        TaskContext {
            step: Some(self.index),
            step_name: Some(self.name.clone()),
            routine: Some(self.routine_name.clone()),
            trial: None,
            channels: None,
        }
    }

    /// The shape of a task's block in this step's output, or of its contribution for a
    /// trial-reducing step (no allocation up to 4 axes).
    pub fn task_output_shape(&self, task: &Task) -> IxDyn {
        match &self.reduction {
            Some(r) => narrow_channels(r.shape(), task),
            None => narrow_channels(&self.output.trial_shapes[task.trial], task),
        }
    }

    /// Whether a task's block (output or contribution) holds complex values.
    pub fn block_is_complex(&self) -> bool {
        match &self.reduction {
            Some(r) => r.is_complex(),
            None => self.output.dtype.is_complex(),
        }
    }

    /// The shape of the f64 values the engine holds for a task's output block: the block's
    /// shape, plus a trailing axis of 2 (re, im) for complex output.
    pub fn task_output_values_shape(&self, task: &Task) -> IxDyn {
        let shape = self.task_output_shape(task);
        if self.block_is_complex() {
            let mut with_parts = shape.slice().to_vec();
            with_parts.push(2);
            IxDyn(&with_parts)
        } else {
            shape
        }
    }

    /// The shape of a task's block in this step's input.
    pub fn task_input_shape(&self, task: &Task) -> IxDyn {
        narrow_channels(&self.input.trial_shapes[task.trial], task)
    }

    /// The plan a task uses.
    pub fn plan_for(&self, task: &Task) -> &Plan {
        &self.plans[self.plan_of_task[task.index] as usize]
    }
}

/// A task of a channel group sees that group's slice of the channel axis (last). A task over
/// a whole trial keeps the declared shape, whose last axis need not be the input's channels:
/// a cross-channel step (`channel_independent() == false`, never grouped) may declare
/// (channel_i, channel_j) axes of a `channelcmb` subset, or channel pairs.
fn narrow_channels(trial_shape: &[usize], task: &Task) -> IxDyn {
    let mut shape = IxDyn(trial_shape);
    let ndim = shape.ndim();
    if ndim > 0 && task.n_groups > 1 {
        shape[ndim - 1] = task.channels.len();
    }
    shape
}

/// Where a task's block goes on the last axis: its channel group, or the whole axis for a
/// task over a whole trial (whose last axis may differ from the input's channels).
fn whole_or_group(task: &Task, block_shape: &[usize]) -> std::ops::Range<usize> {
    if task.n_groups > 1 {
        task.channels.clone()
    } else {
        0..block_shape.last().copied().unwrap_or(0)
    }
}

/// Everything derived before the first task runs.
#[derive(Debug)]
pub struct PreparedPipeline {
    pub steps: Vec<PreparedStep>,
    pub tasks: Vec<Task>,
    /// The objects to write, in step order.
    pub objects: Vec<ObjectSpec>,
    /// For each object, the step that produces it.
    pub object_steps: Vec<usize>,
    /// For each object, how it is formed across trials (`None`: written per trial).
    pub cross_trial: Vec<Option<CrossTrial>>,
    pub keeptrials: bool,
    /// The tasks this invocation is responsible for: all of them, or a shard's slice
    /// (trial-aligned); empty when merging.
    pub range: std::ops::Range<usize>,
    pub workers: usize,
    /// How many tasks may be between the reader and the writer at once.
    pub window: usize,
    /// How many consecutive tasks the reader hands a worker at once (parallel mode): more
    /// than one only for tasks far smaller than [`BATCH_BYTES`].
    pub batch: usize,
    pub memory: MemoryEstimate,
    /// Set when trials are cut into time chunks (`engine/chunks/`); `memory` is then the
    /// chunked run's estimate.
    pub chunking: Option<super::chunks::ChunkPlan>,
}

impl PreparedPipeline {
    /// Whether this invocation's tasks all fit in one of the parallel engine's batches:
    /// then it would hand them all to one worker, so nothing would run in parallel, and
    /// starting the reader, writer and worker threads (and their wake-ups) would be the
    /// run's largest cost. The pipeline front end (`trialflow-pipeline`'s `run.rs`) runs
    /// such a run sequentially, with the storage layout it was prepared with.
    pub fn fits_one_batch(&self) -> bool {
        self.range.len() <= self.batch
    }
}

/// About this many bytes of input (as f64) per handover between the parallel engine's
/// threads: a handover costs a few microseconds (more when a thread has to be woken), as
/// much as computing a small trial.
pub const BATCH_BYTES: usize = 256 << 10;

/// Tasks under this many bytes of input (as f64) go in batches of about
/// [`TINY_BATCH_BYTES`]: their compute is no more than a handover's cost, so each handover
/// (and each wake-up of a worker, the writer and the reader) has to carry many of them.
pub const TINY_TASK_BYTES: usize = 64 << 10;

/// About this many bytes of input per handover of tasks under [`TINY_TASK_BYTES`] (80
/// trials of 200 samples x 8 channels). At 200 000 such trials, session 9 (each trial
/// copied on its own from the reader's window) found 256 KiB 7% and 1 MiB a third more
/// CPU than 512 KiB; since a batch's trials are read with one call into one buffer
/// (session 12), 1 MiB takes 5-7% less CPU than 512 KiB (fewer wake-ups of the threads),
/// and 2 MiB 10% more (a batch's input, output and staged bytes outgrow a core's cache).
pub const TINY_BATCH_BYTES: usize = 1 << 20;

/// Tasks per handover: 1 for tasks of [`BATCH_BYTES`] or more, up to 1024 tiny ones.
fn task_batch(input: &DataSchema, tasks: &[Task]) -> usize {
    if tasks.is_empty() {
        return 1;
    }
    let values: usize = tasks
        .iter()
        .map(|t| input.trialdefinition.trial_len(t.trial) * t.channels.len())
        .sum();
    let mean_bytes = (values * 8 / tasks.len()).max(1);
    let per_batch = if mean_bytes < TINY_TASK_BYTES {
        TINY_BATCH_BYTES
    } else {
        BATCH_BYTES
    };
    (per_batch / mean_bytes).clamp(1, 1024)
}

/// The dry run: derives every step's schema, validates every trial against every routine,
/// builds the plans, lays out the outputs and estimates memory. Nothing is computed or
/// written. A routine hook that panics (outside debug mode) is reported with its step.
pub fn prepare(
    pipeline: &Pipeline,
    input: &DataSchema,
    tag_prefix: &str,
) -> Result<PreparedPipeline> {
    let at = Cell::new(None);
    let run = || prepare_steps(pipeline, input, tag_prefix, &at);
    if pipeline.execution.mode == ExecutionMode::Debug {
        return run();
    }
    contained(run).unwrap_or_else(|message| {
        let (context, what) = match at.get() {
            Some((step, hook)) => {
                let routine = pipeline.steps[step].routine.name().to_string();
                let context = TaskContext {
                    step: Some(step),
                    step_name: Some(pipeline.steps[step].name.clone()),
                    routine: Some(routine),
                    ..Default::default()
                };
                (context, format!("the routine's {hook}"))
            }
            None => (TaskContext::default(), "preparing the run".to_string()),
        };
        Err(crashed(context, what, message))
    })
}

/// [`prepare`]'s work; `at` names the step and routine hook running, for a panic's message.
fn prepare_steps(
    pipeline: &Pipeline,
    input: &DataSchema,
    tag_prefix: &str,
    at: &Cell<Option<(usize, &'static str)>>,
) -> Result<PreparedPipeline> {
    let exec = &pipeline.execution;
    exec.validate()?;
    if pipeline.steps.is_empty() {
        return Err(Error::invalid("the pipeline has no steps"));
    }
    if input.n_trials() == 0 {
        return Err(Error::invalid("the input holds zero trials"));
    }
    let saved = pipeline.saved_steps();
    let groups = channel_groups(input.channel_axis_len(), exec.chan_per_worker);
    let tasks = build_tasks(input.n_trials(), &groups);
    let range = scope_range(exec.scope, input.n_trials(), groups.len());
    // More workers than tasks would only idle (and thousands of threads cost real time).
    let workers = exec.effective_workers().min(tasks.len()).max(1);
    let parallel_store = exec.effective_parallel_store();

    let mut steps: Vec<PreparedStep> = Vec::with_capacity(pipeline.steps.len());
    let mut objects = Vec::new();
    let mut object_steps = Vec::new();
    let mut cross_trial = Vec::new();
    let mut reducing: Option<usize> = None;
    let mut current = input.clone();
    let mut planner = Planner::new();
    for (index, step) in pipeline.steps.iter().enumerate() {
        let routine = step.routine.as_ref();
        let ctx = TaskContext {
            step: Some(index),
            step_name: Some(step.name.clone()),
            routine: Some(routine.name().to_string()),
            trial: None,
            channels: None,
        };
        let wrap = |source: RoutineError| Error::Routine {
            context: Box::new(ctx.clone()),
            source,
        };
        let describe = |i: usize| TaskContext {
            step: Some(i),
            step_name: Some(pipeline.steps[i].name.clone()),
            routine: Some(pipeline.steps[i].routine.name().to_string()),
            ..Default::default()
        };
        if let Some(r) = reducing {
            return Err(Error::invalid(format!(
                "{ctx}: needs one input per trial, but {} before it reduces across trials to one result; make the cross-trial step the last one",
                describe(r)
            )));
        }
        let producer = match index {
            0 => "the input".to_string(),
            i => describe(i - 1).to_string(),
        };
        let complex = current.dtype.is_complex();
        // Complex values a routine cannot read are the first thing to name (the fix is on
        // the producing step); real values where complex ones are needed come after the
        // kind, which decides whether the step fits at all.
        if complex && !routine.input_values().accepts(true) {
            return Err(Error::invalid(format!(
                "{ctx}: takes real values, but {producer} gives complex {} values; make the complex-valued step the last one, or choose a real output for it",
                current.dtype.numpy_name()
            )));
        }
        let kinds = routine.input_kinds();
        if !kinds.contains(&current.kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.class_name()).collect();
            return Err(Error::invalid(format!(
                "{ctx}: takes {} input, but receives {} from {producer}",
                names.join(" or "),
                current.kind.class_name()
            )));
        }
        if !complex && !routine.input_values().accepts(false) {
            return Err(Error::invalid(format!(
                "{ctx}: takes complex values (Fourier coefficients, e.g. mtmfft with output: fourier), but {producer} gives real {} values",
                current.dtype.numpy_name()
            )));
        }
        if groups.len() > 1 && !routine.channel_independent() {
            return Err(Error::invalid(format!(
                "{ctx}: combines channels, so it cannot run with execution.chan_per_worker"
            )));
        }
        at.set(Some((index, "reduction")));
        let reduction = routine.reduction(&current).map_err(wrap)?;
        at.set(Some((index, "initialize")));
        let shape = routine.initialize(&current).map_err(wrap)?;
        check_output_shape(&ctx, &current, &shape, groups.len() > 1, reduction.as_ref())?;
        if reduction.is_some() {
            reducing = Some(index);
        }
        at.set(Some((index, "process_metadata")));
        let mut output = routine.process_metadata(&current, &shape).map_err(wrap)?;
        output.dtype = output_dtype(&ctx, &shape, step.dtype, current.dtype)?;

        let mut prepared = PreparedStep {
            index,
            name: step.name.clone(),
            routine_name: routine.name().to_string(),
            // Moved, not cloned: with 200 000 trials a schema is 200 000 shapes.
            input: current,
            output: output.clone(),
            plans: Vec::new(),
            plan_of_task: Vec::with_capacity(tasks.len()),
            scratch: ScratchSize::default(),
            object: None,
            reduction,
        };
        at.set(Some((index, "plan")));
        // A task's plan depends only on its shape, so it is looked up once per run of
        // trials sharing a shape and channel group, not once per task.
        let mut plan_index: HashMap<IxDyn, u32> = HashMap::new();
        let n_groups = groups.len();
        let runs: Vec<std::ops::Range<usize>> =
            prepared.input.trial_shapes.runs().map(|(t, _)| t).collect();
        for trials in runs {
            let mut of_group = Vec::with_capacity(n_groups);
            for task in &tasks[trials.start * n_groups..(trials.start + 1) * n_groups] {
                let task_shape = prepared.task_input_shape(task);
                let index = match plan_index.get(&task_shape) {
                    Some(&i) => i,
                    None => {
                        let plan = routine
                            .plan(task_shape.slice(), &prepared.input, &mut planner)
                            .map_err(|source| Error::Routine {
                                context: Box::new(TaskContext {
                                    trial: Some(task.trial),
                                    ..ctx.clone()
                                }),
                                source,
                            })?;
                        prepared.scratch = prepared.scratch.max(plan.scratch_size());
                        prepared.plans.push(plan);
                        let i = (prepared.plans.len() - 1) as u32;
                        plan_index.insert(task_shape, i);
                        i
                    }
                };
                of_group.push(index);
            }
            for _ in trials {
                prepared.plan_of_task.extend_from_slice(&of_group);
            }
        }

        if saved.contains(&index) {
            if objects.iter().any(|o: &ObjectSpec| o.tag == step.name) {
                return Err(Error::invalid(format!(
                    "{ctx}: another saved step is already named '{}'; give each saved step a unique `name`",
                    step.name
                )));
            }
            let fold = if prepared.reduction.is_some() {
                Some(CrossTrial::Reduction)
            } else if !pipeline.execution.keeptrials {
                Some(CrossTrial::Average)
            } else {
                None
            };
            let (spec_schema, placements, layout) = if let Some(fold) = fold {
                let single = match fold {
                    CrossTrial::Average => averaged_schema(&ctx, &output, step.routine.as_ref())?,
                    CrossTrial::Reduction => output.clone(),
                };
                let shape = single.trial_shapes[0].clone();
                let placement = TaskPlacement {
                    task: 0,
                    trial: 0,
                    rows: 0..shape[0],
                    channels: 0..*shape.last().expect("dense shapes have at least 2 axes"),
                    shape,
                };
                (single, vec![placement], StoreLayout::Single)
            } else if output.kind.is_dense() {
                // Tasks are trial-major, so a trial's first row follows from the trials
                // before it as the tasks go by.
                let (mut trial, mut first_row, mut next_row) = (usize::MAX, 0, 0);
                let placements = tasks
                    .iter()
                    .map(|t| {
                        if t.trial != trial {
                            trial = t.trial;
                            first_row = next_row;
                            next_row += output.trial_shapes[t.trial][0];
                        }
                        let shape = prepared.task_output_shape(t).slice().to_vec();
                        TaskPlacement {
                            task: t.index,
                            trial: t.trial,
                            rows: first_row..first_row + shape[0],
                            channels: whole_or_group(t, &shape),
                            shape,
                        }
                    })
                    .collect::<Vec<_>>();
                let layout = if parallel_store {
                    StoreLayout::PerTask
                } else {
                    StoreLayout::Single
                };
                (output.clone(), placements, layout)
            } else {
                (output.clone(), Vec::new(), StoreLayout::Single)
            };
            prepared.object = Some(objects.len());
            object_steps.push(index);
            cross_trial.push(fold);
            objects.push(ObjectSpec {
                tag: format!("{tag_prefix}{}", step.name),
                schema: spec_schema,
                layout,
                placements: placements.into(),
                handover: 1,
            });
        }
        current = output;
        steps.push(prepared);
    }

    at.set(None);
    let batch = if workers > 1 {
        task_batch(input, &tasks)
    } else {
        1
    };
    let window = if workers > 1 {
        ((2 * workers + 2) * batch).min(tasks.len())
    } else {
        1
    };
    for object in &mut objects {
        object.handover = batch;
    }
    let mut memory =
        MemoryEstimate::for_pipeline(input, &steps, &tasks, window, workers, &cross_trial);
    let chunking = super::chunks::decide(
        pipeline,
        input,
        &steps,
        &mut objects,
        &cross_trial,
        &mut memory,
    )?;
    Ok(PreparedPipeline {
        steps,
        tasks,
        objects,
        object_steps,
        cross_trial,
        keeptrials: exec.keeptrials,
        range,
        workers,
        window,
        batch,
        memory,
        chunking,
    })
}

/// The tasks of a run scope. Shard `i` of `n` gets trials `[i*T/n, (i+1)*T/n)` and all their
/// channel groups, so shards are contiguous in task order and end at trial boundaries.
pub fn scope_range(scope: RunScope, n_trials: usize, n_groups: usize) -> std::ops::Range<usize> {
    match scope {
        RunScope::Whole => 0..n_trials * n_groups,
        RunScope::Shard { index, count } => {
            let lo = index * n_trials / count;
            let hi = (index + 1) * n_trials / count;
            lo * n_groups..hi * n_groups
        }
        RunScope::Merge => n_trials * n_groups..n_trials * n_groups,
    }
}

/// The storage dtype of a step's output: int64 for events; for dense output the `dtype`
/// option or else the input's precision, made complex when the routine declared complex values.
fn output_dtype(
    ctx: &TaskContext,
    shape: &OutputShape,
    forced: Option<DType>,
    input: DType,
) -> Result<DType> {
    if shape.kind == DataKind::Spike {
        return Ok(DType::Int64);
    }
    let real = |d: DType| match d {
        DType::Complex64 => DType::Float32,
        DType::Complex128 => DType::Float64,
        d => d,
    };
    let dtype = match forced {
        Some(DType::Int64) => {
            return Err(Error::invalid(format!(
                "{ctx}: dtype int64 is only for event data; use float32 or float64"
            )))
        }
        Some(d) if d.is_complex() && !shape.complex => {
            return Err(Error::invalid(format!(
                "{ctx}: dtype {} needs complex output, but this routine's output is real; use float32 or float64",
                d.numpy_name()
            )))
        }
        Some(d) => d,
        // A real result of complex input (|ITC| of Fourier coefficients) keeps its precision.
        None => match input {
            DType::Int64 => DType::Float64,
            d => real(d),
        },
    };
    Ok(if shape.complex {
        dtype.to_complex()
    } else {
        dtype
    })
}

fn check_output_shape(
    ctx: &TaskContext,
    input: &DataSchema,
    shape: &OutputShape,
    grouped: bool,
    reduction: Option<&TrialReduction>,
) -> Result<()> {
    let expected = if reduction.is_some() {
        1
    } else {
        input.n_trials()
    };
    if shape.trial_shapes.len() != expected {
        return Err(Error::Routine {
            context: Box::new(ctx.clone()),
            source: RoutineError::failed(format!(
                "initialize declared {} trial shapes for {} trials{} (a bug in the routine)",
                shape.trial_shapes.len(),
                input.n_trials(),
                if reduction.is_some() {
                    ", but a trial-reducing step declares its one result"
                } else {
                    ""
                }
            )),
        });
    }
    if let Some(r) = reduction {
        if !shape.kind.is_dense() || r.shape().len() < 2 {
            return Err(Error::Routine {
                context: Box::new(ctx.clone()),
                source: RoutineError::failed(
                    "a trial-reducing step declares dense output and contributions of at least 2 axes (a bug in the routine)",
                ),
            });
        }
        if grouped && r.shape().last() != Some(&input.channel_axis_len()) {
            return Err(Error::invalid(format!(
                "{ctx}: its per-trial contributions do not keep the channel axis, so it cannot run with execution.chan_per_worker"
            )));
        }
    }
    if shape.kind.is_dense() {
        for (trial, s) in shape.trial_shapes.iter().enumerate() {
            if s.len() < 2 {
                return Err(Error::Routine {
                    context: Box::new(TaskContext {
                        trial: Some(trial),
                        ..ctx.clone()
                    }),
                    source: RoutineError::failed(
                        "initialize declared an output with fewer than 2 axes (a bug in the routine)",
                    ),
                });
            }
            if grouped && reduction.is_none() && s.last() != Some(&input.channel_axis_len()) {
                return Err(Error::invalid(format!(
                    "{ctx}: changes the number of channels, so it cannot run with execution.chan_per_worker"
                )));
            }
        }
    }
    Ok(())
}

/// The schema of an output averaged over trials: one trial, with the trial definition the
/// routine gives an average (by default the first trial's row).
fn averaged_schema(
    ctx: &TaskContext,
    output: &DataSchema,
    routine: &dyn ComputationalRoutine,
) -> Result<DataSchema> {
    if !output.kind.is_dense() {
        return Err(Error::invalid(format!(
            "{ctx}: keeptrials: false averages trials, but this step produces {} events, which cannot be averaged",
            output.kind.class_name()
        )));
    }
    let first = &output.trial_shapes[0];
    if let Some((trial, shape)) = output
        .trial_shapes
        .iter()
        .enumerate()
        .find(|(_, s)| *s != first)
    {
        return Err(Error::invalid(format!(
            "{ctx}: keeptrials: false needs every trial's output to have the same shape, but trial 0 gives {first:?} and trial {trial} gives {shape:?}"
        )));
    }
    let mut schema = output.clone();
    schema.trial_shapes = TrialShapes::uniform(first.clone(), 1);
    schema.trialdefinition = routine.averaged_trialdefinition(&output.trialdefinition, first[0]);
    Ok(schema)
}
