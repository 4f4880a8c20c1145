//! The engine: validates a pipeline against its input, plans every step, and drives tasks
//! (trials, or trial x channel-group pairs) through all steps in memory, handing saved
//! outputs to a single writer in task order.
//!
//! Data flow in parallel mode: one reader thread (the only one calling the source), N rayon
//! compute workers, and one writer thread (the only one calling the sink), joined by bounded
//! queues. In-flight tasks are capped, so peak memory depends on workers x task size and
//! never on the size of the file.

mod chunks;
mod collector;
mod contain;
mod finish;
mod fold;
mod huge_pages;
mod memory;
#[cfg(feature = "mpi")]
mod mpi_world;
mod options;
mod parallel;
mod pool;
mod prepare;
mod provenance;
mod run;
mod sequential;
mod sink;
mod task_input;
mod tasks;
mod thread_pool;
mod trial_group;
mod window;
mod worker;

pub use chunks::{ChunkPlan, ChunkReason};
pub use contain::{contained, panic_message};
pub use memory::{available_memory, MemoryEstimate, MemoryProbe};
#[cfg(feature = "mpi")]
pub use mpi_world::{MpiInitError, MpiWorld};
pub use options::{ExecutionMode, ExecutionOptions, OnError, Pipeline, RunScope, Step};
pub use prepare::{prepare, CrossTrial, PreparedPipeline, PreparedStep};
pub use provenance::log_header;
pub use run::{run_pipeline, run_prepared, ProgressFn, RunReport, SavedObject};
pub use sink::{
    BlockSpot, Checkpoint, DenseBlock, DirectBlockWriter, ObjectId, ObjectMetadata, ObjectSpec,
    ResultSink, StoreLayout, TaskPlacement, TrialDecoder, TrialSource,
};
pub use tasks::{channel_groups, Task};
pub use thread_pool::{map_ordered, run_unordered, worker_pool, MAX_POOL_THREADS};
