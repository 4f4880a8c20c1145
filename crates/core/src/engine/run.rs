use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::{DType, DataKind};

use super::chunks::run_chunked;
use super::collector::Collector;
use super::contain::{contained, crashed, guarded, panic_message};
use super::memory::MemoryEstimate;
use super::options::{ExecutionMode, Pipeline, RunScope};
use super::parallel::run_parallel;
use super::prepare::{prepare, PreparedPipeline};
use super::provenance::log_header;
use super::sequential::run_sequential;
use super::sink::{DirectBlockWriter, ObjectMetadata, ResultSink, StoreLayout, TrialSource};

/// Called by the writer after each task with (tasks done, tasks total).
pub type ProgressFn<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// One object a run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedObject {
    pub tag: String,
    pub kind: DataKind,
    pub dtype: DType,
    /// Shape of the stacked dataset (dense data; empty for events).
    pub shape: Vec<usize>,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub tasks: usize,
    pub trials: usize,
    /// The written objects, in step order.
    pub objects: Vec<SavedObject>,
    pub workers: usize,
    pub memory: MemoryEstimate,
    pub elapsed: Duration,
    /// Warnings raised by kernels, each with its step, trial and channels, in task order.
    pub warnings: Vec<String>,
    /// The task this run resumed from (`--resume`), if it continued an interrupted run.
    pub resumed_from: Option<usize>,
    /// Tasks that failed under `on_error: continue` (their results are NaN).
    pub failed: Vec<usize>,
}

/// How many warnings of one step the `_log` keeps; the rest are counted.
const MAX_LOGGED_WARNINGS: usize = 100;

/// The `_log` lines for one step's warnings.
fn warning_lines(warnings: &[(usize, String)], step: usize) -> String {
    let mine: Vec<&String> = warnings
        .iter()
        .filter(|(s, _)| *s == step)
        .map(|(_, w)| w)
        .collect();
    let mut text = String::new();
    for w in mine.iter().take(MAX_LOGGED_WARNINGS) {
        text.push_str(&format!("\twarning: {w}\n"));
    }
    if mine.len() > MAX_LOGGED_WARNINGS {
        text.push_str(&format!(
            "\t... and {} more warnings\n",
            mine.len() - MAX_LOGGED_WARNINGS
        ));
    }
    text
}

/// Runs a pipeline: dry run and memory check first (nothing is written if they fail), then
/// storage, then every task, then metadata and log, and finally the sink's commit, which is
/// when results become visible.
///
/// A panic anywhere (outside a kernel in debug mode) ends the run with an error saying
/// where; the sink is then aborted.
pub fn run_pipeline(
    pipeline: &Pipeline,
    source: &mut dyn TrialSource,
    sink: &mut dyn ResultSink,
    progress: Option<ProgressFn<'_>>,
) -> Result<RunReport> {
    run_prepared(pipeline, None, source, sink, progress)
}

/// [`run_pipeline`] when the dry run is done already: `prepared` must be
/// [`prepare`]`(pipeline, source.schema(), "")` for this pipeline (with its execution
/// options and scope) and this source. A front end that showed the dry run's summary
/// passes it on, since with many trials the dry run is tens of milliseconds (`None`:
/// it runs here).
pub fn run_prepared(
    pipeline: &Pipeline,
    prepared: Option<PreparedPipeline>,
    source: &mut dyn TrialSource,
    sink: &mut dyn ResultSink,
    progress: Option<ProgressFn<'_>>,
) -> Result<RunReport> {
    match catch_unwind(AssertUnwindSafe(|| {
        run(pipeline, prepared, source, sink, progress)
    })) {
        Ok(outcome) => outcome,
        Err(payload) => {
            abort(sink);
            if pipeline.execution.mode == ExecutionMode::Debug {
                // Debug mode lets panics reach the debugger.
                resume_unwind(payload);
            }
            Err(crashed(
                Default::default(),
                "the run".into(),
                panic_message(payload.as_ref()),
            ))
        }
    }
}

/// Aborts the sink; a sink that panics while aborting has nothing more to clean up.
fn abort(sink: &mut dyn ResultSink) {
    let _ = contained(|| sink.abort());
}

fn run(
    pipeline: &Pipeline,
    prepared: Option<PreparedPipeline>,
    source: &mut dyn TrialSource,
    sink: &mut dyn ResultSink,
    progress: Option<ProgressFn<'_>>,
) -> Result<RunReport> {
    let started = Instant::now();
    if pipeline.execution.mode == ExecutionMode::Mpi && pipeline.execution.scope.is_whole() {
        // Running it here would quietly compute everything in one process. The MPI front end
        // gives each rank its shard (`RunScope::Shard`) and rank 0 the merge.
        return Err(Error::invalid(
            "execution.mode: mpi runs through the MPI front end: start `trialflow run PIPELINE` under mpirun with a trialflow built with --features mpi (a library caller runs each rank's RunScope::Shard, then RunScope::Merge)",
        ));
    }
    let mut prepared = match prepared {
        Some(prepared) => prepared,
        None => prepare(pipeline, source.schema(), "")?,
    };
    prepared.memory.sink = sink.resident_bytes(&prepared.objects);
    prepared.memory.check(pipeline.execution.mem_thresh)?;
    let scope = pipeline.execution.scope;

    let resumed = sink.begin(&run_identity(pipeline, &prepared, source))?;
    if scope == RunScope::Merge && resumed.is_none() {
        return Err(Error::invalid("this output cannot merge shards"));
    }
    let resumed_from = resumed.as_ref().map(|c| c.completed);
    let mut ids = Vec::with_capacity(prepared.objects.len());
    for (spec, &step) in prepared.objects.iter().zip(&prepared.object_steps) {
        let allocated = guarded(
            || prepared.steps[step].context(),
            || "the routine's preallocate".into(),
            || pipeline.steps[step].routine.preallocate(spec, &mut *sink),
        );
        match allocated {
            Ok(id) => ids.push(id),
            Err(e) => {
                abort(sink);
                return Err(e);
            }
        }
    }

    // Cross-trial objects are folded by the writer, so only per-task blocks can go direct.
    let direct: Vec<Option<Arc<dyn DirectBlockWriter>>> = ids
        .iter()
        .zip(&prepared.cross_trial)
        .map(|(&id, fold)| match fold {
            None => sink.direct_writer(id),
            Some(_) => None,
        })
        .collect();
    let outcome = (|| {
        let mut collector = Collector::new(&prepared, sink, ids.clone(), progress, resumed, scope)?;
        let chunked = prepared.chunking.as_ref().map(|plan| {
            let catch_panics = pipeline.execution.mode != ExecutionMode::Debug;
            run_chunked(
                pipeline,
                &prepared,
                plan,
                source,
                &mut collector,
                catch_panics,
            )
        });
        let result = match pipeline.execution.mode {
            _ if chunked.is_some() => chunked.expect("checked"),
            ExecutionMode::Sequential => {
                run_sequential(pipeline, &prepared, source, &mut collector, &direct, true)
            }
            ExecutionMode::Debug => {
                run_sequential(pipeline, &prepared, source, &mut collector, &direct, false)
            }
            ExecutionMode::Parallel | ExecutionMode::Mpi if prepared.workers == 1 => {
                run_sequential(pipeline, &prepared, source, &mut collector, &direct, true)
            }
            ExecutionMode::Parallel | ExecutionMode::Mpi => {
                run_parallel(pipeline, &prepared, source, &mut collector, &direct)
            }
        };
        // Whatever happened, record how far the run came, so `--resume` continues from there.
        // Except when a whole run computed every task and folds across trials or writes
        // events: it goes straight on to writing its output, which is synced before the
        // commit. Its folds' state (up to log2(trials) contributions, hundreds of MB for the
        // cross-spectra of 64 channels) would be encoded, written and hashed, and its event
        // sidecars (tens of MB for find_peaks) synced, only for a failure while writing the
        // output, which then resumes from the previous checkpoint instead.
        let finished = result.is_ok() && collector.next_task() == prepared.range.end;
        let straight_on = collector.folds_across_trials() || collector.writes_events();
        let checkpointed = if finished && scope.is_whole() && straight_on {
            Ok(())
        } else {
            collector.checkpoint(true)
        };
        result?;
        checkpointed?;
        if scope.is_whole() || scope == RunScope::Merge {
            collector.finish(pipeline)?;
        }
        Ok((collector.take_warnings(), collector.take_failures()))
    })();
    let (warnings, failures) = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            abort(sink);
            return Err(e);
        }
    };
    let report = |warnings: Vec<(usize, String)>| RunReport {
        warnings: warnings.into_iter().map(|(_, w)| w).collect(),
        tasks: prepared.range.len(),
        trials: source.schema().n_trials(),
        objects: prepared
            .objects
            .iter()
            .map(|o| SavedObject {
                tag: o.tag.clone(),
                kind: o.schema.kind,
                dtype: o.schema.dtype,
                shape: if o.schema.kind.is_dense() {
                    o.schema.stacked_shape()
                } else {
                    Vec::new()
                },
            })
            .collect(),
        workers: prepared.workers,
        memory: prepared.memory,
        elapsed: started.elapsed(),
        resumed_from,
        failed: failures.iter().map(|(t, _)| *t).collect(),
    };
    if let RunScope::Shard { .. } = scope {
        // A shard's parts are complete and recorded; the output appears at the merge.
        sink.commit()?;
        return Ok(report(warnings));
    }

    let finalize = (|| {
        let header = log_header();
        let mut log = source.log();
        log.push_str(&header);
        for (_, e) in &failures {
            log.push_str(&format!(
                "failed (on_error: continue, values are NaN): {e}\n"
            ));
        }
        let mut cfg = match source.cfg() {
            serde_json::Value::Object(map) => map,
            _ => Default::default(),
        };
        // Syncopy's trialinfo columns have no names; a source that knows them (an NWB
        // interval table's columns) says so in its cfg, and `.info` records them too.
        let trialinfo_columns = cfg
            .get("trials")
            .and_then(|t| t.get("trialinfo_columns"))
            .cloned();
        let mut object = 0;
        for (k, step) in pipeline.steps.iter().enumerate() {
            guarded(
                || prepared.steps[k].context(),
                || "the routine's write_log".into(),
                || {
                    step.routine.write_log(&mut log);
                    Ok(())
                },
            )?;
            log.push_str(&warning_lines(&warnings, k));
            let mut key = step.name.clone();
            let mut n = 2;
            while cfg.contains_key(&key) {
                key = format!("{}_{n}", step.name);
                n += 1;
            }
            let mut entry = serde_json::Map::new();
            entry.insert("routine".into(), step.routine.name().into());
            if let serde_json::Value::Object(params) = step.routine.cfg() {
                entry.extend(params);
            }
            cfg.insert(key, serde_json::Value::Object(entry));
            if prepared.object_steps.get(object) == Some(&k) {
                let spec = &prepared.objects[object];
                let metadata = ObjectMetadata {
                    schema: spec.schema.clone(),
                    log: log.clone(),
                    cfg: serde_json::Value::Object(cfg.clone()),
                    info: serde_json::json!({
                        "execution": {
                            "mode": format!("{:?}", pipeline.execution.mode).to_lowercase(),
                            "workers": prepared.workers,
                            "chan_per_worker": pipeline.execution.chan_per_worker,
                            "keeptrials": pipeline.execution.keeptrials,
                            "chunk_samples": prepared.chunking.as_ref().map(|c| c.samples),
                        },
                        "failed_tasks": failures.iter().map(|(t, e)| {
                            serde_json::json!({"task": t, "error": e.to_string()})
                        }).collect::<Vec<_>>(),
                    }),
                };
                let mut metadata = metadata;
                if let (Some(columns), serde_json::Value::Object(info)) =
                    (&trialinfo_columns, &mut metadata.info)
                {
                    info.insert("trialinfo_columns".into(), columns.clone());
                }
                sink.finalize(ids[object], &metadata)?;
                object += 1;
            }
        }
        sink.commit()
    })();
    if let Err(e) = finalize {
        abort(sink);
        return Err(e);
    }
    if !failures.is_empty() {
        return Err(Error::Many(failures.into_iter().map(|(_, e)| e).collect()));
    }
    Ok(report(warnings))
}

/// What identifies a run for `--resume` and for merging shards: the input, every step with
/// its parameters, the tasks and how outputs are stored. Execution details that do not change
/// results (mode, workers) are left out, so a run may resume with other settings.
fn run_identity(
    pipeline: &Pipeline,
    prepared: &PreparedPipeline,
    source: &dyn TrialSource,
) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = pipeline
        .steps
        .iter()
        .zip(&prepared.steps)
        .map(|(step, p)| {
            serde_json::json!({
                "name": step.name,
                "routine": step.routine.name(),
                "parameters": step.routine.cfg(),
                "dtype": p.output.dtype.numpy_name(),
            })
        })
        .collect();
    let objects: Vec<serde_json::Value> = prepared
        .objects
        .iter()
        .map(|o| {
            serde_json::json!({
                "tag": o.tag,
                "class": o.schema.kind.class_name(),
                "per_task_files": o.layout == StoreLayout::PerTask,
            })
        })
        .collect();
    serde_json::json!({
        "input": source.identity(),
        // Trials cut anew (`trials:`) or selected can change while the file stays the same.
        "input_trials": trials_fingerprint(source.schema()),
        "steps": steps,
        "tasks": prepared.tasks.len(),
        "chan_per_worker": pipeline.execution.chan_per_worker,
        "keeptrials": pipeline.execution.keeptrials,
        "on_error": format!("{:?}", pipeline.execution.on_error).to_lowercase(),
        "objects": objects,
    })
}

/// A fingerprint of the input's trial definition and channel labels (FNV-1a over their
/// bits): what resume compares so that trials cut differently from the same file are never
/// mixed. Not cryptographic; it only has to differ when the definition does.
fn trials_fingerprint(schema: &crate::model::DataSchema) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let def = &schema.trialdefinition;
    for trial in 0..def.len() {
        for v in def.row(trial) {
            eat(&v.to_bits().to_le_bytes());
        }
    }
    for label in &schema.channels {
        eat(label.as_bytes());
        eat(&[0]);
    }
    format!("{hash:016x}")
}
