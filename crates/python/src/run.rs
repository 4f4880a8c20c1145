//! `trialflow.run` and `trialflow.merge`: `trialflow run` and `trialflow merge` without the
//! command line. The document, `--set` edits, validation, the dry run, resume and shards are
//! the pipeline library's, so they mean exactly what they mean on the command line.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trialflow_pipeline::{
    merge as merge_shards, CheckedPipeline, PipelineDocument, PipelineError, PreparedRun,
    RunOptions, RunOutcome,
};

use crate::errors::{pipeline_error, user_error};
use crate::registry::registry;
use crate::watch::{run_watched, Progress};

/// Reads the pipeline: `source` is `file` (a path), `yaml` (text) or `json` (a dict, as JSON
/// text); `base` resolves relative paths of text and dicts (a file's own folder is used for
/// files). Attached to Python: a Python routine step is built here.
fn checked(
    source: &str,
    text: &str,
    base: &str,
    sets: &[String],
) -> Result<CheckedPipeline, PipelineError> {
    let document = match source {
        "file" => PipelineDocument::from_file(Path::new(text))?,
        "yaml" => PipelineDocument::from_yaml(text, "pipeline", Path::new(base))?,
        _ => {
            let tree = serde_json::from_str(text)
                .map_err(|e| PipelineError::user(format!("pipeline: not a value tree: {e}")))?;
            PipelineDocument::from_value(tree, Path::new(base))
        }
    };
    document.with_sets(sets)?.check(&registry())
}

#[pyfunction]
#[pyo3(signature = (source, text, base, sets, overwrite=false, resume=false, shard=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn run<'py>(
    py: Python<'py>,
    source: &str,
    text: &str,
    base: &str,
    sets: Vec<String>,
    overwrite: bool,
    resume: bool,
    shard: Option<(usize, usize)>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some((index, count)) = shard {
        if count == 0 || index >= count {
            return Err(user_error(format!(
                "shard: expected (index, count) with 0 <= index < count, got ({index}, {count})"
            )));
        }
    }
    let mut config = checked(source, text, base, &sets).map_err(pipeline_error)?;
    let cancel = Arc::new(AtomicBool::new(false));
    config.pipeline.execution.cancel = Some(cancel.clone());
    let counter = Progress::default();
    let outcome = run_watched(py, &cancel, &counter, progress.as_ref(), || {
        let prepared = PreparedRun::new(config, shard)?;
        let record = |done, total| counter.record(done, total);
        let options = RunOptions {
            overwrite,
            resume,
            progress: Some(&record),
        };
        prepared.execute(&options)
    })?
    .map_err(pipeline_error)?;
    outcome_dict(py, &outcome)
}

#[pyfunction]
#[pyo3(signature = (source, text, base, sets, overwrite=false))]
pub fn merge<'py>(
    py: Python<'py>,
    source: &str,
    text: &str,
    base: &str,
    sets: Vec<String>,
    overwrite: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let config = checked(source, text, base, &sets).map_err(pipeline_error)?;
    let cancel = AtomicBool::new(false);
    let outcome = run_watched(py, &cancel, &Progress::default(), None, || {
        merge_shards(config, overwrite)
    })?
    .map_err(pipeline_error)?;
    outcome_dict(py, &outcome)
}

/// The saved objects (tag, path, class, dtype, shape) and the run's statistics.
fn outcome_dict<'py>(py: Python<'py>, outcome: &RunOutcome) -> PyResult<Bound<'py, PyDict>> {
    let report = &outcome.report;
    let objects = PyList::empty(py);
    for (object, file) in report.objects.iter().zip(&outcome.saved_files) {
        let item = PyDict::new(py);
        item.set_item("tag", &object.tag)?;
        item.set_item("path", outcome.container.join(file))?;
        item.set_item("class", object.kind.class_name())?;
        item.set_item("dtype", object.dtype.numpy_name())?;
        item.set_item("shape", object.shape.clone())?;
        objects.append(item)?;
    }
    let out = PyDict::new(py);
    out.set_item("container", PathBuf::from(&outcome.container))?;
    out.set_item("objects", objects)?;
    out.set_item("tasks", report.tasks)?;
    out.set_item("trials", report.trials)?;
    out.set_item("workers", report.workers)?;
    out.set_item("elapsed", report.elapsed.as_secs_f64())?;
    out.set_item("input_bytes", outcome.input_bytes)?;
    out.set_item("warnings", report.warnings.clone())?;
    out.set_item("resumed_from", report.resumed_from)?;
    out.set_item("failed", report.failed.clone())?;
    out.set_item("shard", outcome.shard)?;
    Ok(out)
}
