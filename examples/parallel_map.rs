//! A parallel map of an ordinary function (not a trial routine): per-task arguments, a
//! broadcast value, per-task seeds, a dry run, results in memory and on disk, and a
//! failure report. Runs on threads, or on MPI ranks when built with `--features mpi`:
//!
//! ```sh
//! cargo run --example parallel_map
//! cargo build --features mpi --example parallel_map && mpirun -n 2 target/debug/examples/parallel_map
//! ```

use ndarray::Array1;
use trialflow_map::{Executor, MapError, ParallelMap, Stacking, Storage, TaskContext};

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

/// Settings shared by every task.
#[derive(Debug)]
struct Simulation {
    samples: usize,
    noise: f64,
}

/// One simulated trial: a sine at `frequency` plus noise from the task's own seed, so the
/// result does not depend on which worker ran it.
fn simulate(ctx: &TaskContext, frequency: &f64, sim: &Simulation) -> Result<Array1<f64>, String> {
    if *frequency <= 0.0 {
        return Err(format!("frequency must be positive, got {frequency}"));
    }
    let mut state = ctx.seed(2024);
    let mut noise = move || {
        // xorshift64*: enough for an example; use a real RNG crate seeded the same way.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    Ok(Array1::from_shape_fn(sim.samples, |s| {
        (2.0 * std::f64::consts::PI * frequency * s as f64 / sim.samples as f64).sin()
            + sim.noise * noise()
    }))
}

fn main() -> Result<(), MapError> {
    let exec = executor();
    let frequencies: Vec<f64> = (1..=8).map(|f| f as f64 * 1.5).collect();
    let sim = Simulation {
        samples: 500,
        noise: 0.1,
    };
    let map = ParallelMap::with_broadcast(sim, simulate)
        .per_task(frequencies.clone())
        .executor(exec.clone());

    let dir = std::path::PathBuf::from(exec.broadcast(|| {
        let d = std::env::temp_dir().join(format!("trialflow-parallel-map-{}", std::process::id()));
        d.to_string_lossy().into_owned()
    }));
    let storage = Storage::virtual_stack(&dir, "trials", Stacking::new(0, [500usize]));

    // Dry run: one task, in this thread, before committing to the whole map.
    let report = map.dry_run_stored(0, &storage)?;
    // In memory, in task order.
    let trials = map.collect_stacked(0)?;
    // On disk: one file per task, joined by a relative virtual dataset.
    let stored = map.store(&storage)?;

    // Failures: every failed task with its argument and cause, in one error.
    let mut bad = frequencies;
    bad[2] = -1.0;
    bad[5] = 0.0;
    let failed = ParallelMap::with_broadcast(
        Simulation {
            samples: 10,
            noise: 0.0,
        },
        simulate,
    )
    .per_task(bad)
    .executor(exec.clone())
    .collect();

    exec.barrier();
    if exec.is_root() {
        println!("dry run: {report}");
        println!("in memory: {:?} array", trials.shape());
        let file = hdf5::File::open(&stored.container).expect("the container opens");
        let on_disk = file
            .dataset("result_0")
            .and_then(|d| d.read_2d::<f64>())
            .expect("result_0 reads");
        assert_eq!(on_disk, trials, "disk and memory agree");
        println!(
            "on disk: {} ({:?}), equal to the in-memory results",
            stored.container.display(),
            on_disk.shape()
        );
        println!("a map with bad arguments reports:\n{}", failed.unwrap_err());
        std::fs::remove_dir_all(&dir).expect("the example cleans up");
    }
    Ok(())
}
