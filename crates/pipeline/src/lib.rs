//! trialflow pipelines as a library: everything a front end needs that is not about its own
//! way of talking to the user.
//!
//! - [`PipelineDocument`]: a pipeline as written (YAML file, YAML text or a value tree),
//!   with `--set` edits, checked once into a [`CheckedPipeline`] through a [`Registry`];
//! - [`Registry`]: routine names to constructors and docs; [`Registry::builtin`] plus any
//!   custom routine (`Registry::builtin().with::<MyRoutine>()`);
//! - run orchestration: [`PreparedRun`] (the dry run: input opened, every trial checked,
//!   nothing written), then [`PreparedRun::execute`] for fresh, resumed, sharded and MPI runs,
//!   and [`merge`] for shards; [`slurm_script`] for job arrays;
//! - [`generate_recording`]: synthetic recordings for demos, tests and benchmarks.
//!
//! The command line (`trialflow-cli`) and the Python bindings are thin layers over this
//! crate: argument parsing, progress display and exit codes or exceptions. Every failure is
//! a [`PipelineError`]: one line, classed as the user's (exit code 2) or the run's (1).

mod channel_subset;
mod check;
mod document;
mod error;
mod import;
mod input;
mod mpi;
mod registry;
mod run;
mod select;
mod slurm;
mod synthetic;
mod trials;

pub use check::CheckedPipeline;
pub use document::{load_pipeline, PipelineDocument};
pub use error::PipelineError;
pub use import::{import, ImportRequest};
pub use input::{open_input, InputSpec, OpenedInput};
pub use registry::Registry;
pub use run::{merge, PlanSummary, PlannedObject, PreparedRun, RunOptions, RunOutcome};
pub use select::{Selected, Selection};
pub use slurm::{slurm_script, SlurmOptions};
pub use synthetic::{generate_recording, GenerateOptions};
pub use trials::{CutTrials, Outside, TimeAxis, TrialsSection, TrialsSpec, Window};
