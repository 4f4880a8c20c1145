//! Reads AnalogData objects (written by Syncopy or by trialflow) one trial at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::s;
use serde_json::{Map, Value};
use trialflow_core::engine::{TrialDecoder, TrialSource};
use trialflow_core::{DType, DataKind, DataSchema, Error, ErrorClass, TrialDefinition};

use crate::container::resolve_input;
use crate::dimord::{analog_layout, AnalogLayout};
use crate::encoded::{StoredDecoder, StoredLayout};
use crate::error::StorageError;
use crate::hdf5_util::{check_virtual_sources, one_line, open_read_only, read_string_attr};
use crate::identity::file_identity;
use crate::info::read_info;
use crate::raw_io::{as_bytes_mut, raw_offset, PlainBytes};
use crate::read_ahead::ReadAhead;
use crate::stored::StoredType;

/// An AnalogData object opened read-only. Trials are read lazily; the file is never loaded
/// whole.
pub struct SpyReader {
    path: PathBuf,
    _file: hdf5::File,
    data: hdf5::Dataset,
    /// The file and byte offset of `data`'s values when they can be read without HDF5
    /// (see `raw_io`); the reader then never takes the process-wide HDF5 lock.
    raw: Option<(std::fs::File, u64)>,
    /// Small trials of `raw` are read many at a time (see `read_ahead`).
    ahead: std::cell::RefCell<ReadAhead>,
    /// Integer time-first data in plain contiguous storage: handed to the engine as stored
    /// bytes, which its compute workers widen (as they widen float32), instead of widening
    /// here on the one reader thread.
    encoded: Option<(StoredLayout, Arc<StoredDecoder>)>,
    /// How `data` is stored; the engine sees f64.
    stored: StoredType,
    /// Trials as stored, before widening (one buffer per stored type, reused).
    narrow: NarrowBuffers,
    /// Time first (rows are samples) or channel first, as `.info`'s `dimord` says.
    layout: AnalogLayout,
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
        let facts = InfoFacts::parse(info.as_ref(), &info_path)?;
        if let Some(class) = &facts.dataclass {
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
        let descriptor = data
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| bad(format!("'data' has an unreadable type: {}", one_line(&e))))?;
        let stored = StoredType::from_descriptor(&descriptor).ok_or_else(|| {
            bad(format!(
                "'data' has type {descriptor}; trialflow reads float32, float64 and integer (int8 to int64, uint8 to uint32) data"
            ))
        })?;
        // Results of integer input are stored as float32 unless a step asks for float64.
        let dtype = match stored {
            StoredType::F64 => DType::Float64,
            _ => DType::Float32,
        };
        check_stored_size(&path, &data, "data", stored.size_bytes())?;
        facts.check_shape("data_shape", &shape, "data")?;
        let layout = analog_layout(info.as_ref(), &path)?;
        let (n_samples, n_channels) = layout.samples_channels(&shape);
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
        check_stored_size(&path, &trl, "trialdefinition", 8)?;
        facts.check_shape("trl_shape", &trl_shape, "trialdefinition")?;
        let values: Vec<f64> = trl.read_raw::<f64>().map_err(|e| {
            bad(format!(
                "'trialdefinition' cannot be read: {}",
                one_line(&e)
            ))
        })?;
        let trialdefinition = TrialDefinition::from_rows(values, trl_shape[1], n_samples)
            .map_err(|m| bad(format!("trialdefinition: {m}")))?;

        let root = &*file;
        let samplerate = facts
            .samplerate
            .or_else(|| root.attr("samplerate").ok()?.read_scalar::<f64>().ok())
            .ok_or_else(
                || bad("has no samplerate (neither in .info nor as an attribute)".into()),
            )?;
        if !(samplerate.is_finite() && samplerate > 0.0) {
            return Err(bad(format!("samplerate {samplerate} must be positive")));
        }
        let channels = facts.channels.unwrap_or_else(|| {
            (1..=n_channels)
                .map(|c| format!("channel{c}"))
                .collect::<Vec<_>>()
        });
        if channels.len() != n_channels {
            return Err(bad(format!(
                "{} channel labels for {} channels in 'data'",
                channels.len(),
                n_channels
            )));
        }
        let log = facts
            .log
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
        // Channel-first trials are strided in the file: they go through HDF5's hyperslab
        // reader and are transposed here.
        let raw = match (layout, stored) {
            (AnalogLayout::ChannelFirst, _) => None,
            (_, StoredType::F32) => raw_offset::<f32>(&data),
            (_, StoredType::F64) => raw_offset::<f64>(&data),
            (_, StoredType::I8) => raw_offset::<i8>(&data),
            (_, StoredType::I16) => raw_offset::<i16>(&data),
            (_, StoredType::I32) => raw_offset::<i32>(&data),
            (_, StoredType::I64) => raw_offset::<i64>(&data),
            (_, StoredType::U8) => raw_offset::<u8>(&data),
            (_, StoredType::U16) => raw_offset::<u16>(&data),
            (_, StoredType::U32) => raw_offset::<u32>(&data),
        }
        .and_then(|offset| Some((std::fs::File::open(&path).ok()?, offset)));
        let raw_end = raw.as_ref().map_or(0, |(_, offset)| {
            offset + (data.size() * stored.size_bytes()) as u64
        });
        let encoded = (layout == AnalogLayout::TimeFirst && stored.is_integer())
            .then(|| StoredLayout::detect(&path, &data, stored, 0))
            .flatten()
            .map(|(bytes, unfilters, chunk)| {
                let decoder = StoredDecoder {
                    what: path.display().to_string(),
                    stored,
                    columns: schema.n_channels(),
                    chunk,
                    unfilters,
                    scaling: None,
                };
                (bytes, Arc::new(decoder))
            });
        Ok(SpyReader {
            encoded,
            path,
            _file: file,
            data,
            raw,
            ahead: std::cell::RefCell::new(ReadAhead::new(raw_end)),
            stored,
            narrow: NarrowBuffers::default(),
            layout,
            schema,
            log,
            cfg,
        })
    }

    /// The HDF5 file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples in `data` (all trials stacked): the recording's time axis when trials are cut
    /// anew (`trials:` on a `.spy` input).
    pub fn samples(&self) -> usize {
        self.layout.samples_channels(&self.data.shape()).0
    }

    /// Replaces the file's trial definition (trials cut by a pipeline's `trials:` section),
    /// and says so in the `_log` the results carry forward. `definition` must lie inside
    /// [`samples`](Self::samples).
    pub fn with_trials(mut self, definition: TrialDefinition, log: &str) -> SpyReader {
        debug_assert!(
            (0..definition.len()).all(|t| definition.samples(t).end <= self.samples()),
            "cut trials lie inside the data"
        );
        let channels = std::mem::take(&mut self.schema.channels);
        self.schema = DataSchema::analog(
            self.schema.dtype,
            self.schema.samplerate,
            channels,
            definition,
        );
        self.log.push_str(log);
        self
    }
}

/// The `.info` entries the reader uses, type-checked: a value of the wrong type means the
/// `.info` is damaged or belongs to another file, and guessing around it would give results
/// with the wrong samplerate or labels. A missing key or `null` falls back to the HDF5 file.
#[derive(Debug, Default)]
struct InfoFacts<'a> {
    path: Option<&'a Path>,
    dataclass: Option<String>,
    samplerate: Option<f64>,
    channels: Option<Vec<String>>,
    log: Option<String>,
    info: Option<&'a Map<String, Value>>,
}

impl<'a> InfoFacts<'a> {
    fn parse(
        info: Option<&'a Map<String, Value>>,
        path: &'a Path,
    ) -> Result<InfoFacts<'a>, StorageError> {
        let Some(map) = info else {
            return Ok(InfoFacts::default());
        };
        let wrong = |key: &str, expected: &str, got: &Value| {
            StorageError::format(
                path,
                format!("`{key}` must be {expected}, got {}", preview(got)),
            )
        };
        let present = |key: &str| map.get(key).filter(|v| !v.is_null());
        let dataclass = match present("dataclass") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(wrong("dataclass", "a class name", other)),
        };
        let samplerate = match present("samplerate") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| wrong("samplerate", "a number", v))?,
            ),
        };
        let channels = match present("channel") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        other => Err(wrong("channel", "a list of string labels", other)),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => return Err(wrong("channel", "a list of channel labels", other)),
        };
        let log = match present("_log") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(wrong("_log", "a string", other)),
        };
        Ok(InfoFacts {
            path: Some(path),
            dataclass,
            samplerate,
            channels,
            log,
            info: Some(map),
        })
    }

    /// Refuses a `.info` shape (`data_shape`, `trl_shape`) that contradicts the dataset's.
    fn check_shape(&self, key: &str, actual: &[usize], dataset: &str) -> Result<(), StorageError> {
        let (Some(map), Some(path)) = (self.info, self.path) else {
            return Ok(());
        };
        let Some(value) = map.get(key).filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let claimed: Option<Vec<u64>> = value
            .as_array()
            .and_then(|items| items.iter().map(Value::as_u64).collect());
        let Some(claimed) = claimed else {
            return Err(StorageError::format(
                path,
                format!("`{key}` must be a list of sizes, got {}", preview(value)),
            ));
        };
        if claimed.len() != actual.len() || claimed.iter().zip(actual).any(|(&c, &a)| c != a as u64)
        {
            return Err(StorageError::format(
                path,
                format!(
                    "`{key}` is {claimed:?}, but '{dataset}' has shape {actual:?}: the .info does not describe this file"
                ),
            ));
        }
        Ok(())
    }
}

/// A JSON value for a one-line message, cut to a readable length.
fn preview(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// The most a chunked or virtual dataset that trialflow reads whole may claim; a contiguous
/// one is held to the bytes the file stores for it.
const MAX_UNBACKED_BYTES: u64 = 256 << 20;

/// Refuses a dataset whose shape claims more values than the file can hold. A damaged
/// dataspace can claim 10^13 rows; reading the trialdefinition whole (or one trial of such
/// `data`) would then try to allocate terabytes and abort the process.
pub(crate) fn check_stored_size(
    path: &Path,
    dataset: &hdf5::Dataset,
    name: &str,
    element_bytes: usize,
) -> Result<(), StorageError> {
    use hdf5::plist::dataset_create::Layout;
    let shape = dataset.shape();
    let claimed = shape
        .iter()
        .try_fold(element_bytes as u64, |acc, &d| acc.checked_mul(d as u64));
    let Some(claimed) = claimed else {
        return Err(StorageError::format(
            path,
            format!("'{name}' claims shape {shape:?}, too large to exist: the file is damaged"),
        ));
    };
    let layout = dataset
        .dcpl()
        .map(|p| p.layout())
        .unwrap_or(Layout::Chunked);
    match layout {
        Layout::Contiguous | Layout::Compact => {
            let stored = dataset.storage_size();
            if claimed > stored && stored > 0 || stored == 0 && claimed > MAX_UNBACKED_BYTES {
                return Err(StorageError::format(
                    path,
                    format!(
                        "'{name}' claims shape {shape:?} ({claimed} bytes), but the file stores {stored} bytes for it: the file is damaged"
                    ),
                ));
            }
        }
        _ if name == "trialdefinition" && claimed > MAX_UNBACKED_BYTES => {
            return Err(StorageError::format(
                path,
                format!(
                    "'{name}' claims shape {shape:?} ({claimed} bytes); more than {MAX_UNBACKED_BYTES} bytes of trial definition is refused as damage"
                ),
            ));
        }
        _ => {}
    }
    Ok(())
}

impl SpyReader {
    /// Reads a trial's rows in the stored element type `T`: straight from the file when
    /// `data` is plain contiguous storage (no HDF5 call, so no process-wide lock), else
    /// through HDF5.
    fn read_stored<T: PlainBytes + Default>(
        &self,
        trial: usize,
        out: &mut Vec<T>,
    ) -> Result<(), Error> {
        let rows = self.schema.trialdefinition.samples(trial);
        self.read_stored_rows(trial, rows, out)
    }

    /// [`read_stored`](Self::read_stored) of samples `rows` of the recording (absolute),
    /// which lie in trial `trial` (named in messages).
    fn read_stored_rows<T: PlainBytes + Default>(
        &self,
        trial: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<T>,
    ) -> Result<(), Error> {
        let fail = |message: String| {
            Error::input(
                format!("{} (trial {trial})", self.path.display()),
                message,
                ErrorClass::Runtime,
            )
        };
        let n_channels = self.schema.n_channels();
        match &self.raw {
            Some((file, offset)) => {
                let row_bytes = (n_channels * std::mem::size_of::<T>()) as u64;
                out.resize(rows.len() * n_channels, T::default());
                self.ahead
                    .borrow_mut()
                    .read(
                        file,
                        offset + rows.start as u64 * row_bytes,
                        as_bytes_mut(out),
                    )
                    .map_err(|e| fail(format!("reading 'data' failed: {e}")))
            }
            None if self.layout == AnalogLayout::ChannelFirst => {
                let block = self
                    .data
                    .read_slice_2d::<T, _>(s![.., rows.start..rows.end])
                    .map_err(|e| fail(one_line(&e)))?;
                out.clear();
                out.extend(block.t().iter().copied());
                Ok(())
            }
            None => {
                let block = self
                    .data
                    .read_slice_2d::<T, _>(s![rows.start..rows.end, ..])
                    .map_err(|e| fail(one_line(&e)))?;
                // Contiguous and row-major: it becomes the trial buffer without a copy.
                let (values, offset) = block.into_raw_vec_and_offset();
                debug_assert!(offset.unwrap_or(0) == 0);
                *out = values;
                Ok(())
            }
        }
    }
}

impl TrialSource for SpyReader {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        let len = self.schema.trialdefinition.trial_len(trial);
        self.read_trial_rows(trial, 0..len, out)
    }

    fn read_trial_rows(
        &mut self,
        trial: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<(), Error> {
        let start = self.schema.trialdefinition.start(trial);
        let rows = start + rows.start..start + rows.end;
        // Narrow types are read as stored and widened over a plain slice: about twice as
        // fast as letting HDF5 convert (it zero-fills and copies a conversion buffer).
        match self.stored {
            StoredType::F64 => self.read_stored_rows(trial, rows, out),
            StoredType::F32 => widen_into(self, trial, rows, |b| &mut b.f32, out),
            StoredType::I8 => widen_into(self, trial, rows, |b| &mut b.i8, out),
            StoredType::I16 => widen_into(self, trial, rows, |b| &mut b.i16, out),
            StoredType::I32 => widen_into(self, trial, rows, |b| &mut b.i32, out),
            StoredType::I64 => widen_into(self, trial, rows, |b| &mut b.i64, out),
            StoredType::U8 => widen_into(self, trial, rows, |b| &mut b.u8, out),
            StoredType::U16 => widen_into(self, trial, rows, |b| &mut b.u16, out),
            StoredType::U32 => widen_into(self, trial, rows, |b| &mut b.u32, out),
        }
    }

    fn decoder(&self) -> Option<Arc<dyn TrialDecoder>> {
        self.encoded
            .as_ref()
            .map(|(_, decoder)| Arc::clone(decoder) as Arc<dyn TrialDecoder>)
    }

    fn read_trial_encoded(&mut self, trial: usize, out: &mut Vec<u8>) -> Result<bool, Error> {
        let Some((layout, _)) = &self.encoded else {
            return Ok(false);
        };
        let rows = self.schema.trialdefinition.samples(trial);
        layout.read(rows, out).map_err(|e| {
            Error::input(
                format!("{} (trial {trial})", self.path.display()),
                format!("reading 'data' failed: {e}"),
                ErrorClass::Runtime,
            )
        })
    }

    fn read_trial_f32(&mut self, trial: usize, out: &mut Vec<f32>) -> Result<bool, Error> {
        if self.stored != StoredType::F32 {
            return Ok(false);
        }
        self.read_stored(trial, out)?;
        Ok(true)
    }

    fn read_trials_f32(
        &mut self,
        trials: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) -> Result<bool, Error> {
        let def = &self.schema.trialdefinition;
        let back_to_back = trials
            .clone()
            .skip(1)
            .all(|t| def.start(t) == def.stop(t - 1));
        if self.stored != StoredType::F32 || self.raw.is_none() || !back_to_back {
            return Ok(false);
        }
        let Some(last) = trials.end.checked_sub(1) else {
            return Ok(false);
        };
        let rows = def.start(trials.start)..def.stop(last);
        self.read_stored_rows(trials.start, rows, out)?;
        Ok(true)
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

    /// The data file (path, size, modification time): a changed or replaced input is never
    /// mixed with results computed from the old one.
    fn identity(&self) -> Value {
        file_identity(&self.path)
    }
}

/// Reused buffers for trials in their stored type, one per narrow type.
#[derive(Debug, Default)]
struct NarrowBuffers {
    f32: Vec<f32>,
    i8: Vec<i8>,
    i16: Vec<i16>,
    i32: Vec<i32>,
    i64: Vec<i64>,
    u8: Vec<u8>,
    u16: Vec<u16>,
    u32: Vec<u32>,
}

/// Values that widen to f64 (exactly, except int64 beyond 2^53, which rounds as numpy's
/// `astype(float64)` does).
trait Widen: PlainBytes + Default {
    fn widen(self) -> f64;
}

macro_rules! widen_exact {
    ($($t:ty),*) => {$(
        impl Widen for $t {
            fn widen(self) -> f64 {
                f64::from(self)
            }
        }
    )*};
}
widen_exact!(f32, i8, i16, i32, u8, u16, u32);

impl Widen for i64 {
    fn widen(self) -> f64 {
        self as f64
    }
}

/// Reads a trial into the stored type's buffer, then widens it into `out`.
fn widen_into<T: Widen>(
    reader: &mut SpyReader,
    trial: usize,
    rows: std::ops::Range<usize>,
    buffer: impl Fn(&mut NarrowBuffers) -> &mut Vec<T>,
    out: &mut Vec<f64>,
) -> Result<(), Error> {
    let mut narrow = std::mem::take(buffer(&mut reader.narrow));
    let read = reader.read_stored_rows(trial, rows, &mut narrow);
    out.clear();
    out.extend(narrow.iter().map(|&v| v.widen()));
    *buffer(&mut reader.narrow) = narrow;
    read
}
