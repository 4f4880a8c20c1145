//! Engine overhead per task: a routine that only copies its input, over many tiny trials held
//! in memory and written to a `MemorySink`, so almost all of the time is the engine's own
//! bookkeeping (task scheduling, buffer pools, queues, the in-order collector, the sink call).
//!
//! Run with `cargo bench --bench engine`. Criterion reports time per run and, because each
//! benchmark declares `Throughput::Elements(tasks)`, tasks per second; the per-task overhead
//! is the run time divided by the task count (printed once per benchmark as well).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::{
    run_pipeline, ComputationalRoutine, DataSchema, ExecutionOptions, Kernel, OutputBlock,
    Pipeline, Plan, Planner, RoutineError, Scratch, Step, TrialInput,
};

const TRIALS: usize = 10_000;
const SAMPLES: usize = 4;
const CHANNELS: usize = 2;

/// The cheapest possible routine: output = input. Same shape, channel-independent.
#[derive(Clone)]
struct CopyRoutine;

impl ComputationalRoutine for CopyRoutine {
    fn name(&self) -> &str {
        "copy"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for CopyRoutine {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        output.dense_mut().assign(&input.data);
        Ok(())
    }
}

fn recording() -> InMemoryRecording {
    let data = Array2::from_shape_fn((TRIALS * SAMPLES, CHANNELS), |(i, c)| {
        (i * CHANNELS + c) as f64
    });
    InMemoryRecording::contiguous(data, 1000.0, &vec![SAMPLES; TRIALS]).expect("valid recording")
}

/// One full run (dry run, preallocation, every task, finalize, commit); returns the task count.
fn run_once(pipeline: &Pipeline, source: &mut InMemoryRecording) -> usize {
    let mut sink = MemorySink::new();
    let report = run_pipeline(pipeline, source, &mut sink, None).expect("run succeeds");
    black_box(&sink.objects);
    report.tasks
}

fn engine_overhead(c: &mut Criterion) {
    let mut source = recording();
    let variants: Vec<(&str, ExecutionOptions)> = vec![
        ("sequential", ExecutionOptions::sequential()),
        ("parallel2", ExecutionOptions::parallel(2)),
        (
            "sequential_chan_per_worker1",
            ExecutionOptions {
                chan_per_worker: Some(1),
                ..ExecutionOptions::sequential()
            },
        ),
        (
            "parallel2_chan_per_worker1",
            ExecutionOptions {
                chan_per_worker: Some(1),
                ..ExecutionOptions::parallel(2)
            },
        ),
    ];

    let mut group = c.benchmark_group("engine_overhead");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, execution) in variants {
        let pipeline = Pipeline::new(vec![Step::new(CopyRoutine)], execution);
        // One untimed run: the task count for the throughput, and a sanity check.
        let started = Instant::now();
        let tasks = run_once(&pipeline, &mut source);
        let once = started.elapsed();
        eprintln!(
            "engine_overhead/{name}: {tasks} tasks; one cold run {:.3} ms = {:.2} us/task",
            once.as_secs_f64() * 1e3,
            once.as_secs_f64() * 1e6 / tasks as f64
        );
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_with_input(
            BenchmarkId::new(name, format!("{TRIALS}x{SAMPLES}x{CHANNELS}")),
            &pipeline,
            |b, pipeline| b.iter(|| run_once(pipeline, &mut source)),
        );
    }
    group.finish();
}

criterion_group!(benches, engine_overhead);
criterion_main!(benches);
