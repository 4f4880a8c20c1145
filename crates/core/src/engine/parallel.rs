use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{Dimension, IxDyn};

use crate::error::{Error, ErrorClass, Result, TaskContext};
use crate::model::{DType, DataKind, EventBlock};

use super::collector::Collector;
use super::contain::{contained, crashed};
use super::options::ExecutionOptions;
use super::options::{OnError, Pipeline};
use super::prepare::PreparedPipeline;
use super::sequential::check_cancelled;
use super::sink::{DirectBlockWriter, TrialDecoder, TrialSource};
use super::task_input::{dense_task_view, f32_task_view, task_events, TaskData};
use super::tasks::Task;
use super::thread_pool::worker_pool;
use super::trial_group::{GroupReader, TrialGroup};
use super::window::{Failure, Window};
use super::worker::{Pools, TaskResult, WorkerState};

/// A trial as read, shared by the tasks of its channel groups. Its buffer returns to the pool
/// when the last task is done with it.
struct SharedTrial<'p> {
    values: TrialValues<'p>,
    /// The trial's values shape (`DataSchema::trial_values_dim`; empty for events), inline
    /// rather than a vector per trial.
    shape: IxDyn,
    complex: bool,
    pools: &'p Pools,
}

/// A trial's values as the reader got them: f64, float32 as stored, which each task's
/// worker widens (only the task's channels), or the stored bytes, which the first of its
/// tasks to run decodes for all of them.
enum TrialValues<'p> {
    F64(Vec<f64>),
    F32(Vec<f32>),
    /// Float32 as stored, read with the trials around it: from value `start` of the group.
    F32Group {
        group: Arc<TrialGroup<'p>>,
        start: usize,
    },
    Encoded(EncodedTrial),
    /// A SpikeData input's events of the trial.
    Events(EventBlock),
}

/// Stored bytes and, once a worker has decoded them, the values (or why they could not be
/// decoded: every task of the trial then fails with that message).
struct EncodedTrial {
    bytes: Vec<u8>,
    decoder: Arc<dyn TrialDecoder>,
    decoded: OnceLock<std::result::Result<Vec<f64>, (String, ErrorClass)>>,
    /// A buffer from the pool for the decoded values.
    buffer: Mutex<Option<Vec<f64>>>,
}

impl EncodedTrial {
    fn values(&self) -> std::result::Result<&[f64], &(String, ErrorClass)> {
        self.decoded
            .get_or_init(|| {
                let mut out = self
                    .buffer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_default();
                match self.decoder.decode(&self.bytes, &mut out) {
                    Ok(()) => Ok(out),
                    Err(e) => Err((e.to_string(), e.class())),
                }
            })
            .as_ref()
            .map(|v| &v[..])
    }
}

/// A worker's buffers for its task's share of a trial (see `task_input`).
#[derive(Default)]
struct TaskBuffers {
    values: Vec<f64>,
    events: EventBlock,
}

impl SharedTrial<'_> {
    /// The task's share of the trial: its channels as f64, float32 as stored (see
    /// `TaskData::F32`), or its channels' events.
    fn task_input<'b>(
        &'b self,
        task: &Task,
        buffers: &'b mut TaskBuffers,
        source: &str,
    ) -> Result<TaskData<'b>> {
        let values = match &self.values {
            TrialValues::F64(data) => &data[..],
            TrialValues::F32(data) => {
                // Only AnalogData is read as float32: samples x channels. The worker widens
                // it unless the kernel reads it as stored.
                let (len, channels) = (self.shape[0], self.shape[1]);
                return Ok(TaskData::F32(f32_task_view(
                    &data[..len * channels],
                    channels,
                    task,
                )));
            }
            TrialValues::F32Group { group, start } => {
                let (len, channels) = (self.shape[0], self.shape[1]);
                return Ok(TaskData::F32(f32_task_view(
                    &group.values[*start..start + len * channels],
                    channels,
                    task,
                )));
            }
            TrialValues::Encoded(encoded) => encoded
                .values()
                .map_err(|(message, class)| Error::input(source, message, *class))?,
            TrialValues::Events(events) => {
                return Ok(TaskData::Events(task_events(
                    events,
                    task,
                    &mut buffers.events,
                )))
            }
        };
        dense_task_view(
            values,
            self.shape.slice(),
            self.complex,
            task,
            &mut buffers.values,
            source,
        )
        .map(TaskData::Dense)
    }
}

impl Drop for SharedTrial<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.values, TrialValues::F64(Vec::new())) {
            TrialValues::F64(v) => self.pools.trials.give(v),
            TrialValues::F32(v) => self.pools.trials_f32.give(v),
            // The group's buffer goes back when its last trial is done.
            TrialValues::F32Group { .. } => {}
            TrialValues::Events(e) => self.pools.trial_events.give(e),
            TrialValues::Encoded(e) => {
                self.pools.encoded.give(e.bytes);
                let decoded = e.decoded.into_inner().and_then(|r| r.ok());
                let spare = e.buffer.into_inner().unwrap_or_else(|p| p.into_inner());
                if let Some(v) = decoded.or(spare) {
                    self.pools.trials.give(v);
                }
            }
        }
    }
}

/// Consecutive tasks handed to one worker at once (`PreparedPipeline::batch` of them, or
/// fewer): with tiny tasks, one handover per task would cost more than the task.
type WorkItem<'p> = Vec<(usize, Arc<SharedTrial<'p>>)>;

/// Reads a trial: the events of an event input; as stored bytes when the source has a
/// decoder, else as stored float32 when `f32` and the source can, else as f64.
fn read_trial<'p>(
    source: &mut dyn TrialSource,
    trial: usize,
    f32: bool,
    decoder: Option<&Arc<dyn TrialDecoder>>,
    pools: &'p Pools,
) -> Result<TrialValues<'p>> {
    if !source.schema().kind.is_dense() {
        let mut events = pools.trial_events.take();
        source.read_trial_events(trial, &mut events)?;
        return Ok(TrialValues::Events(events));
    }
    if let Some(decoder) = decoder {
        let mut bytes = pools.encoded.take();
        if source.read_trial_encoded(trial, &mut bytes)? {
            return Ok(TrialValues::Encoded(EncodedTrial {
                bytes,
                decoder: Arc::clone(decoder),
                decoded: OnceLock::new(),
                buffer: Mutex::new(Some(pools.trials.take())),
            }));
        }
        pools.encoded.give(bytes);
    }
    if f32 {
        let mut values = pools.trials_f32.take();
        if source.read_trial_f32(trial, &mut values)? {
            return Ok(TrialValues::F32(values));
        }
        pools.trials_f32.give(values);
    }
    let mut values = pools.trials.take();
    source.read_trial(trial, &mut values)?;
    Ok(TrialValues::F64(values))
}

/// The reader thread's loop: reads each trial once, in task order, and hands its tasks to
/// the workers as the window allows. `reading` tells a panic's handler where it was.
#[allow(clippy::too_many_arguments)]
fn read_trials<'p>(
    source: &mut dyn TrialSource,
    prepared: &PreparedPipeline,
    start: usize,
    end: usize,
    reading: &AtomicUsize,
    failure: &Failure,
    window: &Window,
    work_tx: &std::sync::mpsc::SyncSender<WorkItem<'p>>,
    pools: &'p Pools,
    execution: &ExecutionOptions,
    direct: &[Option<Arc<dyn DirectBlockWriter>>],
) {
    // Float32 is handed over as stored only for AnalogData (samples x channels).
    let read_f32 =
        source.schema().dtype == DType::Float32 && source.schema().kind == DataKind::Analog;
    let complex = source.schema().kind.is_dense() && source.schema().dtype.is_complex();
    let decoder = source.decoder();
    let mut tasks = prepared.tasks[start..end].iter().peekable();
    // A batch never needs more slots than the window has.
    let batch_size = prepared.batch.clamp(1, prepared.window.max(1));
    // Batches of tiny float32 trials are read a batch at a time.
    let mut groups = (read_f32 && decoder.is_none() && batch_size > 1).then(GroupReader::default);
    let mut batch: WorkItem<'p> = Vec::new();
    // Slots held for the batch being filled; the batch goes out when they are used up, so
    // the reader takes and the writer gives back slots a whole batch at a time.
    let mut held = 0;
    // Hands the batch to the workers; false if they are gone.
    let send =
        |batch: &mut WorkItem<'p>| batch.is_empty() || work_tx.send(std::mem::take(batch)).is_ok();
    // Slots for the batch that starts at `task` (the batch is empty then).
    let acquire = |task: usize, held: &mut usize| {
        if *held == 0 {
            // Batches start at multiples of the batch size (see `ObjectSpec::handover`).
            let n = (batch_size - task % batch_size).min(end - task);
            if !window.acquire(n, task, failure) {
                return false;
            }
            *held = n;
        }
        true
    };
    // Whether the workers can write every block of a task straight into storage. A sink
    // that writes part files publishes where a part's blocks go when it opens the part,
    // which is once the tasks before it are applied; the blocks of tasks computed before
    // then go to the writer thread one by one, the window's worth at every part boundary
    // (about 5% of a run of tiny trials). So when the tasks stop being placeable the
    // reader hands over what it has and waits for the sink (or for the tasks in flight to
    // drain, whichever comes first) before it goes on.
    let placeable = |task: usize| {
        direct.iter().enumerate().all(|(obj, d)| {
            d.as_ref().is_none_or(|d| {
                prepared.objects[obj]
                    .placements
                    .get(task)
                    .is_none_or(|p| d.locate(p).is_some())
            })
        })
    };
    let watch = direct.iter().any(Option::is_some);
    let mut placed = false;
    // Before task `task` is batched: false if the run stops.
    let mut follow_storage = |task: usize, batch: &mut WorkItem<'p>, held: &mut usize| {
        if !watch {
            return true;
        }
        let now = placeable(task);
        if placed && !now {
            // The unused slots go back, so that the window can drain.
            if !send(batch) {
                return false;
            }
            window.release(std::mem::take(held));
            if !window.wait_until(|| placeable(task), task, failure) {
                return false;
            }
        }
        placed = now || placeable(task);
        true
    };
    while let Some(first) = tasks.peek() {
        let trial = first.trial;
        let first_index = first.index;
        reading.store(first_index, Ordering::SeqCst);
        if let Err(e) = check_cancelled(execution) {
            send(&mut batch);
            failure.record(first_index, e, window);
            return;
        }
        if !follow_storage(first_index, &mut batch, &mut held) {
            return;
        }
        if !acquire(first_index, &mut held) {
            return;
        }
        // The trials of the batch's remaining tasks, read at once when the source can.
        let grouped = groups.as_mut().and_then(|groups| {
            let last = prepared.tasks[(first_index + held).min(end) - 1].trial;
            groups.values(source, trial, last, pools)
        });
        let read = match grouped {
            Some((group, start)) => Ok(TrialValues::F32Group { group, start }),
            None => read_trial(source, trial, read_f32, decoder.as_ref(), pools),
        };
        let values = match read {
            Ok(values) => values,
            Err(e) => {
                // The tasks before this trial still run, as they would sequentially.
                send(&mut batch);
                failure.record(first_index, e, window);
                return;
            }
        };
        let shared = Arc::new(SharedTrial {
            values,
            shape: source.schema().trial_values_dim(trial),
            complex,
            pools,
        });
        let mut first_task = true;
        while let Some(task) = tasks.next_if(|t| t.trial == trial) {
            if !first_task && !follow_storage(task.index, &mut batch, &mut held) {
                return;
            }
            first_task = false;
            if !acquire(task.index, &mut held) {
                return;
            }
            if batch.capacity() == 0 {
                batch.reserve(held);
            }
            batch.push((task.index, Arc::clone(&shared)));
            held -= 1;
            if held == 0 && !send(&mut batch) {
                return;
            }
        }
    }
    send(&mut batch);
}

/// One reader thread, `workers` compute workers on a rayon pool, and the writer on its own
/// thread. Only the reader touches the source and only the writer touches the sink, because
/// the hdf5 crate serialises every HDF5 call process-wide anyway.
pub(crate) fn run_parallel(
    pipeline: &Pipeline,
    prepared: &PreparedPipeline,
    source: &mut dyn TrialSource,
    collector: &mut Collector<'_>,
    direct: &[Option<Arc<dyn DirectBlockWriter>>],
) -> Result<()> {
    let workers = prepared.workers.max(1);
    let pool =
        worker_pool(workers).map_err(|e| Error::input("thread pool", e, ErrorClass::Runtime))?;
    let pools = Pools::default();
    let window = Window::new(prepared.window);
    let failure = Failure::new();
    let (work_tx, work_rx) = sync_channel::<WorkItem<'_>>(prepared.window);
    let (result_tx, result_rx) = sync_channel::<Vec<TaskResult>>(prepared.window);
    let work_rx = Mutex::new(work_rx);
    let end = prepared.range.end;
    let start = collector.next_task();
    let on_error = pipeline.execution.on_error;
    // The task whose trial the reader is on, for a panic's message.
    let reading = AtomicUsize::new(start);
    let source_name = &source.describe();

    std::thread::scope(|scope| {
        // Reader.
        let reader = scope.spawn(|| {
            let read = contained(|| {
                read_trials(
                    source,
                    prepared,
                    start,
                    end,
                    &reading,
                    &failure,
                    &window,
                    &work_tx,
                    &pools,
                    &pipeline.execution,
                    direct,
                )
            });
            drop(work_tx);
            if let Err(message) = read {
                let task = reading.load(Ordering::SeqCst);
                let context = TaskContext {
                    trial: prepared.tasks.get(task).map(|t| t.trial),
                    ..Default::default()
                };
                failure.halt(
                    task,
                    crashed(context, format!("the input reader (task {task})"), message),
                    &window,
                );
            }
        });

        // Writer. It drains every result even after a failure, so no worker blocks on it.
        let writer = scope.spawn(|| {
            let result_rx = result_rx;
            let applying = AtomicUsize::new(start);
            let drained = contained(|| {
                // A worker's batch at a time: its slots go back to the window at once.
                for results in result_rx.iter() {
                    let mut applied = 0;
                    for result in results {
                        let task = result.task;
                        if failure.skips(task) {
                            continue;
                        }
                        applying.store(collector.completed(), Ordering::SeqCst);
                        match collector.accept_contained(result, &pools) {
                            Ok(n) => applied += n,
                            Err(e @ Error::Crashed { .. }) => {
                                failure.halt(collector.completed(), e, &window)
                            }
                            Err(e) => failure.record(task, e, &window),
                        }
                    }
                    window.release(applied);
                }
            });
            if let Err(message) = drained {
                collector.poison();
                let task = applying.load(Ordering::SeqCst);
                let error = crashed(
                    collector.task_context(task),
                    format!("the result writer (task {task})"),
                    message,
                );
                failure.halt(task, error, &window);
                // Keep draining, so no worker blocks on a full queue.
                for _ in result_rx.iter() {}
            }
        });

        // Compute workers.
        pool.scope(|s| {
            for _ in 0..workers {
                let result_tx = result_tx.clone();
                let (work_rx, failure, window, pools) = (&work_rx, &failure, &window, &pools);
                s.spawn(move |_| {
                    let mut state = WorkerState::new(prepared, direct, true);
                    state.combine_small_blocks();
                    let mut buffers = TaskBuffers::default();
                    let mut results = Vec::new();
                    loop {
                        let item = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(batch) = item else { break };
                        for (index, trial) in batch {
                            if failure.skips(index) {
                                continue;
                            }
                            let task = &prepared.tasks[index];
                            // Kernels' panics are caught inside `run_task`; this catches the
                            // rest (writing a block into storage, the engine's own code).
                            let outcome = contained(|| {
                                let input = trial.task_input(task, &mut buffers, source_name)?;
                                state.run_task(pipeline, prepared, task, input, pools)
                            });
                            drop(trial);
                            let result = match outcome {
                                Ok(Ok(result)) => result,
                                Ok(Err(e)) if on_error == OnError::Continue => {
                                    TaskResult::failed(index, e)
                                }
                                Ok(Err(e)) => {
                                    failure.record(index, e, window);
                                    continue;
                                }
                                Err(message) => {
                                    let context = TaskContext {
                                        trial: Some(task.trial),
                                        channels: Some(task.channels.clone()),
                                        ..Default::default()
                                    };
                                    let what = format!("a compute worker (task {index})");
                                    failure.halt(index, crashed(context, what, message), window);
                                    continue;
                                }
                            };
                            results.push(result);
                        }
                        // The batch's small blocks go to storage before their results say
                        // they are written.
                        if let Err((first, e)) = state.flush_staged() {
                            results.retain(|r| r.task < first);
                            failure.record(first, e, window);
                        }
                        if !results.is_empty()
                            && result_tx.send(std::mem::take(&mut results)).is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        drop(result_tx);
        let _ = reader.join();
        let _ = writer.join();
    });

    if let Some((_, error)) = failure
        .first
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        return Err(error);
    }
    if collector.completed() != end {
        return Err(Error::output(
            "results",
            format!(
                "only {} of the tasks up to {end} completed (an internal error)",
                collector.completed()
            ),
        ));
    }
    Ok(())
}
