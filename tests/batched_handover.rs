//! The parallel engine hands tiny tasks to its workers in batches and takes their slots in
//! the window a batch at a time (`core/src/engine/parallel.rs`). A failure in the middle of
//! a batch must still leave exactly the tasks before it applied and recorded, as a
//! sequential run does, so that `--resume` continues from the same point with the same bits.

use ndarray::Array2;
use trialflow::engine::{Checkpoint, ObjectId, ObjectMetadata, ObjectSpec, TaskPlacement};
use trialflow::model::{DataSchema, EventBlock};
use trialflow::prelude::*;
use trialflow::routines::preprocessing::Rectify;

const TRIALS: usize = 3000;
const FAILING: usize = 1717;

/// Many tiny trials (4 samples x 2 channels), so that one batch holds hundreds of tasks.
fn recording() -> InMemoryRecording {
    let data = Array2::from_shape_fn((TRIALS * 4, 2), |(i, c)| {
        ((i * 31 + c * 7) % 23) as f64 - 11.5
    });
    InMemoryRecording::contiguous(data, 100.0, &[4; TRIALS]).unwrap()
}

/// A recording whose trial `failing` cannot be read.
struct FailingAt {
    inner: InMemoryRecording,
    failing: usize,
}

impl FailingAt {
    fn new(failing: usize) -> FailingAt {
        FailingAt {
            inner: recording(),
            failing,
        }
    }
}

impl TrialSource for FailingAt {
    fn schema(&self) -> &DataSchema {
        self.inner.schema()
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        if trial == self.failing {
            return Err(Error::input(
                "test source",
                format!("trial {trial} is unreadable"),
                ErrorClass::Runtime,
            ));
        }
        self.inner.read_trial(trial, out)
    }
}

/// Keeps what was written even when the run is aborted, and every checkpoint offered.
#[derive(Default)]
struct Recorder {
    inner: MemorySink,
    checkpoints: Vec<(usize, bool)>,
}

impl ResultSink for Recorder {
    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        self.checkpoints
            .push((checkpoint.completed, checkpoint.closing));
        Ok(true)
    }

    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId, Error> {
        self.inner.preallocate(spec)
    }

    fn write_dense(
        &mut self,
        id: ObjectId,
        placement: &TaskPlacement,
        block: DenseBlock<'_>,
    ) -> Result<(), Error> {
        self.inner.write_dense(id, placement, block)
    }

    fn append_events(
        &mut self,
        id: ObjectId,
        trial: usize,
        events: &EventBlock,
    ) -> Result<(), Error> {
        self.inner.append_events(id, trial, events)
    }

    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<(), Error> {
        self.inner.finalize(id, metadata)
    }

    fn commit(&mut self) -> Result<(), Error> {
        self.inner.commit()
    }

    fn abort(&mut self) {}
}

/// The same recording stored as float32, read a batch of trials at a time as the `.spy`
/// reader does (`read_trials_f32`): a batch holding the unreadable trial fails as a whole.
struct Float32FailingAt {
    inner: FailingAt,
    schema: DataSchema,
    /// Batches read with one call.
    batches: usize,
}

impl Float32FailingAt {
    fn new(failing: usize) -> Float32FailingAt {
        let inner = FailingAt::new(failing);
        let mut schema = inner.schema().clone();
        schema.dtype = DType::Float32;
        Float32FailingAt {
            inner,
            schema,
            batches: 0,
        }
    }
}

impl TrialSource for Float32FailingAt {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        self.inner.read_trial(trial, out)
    }

    fn read_trial_f32(&mut self, trial: usize, out: &mut Vec<f32>) -> Result<bool, Error> {
        let mut wide = Vec::new();
        self.inner.read_trial(trial, &mut wide)?;
        out.clear();
        out.extend(wide.iter().map(|&v| v as f32));
        Ok(true)
    }

    fn read_trials_f32(
        &mut self,
        trials: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) -> Result<bool, Error> {
        let (mut all, mut one) = (Vec::new(), Vec::new());
        for trial in trials {
            self.read_trial_f32(trial, &mut one)?;
            all.extend_from_slice(&one);
        }
        *out = all;
        self.batches += 1;
        Ok(true)
    }
}

fn rectify(execution: ExecutionOptions) -> Pipeline {
    Pipeline::new(vec![Step::new(Rectify)], execution)
}

#[test]
fn a_read_failure_inside_a_batch_leaves_exactly_the_tasks_before_it() {
    let mut whole = MemorySink::new();
    run_pipeline(
        &rectify(ExecutionOptions::sequential()),
        &mut recording(),
        &mut whole,
        None,
    )
    .unwrap();
    let expected = whole.objects[0].data.as_ref().unwrap();

    for (name, execution) in [
        ("parallel", ExecutionOptions::parallel(2)),
        ("parallel, 3 workers", ExecutionOptions::parallel(3)),
        ("sequential", ExecutionOptions::sequential()),
    ] {
        let mut source = FailingAt::new(FAILING);
        let mut sink = Recorder::default();
        let error = run_pipeline(&rectify(execution), &mut source, &mut sink, None)
            .expect_err("trial 1717 cannot be read");
        check_stopped_at_the_failure(name, &error, &sink, expected);
    }
}

/// Float32 trials read a batch at a time: the batch holding the unreadable trial fails,
/// and the engine reads its trials one by one, so the failure still lands on trial 1717
/// with exactly the tasks before it applied.
#[test]
fn a_batch_read_that_fails_falls_back_to_trial_by_trial() {
    let mut whole = MemorySink::new();
    let mut source = Float32FailingAt::new(usize::MAX);
    run_pipeline(
        &rectify(ExecutionOptions::parallel(2)),
        &mut source,
        &mut whole,
        None,
    )
    .unwrap();
    assert!(source.batches > 1, "the trials were not read in batches");
    let expected = whole.objects[0].data.as_ref().unwrap();
    for (name, execution) in [
        ("parallel", ExecutionOptions::parallel(2)),
        ("parallel, 3 workers", ExecutionOptions::parallel(3)),
    ] {
        let mut source = Float32FailingAt::new(FAILING);
        let mut sink = Recorder::default();
        let error = run_pipeline(&rectify(execution), &mut source, &mut sink, None)
            .expect_err("trial 1717 cannot be read");
        // The first batch of 1024 tiny trials is read whole; the second, which holds the
        // unreadable trial, fails and is read trial by trial.
        assert_eq!(source.batches, 1, "{name}: batches read whole");
        check_stopped_at_the_failure(name, &error, &sink, expected);
    }
}

/// The run stopped at trial `FAILING`, and every task before it is written with the bits
/// of `expected` (a whole run's output).
fn check_stopped_at_the_failure(
    name: &str,
    error: &Error,
    sink: &Recorder,
    expected: &ndarray::ArrayD<f64>,
) {
    {
        assert!(
            error.to_string().contains("trial 1717 is unreadable"),
            "{name}: {error}"
        );
        // The closing checkpoint, which a resume continues from, covers every task before
        // the failed trial and nothing after it.
        assert_eq!(
            sink.checkpoints.last(),
            Some(&(FAILING, true)),
            "{name}: {:?}",
            &sink.checkpoints[sink.checkpoints.len().saturating_sub(3)..]
        );
        // And those tasks' blocks are written, with the bits of a whole run.
        let written = sink.inner.objects[0].data.as_ref().unwrap();
        let rows = FAILING * 4;
        for (got, want) in written
            .iter()
            .take(rows * 2)
            .zip(expected.iter().take(rows * 2))
        {
            assert_eq!(got.to_bits(), want.to_bits(), "{name}");
        }
        let order = &sink.inner.write_order;
        assert!(
            order
                .values()
                .all(|tasks| tasks.iter().all(|&t| t < FAILING)),
            "{name}: a task after the failed trial was written"
        );
    }
}
