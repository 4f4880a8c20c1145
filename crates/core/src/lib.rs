//! The core of trialflow: the data model (what a recording and a result look like), the
//! [`ComputationalRoutine`] trait that every analysis implements, and the engine that drives
//! routines over trials or channel groups in every execution mode.
//!
//! Storage is not here: the engine talks to a [`TrialSource`] and a [`ResultSink`], which the
//! `trialflow-hdf5` crate implements for Syncopy containers and [`in_memory`] implements in RAM.

pub mod engine;
pub mod error;
pub mod in_memory;
pub mod model;
pub mod routine;

pub use engine::{
    run_pipeline, ExecutionMode, ExecutionOptions, Pipeline, ResultSink, RunReport, Step,
    TrialSource,
};
pub use error::{Error, ErrorClass, RoutineError, TaskContext};
pub use model::{
    DType, DataKind, DataSchema, EventBlock, EventColumn, EventColumnKind, EventSortScratch,
    OutputShape, TrialDefinition, TrialShapes,
};
/// Complex values as kernels see them (`num_complex::Complex<f64>`, the type rustfft uses).
pub use num_complex::Complex64;
pub use routine::{
    ChunkContext, ComputationalRoutine, Kernel, OutputBlock, Plan, Planner, Sample, Samples,
    Scratch, ScratchSize, TimeSupport, TrialInput,
};
/// The FFT crates whose plans [`Planner`] hands out, so a routine crate names the same types.
pub use {realfft, rustfft};
