//! Your own `trialflow` binary with your own routine: a short trait impl, registered next to
//! the built-in routines, and every command and execution mode of the CLI comes with it
//! (`run`, `--resume`, `--shard` + `merge`, `slurm`, MPI, `routines`, `info`).
//!
//! ```sh
//! cargo run --example custom_routine -- routines clip
//! cargo run --example custom_routine -- generate in.spy
//! cat > clip.yaml <<EOF
//! input: in.spy
//! output: clipped.spy
//! steps:
//!   - routine: detrend
//!   - routine: clip
//!     limit: 1.5
//! EOF
//! cargo run --example custom_routine -- run clip.yaml
//! ```
//!
//! `docs/writing-a-routine.md` walks through it, up to running it as a SLURM array.

use std::sync::Arc;

use serde::Deserialize;
use trialflow::prelude::*;

/// Clips every sample to `[-limit, limit]`: the simplest useful routine. Everything but the
/// kernel (output shape, metadata, storage, log) comes from the trait's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    limit: f64,
}

/// `clip`'s parameters as a pipeline step writes them, and as Rust code builds them
/// (`ClipParams::default().limit(1.5)`): one type, so the two cannot disagree.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipParams {
    limit: Option<f64>,
}

impl ClipParams {
    pub fn limit(mut self, limit: f64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The only way to a `Clip`: a limit that is given, finite and positive.
    pub fn check(self) -> Result<Clip, ClipError> {
        match self.limit {
            None => Err(ClipError::MissingLimit),
            Some(limit) if limit.is_finite() && limit > 0.0 => Ok(Clip { limit }),
            Some(limit) => Err(ClipError::BadLimit(limit)),
        }
    }
}

/// What can be wrong with `clip`'s parameters.
#[derive(Debug)]
pub enum ClipError {
    MissingLimit,
    BadLimit(f64),
}

impl std::fmt::Display for ClipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClipError::MissingLimit => write!(f, "parameter `limit` is required"),
            ClipError::BadLimit(v) => {
                write!(f, "parameter `limit` must be a positive number, got {v}")
            }
        }
    }
}

impl std::error::Error for ClipError {}

impl ComputationalRoutine for Clip {
    fn name(&self) -> &str {
        "clip"
    }

    /// Recorded in the result's `cfg` and `_log`, and compared by `--resume`, so a changed
    /// limit is never resumed into an old result.
    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "limit": self.limit })
    }

    /// Clipping needs nothing precomputed, so the routine is its own kernel. A routine with
    /// coefficients, FFTs or tapers would build a kernel type holding them here, once per
    /// task shape (taking FFT plans and tapers from `planner`, shared by the whole run).
    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(*self))
    }
}

/// Runs once per task, on any worker; `scratch` would hold any buffers it needs.
impl Kernel for Clip {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let limit = self.limit;
        output
            .samples_mut()
            .zip_mut_with(&input.samples(), |out, &x| *out = x.clamp(-limit, limit));
        Ok(())
    }
}

impl Registrable for Clip {
    type Params = ClipParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "clip",
            summary: "Clip every sample to [-limit, limit].",
            matches: "numpy.clip(x, -limit, limit)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[ParamDoc {
                name: "limit",
                kind: "number > 0",
                default: "required",
                doc: "samples beyond +-limit are set to +-limit",
            }],
            example: "- routine: clip\n  limit: 1.5",
        }
    }

    fn from_params(params: ClipParams) -> Result<Clip, RoutineError> {
        params.check().map_err(RoutineError::invalid)
    }
}

fn main() {
    trialflow::cli::main_with(Registry::builtin().with::<Clip>())
}
