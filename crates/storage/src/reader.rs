//! Reads AnalogData objects (written by Syncopy or by trialflow) one trial at a time.

use std::path::{Path, PathBuf};

use ndarray::s;
use serde_json::Value;
use trialflow_core::engine::TrialSource;
use trialflow_core::{DType, DataKind, DataSchema, Error, ErrorClass, TrialDefinition};

use crate::container::resolve_input;
use crate::error::StorageError;
use crate::hdf5_util::{check_virtual_sources, one_line, open_read_only, read_string_attr};
use crate::info::read_info;

/// An AnalogData object opened read-only. Trials are read lazily; the file is never loaded
/// whole.
pub struct SpyReader {
    path: PathBuf,
    _file: hdf5::File,
    data: hdf5::Dataset,
    schema: DataSchema,
    log: String,
    cfg: Value,
}

impl std::fmt::Debug for SpyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpyReader")
            .field("path", &self.path)
            .finish()
    }
}

impl SpyReader {
    /// Opens a `.analog` file or a `.spy` container holding one AnalogData object, and
    /// validates everything the engine relies on: a 2-D float `data`, a trial definition
    /// whose trials lie inside it, a positive samplerate and one label per channel.
    pub fn open(path: &Path) -> Result<SpyReader, StorageError> {
        let path = resolve_input(path)?;
        let info_path = PathBuf::from(format!("{}.info", path.display()));
        let info = read_info(&info_path)?;
        if let Some(class) = info
            .as_ref()
            .and_then(|i| i.get("dataclass"))
            .and_then(Value::as_str)
        {
            if class != "AnalogData" {
                return Err(StorageError::format(
                    &path,
                    format!("holds {class}, but trialflow pipelines take AnalogData"),
                ));
            }
        }
        let file = open_read_only(&path)?;
        let bad = |m: String| StorageError::format(&path, m);
        let data = file
            .dataset("data")
            .map_err(|_| bad("has no 'data' dataset".into()))?;
        let shape = data.shape();
        if shape.len() != 2 {
            return Err(bad(format!(
                "'data' has {} dimensions; AnalogData must be 2-D (samples x channels)",
                shape.len()
            )));
        }
        let dtype = match data
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| bad(format!("'data' has an unreadable type: {}", one_line(&e))))?
        {
            hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U4) => DType::Float32,
            hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U8) => DType::Float64,
            other => {
                return Err(bad(format!(
                    "'data' has type {other}; only float32 and float64 are supported"
                )))
            }
        };
        check_virtual_sources(&path, &data)?;
        let trl = file
            .dataset("trialdefinition")
            .map_err(|_| bad("has no 'trialdefinition' dataset".into()))?;
        let trl_shape = trl.shape();
        if trl_shape.len() != 2 {
            return Err(bad(format!(
                "'trialdefinition' has {} dimensions; it must be 2-D (trials x columns)",
                trl_shape.len()
            )));
        }
        let values: Vec<f64> = trl.read_raw::<f64>().map_err(|e| {
            bad(format!(
                "'trialdefinition' cannot be read: {}",
                one_line(&e)
            ))
        })?;
        let trialdefinition = TrialDefinition::from_rows(values, trl_shape[1], shape[0])
            .map_err(|m| bad(format!("trialdefinition: {m}")))?;

        let root = &*file;
        let samplerate = info
            .as_ref()
            .and_then(|i| i.get("samplerate"))
            .and_then(Value::as_f64)
            .or_else(|| root.attr("samplerate").ok()?.read_scalar::<f64>().ok())
            .ok_or_else(
                || bad("has no samplerate (neither in .info nor as an attribute)".into()),
            )?;
        if !(samplerate.is_finite() && samplerate > 0.0) {
            return Err(bad(format!("samplerate {samplerate} must be positive")));
        }
        let channels = match info.as_ref().and_then(|i| i.get("channel")) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            _ => (1..=shape[1])
                .map(|c| format!("channel{c}"))
                .collect::<Vec<_>>(),
        };
        if channels.len() != shape[1] {
            return Err(bad(format!(
                "{} channel labels for {} channels in 'data'",
                channels.len(),
                shape[1]
            )));
        }
        let log = info
            .as_ref()
            .and_then(|i| i.get("_log"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| read_string_attr(root, "_log"))
            .unwrap_or_default();
        let cfg = info
            .as_ref()
            .and_then(|i| i.get("cfg"))
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        let mut schema = DataSchema::analog(dtype, samplerate, channels, trialdefinition);
        schema.kind = DataKind::Analog;
        Ok(SpyReader {
            path,
            _file: file,
            data,
            schema,
            log,
            cfg,
        })
    }

    /// The HDF5 file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl TrialSource for SpyReader {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        let rows = self.schema.trialdefinition.samples(trial);
        let fail = |e: hdf5::Error| {
            Error::input(
                format!("{} (trial {trial})", self.path.display()),
                one_line(&e),
                ErrorClass::Runtime,
            )
        };
        out.clear();
        if self.schema.dtype == DType::Float32 {
            // Reading float32 as stored and widening over a plain slice is about twice as
            // fast as letting HDF5 convert (it zero-fills and copies a conversion buffer).
            let block = self
                .data
                .read_slice_2d::<f32, _>(s![rows.start..rows.end, ..])
                .map_err(fail)?;
            let values = block
                .as_slice()
                .expect("freshly read arrays are contiguous");
            out.extend(values.iter().map(|&v| f64::from(v)));
        } else {
            let block = self
                .data
                .read_slice_2d::<f64, _>(s![rows.start..rows.end, ..])
                .map_err(fail)?;
            // Contiguous and row-major: it becomes the trial buffer without a copy.
            let (values, offset) = block.into_raw_vec_and_offset();
            debug_assert!(offset.unwrap_or(0) == 0);
            *out = values;
        }
        Ok(())
    }

    fn log(&self) -> String {
        self.log.clone()
    }

    fn cfg(&self) -> Value {
        self.cfg.clone()
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// The data file's absolute path, size and modification time: a changed or replaced
    /// input is never mixed with results computed from the old one.
    fn identity(&self) -> Value {
        let path = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        let meta = std::fs::metadata(&self.path).ok();
        let modified = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos().to_string());
        serde_json::json!({
            "path": path.display().to_string(),
            "bytes": meta.map(|m| m.len()),
            "modified_ns": modified,
        })
    }
}
