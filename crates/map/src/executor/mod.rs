//! Where tasks run. Every executor offers the same collectives (`map`, `scatter`, `gather`,
//! `broadcast`) with the same results, so a program written against [`Executor`] runs
//! unchanged serially, on threads, or on MPI ranks (one process per rank, each running the
//! same program: SPMD).
//!
//! The executors are the engine's: threads run on trialflow-core's process-wide worker pools
//! (`engine::worker_pool`, shared with the trial engine's compute workers, under its panic
//! containment), and MPI goes through its one MPI world module (`engine::MpiWorld`, which the
//! trial engine's MPI front end uses too). What is here is the map's view of them: which
//! tasks a process runs, and collectives over serde values.

mod agreement;

pub(crate) use agreement::{agree, merge};

#[cfg(feature = "mpi")]
pub use trialflow_core::engine::MpiWorld;
use trialflow_core::engine::{self as engine, MAX_POOL_THREADS};

use crate::error::MapParamError;
use crate::wire::Wire;

/// How tasks are distributed.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Executor {
    /// One task after another on the calling thread; panics become task failures.
    #[default]
    Serial,
    /// Like `Serial`, but panics are not caught: a panic, backtrace or debugger breakpoint
    /// stops inside the mapped function, in the calling thread.
    Debug,
    /// A pool of this many threads in this process.
    Threads(usize),
    /// MPI ranks: every rank runs the same program; task `i` runs on rank `i % size`.
    #[cfg(feature = "mpi")]
    Mpi(MpiWorld),
}

impl Executor {
    pub(crate) fn check(&self) -> Result<(), MapParamError> {
        match self {
            Executor::Threads(0) => Err(MapParamError::ZeroThreads),
            Executor::Threads(n) if *n > MAX_POOL_THREADS => Err(MapParamError::TooManyThreads(*n)),
            _ => Ok(()),
        }
    }

    /// This process's rank (0 unless MPI).
    pub fn rank(&self) -> usize {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => world.rank(),
            _ => 0,
        }
    }

    /// Number of processes taking part (1 unless MPI).
    pub fn n_processes(&self) -> usize {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => world.size(),
            _ => 1,
        }
    }

    /// Whether this process is the root (rank 0), the one that writes shared files.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Whether panics in the mapped function are caught and reported as task failures.
    pub(crate) fn catches_panics(&self) -> bool {
        !matches!(self, Executor::Debug)
    }

    /// The tasks this process runs: all of them, or every `size`-th one under MPI, so that
    /// expensive neighbouring tasks land on different ranks.
    pub(crate) fn local_tasks(&self, n_tasks: usize) -> Vec<usize> {
        let (rank, size) = (self.rank(), self.n_processes());
        (rank..n_tasks).step_by(size).collect()
    }

    /// Runs `job` for each of `tasks` and hands each result to `sink` on the calling thread,
    /// in completion order (task order for the serial executors). A task whose job panicked
    /// on a worker thread, or that no worker could run, gets `failed(task, reason)` instead.
    pub(crate) fn run_local<R: Send>(
        &self,
        tasks: &[usize],
        job: &(dyn Fn(usize) -> R + Sync),
        failed: &(dyn Fn(usize, String) -> R + Sync),
        sink: &mut dyn FnMut(usize, R),
    ) {
        match self {
            Executor::Threads(n) => {
                let mut deliver = |task: usize, outcome: Result<R, String>| {
                    let result = outcome
                        .unwrap_or_else(|message| failed(task, format!("panicked: {message}")));
                    sink(task, result);
                };
                if let Err(e) = engine::run_unordered(*n, tasks, job, &mut deliver) {
                    for &task in tasks {
                        sink(task, failed(task, pool_failure(*n, &e)));
                    }
                }
            }
            _ => {
                for &task in tasks {
                    sink(task, job(task));
                }
            }
        }
    }

    /// Runs `job` for each of `tasks` and returns the results in the order of `tasks`;
    /// `on_done` runs on the worker right after each task (for progress). Cheaper than
    /// [`run_local`](Self::run_local) when the results need no work on the calling thread.
    pub(crate) fn run_local_ordered<R: Send>(
        &self,
        tasks: &[usize],
        job: &(dyn Fn(usize) -> R + Sync),
        failed: &(dyn Fn(usize, String) -> R + Sync),
        on_done: &(dyn Fn(&R) + Sync),
    ) -> Vec<R> {
        let run = |&task: &usize| {
            let result = job(task);
            on_done(&result);
            result
        };
        match self {
            Executor::Threads(n) => match engine::map_ordered(*n, tasks, |_, task| run(task)) {
                Ok(outcomes) => tasks
                    .iter()
                    .zip(outcomes)
                    .map(|(&task, outcome)| {
                        outcome.unwrap_or_else(|m| failed(task, format!("panicked: {m}")))
                    })
                    .collect(),
                Err(e) => tasks
                    .iter()
                    .map(|&task| failed(task, pool_failure(*n, &e)))
                    .collect(),
            },
            _ => tasks.iter().map(run).collect(),
        }
    }

    /// Waits until every process reaches this point (a no-op without MPI).
    pub fn barrier(&self) {
        #[cfg(feature = "mpi")]
        if let Executor::Mpi(world) = self {
            world.barrier();
        }
    }

    /// The value that the root makes, on every process. `make` runs only on the root.
    pub fn broadcast<T: Wire>(&self, make: impl FnOnce() -> T) -> T {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => {
                let bytes = world.is_root().then(|| crate::wire::encode(&make()));
                crate::wire::decode(&world.broadcast_bytes(bytes))
            }
            _ => make(),
        }
    }

    /// Splits the list the root makes into contiguous blocks, one per process (the first
    /// `len % size` processes get one item more), and returns this process's block.
    /// `make` runs only on the root. `gather` of the blocks restores the list.
    pub fn scatter<T: Wire>(&self, make: impl FnOnce() -> Vec<T>) -> Vec<T> {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => {
                let parts = world.is_root().then(|| {
                    let mut items = make();
                    let mut blocks = Vec::with_capacity(world.size());
                    let total = items.len();
                    for rank in (0..world.size()).rev() {
                        let range = block_range(total, world.size(), rank);
                        let block: Vec<T> = items.drain(range.start..).collect();
                        blocks.push(crate::wire::encode(&block));
                    }
                    blocks.reverse();
                    blocks
                });
                crate::wire::decode(&world.scatter_bytes(parts))
            }
            _ => make(),
        }
    }

    /// Every process's `local` items, concatenated in rank order, on every process.
    pub fn gather<T: Wire>(&self, local: Vec<T>) -> Vec<T> {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => world
                .all_gather_bytes(&crate::wire::encode(&local))
                .iter()
                .flat_map(|bytes| crate::wire::decode::<Vec<T>>(bytes))
                .collect(),
            _ => local,
        }
    }

    /// Every process's `local` items, concatenated in rank order, on the root only (`None`
    /// elsewhere): for results that one writer stores.
    pub fn gather_to_root<T: Wire>(&self, local: Vec<T>) -> Option<Vec<T>> {
        match self {
            #[cfg(feature = "mpi")]
            Executor::Mpi(world) => world
                .gather_bytes_to_root(&crate::wire::encode(&local))
                .map(|parts| {
                    parts
                        .iter()
                        .flat_map(|bytes| crate::wire::decode::<Vec<T>>(bytes))
                        .collect()
                }),
            _ => Some(local),
        }
    }

    /// `f(index, item)` for every item, in item order, on every process. Every process must
    /// pass the same items; each computes a contiguous block (threads share the work within
    /// a process) and the blocks are gathered.
    pub fn map<T: Sync, R: Wire>(&self, items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
        let range = block_range(items.len(), self.n_processes(), self.rank());
        let local: Vec<R> = match self {
            // A panic in `f` is re-raised here, as the serial executor would raise it.
            Executor::Threads(n) => engine::map_ordered(*n, &items[range.clone()], |i, item| {
                f(range.start + i, item)
            })
            .unwrap_or_else(|e| panic!("{}", pool_failure(*n, &e)))
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|message| panic!("{message}")))
            .collect(),
            _ => items[range.clone()]
                .iter()
                .enumerate()
                .map(|(i, item)| f(range.start + i, item))
                .collect(),
        };
        self.gather(local)
    }
}

fn pool_failure(n_threads: usize, e: &rayon::ThreadPoolBuildError) -> String {
    format!("the pool of {n_threads} worker threads could not start: {e}")
}

/// The contiguous block of `0..len` that process `rank` of `size` owns.
pub(crate) fn block_range(len: usize, size: usize, rank: usize) -> std::ops::Range<usize> {
    let base = len / size;
    let extra = len % size;
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

#[cfg(test)]
mod tests {
    use super::block_range;

    #[test]
    fn blocks_cover_everything_once_in_order() {
        for len in 0..20 {
            for size in 1..6 {
                let mut next = 0;
                for rank in 0..size {
                    let r = block_range(len, size, rank);
                    assert_eq!(r.start, next);
                    assert!(r.len() == len / size || r.len() == len / size + 1);
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }
}
