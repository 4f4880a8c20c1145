//! A panic anywhere in a run ends it with an error saying where, never with a hang: on the
//! writer thread (the sink, a progress callback), on the reader thread (the source), in a
//! worker outside the kernel (a direct block writer), and in every routine hook. Each run
//! happens on its own thread and is given a generous deadline, so a deadlock fails the test
//! instead of hanging it.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::Array2;
use trialflow::engine::{DirectBlockWriter, ObjectId, ObjectMetadata, ObjectSpec, TaskPlacement};
use trialflow::model::EventBlock;
use trialflow::prelude::*;
use trialflow::routines::preprocessing::Rectify;

/// Runs typically end in milliseconds; this only separates "ended" from "hung".
const DEADLINE: Duration = Duration::from_secs(20);

fn recording() -> InMemoryRecording {
    let data = Array2::from_shape_fn((12 * 50, 4), |(i, c)| ((i * 7 + c) % 13) as f64 - 6.0);
    InMemoryRecording::contiguous(data, 100.0, &[50; 12]).unwrap()
}

fn parallel() -> ExecutionOptions {
    ExecutionOptions {
        chan_per_worker: Some(2),
        ..ExecutionOptions::parallel(3)
    }
}

/// Where a test sink or source panics.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    WriteDense(usize),
    DirectWrite(usize),
    Checkpoint,
    Read(usize),
}

struct Faulty {
    inner: MemorySink,
    fault: Fault,
}

/// A direct writer that declines every block except the faulty task's, where it panics: the
/// panic happens on a compute worker, outside the kernel.
struct PanickingDirect(usize);

impl DirectBlockWriter for PanickingDirect {
    fn try_write(&self, placement: &TaskPlacement, _block: &DenseBlock<'_>) -> Result<bool, Error> {
        if placement.task == self.0 {
            panic!("direct write failed at task {}", placement.task);
        }
        Ok(false)
    }
}

impl ResultSink for Faulty {
    fn checkpoint(&mut self, checkpoint: &trialflow::engine::Checkpoint) -> Result<bool, Error> {
        if self.fault == Fault::Checkpoint && checkpoint.closing {
            panic!("checkpoint exploded");
        }
        Ok(true)
    }
    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId, Error> {
        self.inner.preallocate(spec)
    }
    fn direct_writer(&mut self, _id: ObjectId) -> Option<Arc<dyn DirectBlockWriter>> {
        match self.fault {
            Fault::DirectWrite(task) => Some(Arc::new(PanickingDirect(task))),
            _ => None,
        }
    }
    fn write_dense(
        &mut self,
        id: ObjectId,
        p: &TaskPlacement,
        b: DenseBlock<'_>,
    ) -> Result<(), Error> {
        if self.fault == Fault::WriteDense(p.task) {
            panic!("disk controller on fire at task {}", p.task);
        }
        self.inner.write_dense(id, p, b)
    }
    fn append_events(&mut self, id: ObjectId, trial: usize, e: &EventBlock) -> Result<(), Error> {
        self.inner.append_events(id, trial, e)
    }
    fn finalize(&mut self, id: ObjectId, m: &ObjectMetadata) -> Result<(), Error> {
        self.inner.finalize(id, m)
    }
    fn commit(&mut self) -> Result<(), Error> {
        self.inner.commit()
    }
}

struct FaultySource {
    inner: InMemoryRecording,
    panic_at: Option<usize>,
}

impl TrialSource for FaultySource {
    fn schema(&self) -> &DataSchema {
        self.inner.schema()
    }
    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        if self.panic_at == Some(trial) {
            panic!("the disk vanished under trial {trial}");
        }
        self.inner.read_trial(trial, out)
    }
}

/// Runs `pipeline` on its own thread; returns the error and how long the run took.
fn run_with_deadline(
    pipeline: Pipeline,
    fault: Fault,
    progress_panics_at: Option<usize>,
) -> (Error, Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut source = FaultySource {
            inner: recording(),
            panic_at: match fault {
                Fault::Read(trial) => Some(trial),
                _ => None,
            },
        };
        let mut sink = Faulty {
            inner: MemorySink::new(),
            fault,
        };
        let progress = move |done: usize, _total: usize| {
            if Some(done) == progress_panics_at {
                panic!("progress bar overflow at {done}");
            }
        };
        let started = Instant::now();
        let outcome = run_pipeline(&pipeline, &mut source, &mut sink, Some(&progress));
        let _ = tx.send((outcome.map(|_| ()), started.elapsed(), sink.inner.committed));
    });
    let (outcome, elapsed, committed) = rx
        .recv_timeout(DEADLINE)
        .expect("the run ended (no hang) and did not unwind past run_pipeline");
    assert!(!committed, "a failed run commits nothing");
    (
        outcome.expect_err("the panic ends the run with an error"),
        elapsed,
    )
}

fn assert_names(error: &Error, elapsed: Duration, needles: &[&str]) {
    let message = error.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    assert_eq!(error.class(), ErrorClass::Runtime, "{message}");
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}: {message}"
    );
}

fn rectify(execution: ExecutionOptions) -> Pipeline {
    Pipeline::new(vec![Step::new(Rectify)], execution)
}

#[test]
fn a_panicking_sink_ends_a_parallel_run_naming_the_task() {
    // Task 5 is trial 2, channels 2..4 (two channel groups per trial).
    let (error, elapsed) = run_with_deadline(rectify(parallel()), Fault::WriteDense(5), None);
    assert_names(
        &error,
        elapsed,
        &[
            "trial 2, channels 2..4",
            "the output writer (task 5) panicked",
            "on fire at task 5",
        ],
    );
}

#[test]
fn a_panicking_progress_callback_ends_a_parallel_run_naming_the_task() {
    // Called with 4 done: it panics after task 3 was applied.
    let (error, elapsed) = run_with_deadline(rectify(parallel()), Fault::None, Some(4));
    assert_names(
        &error,
        elapsed,
        &[
            "trial 1, channels 2..4",
            "the progress callback (task 3) panicked",
            "overflow at 4",
        ],
    );
}

#[test]
fn a_panicking_sink_checkpoint_ends_the_run() {
    let (error, elapsed) = run_with_deadline(rectify(parallel()), Fault::Checkpoint, None);
    assert_names(
        &error,
        elapsed,
        &["the output writer (recording a checkpoint", "exploded"],
    );
}

#[test]
fn a_panicking_source_ends_a_parallel_run_naming_the_task() {
    let (error, elapsed) = run_with_deadline(rectify(parallel()), Fault::Read(4), None);
    assert_names(
        &error,
        elapsed,
        &[
            "trial 4",
            "the input reader (task 8) panicked",
            "vanished under trial 4",
        ],
    );
    // The same in sequential mode, where the calling thread reads.
    let (error, elapsed) = run_with_deadline(
        rectify(ExecutionOptions::sequential()),
        Fault::Read(4),
        None,
    );
    assert_names(
        &error,
        elapsed,
        &["trial 4", "the input reader (task 4) panicked"],
    );
}

#[test]
fn a_panic_in_a_worker_outside_the_kernel_ends_a_parallel_run_naming_the_task() {
    let (error, elapsed) = run_with_deadline(rectify(parallel()), Fault::DirectWrite(7), None);
    assert_names(
        &error,
        elapsed,
        &[
            "trial 3, channels 2..4",
            "a compute worker (task 7) panicked",
            "direct write failed",
        ],
    );
}

/// A copy routine whose chosen hook panics.
struct PanicIn(&'static str);

/// The copy every `PanicIn` computes.
struct CopyKernel;

impl Kernel for CopyKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        output.samples_mut().assign(&input.samples());
        Ok(())
    }
}

impl ComputationalRoutine for PanicIn {
    fn name(&self) -> &str {
        "panic_in"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        if self.0 == "initialize" {
            panic!("initialize blew up");
        }
        Ok(OutputShape::same_as(input))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        if self.0 == "process_metadata" {
            panic!("process_metadata blew up");
        }
        Rectify.process_metadata(input, output)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        if self.0 == "plan" {
            panic!("plan blew up");
        }
        Ok(Arc::new(CopyKernel))
    }

    fn preallocate(&self, spec: &ObjectSpec, sink: &mut dyn ResultSink) -> Result<ObjectId, Error> {
        if self.0 == "preallocate" {
            panic!("preallocate blew up");
        }
        sink.preallocate(spec)
    }

    fn write_log(&self, log: &mut String) {
        if self.0 == "write_log" {
            panic!("write_log blew up");
        }
        log.push_str("computed panic_in\n");
    }
}

#[test]
fn a_panicking_routine_hook_ends_a_parallel_run_naming_the_step() {
    for hook in [
        "initialize",
        "process_metadata",
        "plan",
        "preallocate",
        "write_log",
    ] {
        let pipeline = Pipeline::new(
            vec![
                Step::new(Rectify),
                Step::new(PanicIn(hook)).named("fragile"),
            ],
            parallel(),
        );
        let (error, elapsed) = run_with_deadline(pipeline, Fault::None, None);
        let hook_name = format!("the routine's {hook} panicked");
        let blew = format!("{hook} blew up");
        assert_names(
            &error,
            elapsed,
            &["step 2 'fragile' (panic_in)", &hook_name, &blew],
        );
    }
}
