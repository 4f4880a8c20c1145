//! `trialflow.compute`: a pipeline's steps over data already in memory, through the same
//! document checks, registry and engine as `trialflow run` (the caller's array in, a
//! `MemorySink` out), so the numbers are those a run stores as float64.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use numpy::PyUntypedArrayMethods;
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyList;
use trialflow_core::in_memory::MemorySink;
use trialflow_core::{run_pipeline, DType, DataSchema, TrialDefinition};
use trialflow_pipeline::PipelineDocument;

use crate::arrays::stored_object;
use crate::errors::{core_error, pipeline_error, user_error};
use crate::registry::registry;
use crate::source::BorrowedRecording;
use crate::watch::{run_inline, run_watched, Progress};

/// Inputs up to this many values run on the calling thread: they finish in well under a
/// second, and a thread handoff would dominate their cost. Python routines always get the
/// watcher, since they may take any time per trial.
const INLINE_ELEMENTS: usize = 1 << 16;

/// Runs `document` (JSON text with `execution` and `steps`, as `_compute.py` builds it) over
/// `data` (samples x channels, trials by `trialdefinition`: rows of `columns` values).
/// Returns the saved objects in step order.
#[pyfunction]
#[pyo3(signature = (document, data, samplerate, trialdefinition, columns, channels=None, float32=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn compute<'py>(
    py: Python<'py>,
    document: &str,
    data: PyReadonlyArray2<'py, f64>,
    samplerate: f64,
    trialdefinition: PyReadonlyArray1<'py, f64>,
    columns: usize,
    channels: Option<Vec<String>>,
    float32: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let mut tree: serde_json::Value = serde_json::from_str(document)
        .map_err(|e| user_error(format!("steps: not a pipeline value tree: {e}")))?;
    // The document checks want an input and an output; in memory there are neither.
    if let Some(map) = tree.as_object_mut() {
        map.insert("input".into(), "<memory>".into());
        map.insert("output".into(), "<memory>".into());
    }
    let mut checked = PipelineDocument::from_value(tree, Path::new("."))
        .check(&registry())
        .map_err(pipeline_error)?;

    let values = data.as_array();
    let n_samples = values.nrows();
    let trl = TrialDefinition::from_rows(trialdefinition.as_slice()?.to_vec(), columns, n_samples)
        .map_err(|e| {
            user_error(if e.starts_with("trialdefinition") {
                e
            } else {
                format!("trialdefinition: {e}")
            })
        })?;
    let labels = match channels {
        Some(labels) if labels.len() != values.ncols() => {
            return Err(user_error(format!(
                "channels: {} labels for {} channels",
                labels.len(),
                values.ncols()
            )))
        }
        Some(labels) => labels,
        None => (0..values.ncols())
            .map(|c| format!("channel{c:03}"))
            .collect(),
    };
    let dtype = if float32 {
        DType::Float32
    } else {
        DType::Float64
    };
    let mut recording =
        BorrowedRecording::new(values, DataSchema::analog(dtype, samplerate, labels, trl));

    let cancel = Arc::new(AtomicBool::new(false));
    checked.pipeline.execution.cancel = Some(cancel.clone());
    let counter = Progress::default();
    let pipeline = &checked.pipeline;
    let small = n_samples.saturating_mul(data.shape()[1]) <= INLINE_ELEMENTS
        && progress.is_none()
        && pipeline.steps.iter().all(|s| s.routine.name() != "python");
    let work = || {
        let mut sink = MemorySink::new();
        let record = |done, total| counter.record(done, total);
        run_pipeline(pipeline, &mut recording, &mut sink, Some(&record)).map(|r| (r, sink))
    };
    let (report, sink) = if small {
        run_inline(py, work)?
    } else {
        run_watched(py, &cancel, &counter, progress.as_ref(), work)?
    }
    .map_err(core_error)?;

    let out = PyList::empty(py);
    for object in sink.objects {
        let item = stored_object(py, object)?;
        item.set_item("warnings", report.warnings.clone())?;
        out.append(item)?;
    }
    Ok(out)
}
