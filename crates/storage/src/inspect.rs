//! What `trialflow info` reports about a file or container.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trialflow_core::DataKind;

use crate::error::StorageError;
use crate::hdf5_util::{one_line, open_read_only};
use crate::info::read_info;
use crate::reader::check_stored_size;

/// A summary of one Syncopy object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    pub path: PathBuf,
    pub class: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    /// The axes of `shape`, from `.info`'s `dimord` (when it says).
    pub dimord: Option<Vec<String>>,
    pub samplerate: Option<f64>,
    /// Channel labels (of CrossSpectralData: `channel_i`).
    pub channels: Vec<String>,
    /// CrossSpectralData's `channel_j` labels.
    pub channels_j: Option<Vec<String>>,
    /// (start, stop, offset) of every trial.
    pub trials: Vec<(f64, f64, f64)>,
    /// Number of trialinfo columns.
    pub trialinfo_columns: usize,
    /// Whether `data` is a virtual dataset (joined from per-task source files).
    pub is_virtual: bool,
    pub freq: Option<Vec<f64>>,
}

impl ObjectSummary {
    pub fn trial_lengths(&self) -> Vec<usize> {
        self.trials
            .iter()
            .map(|&(start, stop, _)| (stop - start).max(0.0) as usize)
            .collect()
    }
}

/// Summarises a `.spy` container (every object in it) or a single object file.
pub fn inspect_path(path: &Path) -> Result<Vec<ObjectSummary>, StorageError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StorageError::format(path, "does not exist")
        } else {
            StorageError::format(path, format!("cannot be read: {e}"))
        }
    })?;
    if meta.is_file() {
        return Ok(vec![inspect_object(path)?]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| StorageError::format(path, format!("cannot be listed: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .and_then(DataKind::from_extension)
                    .is_some()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(StorageError::format(path, "holds no Syncopy objects"));
    }
    files.iter().map(|f| inspect_object(f)).collect()
}

fn inspect_object(path: &Path) -> Result<ObjectSummary, StorageError> {
    let info = read_info(&PathBuf::from(format!("{}.info", path.display())))?;
    let file = open_read_only(path)?;
    let data = file
        .dataset("data")
        .map_err(|_| StorageError::format(path, "has no 'data' dataset"))?;
    let dtype = data
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map(|d| d.to_string())
        .map_err(|e| StorageError::format(path, one_line(&e)))?;
    let is_virtual = data
        .dcpl()
        .map(|p| p.layout() == hdf5::plist::dataset_create::Layout::Virtual)
        .unwrap_or(false);
    let mut trials = Vec::new();
    let mut trialinfo_columns = 0;
    if let Ok(trl) = file.dataset("trialdefinition") {
        let shape = trl.shape();
        if shape.len() == 2 && shape[1] >= 3 {
            check_stored_size(path, &trl, "trialdefinition", 8)?;
            let values: Vec<f64> = trl
                .read_raw()
                .map_err(|e| StorageError::format(path, one_line(&e)))?;
            trialinfo_columns = shape[1] - 3;
            trials = values
                .chunks(shape[1])
                .map(|r| (r[0], r[1], r[2]))
                .collect();
        }
    }
    let get = |key: &str| info.as_ref().and_then(|i| i.get(key));
    let class = get("dataclass")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            path.extension()
                .and_then(|e| e.to_str())
                .and_then(DataKind::from_extension)
                .map(|k| k.class_name().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let samplerate = get("samplerate")
        .and_then(Value::as_f64)
        .or_else(|| file.attr("samplerate").ok()?.read_scalar::<f64>().ok());
    let labels = |key: &str| match get(key) {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<String>>(),
        ),
        _ => None,
    };
    let cross = class == DataKind::CrossSpectral.class_name();
    let channels = labels(if cross { "channel_i" } else { "channel" }).unwrap_or_default();
    let channels_j = if cross { labels("channel_j") } else { None };
    let dimord = match get("dimord") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => None,
    };
    let freq = match get("freq") {
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_f64).collect()),
        _ => None,
    };
    Ok(ObjectSummary {
        path: path.to_path_buf(),
        class,
        dtype,
        shape: data.shape(),
        dimord,
        samplerate,
        channels,
        channels_j,
        trials,
        trialinfo_columns,
        is_virtual,
        freq,
    })
}
