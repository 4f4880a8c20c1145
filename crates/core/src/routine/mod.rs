//! The [`ComputationalRoutine`] trait and the types its kernel sees.
//!
//! A routine's life, in the order the engine calls it: `initialize` (a dry run over every
//! trial's shape that declares the output and refuses bad trials), `process_metadata` (the
//! output's trial definition, samplerate and axes), `plan` (once per distinct task shape: a
//! typed [`Kernel`] holding coefficients, FFT plans and tapers, with its scratch size),
//! `preallocate` (storage), [`Kernel::compute`] (once per task, with caller-owned scratch)
//! and `write_log`. A routine that reduces across trials also declares its `reduction` in
//! the dry run and turns the folded contributions into its result in `finish_reduction`.

mod block;
mod chunk;
mod plan;
mod planner;
mod reduce;
mod registration;
mod traits;

pub use block::{OutputBlock, Sample, Samples, TrialInput};
pub use chunk::{ChunkContext, TimeSupport};
pub use plan::{fft_plan_bytes, Kernel, Plan, Scratch, ScratchSize};
pub use planner::Planner;
pub use reduce::{ReducedState, TrialReduction, ValueKind};
pub use registration::{
    parse_params, BuildError, Constructor, ParamDoc, Registrable, RoutineDoc, RoutineEntry,
};
pub use traits::{default_log_entry, ComputationalRoutine};
