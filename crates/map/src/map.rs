//! The builder: what to map, over which arguments, on which executor, and where results go.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ndarray::{Array, ArrayView, Axis, Dimension, RemoveAxis};

use crate::context::TaskContext;
use trialflow_core::engine::contained;

use crate::error::{
    summarize, FailureReport, MapError, MapParamError, TaskFailure, TaskPanic, TextError,
};
use crate::executor::{agree, merge, Executor};
use crate::memory;
use crate::report::{Progress, RunLog};
use crate::storage::{self, Storable, Storage, StoreRun, StoredResults};
use crate::wire::Wire;

type BoxedError = Box<dyn std::error::Error + Send + Sync>;
type TaskFn<'f, A, B, O, E> = dyn Fn(&TaskContext, &A, &B) -> Result<O, E> + Send + Sync + 'f;

/// A map of one function over explicit per-task arguments.
///
/// Arguments are never guessed from lengths: each element of [`per_task`](Self::per_task)
/// is one task, and a value given to [`with_broadcast`](Self::with_broadcast) is shared by
/// all of them. Under MPI every rank builds the same map (same arguments) and runs its share.
pub struct ParallelMap<'f, A, B, O, E> {
    function: Box<TaskFn<'f, A, B, O, E>>,
    per_task: Vec<A>,
    broadcast: B,
    executor: Executor,
    progress: bool,
    log_file: Option<PathBuf>,
    log_next_to_results: bool,
    resume: bool,
    overwrite: bool,
    key: Option<String>,
}

impl<'f, A, O, E> ParallelMap<'f, A, (), O, E> {
    /// A map of `f(context, argument)`; add the arguments with [`per_task`](Self::per_task).
    pub fn new(f: impl Fn(&TaskContext, &A) -> Result<O, E> + Send + Sync + 'f) -> Self {
        Self::with_broadcast((), move |ctx: &TaskContext, arg: &A, _: &()| f(ctx, arg))
    }
}

impl<'f, A, B, O, E> ParallelMap<'f, A, B, O, E> {
    /// A map of `f(context, argument, shared)`, where `shared` is the same value for every
    /// task (on threads it is shared by reference, not copied per task).
    pub fn with_broadcast(
        shared: B,
        f: impl Fn(&TaskContext, &A, &B) -> Result<O, E> + Send + Sync + 'f,
    ) -> Self {
        ParallelMap {
            function: Box::new(f),
            per_task: Vec::new(),
            broadcast: shared,
            executor: Executor::Serial,
            progress: false,
            log_file: None,
            log_next_to_results: false,
            resume: false,
            overwrite: false,
            key: None,
        }
    }

    /// One task per argument, in this order (the order of the results).
    pub fn per_task(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.per_task = args.into_iter().collect();
        self
    }

    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// Shows a progress bar on stderr (on a terminal, on the root process only).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Appends a log of the run (start, failures with their causes, end) to this file.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// For on-disk results: log to `<dir>/<name>.log`, next to the container.
    pub fn log_next_to_results(mut self) -> Self {
        self.log_next_to_results = true;
        self
    }

    /// For on-disk results: keep the results of an earlier run of this same map and run only
    /// the tasks it did not finish. Refuses results written by a different map.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// For on-disk results: delete earlier results under the same name first.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// What identifies this map for resume, besides the number of tasks and the storage
    /// layout. By default a hash of every argument's `{:?}` and of the broadcast value's.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn n_tasks(&self) -> usize {
        self.per_task.len()
    }
}

impl<'f, A, B, O, E> ParallelMap<'f, A, B, O, E>
where
    A: fmt::Debug + Sync,
    B: fmt::Debug + Sync,
    O: Send,
    E: Into<BoxedError>,
{
    fn check(&self) -> Result<(), MapParamError> {
        if self.per_task.is_empty() {
            return Err(MapParamError::NoTasks);
        }
        if self.resume && self.overwrite {
            return Err(MapParamError::ResumeAndOverwrite);
        }
        self.executor.check()
    }

    /// Runs task `index`; a panic becomes the task's failure unless the executor is `Debug`.
    fn call(&self, index: usize) -> Result<O, TaskFailure> {
        let ctx = TaskContext {
            index,
            n_tasks: self.per_task.len(),
        };
        let arg = &self.per_task[index];
        let run = || (self.function)(&ctx, arg, &self.broadcast);
        // The engine's panic containment, unless the executor is `Debug`.
        let outcome = if self.executor.catches_panics() {
            contained(run)
        } else {
            Ok(run())
        };
        let error: BoxedError = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.into(),
            Err(message) => Box::new(TaskPanic { message }),
        };
        Err(TaskFailure {
            index,
            error,
            args: summarize(arg),
        })
    }

    /// Task `index` failed outside the mapped function (on a worker thread of the pool).
    fn failed_outside(&self, index: usize, reason: String) -> TaskFailure {
        TaskFailure {
            index,
            error: Box::new(TextError(reason)),
            args: summarize(&self.per_task[index]),
        }
    }

    /// A hash of every argument, identifying the map when no [`key`](Self::key) is given.
    fn derived_key(&self) -> String {
        let mut hash = Fnv1a::default();
        for arg in &self.per_task {
            hash.write(format!("{arg:?}").as_bytes());
            hash.write(&[0]);
        }
        hash.write(format!("{:?}", self.broadcast).as_bytes());
        format!("arguments {:016x}", hash.0)
    }

    /// Under MPI, refuses ranks that were given different arguments (each rank would run
    /// its share of a different map).
    fn check_same_map_on_all_ranks(&self, key: &str) -> Result<(), MapError> {
        if self.executor.n_processes() == 1 {
            return Ok(());
        }
        let keys = self.executor.gather(vec![key.to_string()]);
        match keys.iter().position(|k| k != &keys[0]) {
            Some(rank) => Err(MapError::Mpi(format!(
                "rank {rank} was given different per-task or broadcast arguments than rank 0 (every rank must build the same map)"
            ))),
            None => Ok(()),
        }
    }

    /// Runs task `index` alone, in the calling thread, and reports its wall time and the
    /// peak memory it added; nothing is written. Run it before a long map to size it.
    pub fn dry_run(&self, index: usize) -> Result<DryRunReport, MapError> {
        self.check()?;
        let n_tasks = self.per_task.len();
        if index >= n_tasks {
            return Err(MapParamError::DryRunTask { index, n_tasks }.into());
        }
        let (outcome, wall_time, peak) = memory::measure(|| self.call(index));
        outcome.map_err(|failure| {
            MapError::TasksFailed(FailureReport {
                n_tasks: 1,
                failures: vec![failure],
                kept_in: None,
            })
        })?;
        Ok(DryRunReport {
            task: index,
            n_tasks,
            wall_time,
            peak_memory_bytes: peak,
            stored: None,
        })
    }

    /// Every task's result or failure, in task order (successful results are kept even
    /// when other tasks fail). Under MPI every rank gets all of them.
    pub fn collect_outcomes(&self) -> Result<Outcomes<O>, MapError>
    where
        O: Wire,
    {
        self.check()?;
        let exec = &self.executor;
        if exec.n_processes() > 1 {
            self.check_same_map_on_all_ranks(&self.derived_key())?;
        }
        let mut log = RunLog::open(self.log_file.as_deref(), exec.is_root())?;
        let n_tasks = self.per_task.len();
        log.line(&format!("map of {n_tasks} tasks in memory on {exec:?}"));
        let local = exec.local_tasks(n_tasks);
        let progress = Progress::new(self.progress, exec.is_root(), local.len(), 0);
        let outcomes = exec.run_local_ordered(
            &local,
            &|i| self.call(i),
            &|i, reason| Err(self.failed_outside(i, reason)),
            &|outcome| progress.task_done(outcome.is_err()),
        );
        progress.finish();
        let mut values = Vec::with_capacity(local.len());
        let mut failures = Vec::new();
        for (&i, outcome) in local.iter().zip(outcomes) {
            match outcome {
                Ok(value) => values.push((i, value)),
                Err(failure) => failures.push(failure),
            }
        }
        let (values, failures) = merge(exec, values, failures);
        for failure in &failures {
            log.line(&format!("failed: {failure}"));
        }
        log.line(&format!(
            "done: {} of {n_tasks} tasks failed",
            failures.len()
        ));
        let mut slots: Vec<Option<Result<O, TaskFailure>>> = (0..n_tasks).map(|_| None).collect();
        for (i, value) in values {
            slots[i] = Some(Ok(value));
        }
        for failure in failures {
            let i = failure.index;
            slots[i] = Some(Err(failure));
        }
        Ok(Outcomes {
            results: slots
                .into_iter()
                .map(|s| s.expect("every task either succeeded or failed"))
                .collect(),
        })
    }

    /// Every task's result, in task order, or one error listing every failed task.
    pub fn collect(&self) -> Result<Vec<O>, MapError>
    where
        O: Wire,
    {
        self.collect_outcomes()?.into_vec()
    }

    /// Runs the map and writes every result to disk (see [`Storage`]).
    pub fn store(&self, storage: &Storage) -> Result<StoredResults, MapError>
    where
        O: Storable,
    {
        self.check()?;
        storage.check()?;
        let exec = &self.executor;
        let key = self.key.clone().unwrap_or_else(|| self.derived_key());
        self.check_same_map_on_all_ranks(&key)?;
        let n_tasks = self.per_task.len();
        let fingerprint = format!(
            "trialflow-map 1; {n_tasks} tasks; {}; {key}",
            storage.describe()
        );
        let log_path = match (&self.log_file, self.log_next_to_results) {
            (Some(path), _) => Some(path.clone()),
            (None, true) => Some(storage.log_path()),
            (None, false) => None,
        };
        if let Some(path) = &log_path {
            if exec.is_root() {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| MapError::storage(parent, e))?;
                }
            }
        }
        let opened = RunLog::open(log_path.as_deref(), exec.is_root());
        let mut log = agree(exec, opened)?;
        log.line(&format!(
            "map of {n_tasks} tasks on {exec:?} to {} ({})",
            storage.container_path().display(),
            storage.describe()
        ));
        let job = |i: usize| self.call(i).map(Storable::into_stored);
        let summary = |i: usize| summarize(&self.per_task[i]);
        let run = StoreRun {
            storage,
            executor: exec,
            n_tasks,
            fingerprint,
            resume: self.resume,
            overwrite: self.overwrite,
            progress: self.progress,
            log: &mut log,
        };
        storage::store(run, &job, &summary)
    }

    /// Like [`dry_run`](Self::dry_run), and also checks that the result can be stored as
    /// `storage` declares (storable type, stacked shape), so a mismatch shows up before the
    /// full run rather than after it.
    pub fn dry_run_stored(&self, index: usize, storage: &Storage) -> Result<DryRunReport, MapError>
    where
        O: Storable,
    {
        self.check()?;
        storage.check()?;
        let n_tasks = self.per_task.len();
        if index >= n_tasks {
            return Err(MapParamError::DryRunTask { index, n_tasks }.into());
        }
        let (outcome, wall_time, peak) = memory::measure(|| self.call(index));
        let one_failure = |failure: TaskFailure| {
            MapError::TasksFailed(FailureReport {
                n_tasks: 1,
                failures: vec![failure],
                kept_in: None,
            })
        };
        let values = outcome.map_err(one_failure)?.into_stored();
        if let Some(stacking) = storage.stacking() {
            stacking
                .check_result(values[0].shape())
                .map_err(|message| {
                    one_failure(TaskFailure {
                        index,
                        error: Box::new(TextError(message)),
                        args: summarize(&self.per_task[index]),
                    })
                })?;
        }
        let described: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| format!("result_{k}: {:?} {:?}", v.element_type(), v.shape()))
            .collect();
        Ok(DryRunReport {
            task: index,
            n_tasks,
            wall_time,
            peak_memory_bytes: peak,
            stored: Some(described.join(", ")),
        })
    }
}

impl<'f, A, B, T, D, E> ParallelMap<'f, A, B, Array<T, D>, E>
where
    A: fmt::Debug + Sync,
    B: fmt::Debug + Sync,
    T: Clone + Send + Wire,
    D: Dimension + Wire,
    D::Larger: RemoveAxis,
    E: Into<BoxedError>,
    Array<T, D>: Wire,
{
    /// Every task's array stacked along a new `axis` (task `i` becomes index `i` there).
    pub fn collect_stacked(&self, axis: usize) -> Result<Array<T, D::Larger>, MapError> {
        let results = self.collect()?;
        let ndim = results[0].ndim();
        if axis > ndim {
            return Err(MapParamError::CollectAxis { axis, ndim }.into());
        }
        if let Some(i) = results.iter().position(|r| r.shape() != results[0].shape()) {
            return Err(MapError::Stack(format!(
                "task {i}'s result has shape {:?}, task 0's {:?}",
                results[i].shape(),
                results[0].shape()
            )));
        }
        let views: Vec<ArrayView<'_, T, D>> = results.iter().map(|r| r.view()).collect();
        ndarray::stack(Axis(axis), &views).map_err(|e| MapError::Stack(e.to_string()))
    }
}

/// Every task's result or failure, in task order.
#[derive(Debug)]
pub struct Outcomes<O> {
    pub results: Vec<Result<O, TaskFailure>>,
}

impl<O> Outcomes<O> {
    pub fn failures(&self) -> impl Iterator<Item = &TaskFailure> {
        self.results.iter().filter_map(|r| r.as_ref().err())
    }

    pub fn n_failed(&self) -> usize {
        self.failures().count()
    }

    /// All results, or one error listing every failure (the results are dropped then: keep
    /// the `Outcomes` to use the successful ones).
    pub fn into_vec(self) -> Result<Vec<O>, MapError> {
        let n_tasks = self.results.len();
        let mut values = Vec::with_capacity(n_tasks);
        let mut failures = Vec::new();
        for result in self.results {
            match result {
                Ok(v) => values.push(v),
                Err(f) => failures.push(f),
            }
        }
        if failures.is_empty() {
            Ok(values)
        } else {
            Err(MapError::TasksFailed(FailureReport {
                n_tasks,
                failures,
                kept_in: None,
            }))
        }
    }
}

/// What one task costs, measured before the full run.
#[derive(Clone, Debug, PartialEq)]
pub struct DryRunReport {
    pub task: usize,
    pub n_tasks: usize,
    pub wall_time: Duration,
    /// Peak resident memory added while the task ran (`None` where the OS cannot tell).
    /// It is measured for the whole process: run the dry run while nothing else runs.
    pub peak_memory_bytes: Option<u64>,
    /// The datasets the result would become (from [`ParallelMap::dry_run_stored`]).
    pub stored: Option<String>,
}

impl fmt::Display for DryRunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} of {}: {:.3} s",
            self.task,
            self.n_tasks,
            self.wall_time.as_secs_f64()
        )?;
        match self.peak_memory_bytes {
            Some(bytes) => write!(
                f,
                ", peak memory +{:.1} MiB",
                bytes as f64 / (1 << 20) as f64
            )?,
            None => write!(f, ", peak memory unknown")?,
        }
        if let Some(stored) = &self.stored {
            write!(f, "; stores {stored}")?;
        }
        Ok(())
    }
}

/// FNV-1a (64 bit): stable across Rust versions and platforms, unlike `DefaultHasher`,
/// because fingerprints are compared across runs.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
