//! What an object is, from its `.info` and HDF5 attributes: class, axes and labels.

use std::path::{Path, PathBuf};

use hdf5::types::{FloatSize, TypeDescriptor};
use serde_json::{Map, Value};
use trialflow_core::{DType, DataKind, DataSchema, TrialDefinition};

use crate::error::StorageError;
use crate::hdf5_util::{one_line, open_read_only};
use crate::info::read_info;

/// The Syncopy class of an object file: `.info`'s `dataclass`, else its extension's
/// (`.crossspectral` -> `CrossSpectralData`), so kinds trialflow cannot read yet are still
/// named.
pub fn object_class(path: &Path) -> Result<String, StorageError> {
    let info = read_info(&info_path(path))?;
    if let Some(class) = info
        .as_ref()
        .and_then(|i| i.get("dataclass"))
        .and_then(Value::as_str)
    {
        return Ok(class.to_string());
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match DataKind::from_extension(ext) {
        Some(kind) => Ok(kind.class_name().to_string()),
        None => {
            let mut chars = ext.chars();
            match chars.next() {
                Some(first) => Ok(format!("{}{}Data", first.to_uppercase(), chars.as_str())),
                None => Err(StorageError::format(
                    path,
                    "has no extension naming its class",
                )),
            }
        }
    }
}

/// An opened object's description. Labels are indexed as the data indexes them: for
/// SpikeData, the event rows' channel column indexes `channels` (the full list when
/// `.info` keeps one in `info.all_channels`).
#[derive(Debug)]
pub struct ObjectHeader {
    pub path: PathBuf,
    pub kind: DataKind,
    pub samplerate: f64,
    pub channels: Vec<String>,
    /// CrossSpectralData's `channel_j` labels (`channels` holds `channel_i`); empty for
    /// the other kinds.
    pub channels_j: Vec<String>,
    /// SpikeData's unit labels (indexed by the rows' unit column).
    pub units: Vec<String>,
    /// `data`'s axes, e.g. `["time", "taper", "freq", "channel"]`.
    pub dimord: Vec<String>,
    /// SpectralData's frequencies (Hz).
    pub freq: Vec<f64>,
    pub shape: Vec<usize>,
    pub trialdefinition: TrialDefinition,
    /// The physical unit of the values when a step recorded it (an NWB import's `unit`).
    pub value_unit: Option<String>,
    /// The `.info` `cfg`: one entry per step that made the object, in order.
    pub cfg: Value,
    /// Whether `data` holds complex numbers (SpectralData `output: fourier`).
    pub complex: bool,
    /// How `data` is stored (integers of any width read as int64).
    pub dtype: DType,
    /// SpectralData's taper labels.
    pub taper: Vec<String>,
    /// The file, as opened to read all this: the readers of the values keep it rather than
    /// open it again (each open reads HDF5's superblock and root group again).
    pub(crate) file: hdf5::File,
}

impl ObjectHeader {
    /// Reads and checks everything but the values. Errors name the file and the key.
    pub fn open(path: &Path) -> Result<ObjectHeader, StorageError> {
        let class = object_class(path)?;
        let kind = DataKind::from_class_name(&class).ok_or_else(|| {
            StorageError::format(
                path,
                format!("holds {class}, which trialflow cannot read yet"),
            )
        })?;
        let info_file = info_path(path);
        let info = read_info(&info_file)?.unwrap_or_default();
        let file = open_read_only(path)?;
        let bad = |m: String| StorageError::format(path, m);
        let data = file
            .dataset("data")
            .map_err(|_| bad("has no 'data' dataset".into()))?;
        let shape = data.shape();
        let descriptor = data
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| bad(format!("'data' has an unreadable type: {}", one_line(&e))))?;
        let dtype = element_type(&descriptor).ok_or_else(|| {
            bad(format!(
                "'data' has type {descriptor}; trialflow reads float, integer and complex (compound r, i) values"
            ))
        })?;
        let dimord = match info.get("dimord") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`dimord` must be a list of axis names".into()))?,
            _ => kind.dimord().iter().map(|s| s.to_string()).collect(),
        };
        // SpikeData's dimord names the columns of its event rows, not the axes of `data`.
        if kind.is_dense() && dimord.len() != shape.len() {
            return Err(bad(format!(
                "`dimord` {dimord:?} does not match 'data' of shape {shape:?}"
            )));
        }
        let samplerate = number(&info, "samplerate", &info_file)?
            .or_else(|| file.attr("samplerate").ok()?.read_scalar::<f64>().ok())
            .ok_or_else(
                || bad("has no samplerate (neither in .info nor as an attribute)".into()),
            )?;
        if !(samplerate.is_finite() && samplerate > 0.0) {
            return Err(bad(format!("samplerate {samplerate} must be positive")));
        }
        let mut channels = strings(&info, "channel", &info_file)?.unwrap_or_default();
        // CrossSpectralData labels its two channel axes instead.
        let channels_j = strings(&info, "channel_j", &info_file)?.unwrap_or_default();
        if let Some(first) = strings(&info, "channel_i", &info_file)? {
            channels = first;
        }
        if let Some(all) = info
            .get("info")
            .and_then(|i| i.as_object())
            .map(|i| strings(i, "all_channels", &info_file))
            .transpose()?
            .flatten()
        {
            channels = all;
        }
        let units = strings(&info, "unit", &info_file)?.unwrap_or_default();
        let freq = match info.get("freq") {
            Some(Value::Array(items)) => items
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    StorageError::format(&info_file, "`freq` must be a list of numbers")
                })?,
            _ => file
                .attr("freq")
                .ok()
                .and_then(|a| a.read_raw::<f64>().ok())
                .unwrap_or_default(),
        };
        let trl = file
            .dataset("trialdefinition")
            .map_err(|_| bad("has no 'trialdefinition' dataset".into()))?;
        let trl_shape = trl.shape();
        if trl_shape.len() != 2 {
            return Err(bad(
                "'trialdefinition' must be 2-D (trials x columns)".into()
            ));
        }
        let values = trl.read_raw::<f64>().map_err(|e| {
            bad(format!(
                "'trialdefinition' cannot be read: {}",
                one_line(&e)
            ))
        })?;
        // Dense trials index rows of `data`; event trials index samples of the recording.
        let extent = match dimord.iter().position(|d| d == "time") {
            Some(axis) if kind.is_dense() => shape[axis],
            _ => usize::MAX,
        };
        let trialdefinition = TrialDefinition::from_rows(values, trl_shape[1], extent)
            .map_err(|m| bad(format!("trialdefinition: {m}")))?;
        let header = ObjectHeader {
            path: path.to_path_buf(),
            kind,
            samplerate,
            channels,
            channels_j,
            units,
            dimord,
            freq,
            shape,
            trialdefinition,
            value_unit: find_unit(info.get("cfg")),
            cfg: info.get("cfg").cloned().unwrap_or(Value::Null),
            complex: dtype.is_complex(),
            dtype,
            taper: strings(&info, "taper", &info_file)?.unwrap_or_default(),
            file,
        };
        header.check()?;
        Ok(header)
    }

    /// Position of axis `name` in `data`.
    pub fn axis(&self, name: &str) -> Option<usize> {
        self.dimord.iter().position(|d| d == name)
    }

    /// Channels in `data` (dense kinds) or labelled (events).
    pub fn n_channels(&self) -> usize {
        match self.axis("channel") {
            Some(a) if self.kind.is_dense() => self.shape[a],
            _ => self.channels.len(),
        }
    }

    /// The object as the engine describes data: kind, per-trial shapes in the kind's axis
    /// order (channel last), labels and axes. Event columns beyond
    /// `[sample, channel, unit]` are not described.
    pub fn schema(&self) -> DataSchema {
        let def = &self.trialdefinition;
        let extent = |axis: &str| self.axis(axis).map_or(1, |a| self.shape[a]);
        let trial_shapes = (0..def.len())
            .map(|t| {
                if !self.kind.is_dense() {
                    return Vec::new();
                }
                let mut shape = vec![def.trial_len(t)];
                shape.extend(self.kind.dimord()[1..].iter().map(|d| extent(d)));
                shape
            })
            .collect();
        let spectral = self.kind == DataKind::Spectral;
        DataSchema {
            kind: self.kind,
            dtype: self.dtype,
            trial_shapes,
            samplerate: self.samplerate,
            channels: self.channels.clone(),
            trialdefinition: def.clone(),
            freq: spectral.then(|| self.freq.clone()),
            taper: spectral.then(|| self.taper.clone()),
            units: (self.kind == DataKind::Spike).then(|| self.units.clone()),
            event_columns: Vec::new(),
            channels_j: (self.kind == DataKind::CrossSpectral).then(|| self.channels_j.clone()),
        }
    }

    /// The routine of the step that produced the object (the last `cfg` entry naming one),
    /// with that step's settings.
    pub fn producer(&self) -> Option<(&str, &Map<String, Value>)> {
        self.cfg.as_object()?.values().rev().find_map(|step| {
            let step = step.as_object()?;
            Some((step.get("routine")?.as_str()?, step))
        })
    }

    fn check(&self) -> Result<(), StorageError> {
        let bad = |m: String| StorageError::format(&self.path, m);
        let expected: &[&str] = self.kind.dimord();
        let mut sorted: Vec<&str> = self.dimord.iter().map(String::as_str).collect();
        let mut want = expected.to_vec();
        sorted.sort_unstable();
        want.sort_unstable();
        if sorted != want {
            return Err(bad(format!(
                "`dimord` is {:?}; {} has the axes {expected:?}",
                self.dimord,
                self.kind.class_name()
            )));
        }
        if self.kind == DataKind::Spike {
            if self.shape.len() != 2 || self.shape[1] < 3 {
                return Err(bad(format!(
                    "'data' has shape {:?}; SpikeData rows are [sample, channel, unit]",
                    self.shape
                )));
            }
            return Ok(());
        }
        if self.channels.len() != self.n_channels() {
            return Err(bad(format!(
                "{} channel labels for {} channels in 'data'",
                self.channels.len(),
                self.n_channels()
            )));
        }
        if let Some(f) = self.axis("freq") {
            if self.freq.len() != self.shape[f] {
                return Err(bad(format!(
                    "{} frequencies in `freq` for {} in 'data'",
                    self.freq.len(),
                    self.shape[f]
                )));
            }
        }
        Ok(())
    }
}

fn info_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.info", path.display()))
}

fn number(map: &Map<String, Value>, key: &str, file: &Path) -> Result<Option<f64>, StorageError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| StorageError::format(file, format!("`{key}` must be a number"))),
    }
}

fn strings(
    map: &Map<String, Value>,
    key: &str,
    file: &Path,
) -> Result<Option<Vec<String>>, StorageError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(StorageError::format(
                    file,
                    format!("`{key}` must be a list of labels"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(StorageError::format(
            file,
            format!("`{key}` must be a list of labels"),
        )),
    }
}

/// The values' unit as a step recorded it in `cfg` (an import records the series' `unit`).
fn find_unit(cfg: Option<&Value>) -> Option<String> {
    let steps = cfg?.as_object()?;
    steps.values().find_map(|step| {
        let step = step.as_object()?;
        step.get("unit")
            .and_then(Value::as_str)
            .or_else(|| step.get("input")?.get("unit")?.as_str())
            .map(str::to_string)
    })
}

/// The element type of `data`: complex numbers are h5py's compound `{r, i}` of two floats.
fn element_type(descriptor: &TypeDescriptor) -> Option<DType> {
    match descriptor {
        TypeDescriptor::Float(FloatSize::U4) => Some(DType::Float32),
        TypeDescriptor::Float(FloatSize::U8) => Some(DType::Float64),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => Some(DType::Int64),
        TypeDescriptor::Compound(c) if c.fields.len() == 2 => {
            match (&c.fields[0].ty, &c.fields[1].ty) {
                (TypeDescriptor::Float(FloatSize::U4), TypeDescriptor::Float(FloatSize::U4)) => {
                    Some(DType::Complex64)
                }
                (TypeDescriptor::Float(FloatSize::U8), TypeDescriptor::Float(FloatSize::U8)) => {
                    Some(DType::Complex128)
                }
                _ => None,
            }
        }
        _ => None,
    }
}
