//! `trialflow._native`: the Rust half of the `trialflow` Python package.
//!
//! It is a thin layer over the pipeline library: the pipeline document, the registry and run
//! orchestration are the CLI's own (`trialflow-pipeline`), and in-memory runs go through the
//! same engine (`run_pipeline` on an `InMemoryRecording`). Every call releases the GIL while
//! Rust works. Argument handling that Python users expect (SciPy signatures, numpy
//! conversions, progress bars) lives in the Python sources under `python/trialflow/`.

mod arrays;
mod compute;
mod custom;
mod errors;
mod load;
mod registry;
mod run;
mod source;
mod watch;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    trialflow_hdf5::init_hdf5();
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::merge, m)?)?;
    m.add_function(wrap_pyfunction!(compute::compute, m)?)?;
    m.add_function(wrap_pyfunction!(registry::routines, m)?)?;
    m.add_function(wrap_pyfunction!(load::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(load::read_rows, m)?)?;
    m.add_function(wrap_pyfunction!(custom::lend_routine, m)?)?;
    m.add_function(wrap_pyfunction!(custom::release_routine, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
