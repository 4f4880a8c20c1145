//! `import`: an input (an NWB series, with trials cut as the `trials:` section says) written
//! as a Syncopy AnalogData container that `spy.load` opens. It is a pipeline of one copy
//! step, so it runs in every execution mode, resumes, and decompresses on all workers.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use trialflow_core::{
    ComputationalRoutine, DType, DataSchema, ExecutionOptions, Kernel, OutputBlock, Pipeline, Plan,
    Planner, RoutineError, Scratch, Step, TrialInput,
};

use crate::check::CheckedPipeline;
use crate::error::PipelineError;
use crate::input::InputSpec;
use crate::run::{PreparedRun, RunOptions, RunOutcome};
use crate::trials::TrialsSection;

/// What to import, and where.
pub struct ImportRequest {
    pub input: InputSpec,
    pub trials: Option<TrialsSection>,
    /// The output container (`OUT.spy`); the object is `OUT_raw.analog`.
    pub output: PathBuf,
    /// float32 unless asked otherwise (amplifier integers need no more).
    pub dtype: Option<DType>,
    pub execution: ExecutionOptions,
}

/// Writes the input as AnalogData.
pub fn import(
    request: ImportRequest,
    options: &RunOptions<'_>,
) -> Result<RunOutcome, PipelineError> {
    let step = Step {
        routine: Box::new(Copy),
        name: "raw".to_string(),
        save: true,
        dtype: request.dtype,
    };
    let checked = CheckedPipeline {
        input: request.input,
        trials: request.trials,
        select: None,
        output: request.output,
        overwrite: false,
        pipeline: Pipeline::new(vec![step], request.execution),
    };
    PreparedRun::new(checked, None)?.execute(options)
}

/// The identity: every sample as read (and scaled) from the input.
struct Copy;

impl ComputationalRoutine for Copy {
    fn name(&self) -> &str {
        "import"
    }

    fn cfg(&self) -> serde_json::Value {
        json!({})
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(Copy))
    }
}

/// Copying needs no plan state: the routine is its own kernel.
impl Kernel for Copy {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        output.samples_mut().assign(&input.samples());
        Ok(())
    }
}
