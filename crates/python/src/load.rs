//! `trialflow.load`: what a container or object file holds, and its values read on demand.
//! Metadata comes from `inspect_path` (what `trialflow info` shows) and the `.info` file;
//! values are read one row range at a time, so opening a large container reads no data.

use std::path::{Path, PathBuf};

use hdf5::types::TypeDescriptor;
use hdf5::{Hyperslab, SliceOrIndex};
use ndarray::IxDyn;
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trialflow_core::Complex64;
use trialflow_hdf5::{inspect_path, read_info, StorageError};

use crate::errors::{pipeline_error, run_error};

fn storage_error(e: StorageError) -> PyErr {
    pipeline_error(e.into())
}

/// Every object of a container (or the one object file), with its metadata.
#[pyfunction]
pub fn inspect<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let found = py.detach(|| -> Result<_, StorageError> {
        let mut found = Vec::new();
        for summary in inspect_path(&path)? {
            let info = read_info(&PathBuf::from(format!("{}.info", summary.path.display())))?;
            let datasets = dataset_names(&summary.path);
            found.push((summary, info, datasets));
        }
        Ok(found)
    });
    let found = found.map_err(storage_error)?;
    let list = PyList::empty(py);
    for (summary, info, datasets) in found {
        let item = PyDict::new(py);
        item.set_item("path", &summary.path)?;
        item.set_item("class", &summary.class)?;
        item.set_item("dtype", &summary.dtype)?;
        item.set_item("shape", summary.shape.clone())?;
        item.set_item("samplerate", summary.samplerate)?;
        item.set_item("channel", summary.channels.clone())?;
        item.set_item("trials", summary.trials.clone())?;
        item.set_item("trialinfo_columns", summary.trialinfo_columns)?;
        item.set_item("freq", summary.freq.clone())?;
        let labels = |key: &str| -> Option<Vec<String>> {
            let values = info.as_ref()?.get(key)?.as_array()?;
            Some(
                values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect(),
            )
        };
        item.set_item("taper", labels("taper"))?;
        item.set_item("unit", labels("unit"))?;
        item.set_item("datasets", datasets)?;
        list.append(item)?;
    }
    Ok(list)
}

/// The 1-D and N-D datasets beside `data` (event properties), by name.
fn dataset_names(path: &Path) -> Vec<String> {
    let Ok(file) = open(path) else {
        return Vec::new();
    };
    let mut names = file.member_names().unwrap_or_default();
    names.retain(|n| file.dataset(n).is_ok());
    names.sort();
    names
}

fn open(path: &Path) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
}

/// Rows `start..stop` (all of them for `None`) of one dataset, as float64, complex128 or
/// int64 as stored.
#[pyfunction]
#[pyo3(signature = (path, dataset, start=None, stop=None))]
pub fn read_rows<'py>(
    py: Python<'py>,
    path: PathBuf,
    dataset: &str,
    start: Option<usize>,
    stop: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    enum Rows {
        Real(ndarray::ArrayD<f64>),
        Complex(ndarray::ArrayD<Complex64>),
        Int(ndarray::ArrayD<i64>),
    }
    let read = py.detach(|| -> hdf5::Result<Rows> {
        let file = open(&path)?;
        let ds = file.dataset(dataset)?;
        let rows = ds.shape().first().copied().unwrap_or(0);
        let range = start.unwrap_or(0).min(rows)..stop.unwrap_or(rows).min(rows);
        let range = range.start..range.end.max(range.start);
        // Rows of the first axis, every element of the others.
        let mut slab: Vec<SliceOrIndex> = vec![range.into()];
        slab.extend((1..ds.ndim()).map(|_| SliceOrIndex::from(..)));
        let range = Hyperslab::from(slab);
        Ok(match ds.dtype()?.to_descriptor()? {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
                Rows::Int(ds.read_slice::<i64, _, IxDyn>(range)?)
            }
            TypeDescriptor::Compound(_) => {
                Rows::Complex(ds.read_slice::<Complex64, _, IxDyn>(range)?)
            }
            _ => Rows::Real(ds.read_slice::<f64, _, IxDyn>(range)?),
        })
    });
    let rows = read.map_err(|e| {
        run_error(format!(
            "{}: cannot read {dataset}: {}",
            path.display(),
            e.to_string().lines().next().unwrap_or_default()
        ))
    })?;
    Ok(match rows {
        Rows::Real(a) => a.into_pyarray(py).into_any(),
        Rows::Complex(a) => a.into_pyarray(py).into_any(),
        Rows::Int(a) => a.into_pyarray(py).into_any(),
    })
}
