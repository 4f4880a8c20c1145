//! trialflow runs computational routines over the trials of multichannel recordings,
//! sequentially or on all cores, and writes results as Syncopy-compatible HDF5.
//!
//! This facade re-exports the public API of the workspace crates; most users need only the
//! [`prelude`].

pub use trialflow_core as core;
pub use trialflow_hdf5 as hdf5;
pub use trialflow_map as map;
pub use trialflow_routines as routines;

/// Synthetic recordings (what `trialflow generate` writes), for examples, tests and benchmarks.
pub mod synthetic {
    pub use trialflow_cli::{generate_recording, GenerateOptions};
}

pub use trialflow_core::{
    engine, in_memory, model, routine, run_pipeline, Complex64, ComputationalRoutine, DType,
    DataKind, DataSchema, Error, ErrorClass, ExecutionMode, ExecutionOptions, OutputBlock,
    OutputShape, Pipeline, Plan, RoutineError, RunReport, Scratch, ScratchSize, Step,
    TrialDefinition, TrialInput,
};

/// Everything needed to write a routine and run it.
pub mod prelude {
    pub use trialflow_core::engine::{DenseBlock, ResultSink, TrialSource};
    pub use trialflow_core::in_memory::{InMemoryRecording, MemorySink};
    pub use trialflow_core::{
        run_pipeline, Complex64, ComputationalRoutine, DType, DataKind, DataSchema, Error,
        ErrorClass, ExecutionMode, ExecutionOptions, OutputBlock, OutputShape, Pipeline, Plan,
        RoutineError, Scratch, ScratchSize, Step, TrialDefinition, TrialInput,
    };
    pub use trialflow_hdf5::{SpyReader, SpyWriter};
    pub use trialflow_routines::registry;
}
