//! Overhead of the parallel map per task: a trivial function mapped over many tasks, so
//! the time is the map's own (scheduling, panic guard, ordering, failure bookkeeping, and
//! for on-disk results one HDF5 file per task). Divide the time per iteration by the task
//! count (criterion prints it per element with `Throughput::Elements`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trialflow_map::{Executor, ParallelMap, Storage, TaskContext};

fn trivial(ctx: &TaskContext, x: &f64) -> Result<f64, std::io::Error> {
    Ok(black_box(x + ctx.index as f64))
}

fn in_memory(c: &mut Criterion) {
    const TASKS: usize = 10_000;
    let args: Vec<f64> = (0..TASKS).map(|i| i as f64).collect();
    let mut group = c.benchmark_group("map_in_memory");
    group.throughput(Throughput::Elements(TASKS as u64));
    group.bench_function("plain_loop_baseline", |b| {
        b.iter(|| {
            args.iter()
                .enumerate()
                .map(|(index, x)| {
                    trivial(
                        &TaskContext {
                            index,
                            n_tasks: TASKS,
                        },
                        x,
                    )
                    .unwrap()
                })
                .collect::<Vec<f64>>()
        })
    });
    for (name, exec) in [
        ("serial", Executor::Serial),
        ("threads_2", Executor::Threads(2)),
    ] {
        let map = ParallelMap::new(trivial)
            .per_task(args.clone())
            .executor(exec);
        group.bench_function(BenchmarkId::new("collect", name), |b| {
            b.iter(|| map.collect().unwrap())
        });
    }
    group.finish();
}

fn on_disk(c: &mut Criterion) {
    const TASKS: usize = 100;
    let args: Vec<f64> = (0..TASKS).map(|i| i as f64).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("map_per_task_files");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TASKS as u64));
    for (name, exec) in [
        ("serial", Executor::Serial),
        ("threads_2", Executor::Threads(2)),
    ] {
        let map = ParallelMap::new(trivial)
            .per_task(args.clone())
            .executor(exec)
            .overwrite(true);
        let storage = Storage::per_task_files(dir.path(), name);
        group.bench_function(BenchmarkId::new("store", name), |b| {
            b.iter(|| map.store(&storage).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, in_memory, on_disk);
criterion_main!(benches);
