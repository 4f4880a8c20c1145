//! Results as Python values: what `compute` hands to `python/trialflow/_compute.py`, which
//! splits them into per-trial arrays. Values are moved into numpy, not copied again.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trialflow_core::in_memory::StoredObject;
use trialflow_core::{DataSchema, EventColumnKind};

/// One saved object: its name, class, stacked values (dense) or rows and properties (events),
/// and the metadata to split and label them.
pub fn stored_object(py: Python<'_>, object: StoredObject) -> PyResult<Bound<'_, PyDict>> {
    let StoredObject {
        spec,
        data,
        events,
        metadata,
    } = object;
    let schema = metadata.map(|m| m.schema).unwrap_or(spec.schema);
    let item = PyDict::new(py);
    item.set_item("name", &spec.tag)?;
    item.set_item("class", schema.kind.class_name())?;
    item.set_item("complex", schema.dtype.is_complex())?;
    set_schema(&item, &schema)?;
    match data {
        Some(values) => {
            item.set_item("data", values.into_pyarray(py))?;
            item.set_item("events", py.None())?;
        }
        None => {
            let rows = PyDict::new(py);
            rows.set_item("sample", events.sample.into_pyarray(py))?;
            rows.set_item("channel", events.channel.into_pyarray(py))?;
            rows.set_item("unit", events.unit.into_pyarray(py))?;
            let columns = PyDict::new(py);
            // Columns the engine shifted into the recording's sample space, like `sample`.
            let shifted: Vec<&str> = schema
                .event_columns
                .iter()
                .filter(|c| {
                    matches!(
                        c.kind,
                        EventColumnKind::SampleIndex | EventColumnKind::SamplePosition
                    )
                })
                .map(|c| c.name.as_str())
                .collect();
            rows.set_item("shifted", shifted)?;
            for (column, values) in schema.event_columns.iter().zip(events.columns) {
                if column.is_integer() {
                    let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
                    columns.set_item(&column.name, ints.into_pyarray(py))?;
                } else {
                    columns.set_item(&column.name, values.into_pyarray(py))?;
                }
            }
            rows.set_item("columns", columns)?;
            item.set_item("data", py.None())?;
            item.set_item("events", rows)?;
        }
    }
    Ok(item)
}

fn set_schema(item: &Bound<'_, PyDict>, schema: &DataSchema) -> PyResult<()> {
    let py = item.py();
    let trl = &schema.trialdefinition;
    let columns = trl.columns();
    let trials = PyList::empty(py);
    for t in 0..trl.len() {
        let rows = trl.samples(t);
        trials.append((rows.start, rows.end))?;
    }
    item.set_item("trials", trials)?;
    item.set_item("trialdefinition_columns", columns)?;
    item.set_item("trialdefinition", PyArray1::from_slice(py, trl.values()))?;
    item.set_item("samplerate", schema.samplerate)?;
    item.set_item("channel", schema.channels.clone())?;
    item.set_item("freq", schema.freq.clone())?;
    item.set_item("taper", schema.taper.clone())?;
    Ok(())
}
