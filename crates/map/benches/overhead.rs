//! Overhead of the parallel map per task: a trivial function mapped over many tasks, so
//! the time is the map's own (scheduling, panic guard, ordering, failure bookkeeping, and
//! for on-disk results one HDF5 file per task). Divide the time per iteration by the task
//! count (criterion prints it per element with `Throughput::Elements`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trialflow_map::{Executor, ParallelMap, Stacking, Storage, TaskContext};

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
    let mut group = c.benchmark_group("map_on_disk");
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
        let files = Storage::per_task_files(dir.path(), format!("files_{name}"));
        group.bench_function(BenchmarkId::new("per_task_files", name), |b| {
            b.iter(|| map.store(&files).unwrap())
        });
        let single = Storage::single_file(
            dir.path(),
            format!("single_{name}"),
            Stacking::new(0, [] as [usize; 0]),
        );
        group.bench_function(BenchmarkId::new("single_file", name), |b| {
            b.iter(|| map.store(&single).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, in_memory, on_disk);
criterion_main!(benches);
