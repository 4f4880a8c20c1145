//! What an NWB file holds: its ElectricalSeries and interval tables, found by their
//! `neurodata_type` attribute (never by name), with every attribute a reader needs.

use std::path::{Path, PathBuf};

use hdf5::types::TypeDescriptor;

pub use crate::stored::StoredType;

use crate::error::StorageError;
use crate::hdf5_util::{one_line, open_read_only, open_read_only_cached, read_string_attr};

/// How far sampling may stray from a regular grid before `timestamps` are refused, as a
/// fraction of the sample interval: a regular grid written as float64 seconds strays by
/// rounding only (about 1e-9 of an interval at 30 kHz after a day), while jitter a
/// resampling would hide strays by whole percents.
pub const TIMESTAMP_TOLERANCE: f64 = 0.01;

/// When a series' samples were taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeBase {
    /// `starting_time` with its `rate` attribute.
    Rate { start: f64, rate: f64 },
    /// A regular `timestamps` dataset: its first value and the rate its span implies.
    Timestamps { first: f64, rate: f64 },
}

impl TimeBase {
    /// The time of sample 0, in seconds.
    pub fn start(&self) -> f64 {
        match *self {
            TimeBase::Rate { start, .. } => start,
            TimeBase::Timestamps { first, .. } => first,
        }
    }

    pub fn rate(&self) -> f64 {
        match *self {
            TimeBase::Rate { rate, .. } | TimeBase::Timestamps { rate, .. } => rate,
        }
    }
}

/// One ElectricalSeries, as a reader needs it.
#[derive(Debug, Clone)]
pub struct NwbSeries {
    /// Its HDF5 path, e.g. `/acquisition/raw` or `/processing/ecephys/LFP/lfp`.
    pub path: String,
    pub name: String,
    /// `[samples, channels]`.
    pub shape: [usize; 2],
    pub stored: StoredType,
    pub time: TimeBase,
    /// `data`'s `unit` attribute (NWB says volts for ElectricalSeries).
    pub unit: String,
    pub conversion: f64,
    pub offset: f64,
    pub channel_conversion: Option<Vec<f64>>,
    /// Rows of the electrodes table, one per channel.
    pub electrodes: Vec<i64>,
    pub chunks: Option<Vec<usize>>,
    pub compressed: bool,
}

impl NwbSeries {
    /// `data x conversion x channel_conversion[channel] + offset` is the value in `unit`;
    /// these are the per-channel factors `conversion x channel_conversion[channel]`.
    pub fn channel_factors(&self) -> Vec<f64> {
        match &self.channel_conversion {
            Some(cc) => cc.iter().map(|c| self.conversion * c).collect(),
            None => vec![self.conversion; self.shape[1]],
        }
    }

    /// True when the stored values are already the values in `unit` (no scaling to apply).
    pub fn is_unscaled(&self) -> bool {
        self.conversion == 1.0 && self.offset == 0.0 && self.channel_conversion.is_none()
    }
}

/// The kind of values an interval-table column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Integers, floats or booleans: usable as trialinfo.
    Numeric,
    /// Strings: listed, not used as trialinfo.
    Text,
    /// A ragged column (`<col>` with `<col>_index`), references, or anything else.
    Other,
}

/// One column of an interval table.
#[derive(Debug, Clone)]
pub struct NwbColumn {
    pub name: String,
    pub kind: ColumnKind,
    pub dtype: String,
}

/// A table under `/intervals` (trials, epochs, or a custom one).
#[derive(Debug, Clone)]
pub struct NwbIntervalTable {
    pub path: String,
    pub name: String,
    pub rows: usize,
    /// In the table's `colnames` order.
    pub columns: Vec<NwbColumn>,
}

/// An NWB file opened read-only, with its catalog.
pub struct NwbFile {
    path: PathBuf,
    file: hdf5::File,
    series: Vec<NwbSeries>,
    tables: Vec<NwbIntervalTable>,
    version: String,
}

impl std::fmt::Debug for NwbFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NwbFile").field("path", &self.path).finish()
    }
}

/// True when `path` looks like an NWB file by name (`.nwb`) or is an HDF5 file with an
/// `nwb_version` attribute at its root.
pub fn is_nwb(path: &Path) -> bool {
    if path.extension().and_then(|e| e.to_str()) == Some("nwb") {
        return true;
    }
    if !path.is_file() {
        return false;
    }
    open_read_only(path)
        .map(|f| f.attr("nwb_version").is_ok())
        .unwrap_or(false)
}

impl NwbFile {
    /// Opens an HDF5-backed NWB 2.x file read-only and lists what it holds. Zarr-backed NWB
    /// (a folder) and files that are not NWB are refused, naming the file.
    pub fn open(path: &Path) -> Result<NwbFile, StorageError> {
        if path.is_dir() {
            let zarr = path.join(".zgroup").exists() || path.join("zarr.json").exists();
            return Err(StorageError::format(
                path,
                if zarr {
                    "is a Zarr-backed NWB file; trialflow reads HDF5-backed NWB only (convert it with hdmf-zarr's NWBZarrIO.export to HDF5)"
                } else {
                    "is a folder, not an NWB file"
                },
            ));
        }
        if !path.exists() {
            return Err(StorageError::format(path, "no such file"));
        }
        let file = open_read_only_cached(path).map_err(|_| {
            StorageError::format(
                path,
                "is not an NWB file (not HDF5; Zarr-backed NWB is not supported)",
            )
        })?;
        let version = read_string_attr(&file, "nwb_version").ok_or_else(|| {
            StorageError::format(
                path,
                "is not an NWB file (its root has no nwb_version attribute)",
            )
        })?;
        let mut series = Vec::new();
        let mut tables = Vec::new();
        for top in ["acquisition", "processing"] {
            if let Ok(group) = file.group(top) {
                find_series(path, &group, &format!("/{top}"), &mut series, 0)?;
            }
        }
        if let Ok(intervals) = file.group("intervals") {
            for name in intervals.member_names().unwrap_or_default() {
                let Ok(group) = intervals.group(&name) else {
                    continue;
                };
                tables.push(read_table(
                    path,
                    &group,
                    &format!("/intervals/{name}"),
                    &name,
                )?);
            }
        }
        Ok(NwbFile {
            path: path.to_path_buf(),
            file,
            series,
            tables,
            version,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn nwb_version(&self) -> &str {
        &self.version
    }

    pub fn series(&self) -> &[NwbSeries] {
        &self.series
    }

    pub fn tables(&self) -> &[NwbIntervalTable] {
        &self.tables
    }

    pub(crate) fn hdf5(&self) -> &hdf5::File {
        &self.file
    }

    /// The series named by `wanted` (its name or HDF5 path), or the only one there is.
    pub fn choose_series(&self, wanted: Option<&str>) -> Result<&NwbSeries, StorageError> {
        let listing = || {
            self.series
                .iter()
                .map(|s| s.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match wanted {
            Some(w) => {
                let w = w.trim_end_matches('/');
                let hits: Vec<&NwbSeries> = self
                    .series
                    .iter()
                    .filter(|s| s.path == w || s.path == format!("/{w}") || s.name == w)
                    .collect();
                match hits.as_slice() {
                    [one] => Ok(one),
                    [] => Err(StorageError::format(&self.path, format!(
                        "`series: {w}` names no ElectricalSeries; the file has: {}",
                        if self.series.is_empty() { "none".into() } else { listing() }
                    ))),
                    _ => Err(StorageError::format(&self.path, format!("`series: {w}` is ambiguous; give its HDF5 path, one of: {}",
                        hits.iter().map(|s| s.path.as_str()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
            None => match self.series.as_slice() {
                [one] => Ok(one),
                [] => Err(StorageError::format(
                    &self.path,
                    "holds no ElectricalSeries (in /acquisition or /processing)",
                )),
                _ => Err(StorageError::format(&self.path, format!(
                    "holds {} ElectricalSeries; choose one with `series:` (its name or HDF5 path): {}",
                    self.series.len(),
                    listing()
                ))),
            },
        }
    }

    /// The interval table named `name` (`trials`, `epochs`, or a custom table under
    /// `/intervals`, by name or path).
    pub fn table(&self, name: &str) -> Result<&NwbIntervalTable, StorageError> {
        self.tables
            .iter()
            .find(|t| t.name == name || t.path == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
                StorageError::format(
                    &self.path,
                    format!(
                        "has no interval table '{name}'; tables under /intervals: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })
    }

    /// A numeric column of an interval table as float64 (booleans as 0/1).
    pub fn numeric_column(
        &self,
        table: &NwbIntervalTable,
        column: &str,
    ) -> Result<Vec<f64>, StorageError> {
        let described = table.columns.iter().find(|c| c.name == column);
        match described {
            None => Err(StorageError::format(
                &self.path,
                format!(
                    "table '{}' has no column '{column}'; its columns: {}",
                    table.name,
                    table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(c) if c.kind != ColumnKind::Numeric => Err(StorageError::format(
                &self.path,
                format!(
                    "column '{column}' of table '{}' holds {}, not numbers",
                    table.name, c.dtype
                ),
            )),
            Some(_) => {
                let ds = self
                    .file
                    .dataset(&format!("{}/{column}", table.path))
                    .map_err(|e| self.unreadable(&format!("{}/{column}", table.path), &e))?;
                read_numbers(&ds)
                    .map_err(|e| self.unreadable(&format!("{}/{column}", table.path), &e))
            }
        }
    }

    /// The channel labels of a series, from the electrodes table rows its `electrodes`
    /// region references: the column `column` when given; else `label` when the table has
    /// it; else `location` joined with the electrode id, so labels are unique.
    pub fn channel_labels(
        &self,
        series: &NwbSeries,
        column: Option<&str>,
    ) -> Result<Vec<String>, StorageError> {
        let (table, path) = self.electrodes_table(series)?;
        let table_path = path.as_str();
        let names = table.member_names().unwrap_or_default();
        let text_column = |name: &str| -> Result<Vec<String>, StorageError> {
            let ds = table
                .dataset(name)
                .map_err(|e| self.unreadable(&format!("{table_path}/{name}"), &e))?;
            read_texts(&ds).map_err(|e| self.unreadable(&format!("{table_path}/{name}"), &e))
        };
        let all: Vec<String> = match column {
            Some(c) => {
                if !names.iter().any(|n| n == c) {
                    return Err(StorageError::format(&self.path, format!("`channel_labels: {c}` is not a column of the electrodes table; its columns: {}",
                        names.join(", ")
                    )));
                }
                text_column(c)?
            }
            None if names.iter().any(|n| n == "label") => text_column("label")?,
            None => {
                let locations = text_column("location")?;
                let ids = table
                    .dataset("id")
                    .and_then(|d| d.read_raw::<i64>())
                    .map_err(|e| self.unreadable(&format!("{table_path}/id"), &e))?;
                locations
                    .iter()
                    .zip(&ids)
                    .map(|(l, id)| format!("{l}_{id}"))
                    .collect()
            }
        };
        series
            .electrodes
            .iter()
            .map(|&row| {
                usize::try_from(row)
                    .ok()
                    .and_then(|r| all.get(r).cloned())
                    .ok_or_else(|| {
                        StorageError::format(&self.path, format!("{}/electrodes references row {row}, but the electrodes table has {} rows",
                            series.path,
                            all.len()
                        ))
                    })
            })
            .collect()
    }

    /// The table a series' `electrodes` region references: the group its `table` attribute
    /// (an object reference) points at, else NWB's standard place for it.
    fn electrodes_table(&self, series: &NwbSeries) -> Result<(hdf5::Group, String), StorageError> {
        const STANDARD: &str = "/general/extracellular_ephys/electrodes";
        let referenced = self
            .file
            .dataset(&format!("{}/electrodes", series.path))
            .and_then(|d| d.attr("table"))
            .and_then(|a| a.read_scalar::<hdf5::ObjectReference1>())
            .and_then(|r| self.file.dereference(&r));
        if let Ok(hdf5::ReferencedObject::Group(group)) = referenced {
            let name = group.name();
            return Ok((group, name));
        }
        let group = self
            .file
            .group(STANDARD)
            .map_err(|e| self.unreadable(STANDARD, &e))?;
        Ok((group, STANDARD.to_string()))
    }

    fn unreadable(&self, what: &str, e: &hdf5::Error) -> StorageError {
        StorageError::format(
            &self.path,
            format!("{what} cannot be read: {}", one_line(e)),
        )
    }
}

/// Walks groups below `group` (processing modules, LFP containers, ...) collecting every
/// group whose `neurodata_type` is ElectricalSeries.
fn find_series(
    file: &Path,
    group: &hdf5::Group,
    at: &str,
    out: &mut Vec<NwbSeries>,
    depth: usize,
) -> Result<(), StorageError> {
    // NWB nests series at most a few levels deep; a cycle of links must not loop forever.
    if depth > 8 {
        return Ok(());
    }
    for name in group.member_names().unwrap_or_default() {
        let Ok(child) = group.group(&name) else {
            continue;
        };
        let path = format!("{at}/{name}");
        if read_string_attr(&child, "neurodata_type").as_deref() == Some("ElectricalSeries") {
            out.push(read_series(file, &child, &path, &name)?);
        } else {
            find_series(file, &child, &path, out, depth + 1)?;
        }
    }
    Ok(())
}

fn read_series(
    file: &Path,
    group: &hdf5::Group,
    path: &str,
    name: &str,
) -> Result<NwbSeries, StorageError> {
    let bad = |m: String| StorageError::format(file, format!("{path}: {m}"));
    let data = group
        .dataset("data")
        .map_err(|e| bad(format!("'data' cannot be opened: {}", one_line(&e))))?;
    let shape = data.shape();
    let shape = match shape.as_slice() {
        [n, c] => [*n, *c],
        [n] => [*n, 1],
        other => {
            return Err(bad(format!(
                "'data' has {} dimensions; an ElectricalSeries is samples x channels",
                other.len()
            )))
        }
    };
    let descriptor = data
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| bad(format!("'data' has an unreadable type: {}", one_line(&e))))?;
    let stored = StoredType::from_descriptor(&descriptor).ok_or_else(|| {
        bad(format!(
            "'data' has type {descriptor}; trialflow reads integer and float series"
        ))
    })?;
    let f64_attr = |name: &str| -> Option<f64> { data.attr(name).ok()?.read_scalar::<f64>().ok() };
    let conversion = f64_attr("conversion").unwrap_or(1.0);
    let offset = f64_attr("offset").unwrap_or(0.0);
    if !conversion.is_finite() || !offset.is_finite() {
        return Err(bad(format!(
            "'data' has conversion {conversion} and offset {offset}; both must be finite"
        )));
    }
    let unit = read_string_attr(&data, "unit").unwrap_or_else(|| "volts".into());
    let channel_conversion = match group.dataset("channel_conversion") {
        Ok(ds) => {
            let values = read_numbers(&ds).map_err(|e| {
                bad(format!(
                    "'channel_conversion' cannot be read: {}",
                    one_line(&e)
                ))
            })?;
            if values.len() != shape[1] {
                return Err(bad(format!(
                    "'channel_conversion' has {} values for {} channels",
                    values.len(),
                    shape[1]
                )));
            }
            Some(values)
        }
        Err(_) => None,
    };
    let time = read_time_base(group, shape[0]).map_err(bad)?;
    let electrodes = match group.dataset("electrodes") {
        Ok(ds) => ds
            .read_raw::<i64>()
            .map_err(|e| bad(format!("'electrodes' cannot be read: {}", one_line(&e))))?,
        Err(_) => (0..shape[1] as i64).collect(),
    };
    if electrodes.len() != shape[1] {
        return Err(bad(format!(
            "'electrodes' names {} rows for {} channels",
            electrodes.len(),
            shape[1]
        )));
    }
    let chunks = data.chunk();
    let compressed = !data.filters().is_empty();
    Ok(NwbSeries {
        path: path.to_string(),
        name: name.to_string(),
        shape,
        stored,
        time,
        unit,
        conversion,
        offset,
        channel_conversion,
        electrodes,
        chunks,
        compressed,
    })
}

/// `starting_time` + `rate`, or `timestamps` that must be regular within
/// [`TIMESTAMP_TOLERANCE`] of a sample interval.
fn read_time_base(group: &hdf5::Group, samples: usize) -> Result<TimeBase, String> {
    if let Ok(st) = group.dataset("starting_time") {
        let start = st
            .read_scalar::<f64>()
            .map_err(|e| format!("'starting_time' cannot be read: {}", one_line(&e)))?;
        let rate = st
            .attr("rate")
            .and_then(|a| a.read_scalar::<f64>())
            .map_err(|_| "'starting_time' has no 'rate' attribute".to_string())?;
        if !(rate.is_finite() && rate > 0.0 && start.is_finite()) {
            return Err(format!(
                "starting_time {start} s at rate {rate} Hz: the rate must be positive"
            ));
        }
        return Ok(TimeBase::Rate { start, rate });
    }
    let ts = group
        .dataset("timestamps")
        .map_err(|_| "has neither 'starting_time' nor 'timestamps'".to_string())?;
    let times: Vec<f64> = ts
        .read_raw::<f64>()
        .map_err(|e| format!("'timestamps' cannot be read: {}", one_line(&e)))?;
    if times.len() != samples {
        return Err(format!(
            "'timestamps' has {} values for {samples} samples",
            times.len()
        ));
    }
    if samples < 2 {
        return Err("'timestamps' of fewer than two samples give no samplerate".into());
    }
    let first = times[0];
    let span = times[samples - 1] - first;
    let rate = (samples - 1) as f64 / span;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!(
            "'timestamps' run from {first} to {} s: they must increase",
            times[samples - 1]
        ));
    }
    let interval = span / (samples - 1) as f64;
    let (worst, at) = times
        .iter()
        .enumerate()
        .map(|(i, &t)| ((t - (first + i as f64 * interval)).abs(), i))
        .fold((0.0f64, 0usize), |acc, x| {
            if x.0 > acc.0 || x.0.is_nan() {
                x
            } else {
                acc
            }
        });
    // NaN timestamps (worst is then NaN) are refused too.
    if worst.is_nan() || worst > TIMESTAMP_TOLERANCE * interval {
        return Err(format!(
            "'timestamps' are irregular: sample {at} is {:.3e} s off the regular grid of {rate} Hz (more than {}% of a sample interval); trialflow needs regularly sampled data",
            worst,
            TIMESTAMP_TOLERANCE * 100.0
        ));
    }
    Ok(TimeBase::Timestamps { first, rate })
}

fn read_table(
    file: &Path,
    group: &hdf5::Group,
    path: &str,
    name: &str,
) -> Result<NwbIntervalTable, StorageError> {
    let members = group.member_names().unwrap_or_default();
    let colnames = read_strings_attr(group, "colnames").unwrap_or_else(|| {
        members
            .iter()
            .filter(|m| *m != "id" && !m.ends_with("_index"))
            .cloned()
            .collect()
    });
    let rows = group
        .dataset("id")
        .map(|d| d.shape().first().copied().unwrap_or(0))
        .or_else(|_| {
            group
                .dataset("start_time")
                .map(|d| d.shape().first().copied().unwrap_or(0))
        })
        .map_err(|_| {
            StorageError::format(file, format!("{path} has neither 'id' nor 'start_time'"))
        })?;
    let columns = colnames
        .iter()
        .map(|c| {
            let ragged = members.iter().any(|m| *m == format!("{c}_index"));
            let (kind, dtype) = match group.dataset(c) {
                Ok(ds) if !ragged => classify(&ds),
                Ok(_) => (ColumnKind::Other, "ragged".to_string()),
                Err(_) => (ColumnKind::Other, "missing".to_string()),
            };
            NwbColumn {
                name: c.clone(),
                kind,
                dtype,
            }
        })
        .collect();
    Ok(NwbIntervalTable {
        path: path.to_string(),
        name: name.to_string(),
        rows,
        columns,
    })
}

fn classify(ds: &hdf5::Dataset) -> (ColumnKind, String) {
    let Ok(descriptor) = ds.dtype().and_then(|t| t.to_descriptor()) else {
        return (ColumnKind::Other, "unknown".into());
    };
    if ds.ndim() != 1 {
        return (
            ColumnKind::Other,
            format!("{descriptor} x {:?}", ds.shape()),
        );
    }
    let kind = match descriptor {
        TypeDescriptor::Integer(_)
        | TypeDescriptor::Unsigned(_)
        | TypeDescriptor::Float(_)
        | TypeDescriptor::Boolean => ColumnKind::Numeric,
        TypeDescriptor::VarLenUnicode
        | TypeDescriptor::VarLenAscii
        | TypeDescriptor::FixedAscii(_)
        | TypeDescriptor::FixedUnicode(_) => ColumnKind::Text,
        _ => ColumnKind::Other,
    };
    let name = match descriptor {
        TypeDescriptor::Boolean => "bool".to_string(),
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => "text".to_string(),
        other => other.to_string(),
    };
    (kind, name)
}

/// A 1-D numeric dataset as float64 (booleans as 0 and 1).
fn read_numbers(ds: &hdf5::Dataset) -> hdf5::Result<Vec<f64>> {
    match ds.dtype()?.to_descriptor()? {
        TypeDescriptor::Boolean => Ok(ds
            .read_raw::<bool>()?
            .into_iter()
            .map(|b| f64::from(u8::from(b)))
            .collect()),
        _ => ds.read_raw::<f64>(),
    }
}

/// A 1-D string dataset, whatever its HDF5 string type.
fn read_texts(ds: &hdf5::Dataset) -> hdf5::Result<Vec<String>> {
    use hdf5::types::{VarLenAscii, VarLenUnicode};
    match ds.dtype()?.to_descriptor()? {
        TypeDescriptor::VarLenUnicode => Ok(ds
            .read_raw::<VarLenUnicode>()?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()),
        TypeDescriptor::VarLenAscii => Ok(ds
            .read_raw::<VarLenAscii>()?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => Ok(ds
            .read_raw::<i64>()?
            .iter()
            .map(|v| v.to_string())
            .collect()),
        other => Err(hdf5::Error::from(format!("holds {other}, not text"))),
    }
}

/// A string-array attribute (such as a table's `colnames`).
fn read_strings_attr(location: &hdf5::Location, name: &str) -> Option<Vec<String>> {
    use hdf5::types::{VarLenAscii, VarLenUnicode};
    let attr = location.attr(name).ok()?;
    match attr.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::VarLenUnicode => attr
            .read_raw::<VarLenUnicode>()
            .ok()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect()),
        TypeDescriptor::VarLenAscii => attr
            .read_raw::<VarLenAscii>()
            .ok()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect()),
        _ => None,
    }
}
