use std::time::{Duration, Instant};

use crate::error::Result;
use crate::model::{DType, DataKind};

use super::collector::Collector;
use super::memory::MemoryEstimate;
use super::options::{ExecutionMode, Pipeline};
use super::parallel::run_parallel;
use super::prepare::prepare;
use super::provenance::log_header;
use super::sequential::run_sequential;
use super::sink::{ObjectMetadata, ResultSink, TrialSource};

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
pub fn run_pipeline(
    pipeline: &Pipeline,
    source: &mut dyn TrialSource,
    sink: &mut dyn ResultSink,
    progress: Option<ProgressFn<'_>>,
) -> Result<RunReport> {
    let started = Instant::now();
    let prepared = prepare(pipeline, source.schema(), "")?;
    prepared.memory.check(pipeline.execution.mem_thresh)?;

    let mut ids = Vec::with_capacity(prepared.objects.len());
    for (spec, &step) in prepared.objects.iter().zip(&prepared.object_steps) {
        match pipeline.steps[step].routine.preallocate(spec, sink) {
            Ok(id) => ids.push(id),
            Err(e) => {
                sink.abort();
                return Err(e);
            }
        }
    }

    let outcome = (|| {
        let mut collector = Collector::new(&prepared, sink, ids.clone(), progress);
        match pipeline.execution.mode {
            ExecutionMode::Sequential => {
                run_sequential(pipeline, &prepared, source, &mut collector, true)?
            }
            ExecutionMode::Debug => {
                run_sequential(pipeline, &prepared, source, &mut collector, false)?
            }
            ExecutionMode::Parallel if prepared.workers == 1 => {
                run_sequential(pipeline, &prepared, source, &mut collector, true)?
            }
            ExecutionMode::Parallel => run_parallel(pipeline, &prepared, source, &mut collector)?,
        }
        collector.finish()?;
        Ok(collector.take_warnings())
    })();
    let warnings = match outcome {
        Ok(warnings) => warnings,
        Err(e) => {
            sink.abort();
            return Err(e);
        }
    };

    let finalize = (|| {
        let header = log_header();
        let mut log = source.log();
        log.push_str(&header);
        let mut cfg = match source.cfg() {
            serde_json::Value::Object(map) => map,
            _ => Default::default(),
        };
        let mut object = 0;
        for (k, step) in pipeline.steps.iter().enumerate() {
            step.routine.write_log(&mut log);
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
                        }
                    }),
                };
                sink.finalize(ids[object], &metadata)?;
                object += 1;
            }
        }
        sink.commit()
    })();
    if let Err(e) = finalize {
        sink.abort();
        return Err(e);
    }

    Ok(RunReport {
        warnings: warnings.into_iter().map(|(_, w)| w).collect(),
        tasks: prepared.tasks.len(),
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
    })
}
