//! A general parallel map for functions that are not trial routines: map any
//! `Fn(&TaskContext, &A) -> Result<O, E>` over explicit per-task arguments, on the serial,
//! thread or MPI executor, and get the results back in task order, in memory or in HDF5.
//!
//! ```
//! use trialflow_map::{Executor, ParallelMap, Storage, TaskContext};
//!
//! // Each call sees its task index, so per-task seeds never share state by accident.
//! let squares = ParallelMap::new(|ctx: &TaskContext, x: &f64| {
//!     Ok::<_, std::io::Error>(x * x + ctx.index as f64)
//! })
//! .per_task(vec![1.0, 2.0, 3.0])
//! .executor(Executor::Threads(2))
//! .collect()?;
//! assert_eq!(squares, vec![1.0, 5.0, 11.0]);
//! # Ok::<(), trialflow_map::MapError>(())
//! ```
//!
//! What is where:
//! - [`ParallelMap`] (`map.rs`): the builder, in-memory results and the dry run;
//! - [`Executor`] (`executor/`): where tasks run, and the collectives (`map`, `scatter`,
//!   `gather`, `broadcast`) that behave the same on every executor;
//! - [`Storage`] (`storage/`): results on disk, one file per task joined by relative links,
//!   or stacked into one dataset (a relative virtual dataset or a single file), with resume;
//! - [`MapError`] (`error.rs`): one error listing every failed task with its original cause.

mod context;
mod error;
pub mod executor;
mod map;
mod memory;
mod report;
pub mod storage;
mod wire;

pub use context::TaskContext;
pub use error::{FailureReport, MapError, MapParamError, TaskFailure, TaskPanic};
pub use executor::Executor;
#[cfg(feature = "mpi")]
pub use executor::MpiWorld;
pub use map::{DryRunReport, Outcomes, ParallelMap};
pub use storage::{Extent, Stacking, Storable, StorableValue, Storage, StoredArray, StoredResults};
pub use wire::Wire;
