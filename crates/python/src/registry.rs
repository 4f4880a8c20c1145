//! The registry the bindings use, and `trialflow.routines()`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trialflow_pipeline::Registry;

use crate::custom;

/// Every built-in routine plus `python`, the step a Python routine object becomes.
pub fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register(custom::entry());
    registry
}

/// The built-in routines' documentation, as `trialflow routines` prints it.
#[pyfunction]
pub fn routines(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for entry in Registry::builtin().entries() {
        let doc = &entry.doc;
        let item = PyDict::new(py);
        item.set_item("name", doc.name)?;
        item.set_item("summary", doc.summary)?;
        item.set_item("matches", doc.matches)?;
        item.set_item("input", doc.input.class_name())?;
        item.set_item("output", doc.output.class_name())?;
        item.set_item("example", doc.example)?;
        let params = PyList::empty(py);
        for p in doc.params {
            let param = PyDict::new(py);
            param.set_item("name", p.name)?;
            param.set_item("kind", p.kind)?;
            param.set_item("default", p.default)?;
            param.set_item("doc", p.doc)?;
            params.append(param)?;
        }
        item.set_item("params", params)?;
        list.append(item)?;
    }
    Ok(list)
}
