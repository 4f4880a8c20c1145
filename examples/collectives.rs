//! The collectives that make executors interchangeable: `broadcast`, `scatter`, `gather`
//! and `map` give the same results serially, on threads and on MPI ranks.
//!
//! ```sh
//! cargo run --example collectives                      # threads
//! cargo build --features mpi --example collectives
//! mpirun -n 3 target/debug/examples/collectives        # MPI ranks
//! ```

use trialflow_map::Executor;

/// Threads, or MPI ranks when built with `--features mpi` (kept alive for the whole run).
fn executor() -> Executor {
    #[cfg(feature = "mpi")]
    {
        Executor::Mpi(trialflow_map::MpiWorld::init().expect("MPI initialises"))
    }
    #[cfg(not(feature = "mpi"))]
    {
        Executor::Threads(2)
    }
}

/// A small "analysis" written once against `Executor`: the root decides the settings, the
/// trials are split among processes, each summarises its trials, and everyone gets all
/// summaries in trial order.
fn analysis(exec: &Executor) -> (Vec<f64>, Vec<u64>) {
    // broadcast: only the root makes the value (reads a file, parses arguments, ...).
    let samples_per_trial: usize = exec.broadcast(|| 1000);
    // scatter: the root's list, one contiguous block per process.
    let my_trials: Vec<u64> = exec.scatter(|| (0..10).collect());
    let my_means: Vec<f64> = my_trials
        .iter()
        .map(|&t| {
            let sum: f64 = (0..samples_per_trial)
                .map(|s| ((t as f64 + 1.0) * s as f64 * 1e-3).sin())
                .sum();
            sum / samples_per_trial as f64
        })
        .collect();
    // gather: every process's block, in rank order, on every process.
    let means = exec.gather(my_means);
    // map: every process holds the items; each computes its share; all get all results.
    let items: Vec<u64> = (0..10).collect();
    let checksums = exec.map(&items, |i, x| (i as u64 + 1) * x * x);
    (means, checksums)
}

fn main() {
    let exec = executor();
    let (means, checksums) = analysis(&exec);
    let (serial_means, serial_checksums) = analysis(&Executor::Serial);
    let identical = means
        .iter()
        .map(|m| m.to_bits())
        .eq(serial_means.iter().map(|m| m.to_bits()))
        && checksums == serial_checksums;
    assert!(
        identical,
        "rank {}: results differ from the serial executor",
        exec.rank()
    );
    exec.barrier();
    if exec.is_root() {
        println!("{} process(es), executor {exec:?}", exec.n_processes());
        println!("trial means: {means:.4?}");
        println!("checksums:   {checksums:?}");
        println!("identical to the serial executor on every process");
    }
}
