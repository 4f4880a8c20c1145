//! Running a map whose results go to disk: preparing the output, skipping tasks a previous
//! run finished (resume), running the rest, and publishing the container only when every
//! task succeeded. Under MPI every rank runs this; the root alone creates, cleans and
//! publishes shared files, and every decision is agreed on by all ranks.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Once;

use trialflow_hdf5::{sync_dir, sync_file};

use super::files::{read_payload, write_container, write_payload, TaskMeta, Unusable};
use super::journal::{read_recorded, remove_journals, Journal};
use super::single_file::SingleFileWriter;
use super::value::StoredArray;
use super::{Layout, Stacking, Storage, StoredResults};
use crate::error::{FailureReport, MapError, MapParamError, TaskFailure, TextError};
use crate::executor::{agree, merge, Executor};
use crate::report::{Progress, RunLog};

/// Everything about an on-disk run except the function.
pub(crate) struct StoreRun<'a> {
    pub storage: &'a Storage,
    pub executor: &'a Executor,
    pub n_tasks: usize,
    pub fingerprint: String,
    pub resume: bool,
    pub overwrite: bool,
    pub progress: bool,
    pub log: &'a mut RunLog,
}

/// Runs the user's function for one task: its results, or its failure.
pub(crate) type Job<'a> = dyn Fn(usize) -> Result<Vec<StoredArray>, TaskFailure> + Sync + 'a;
/// A task's argument summary, for failures that happen while storing its results.
pub(crate) type Summary<'a> = dyn Fn(usize) -> String + Sync + 'a;

pub(crate) fn store(
    run: StoreRun<'_>,
    job: &Job<'_>,
    summary: &Summary<'_>,
) -> Result<StoredResults, MapError> {
    static INIT: Once = Once::new();
    INIT.call_once(trialflow_hdf5::init_hdf5);
    let exec = run.executor;
    // Every rank reads the journals before any rank writes (the barrier below).
    let Some(recorded) = agree(exec, prepare(&run))? else {
        run.log
            .line("resume: the container is complete; nothing to run");
        return Ok(results(&run, run.n_tasks));
    };
    exec.barrier();
    let cleaned = if exec.is_root() {
        clean_and_create(&run)
    } else {
        Ok(())
    };
    agree(exec, cleaned)?;
    match run.storage.layout().clone() {
        Layout::PerTaskFiles => per_task(run, None, &recorded, job, summary),
        Layout::Virtual(stacking) => per_task(run, Some(&stacking), &recorded, job, summary),
        Layout::SingleFile(stacking) => single_file(run, &stacking, &recorded, job, summary),
    }
}

/// The tasks the journals record as finished (empty unless resuming), or `None` when the
/// finished container is already there (resume). Refuses to touch existing output unless
/// asked to resume or overwrite, and refuses to resume another map's results.
fn prepare(run: &StoreRun<'_>) -> Result<Option<BTreeSet<usize>>, MapError> {
    let storage = run.storage;
    let container = storage.container_path();
    if run.resume {
        let recorded = read_recorded(storage, &run.fingerprint)?;
        if !container.exists() {
            return Ok(Some(recorded.tasks));
        }
        if !recorded.found {
            return Err(MapParamError::ResumeMismatch {
                path: container,
                detail: format!(
                    "no journal {} records which map wrote it",
                    storage.journal_path(None).display()
                ),
            }
            .into());
        }
        return Ok(None);
    }
    if !run.overwrite {
        let candidates = [
            Some(container),
            Some(storage.partial_container_path()),
            storage.payload_dir(),
        ];
        let journals = storage.journal_paths()?;
        if let Some(existing) = candidates
            .into_iter()
            .flatten()
            .chain(journals)
            .find(|p| p.exists())
        {
            return Err(MapParamError::OutputExists(existing).into());
        }
    }
    Ok(Some(BTreeSet::new()))
}

fn clean_and_create(run: &StoreRun<'_>) -> Result<(), MapError> {
    let storage = run.storage;
    if run.overwrite {
        for file in [storage.container_path(), storage.partial_container_path()] {
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| MapError::storage(&file, e))?;
            }
        }
        if let Some(dir) = storage.payload_dir().filter(|d| d.exists()) {
            std::fs::remove_dir_all(&dir).map_err(|e| MapError::storage(&dir, e))?;
        }
        remove_journals(storage)?;
    }
    let dir = storage
        .payload_dir()
        .unwrap_or_else(|| storage.dir().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| MapError::storage(&dir, e))
}

/// Syncs the payload files of `tasks` and their folder, so the journal may name them.
fn sync_payloads(storage: &Storage, tasks: &[usize]) -> Result<(), String> {
    for &task in tasks {
        sync_file(&storage.payload_path(task)).map_err(|e| e.to_string())?;
    }
    let dir = storage
        .payload_dir()
        .expect("per-task layouts have a payload folder");
    sync_dir(&dir).map_err(|e| e.to_string())
}

fn per_task(
    mut run: StoreRun<'_>,
    stacking: Option<&Stacking>,
    recorded: &BTreeSet<usize>,
    job: &Job<'_>,
    summary: &Summary<'_>,
) -> Result<StoredResults, MapError> {
    let (storage, exec) = (run.storage, run.executor);
    let payload_dir = storage
        .payload_dir()
        .expect("per-task layouts have a payload folder");
    let local = exec.local_tasks(run.n_tasks);
    let mut metas: Vec<(usize, TaskMeta)> = Vec::new();
    let mut todo = Vec::new();
    let mut foreign = None;
    for &i in &local {
        if !recorded.contains(&i) {
            todo.push(i);
            continue;
        }
        match read_payload(storage, i) {
            Ok(meta) => metas.push((i, meta)),
            Err(Unusable::Missing) => todo.push(i),
            Err(Unusable::Foreign(detail)) => {
                foreign = Some(MapParamError::ResumeMismatch {
                    path: payload_dir.clone(),
                    detail,
                });
                break;
            }
        }
    }
    agree(exec, foreign.map_or(Ok(()), |e| Err(e.into())))?;
    let resumed = exec.gather(vec![metas.len()]).iter().sum::<usize>();
    if run.resume {
        run.log.line(&format!(
            "resume: {resumed} of {} tasks already complete",
            run.n_tasks
        ));
    }
    // Each writing process keeps its own journal.
    let writer = (exec.n_processes() > 1).then(|| (exec.rank(), exec.n_processes()));
    let journal_path = storage.journal_path(writer);
    let mut journal = agree(
        exec,
        Journal::open(&journal_path, &run.fingerprint, run.resume),
    )?;

    let storage_failure = |i: usize, message: String| TaskFailure {
        index: i,
        error: Box::new(TextError(message)),
        args: summary(i),
    };
    // Workers compute; the calling thread is the only writer (HDF5 serialises every call
    // anyway), so writing one task overlaps with computing the next ones.
    let worker = |i: usize| -> Result<Vec<StoredArray>, TaskFailure> {
        let values = job(i)?;
        if let Some(stacking) = stacking {
            stacking
                .check_result(values[0].shape())
                .map_err(|m| storage_failure(i, m))?;
        }
        Ok(values)
    };
    let progress = Progress::new(
        run.progress,
        exec.is_root(),
        local.len(),
        local.len() - todo.len(),
    );
    let mut failures = Vec::new();
    let failed = |i: usize, reason: String| Err(storage_failure(i, reason));
    exec.run_local(&todo, &worker, &failed, &mut |i, outcome| {
        let written = outcome.and_then(|values| {
            write_payload(storage, i, &values)
                .and_then(|()| journal.task_written(i, |tasks| sync_payloads(storage, tasks)))
                .map(|()| TaskMeta::of(&values))
                .map_err(|m| storage_failure(i, m))
        });
        progress.task_done(written.is_err());
        match written {
            Ok(meta) => metas.push((i, meta)),
            Err(failure) => failures.push(failure),
        }
    });
    progress.finish();
    let journaled = journal
        .checkpoint(|tasks| sync_payloads(storage, tasks))
        .map_err(|m| MapError::storage(&journal_path, m));
    agree(exec, journaled)?;

    let (all_metas, failures) = merge(exec, metas, failures);
    finish_or_report(&mut run, failures, payload_dir.clone())?;
    let mut ordered: Vec<Option<TaskMeta>> = vec![None; run.n_tasks];
    for (i, meta) in all_metas {
        ordered[i] = Some(meta);
    }
    let ordered: Vec<TaskMeta> = ordered
        .into_iter()
        .map(|m| m.expect("every task either succeeded or failed"))
        .collect();
    let written = if exec.is_root() {
        write_container(storage, &ordered, stacking)
            .map_err(|m| MapError::storage(storage.container_path(), m))
    } else {
        Ok(())
    };
    agree(exec, written)?;
    run.log.line(&format!(
        "done: {} tasks, container {}",
        run.n_tasks,
        storage.container_path().display()
    ));
    Ok(results(&run, resumed))
}

fn single_file(
    mut run: StoreRun<'_>,
    stacking: &Stacking,
    recorded: &BTreeSet<usize>,
    job: &Job<'_>,
    summary: &Summary<'_>,
) -> Result<StoredResults, MapError> {
    let (storage, exec) = (run.storage, run.executor);
    let journal_path = storage.journal_path(None);
    // The root is the only writer, and keeps the only journal.
    let mut writer: Option<(SingleFileWriter, Journal)> = None;
    let mut done = Vec::new();
    let opened = if exec.is_root() {
        // Recorded tasks count only while the file that holds them is there.
        let resumable = run.resume && storage.partial_container_path().exists();
        let container = storage.container_path();
        SingleFileWriter::open(&container, stacking, run.n_tasks, resumable)
            .and_then(|w| {
                Ok((
                    w,
                    Journal::open(&journal_path, &run.fingerprint, resumable)?,
                ))
            })
            .map(|opened| {
                writer = Some(opened);
                done = (0..run.n_tasks)
                    .map(|i| resumable && recorded.contains(&i))
                    .collect();
            })
    } else {
        Ok(())
    };
    agree(exec, opened)?;
    let done: Vec<bool> = exec.broadcast(|| done);
    let resumed = done.iter().filter(|&&d| d).count();
    if run.resume {
        run.log.line(&format!(
            "resume: {resumed} of {} tasks already complete",
            run.n_tasks
        ));
    }
    let local = exec.local_tasks(run.n_tasks);
    let todo: Vec<usize> = local.iter().copied().filter(|&i| !done[i]).collect();
    let storage_failure = |i: usize, message: String| TaskFailure {
        index: i,
        error: Box::new(TextError(message)),
        args: summary(i),
    };
    let worker = |i: usize| -> Result<Vec<StoredArray>, TaskFailure> {
        let values = job(i)?;
        stacking
            .check_result(values[0].shape())
            .map_err(|m| storage_failure(i, m))?;
        Ok(values)
    };
    let write = |(w, journal): &mut (SingleFileWriter, Journal),
                 i: usize,
                 values: &[StoredArray]|
     -> Result<(), String> {
        w.write(i, values)?;
        journal.task_written(i, |_| w.sync())
    };
    let progress = Progress::new(
        run.progress,
        exec.is_root(),
        local.len(),
        local.len() - todo.len(),
    );
    let mut failures = Vec::new();
    let mut for_root: Vec<(usize, Vec<StoredArray>)> = Vec::new();
    let failed = |i: usize, reason: String| Err(storage_failure(i, reason));
    exec.run_local(&todo, &worker, &failed, &mut |i, outcome| {
        let failed_before = failures.len();
        match outcome {
            Ok(values) => match writer.as_mut() {
                Some(w) => {
                    if let Err(m) = write(w, i, &values) {
                        failures.push(storage_failure(i, m));
                    }
                }
                None => for_root.push((i, values)),
            },
            Err(failure) => failures.push(failure),
        }
        progress.task_done(failed_before < failures.len());
    });
    progress.finish();
    if exec.n_processes() > 1 {
        // The other ranks' results, written by the root as the single writer.
        if let Some(remote) = exec.gather_to_root(for_root) {
            let w = writer.as_mut().expect("the root holds the writer");
            for (i, values) in remote {
                if let Err(m) = write(w, i, &values) {
                    failures.push(storage_failure(i, m));
                }
            }
        }
    }
    let journaled = match writer.as_mut() {
        Some((w, journal)) => journal
            .checkpoint(|_| w.sync())
            .map_err(|m| MapError::storage(&journal_path, m)),
        None => Ok(()),
    };
    agree(exec, journaled)?;
    let (_, failures) = merge(exec, Vec::<(usize, ())>::new(), failures);
    finish_or_report(&mut run, failures, storage.partial_container_path())?;
    let finished = match writer {
        Some((w, _)) => w
            .finish()
            .map_err(|m| MapError::storage(storage.container_path(), m)),
        None => Ok(()),
    };
    agree(exec, finished)?;
    run.log.line(&format!(
        "done: {} tasks, file {}",
        run.n_tasks,
        storage.container_path().display()
    ));
    Ok(results(&run, resumed))
}

fn finish_or_report(
    run: &mut StoreRun<'_>,
    failures: Vec<TaskFailure>,
    kept_in: PathBuf,
) -> Result<(), MapError> {
    if failures.is_empty() {
        return Ok(());
    }
    for failure in &failures {
        run.log.line(&format!("failed: {failure}"));
    }
    run.log.line(&format!(
        "{} of {} tasks failed; finished results kept in {}",
        failures.len(),
        run.n_tasks,
        kept_in.display()
    ));
    Err(MapError::TasksFailed(FailureReport {
        n_tasks: run.n_tasks,
        failures,
        kept_in: Some(kept_in),
    }))
}

fn results(run: &StoreRun<'_>, resumed: usize) -> StoredResults {
    StoredResults {
        container: run.storage.container_path(),
        payload_dir: run.storage.payload_dir(),
        n_tasks: run.n_tasks,
        resumed,
        log_file: run.log.path(),
    }
}
