//! trialflow runs computational routines over the trials of multichannel recordings,
//! sequentially, on all cores, as SLURM shards or on MPI ranks, and writes results as
//! Syncopy-compatible HDF5.
//!
//! This facade re-exports the public API of the workspace crates; most users need only the
//! [`prelude`]. A crate with its own routines gets its own `trialflow` binary, with every
//! command and every execution mode, from [`cli::main_with`]:
//!
//! ```no_run
//! use trialflow::prelude::*;
//! # #[cfg(feature = "cli")]
//! fn main() {
//!     trialflow::cli::main_with(Registry::builtin() /* .with::<MyRoutine>() */)
//! }
//! # #[cfg(not(feature = "cli"))]
//! # fn main() {}
//! ```
//!
//! With `default-features = false` the facade builds without the command line (no clap,
//! indicatif or terminal): pipelines, the registry and run orchestration stay available in
//! [`pipeline`].

pub use trialflow_core as core;
pub use trialflow_hdf5 as hdf5;
pub use trialflow_map as map;
pub use trialflow_pipeline as pipeline;
/// Figures of Syncopy objects (`trialflow plot`), with the `plot` feature (on with `cli`).
#[cfg(feature = "plot")]
pub use trialflow_plot as plot;
pub use trialflow_routines as routines;

/// The command line as a library: `main_with(registry)` is a complete `trialflow` binary.
#[cfg(feature = "cli")]
pub mod cli {
    pub use trialflow_cli::{main_with, run_cli};
}

/// Synthetic recordings (what `trialflow generate` writes), for examples, tests and benchmarks.
pub mod synthetic {
    pub use trialflow_pipeline::{generate_recording, GenerateOptions};
}

pub use trialflow_core::{
    engine, in_memory, model, routine, run_pipeline, Complex64, ComputationalRoutine, DType,
    DataKind, DataSchema, Error, ErrorClass, EventBlock, ExecutionMode, ExecutionOptions, Kernel,
    OutputBlock, OutputShape, Pipeline, Plan, Planner, RoutineError, RunReport, Scratch,
    ScratchSize, Step, TrialDefinition, TrialInput,
};
pub use trialflow_pipeline::{
    CheckedPipeline, PipelineDocument, PipelineError, PreparedRun, Registry, RunOptions, RunOutcome,
};

/// Everything needed to write a routine, register it and run it.
pub mod prelude {
    pub use trialflow_core::engine::{DenseBlock, ResultSink, TrialSource};
    pub use trialflow_core::in_memory::{InMemoryRecording, MemorySink};
    pub use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc};
    pub use trialflow_core::{
        run_pipeline, Complex64, ComputationalRoutine, DType, DataKind, DataSchema, Error,
        ErrorClass, EventBlock, ExecutionMode, ExecutionOptions, Kernel, OutputBlock, OutputShape,
        Pipeline, Plan, Planner, RoutineError, Scratch, ScratchSize, Step, TrialDefinition,
        TrialInput,
    };
    pub use trialflow_hdf5::{SpyReader, SpyWriter};
    pub use trialflow_pipeline::{PipelineDocument, PipelineError, Registry};
}
