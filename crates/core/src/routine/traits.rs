use crate::engine::{ObjectId, ObjectSpec, ResultSink};
use crate::error::{Error, RoutineError};
use crate::model::{DataKind, DataSchema, OutputShape, TrialDefinition};

use super::{OutputBlock, Plan, Planner, ReducedState, TimeSupport, TrialReduction, ValueKind};

/// An analysis that runs over trials. Only [`name`](Self::name), [`cfg`](Self::cfg) and
/// [`plan`](Self::plan) are required; everything else has a default for the common case of
/// a same-shape, same-class operation (AnalogData in, AnalogData out).
///
/// Implementations hold *validated* parameters: construct them from unchecked parameters
/// (what YAML deserialises into) through a checking step, so an invalid routine cannot exist.
/// They must be `Send + Sync`: one instance serves every worker.
pub trait ComputationalRoutine: Send + Sync {
    /// The routine's registry name, used in logs, `cfg` and default output tags.
    fn name(&self) -> &str;

    /// Every parameter including defaults (the values the routine will actually use), as
    /// JSON, so a result documents how to reproduce it. Stored in the output's `cfg` under
    /// the step's name, and compared by `--resume`: a default left out would let a changed
    /// default pass unnoticed, which is why there is no default implementation.
    fn cfg(&self) -> serde_json::Value;

    /// The kind of data this routine accepts.
    fn input_kind(&self) -> DataKind {
        DataKind::Analog
    }

    /// Every kind of data this routine accepts (a step whose input is of another kind is
    /// refused before anything runs, naming both); by default only [`input_kind`](Self::input_kind).
    fn input_kinds(&self) -> Vec<DataKind> {
        vec![self.input_kind()]
    }

    /// Whether this routine takes real or complex input values. A step whose input does not
    /// fit is refused before anything runs, naming the step that produces the input.
    fn input_values(&self) -> ValueKind {
        ValueKind::Real
    }

    /// `Some` for a routine that reduces across trials: its kernel then writes each trial's
    /// contribution (of the declared shape, channel axis narrowed to the task) instead of an
    /// output block, the engine folds the contributions in a fixed order of trial indices,
    /// and [`finish_reduction`](Self::finish_reduction) makes the result. Called in the dry
    /// run, before `initialize`, whose output shape then describes the one result: a single
    /// trial shape. Refuse inputs that cannot be reduced here (naming the trial).
    fn reduction(&self, _input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        Ok(None)
    }

    /// Turns the folded contributions of all `n_trials` trials into the result, written into
    /// `output` (the single trial shape `initialize` declared, all channels). Runs once, on
    /// the writer, after every trial is folded (in a merge, after every shard's).
    fn finish_reduction(
        &self,
        _state: ReducedState<'_>,
        _n_trials: usize,
        _output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        Err(RoutineError::failed(format!(
            "{} declared a reduction but has no finish_reduction (a bug in the routine)",
            self.name()
        )))
    }

    /// Whether each channel's output depends only on that channel. Only such routines can run
    /// over channel groups (`chan_per_worker`).
    fn channel_independent(&self) -> bool {
        true
    }

    /// How far along time each output sample reaches into the input, so a trial longer
    /// than memory can be computed in time chunks (`docs/writing-a-routine.md`). The
    /// default, [`TimeSupport::WholeTrial`], is always correct: such a trial is then
    /// refused instead. Declare a margin only if the kernel's output for a sample provably
    /// depends on no input farther away (bitwise, including the order of summation).
    fn time_support(&self) -> TimeSupport {
        TimeSupport::WholeTrial
    }

    /// The dry run: declares the output kind and every trial's output shape from the input's
    /// schema, and refuses parameters that do not fit a trial (naming the trial). Runs before
    /// anything is computed. The default keeps kind and shape.
    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::same_as(input))
    }

    /// The output's metadata: trial definition, samplerate, channel labels and axes. The
    /// default copies the input's, re-stacking trials by their new lengths for dense output
    /// and keeping the input's sample space for event output. `dtype` is set by the engine.
    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        Ok(default_metadata(input, output))
    }

    /// The trial definition of this step's output averaged over trials (`keeptrials:
    /// false`), given the per-trial output's definition and the averaged trial's length.
    /// Syncopy keeps the first trial's row for most routines; its time-frequency routines
    /// give the mean of the trials' offsets instead, and override this.
    fn averaged_trialdefinition(&self, output: &TrialDefinition, len: usize) -> TrialDefinition {
        output.first_only(len)
    }

    /// Builds the kernel for one task shape (the input block's shape, channel axis narrowed
    /// to the task's channels): the routine's parameters plus whatever it precomputes
    /// (coefficients, FFT plans and tapers, which `planner` shares across shapes and steps).
    /// Called once per distinct shape, before running; the engine then calls the kernel's
    /// [`compute`](super::Kernel::compute) once per task, on any worker.
    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError>;

    /// Creates the storage for this routine's output. The default asks the sink for the
    /// standard layout (one dataset, or one source file per task joined by a virtual dataset).
    fn preallocate(&self, spec: &ObjectSpec, sink: &mut dyn ResultSink) -> Result<ObjectId, Error> {
        sink.preallocate(spec)
    }

    /// Appends this routine's entry to the output's `_log`.
    fn write_log(&self, log: &mut String) {
        log.push_str(&default_log_entry(self.name(), &self.cfg()));
    }
}

/// Syncopy's log entry: `computed <name> with settings` and one `\t<key> = <value>` line per
/// parameter, long values shortened to their first and last 30 characters.
pub fn default_log_entry(name: &str, cfg: &serde_json::Value) -> String {
    let mut entry = format!("computed {name} with settings\n");
    if let serde_json::Value::Object(map) = cfg {
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let chars: Vec<char> = text.chars().collect();
            let shown = if chars.len() >= 80 {
                let head: String = chars[..30].iter().collect();
                let tail: String = chars[chars.len() - 30..].iter().collect();
                format!("{head}...{tail}")
            } else {
                text
            };
            entry.push_str(&format!("\t{key} = {shown}\n"));
        }
    }
    entry
}

fn default_metadata(input: &DataSchema, output: &OutputShape) -> DataSchema {
    let mut schema = input.clone();
    schema.kind = output.kind;
    schema.trial_shapes = output.trial_shapes.clone();
    schema.event_columns = output.event_columns.clone();
    if output.kind.is_dense() {
        let lengths: Vec<usize> = output
            .trial_shapes
            .iter()
            .map(|s| s.first().copied().unwrap_or(0))
            .collect();
        schema.trialdefinition = input.trialdefinition.restacked(&lengths);
    } else if schema.units.is_none() {
        schema.units = Some(vec!["unit0".to_string()]);
    }
    schema
}

impl std::fmt::Debug for dyn ComputationalRoutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ComputationalRoutine({})", self.name())
    }
}
