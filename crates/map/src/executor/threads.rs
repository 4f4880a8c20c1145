//! The thread executor: a rayon pool per thread count, kept for the life of the process,
//! so a map pays for starting threads once, not on every call.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use rayon::prelude::*;

fn pool(n_threads: usize) -> Arc<rayon::ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pools
        .entry(n_threads)
        .or_insert_with(|| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n_threads)
                    .thread_name(|i| format!("trialflow-map-{i}"))
                    .build()
                    .expect("the OS can start worker threads"),
            )
        })
        .clone()
}

/// Runs the jobs on the pool while the calling thread receives each result as it finishes
/// and hands it to `sink` (which may write files or draw progress, and need not be `Send`).
/// The channel holds at most a few results per thread: when the sink (a writer) is slower
/// than the workers, they wait instead of piling results up in memory.
pub(super) fn run<R: Send>(
    n_threads: usize,
    tasks: &[usize],
    job: &(dyn Fn(usize) -> R + Sync),
    sink: &mut dyn FnMut(usize, R),
) {
    let pool = pool(n_threads);
    let (sender, receiver) = mpsc::sync_channel(4 * n_threads);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            pool.install(|| {
                tasks.par_iter().for_each_with(sender, |sender, &task| {
                    // The receiver lives until every sender is gone.
                    let _ = sender.send((task, job(task)));
                })
            })
        });
        for (task, result) in receiver {
            sink(task, result);
        }
    });
}

/// `f(i, item)` for each item on the pool, results in item order.
pub(super) fn map_ordered<T: Sync, R: Send>(
    n_threads: usize,
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    pool(n_threads).install(|| items.par_iter().enumerate().map(|(i, x)| f(i, x)).collect())
}
