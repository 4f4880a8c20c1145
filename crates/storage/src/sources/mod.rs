//! Saved objects of every kind as pipeline inputs: [`DenseSource`] hands the engine each
//! trial of a SpectralData or CrossSpectralData object (and of AnalogData, though pipelines
//! read that with the faster [`crate::SpyReader`]) in the kind's axis order, channel axis
//! last, whatever the file's `dimord`; [`EventSource`] hands it each trial's events of a
//! SpikeData object. Both sit on the readers of [`crate::objects`] and describe the input
//! with the object's header (`ObjectHeader::schema`).

mod dense;
mod events;

use std::path::{Path, PathBuf};

use serde_json::Value;
use trialflow_core::engine::TrialSource;
use trialflow_core::DataKind;

pub use dense::DenseSource;
pub use events::EventSource;

use crate::error::StorageError;
use crate::hdf5_util::{open_read_only, read_string_attr};
use crate::info::read_info;
use crate::objects::{locate_object, object_class, ObjectHeader};

/// The object file `path` names (an object file, a container holding one object, or
/// `CONTAINER.spy/NAME`) and its kind, or `None` when it names no object of a kind trialflow
/// reads (the caller then reports the path as an AnalogData input would be reported).
pub fn input_object(path: &Path) -> Option<(PathBuf, DataKind)> {
    let file = locate_object(path).ok()?;
    let kind = DataKind::from_class_name(&object_class(&file).ok()?)?;
    Some((file, kind))
}

/// Opens a saved object of any kind as a trial source.
pub fn open_object_source(path: &Path) -> Result<Box<dyn TrialSource>, StorageError> {
    let header = ObjectHeader::open(path)?;
    Ok(if header.kind.is_dense() {
        Box::new(DenseSource::new(header)?)
    } else {
        Box::new(EventSource::new(header)?)
    })
}

/// An object's `_log` (from `.info`, else the file's attribute) and `cfg`, which results
/// carry forward.
fn provenance(header: &ObjectHeader) -> (String, Value) {
    let info = read_info(&PathBuf::from(format!("{}.info", header.path.display())))
        .ok()
        .flatten()
        .unwrap_or_default();
    let log = info
        .get("_log")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            let file = open_read_only(&header.path).ok()?;
            read_string_attr(&file, "_log")
        })
        .unwrap_or_default();
    let cfg = Some(header.cfg.clone())
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()));
    (log, cfg)
}
