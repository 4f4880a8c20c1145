//! The process-wide worker pools that every threaded executor runs on: the trial engine's
//! compute workers (`parallel.rs`) and the parallel map's thread executor (trialflow-map).
//! One rayon pool per thread count is kept for the life of the process, so repeated runs
//! and maps pay for starting threads once, and a program that mixes the two does not start
//! two sets of threads for the same size.
//!
//! Jobs run under the engine's panic containment (`contain.rs`): a panicking job becomes an
//! `Err` with its message for the caller to report, never an unwind through the pool that
//! would leave the calling thread waiting on a channel.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use rayon::prelude::*;

use super::contain::contained;

/// More threads than this is a typo, not a machine: refused before the OS is asked.
pub const MAX_POOL_THREADS: usize = 4096;

/// The shared pool of `n_threads` workers (`n_threads` is at least 1), started on first use.
pub fn worker_pool(
    n_threads: usize,
) -> Result<Arc<rayon::ThreadPool>, rayon::ThreadPoolBuildError> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let n_threads = n_threads.max(1);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = pools.get(&n_threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n_threads)
            .thread_name(|i| format!("trialflow-worker-{i}"))
            .build()?,
    );
    pools.insert(n_threads, Arc::clone(&pool));
    Ok(pool)
}

/// Runs `job` for each of `tasks` on the shared pool of `n_threads` while the calling thread
/// receives each outcome as it finishes (completion order) and hands it to `sink`, which may
/// write files or draw progress and need not be `Send`. A job's panic arrives as `Err` with
/// its message. The channel holds a few outcomes per thread: when the sink (a writer) is
/// slower than the workers, they wait instead of piling results up in memory.
pub fn run_unordered<R: Send>(
    n_threads: usize,
    tasks: &[usize],
    job: &(dyn Fn(usize) -> R + Sync),
    sink: &mut dyn FnMut(usize, Result<R, String>),
) -> Result<(), rayon::ThreadPoolBuildError> {
    let pool = worker_pool(n_threads)?;
    let (sender, receiver) = mpsc::sync_channel(4 * n_threads.max(1));
    std::thread::scope(|scope| {
        scope.spawn(move || {
            pool.install(|| {
                tasks.par_iter().for_each_with(sender, |sender, &task| {
                    // The receiver lives until every sender is gone.
                    let _ = sender.send((task, contained(|| job(task))));
                })
            })
        });
        for (task, outcome) in receiver {
            sink(task, outcome);
        }
    });
    Ok(())
}

/// `f(i, item)` for each item on the shared pool of `n_threads`, outcomes in item order (a
/// panic in `f` is that item's `Err`).
pub fn map_ordered<T: Sync, R: Send>(
    n_threads: usize,
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync,
) -> Result<Vec<Result<R, String>>, rayon::ThreadPoolBuildError> {
    let pool = worker_pool(n_threads)?;
    Ok(pool.install(|| {
        items
            .par_iter()
            .enumerate()
            .map(|(i, x)| contained(|| f(i, x)))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pool_per_size_for_the_whole_process() {
        let a = worker_pool(3).unwrap();
        let b = worker_pool(3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 3);
        assert!(!Arc::ptr_eq(&a, &worker_pool(2).unwrap()));
    }

    #[test]
    fn ordered_results_keep_item_order_and_contain_panics() {
        let items: Vec<u32> = (0..50).collect();
        let out = map_ordered(4, &items, |i, &x| {
            assert!(x != 7, "seven");
            i as u32 * 10 + x
        })
        .unwrap();
        for (i, r) in out.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, i as u32 * 11),
                Err(m) => {
                    assert_eq!(i, 7);
                    assert!(m.contains("seven"), "{m}");
                }
            }
        }
        assert!(out[7].is_err());
    }

    #[test]
    fn unordered_runs_hand_every_outcome_to_the_calling_thread() {
        let tasks: Vec<usize> = (0..40).collect();
        let caller = std::thread::current().id();
        let mut seen = vec![None; 40];
        run_unordered(
            3,
            &tasks,
            &|t| {
                assert!(t != 5, "task five");
                t * 2
            },
            &mut |t, outcome| {
                assert_eq!(std::thread::current().id(), caller);
                seen[t] = Some(outcome);
            },
        )
        .unwrap();
        for (t, outcome) in seen.into_iter().enumerate() {
            match outcome.expect("every task reported") {
                Ok(v) => assert_eq!(v, t * 2),
                Err(m) => assert!(t == 5 && m.contains("task five"), "{t}: {m}"),
            }
        }
    }
}
