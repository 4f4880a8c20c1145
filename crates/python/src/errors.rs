//! How failures reach Python: a [`PipelineError`] becomes `trialflow.UserError` (what the CLI
//! exits 2 for) or `trialflow.RunError` (exit 1) with the CLI's one-line message, and a Rust
//! panic becomes a `RunError` instead of pyo3's `PanicException`, which derives from
//! `BaseException` and would slip past a notebook's `except Exception`.

use std::any::Any;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use trialflow_core::ErrorClass;
use trialflow_pipeline::PipelineError;

/// The exception classes live in `trialflow/_errors.py`, where they can inherit from both
/// `TrialflowError` and the builtin a Python user expects (`ValueError`, `RuntimeError`).
fn raise(py: Python<'_>, class: &str, message: &str) -> PyErr {
    let built = py
        .import("trialflow._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(PyTuple::new(py, [message])?));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

pub fn user_error(message: impl AsRef<str>) -> PyErr {
    Python::attach(|py| raise(py, "UserError", message.as_ref()))
}

pub fn run_error(message: impl AsRef<str>) -> PyErr {
    Python::attach(|py| raise(py, "RunError", message.as_ref()))
}

pub fn pipeline_error(e: PipelineError) -> PyErr {
    match e.class {
        ErrorClass::User => user_error(&e.message),
        ErrorClass::Runtime => run_error(&e.message),
    }
}

pub fn core_error(e: trialflow_core::Error) -> PyErr {
    pipeline_error(PipelineError::from(e))
}

/// A panic's payload as one line, for the `RunError` that replaces it.
pub fn panic_error(payload: Box<dyn Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_string());
    let line = what.lines().next().unwrap_or_default();
    run_error(format!(
        "internal error (a bug in trialflow, please report it): {line}"
    ))
}
