//! Run under `mpirun -n 2` and `-n 3` by `scripts/test-map-mpi.sh` (also valid on one rank):
//! every collective and every map gives on MPI exactly what it gives serially, failures
//! are reported identically on every rank, and on-disk results match the serial ones bit
//! for bit. Prints `mpi: N passed, 0 failed` on rank 0; exits non-zero on any failure.

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayD};
use trialflow_map::{Executor, MapError, MpiWorld, ParallelMap, Stacking, Storage, TaskContext};

fn block(ctx: &TaskContext, x: &f64) -> Result<(Array2<f64>, u32), String> {
    if *x < 0.0 {
        return Err(format!("negative input {x}"));
    }
    let mut b = Array2::from_shape_fn((3, 2), |(r, c)| (x * (r + 1) as f64).sin() / (c as f64));
    b[[0, 0]] = f64::from_bits(0x7ff8_0000_0000_1234); // a NaN payload must survive
    Ok((b, ctx.index as u32))
}

fn inputs() -> Vec<f64> {
    (0..11).map(|i| i as f64 * 0.7).collect()
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn read_all(container: &Path) -> Vec<(Vec<usize>, Vec<u64>)> {
    let file = open_h5(container).unwrap();
    let mut names = vec!["result_0".to_string()];
    names.extend((0..11).map(|i| format!("comp_{i}/result_0")));
    names
        .iter()
        .filter(|n| file.link_exists(n))
        .map(|n| {
            let a = file.dataset(n).unwrap().read_dyn::<f64>().unwrap();
            (a.shape().to_vec(), bits(&a))
        })
        .collect()
}

struct Checks {
    rank: usize,
    passed: usize,
    failed: usize,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            eprintln!("rank {}: FAILED {name}", self.rank);
        }
    }
}

fn main() {
    let world = MpiWorld::init().expect("MPI initialises");
    let mpi = Executor::Mpi(world.clone());
    let mut checks = Checks {
        rank: world.rank(),
        passed: 0,
        failed: 0,
    };

    // Collectives: the same results as on one process.
    let items: Vec<u64> = (0..10).collect();
    let root_only = mpi.broadcast(|| format!("made on rank {}", world.rank()));
    checks.check("broadcast", root_only == "made on rank 0");
    let block_of_mine = mpi.scatter(|| items.clone());
    checks.check("scatter+gather", mpi.gather(block_of_mine) == items);
    let squares = mpi.map(&items, |i, x| (i as u64) * 1000 + x * x);
    let serial = Executor::Serial.map(&items, |i, x| (i as u64) * 1000 + x * x);
    checks.check("map", squares == serial);
    let at_root = mpi.gather_to_root(vec![world.rank()]);
    checks.check(
        "gather_to_root",
        match at_root {
            Some(ranks) => world.is_root() && ranks == (0..world.size()).collect::<Vec<_>>(),
            None => !world.is_root(),
        },
    );

    // In memory: identical results and identical failure reports on every rank.
    let map = |exec: Executor| ParallelMap::new(block).per_task(inputs()).executor(exec);
    let on_mpi = map(mpi.clone()).collect().unwrap();
    let on_one = map(Executor::Serial).collect().unwrap();
    let same = on_mpi.len() == on_one.len()
        && on_mpi.iter().zip(&on_one).all(|(a, b)| {
            bits(&a.0.clone().into_dyn()) == bits(&b.0.clone().into_dyn()) && a.1 == b.1
        });
    checks.check("collect", same);
    let mut bad = inputs();
    bad[4] = -1.0;
    bad[9] = -2.0;
    let failing = ParallelMap::new(block)
        .per_task(bad.clone())
        .executor(mpi.clone());
    let err = failing.collect().unwrap_err();
    let expected = ParallelMap::new(block).per_task(bad).collect().unwrap_err();
    checks.check("failure report", err.to_string() == expected.to_string());
    let different = ParallelMap::new(block)
        .per_task((0..3).map(|i| (i + world.rank()) as f64))
        .executor(mpi.clone())
        .collect();
    checks.check(
        "ranks with different arguments are refused",
        world.size() == 1 || matches!(different, Err(MapError::Mpi(_))),
    );

    // On disk: every layout matches the serial output bit for bit.
    let dir: PathBuf = PathBuf::from(mpi.broadcast(|| {
        let d = std::env::temp_dir().join(format!("trialflow-map-mpi-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.to_string_lossy().into_owned()
    }));
    let layouts = |sub: &str| {
        let d = dir.join(sub);
        vec![
            Storage::per_task_files(&d, "files"),
            Storage::virtual_stack(&d, "virtual", Stacking::new(1, [3usize, 2])),
            Storage::single_file(&d, "single", Stacking::new(0, [3usize, 2])),
        ]
    };
    for (on_mpi, serial) in layouts("mpi").iter().zip(layouts("serial")) {
        map(mpi.clone()).store(on_mpi).unwrap();
        if world.is_root() {
            map(Executor::Serial).store(&serial).unwrap();
            checks.check(
                "store",
                read_all(&on_mpi.container_path()) == read_all(&serial.container_path()),
            );
        }
    }

    // Failures keep finished results on every rank's share; resume finishes the map.
    for storage in layouts("resume") {
        let mut bad = inputs();
        bad[5] = -1.0;
        let err = ParallelMap::new(block)
            .per_task(bad)
            .key("resume test")
            .executor(mpi.clone())
            .store(&storage)
            .unwrap_err();
        checks.check(
            "failed store",
            err.to_string().starts_with("1 of 11 tasks failed"),
        );
        let resumed = ParallelMap::new(block)
            .per_task(inputs())
            .key("resume test")
            .resume(true)
            .executor(mpi.clone())
            .store(&storage)
            .unwrap();
        checks.check("resumed", resumed.resumed == 10);
        if world.is_root() {
            let fresh = dir.join("fresh").join(format!("{}", resumed.n_tasks));
            let _ = std::fs::remove_dir_all(&fresh);
            let serial = match storage.payload_dir() {
                None => Storage::single_file(&fresh, "single", Stacking::new(0, [3usize, 2])),
                Some(p) if p.ends_with("files_payload") => Storage::per_task_files(&fresh, "files"),
                Some(_) => Storage::virtual_stack(&fresh, "virtual", Stacking::new(1, [3usize, 2])),
            };
            map(Executor::Serial).store(&serial).unwrap();
            checks.check(
                "resumed equals fresh",
                read_all(&storage.container_path()) == read_all(&serial.container_path()),
            );
            std::fs::remove_dir_all(&fresh).unwrap();
        }
    }

    mpi.barrier();
    if world.is_root() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let all = mpi.gather(vec![(checks.passed, checks.failed)]);
    let (passed, failed) = all.iter().fold((0, 0), |(p, f), (a, b)| (p + a, f + b));
    if world.is_root() {
        println!("checked on {} MPI ranks", world.size());
        println!("mpi: {passed} passed, {failed} failed");
    }
    drop(mpi);
    drop(world);
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Opens a result file the way trialflow does (HDF5 file locking off), so a test that holds
/// it open while the map reopens it does not trip HDF5's "file locking flag values don't
/// match" (one process must open a file with one locking setting).
fn open_h5(path: impl AsRef<std::path::Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
}
