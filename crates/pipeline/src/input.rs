//! Opening a pipeline's input as a trial source: a Syncopy object of any kind (`.spy`
//! container, `CONTAINER.spy/NAME` or object file: AnalogData through `SpyReader`,
//! SpectralData, CrossSpectralData and SpikeData through `trialflow_hdf5::sources`), or an
//! NWB file's ElectricalSeries with trials cut by the `trials:` section.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trialflow_core::engine::TrialSource;
use trialflow_hdf5::nwb::{is_nwb, ColumnKind, NwbFile, NwbSource, Scale};
use trialflow_hdf5::sources::{input_object, open_object_source};
use trialflow_hdf5::{resolve_input, SpyReader};

use crate::channel_subset::ChannelSubset;
use crate::error::PipelineError;
use crate::select::Selection;
use crate::trials::{TableColumns, TimeAxis, TrialsSection};

const KEYS: &[&str] = &["path", "series", "scale", "channel_labels"];

/// The `input:` section: a path, or a mapping with the path and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub path: PathBuf,
    /// NWB: the ElectricalSeries to read (its name or HDF5 path).
    pub series: Option<String>,
    /// NWB: values in the series' unit (default) or as stored (`scale: raw`).
    pub scale: Scale,
    /// NWB: the electrodes-table column that labels channels.
    pub channel_labels: Option<String>,
}

impl InputSpec {
    /// A plain input path.
    pub fn path(path: PathBuf) -> InputSpec {
        InputSpec {
            path,
            series: None,
            scale: Scale::Unit,
            channel_labels: None,
        }
    }

    /// Parses `input:`; `resolve` makes a relative path relative to the pipeline file.
    pub(crate) fn parse(
        value: &Value,
        resolve: impl Fn(&str) -> PathBuf,
    ) -> Result<InputSpec, PipelineError> {
        let map = match value {
            Value::String(path) => return Ok(InputSpec::path(resolve(path))),
            Value::Object(map) => map,
            Value::Null => return Err(PipelineError::user("missing key `input`")),
            other => {
                return Err(PipelineError::user(format!(
                    "`input`: expected a path or a mapping with `path`, got {other}"
                )))
            }
        };
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(PipelineError::user(format!(
                    "unknown key `input.{key}`; expected one of: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let text = |key: &str| -> Result<Option<String>, PipelineError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(PipelineError::user(format!(
                    "`input.{key}`: expected text, got {other}"
                ))),
            }
        };
        let path = text("path")?.ok_or_else(|| PipelineError::user("missing key `input.path`"))?;
        let scale = match text("scale")?.as_deref() {
            None | Some("unit") => Scale::Unit,
            Some("raw") => Scale::Raw,
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`input.scale`: expected unit or raw, got '{other}'"
                )))
            }
        };
        Ok(InputSpec {
            path: resolve(&path),
            series: text("series")?,
            scale,
            channel_labels: text("channel_labels")?,
        })
    }

    /// Whether the input is an NWB file.
    pub fn is_nwb(&self) -> bool {
        is_nwb(&self.path)
    }
}

/// An opened input: the trial source and the file it reads (for the output-over-input
/// check).
pub struct OpenedInput {
    pub source: Box<dyn TrialSource>,
    pub file: PathBuf,
}

/// Opens the input read-only and cuts its trials.
pub fn open_input(
    spec: &InputSpec,
    trials: Option<&TrialsSection>,
    select: Option<&Selection>,
) -> Result<OpenedInput, PipelineError> {
    if spec.is_nwb() || spec.path.is_dir() && !is_spy_container(&spec.path) {
        return open_nwb(spec, trials, select);
    }
    for (key, given) in [
        ("series", spec.series.is_some()),
        ("channel_labels", spec.channel_labels.is_some()),
        ("scale", spec.scale != Scale::Unit),
    ] {
        if given {
            return Err(PipelineError::user(format!(
                "`input.{key}` applies to NWB inputs; {} is a Syncopy container",
                spec.path.display()
            )));
        }
    }
    // A container with one AnalogData object reads it, as it always has; otherwise the path
    // names one object of any kind (the only one, or `CONTAINER.spy/NAME`).
    let analog_container = spec.path.is_dir() && resolve_input(&spec.path).is_ok();
    let mut reader = match input_object(&spec.path).filter(|_| !analog_container) {
        Some((file, kind)) if kind != trialflow_core::DataKind::Analog => {
            return open_object(&file, kind, trials, select)
        }
        // A named AnalogData file; a container goes through the reader's own resolution,
        // which refuses two AnalogData files by name even when only one has a `.info`.
        Some((file, _)) if !spec.path.is_dir() => SpyReader::open(&file)?,
        _ => SpyReader::open(&spec.path)?,
    };
    if let Some(section) = trials {
        if let Some(table) = section.table() {
            return Err(PipelineError::user(format!(
                "`trials.table: {table}`: interval tables come from NWB files; {} is a Syncopy container (use events, events_file or length)",
                spec.path.display()
            )));
        }
        // The recording's own time axis: sample i of the stacked data is at i / samplerate.
        let axis = TimeAxis {
            t0: 0.0,
            rate: reader.schema().samplerate,
            samples: reader.samples(),
        };
        let cut = section.cut(axis, None)?;
        let mut log = format!(
            "trials cut anew: {} trials from {}\n",
            cut.definition.len(),
            section.raw
        );
        for line in &cut.log {
            log.push_str(&format!("\t{line}\n"));
        }
        reader = reader.with_trials(cut.definition, &log);
    }
    let file = reader.path().to_path_buf();
    let Some(selection) = select else {
        return Ok(OpenedInput {
            source: Box::new(reader),
            file,
        });
    };
    // Syncopy's trialinfo columns have no names; `where` calls them trialinfo_0, ...
    let schema = reader.schema();
    let info_columns: Vec<String> = (0..schema.trialdefinition.columns() - 3)
        .map(|i| format!("trialinfo_{i}"))
        .collect();
    let selected = selection.apply(
        &schema.trialdefinition,
        schema.samplerate,
        &schema.channels,
        &info_columns,
    )?;
    let reader = reader.with_trials(selected.definition, &selected.log);
    Ok(OpenedInput {
        source: with_channels(Box::new(reader), selected.channels),
        file,
    })
}

/// A SpectralData, CrossSpectralData or SpikeData object as the input: its trials as saved.
/// `trials:` and `select:` cut and pick samples and channels of AnalogData, so they are
/// refused here by name rather than half applied.
fn open_object(
    file: &Path,
    kind: trialflow_core::DataKind,
    trials: Option<&TrialsSection>,
    select: Option<&Selection>,
) -> Result<OpenedInput, PipelineError> {
    for (key, given) in [("trials", trials.is_some()), ("select", select.is_some())] {
        if given {
            return Err(PipelineError::user(format!(
                "`{key}:` applies to AnalogData inputs; {} holds {}, whose trials are read as saved (select in the step that made it)",
                file.display(),
                kind.class_name()
            )));
        }
    }
    Ok(OpenedInput {
        source: open_object_source(file)?,
        file: file.to_path_buf(),
    })
}

/// Keeps only the selected channels, when a selection names them.
fn with_channels(
    source: Box<dyn TrialSource>,
    channels: Option<Vec<usize>>,
) -> Box<dyn TrialSource> {
    match channels {
        Some(picked) => Box::new(ChannelSubset::new(source, picked)),
        None => source,
    }
}

fn is_spy_container(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("spy")
}

fn open_nwb(
    spec: &InputSpec,
    trials: Option<&TrialsSection>,
    select: Option<&Selection>,
) -> Result<OpenedInput, PipelineError> {
    let file = NwbFile::open(&spec.path)?;
    let series = file.choose_series(spec.series.as_deref())?;
    let labels = file.channel_labels(series, spec.channel_labels.as_deref())?;
    let axis = TimeAxis {
        t0: series.time.start(),
        rate: series.time.rate(),
        samples: series.shape[0],
    };
    // Without `trials:`, the file's own trials table defines the trials (as Syncopy's
    // load_nwb does); a file without one is a single trial.
    let default_section;
    let section = match trials {
        Some(section) => Some(section),
        None if file.tables().iter().any(|t| t.name == "trials") => {
            default_section = TrialsSection::parse(&json!({"table": "trials"}), Path::new("."))?;
            Some(&default_section)
        }
        None => None,
    };
    let (definition, info_columns, log) = match section {
        Some(section) => {
            let table = match section.table() {
                Some(name) => Some(table_columns(&file, name)?),
                None => None,
            };
            let cut = section.cut(axis, table.as_ref())?;
            (cut.definition, cut.info_columns, cut.log)
        }
        None => (
            trialflow_core::TrialDefinition::from_trials(&[(0, axis.samples, 0.0)], &[]),
            Vec::new(),
            Vec::new(),
        ),
    };
    let cfg = json!({
        "input": {
            "nwb": spec.path.display().to_string(),
            "series": series.path,
            "scale": match spec.scale { Scale::Unit => "unit", Scale::Raw => "raw" },
            "unit": match spec.scale { Scale::Unit => series.unit.clone(), Scale::Raw => series.stored.name().to_string() },
        },
        "trials": {
            "definition": trials_cfg(section),
            "trialinfo_columns": info_columns,
        },
    });
    let mut text = format!(
        "read {} from {} ({} x {} {}, {} Hz, t0 {} s), {} trials\n",
        series.path,
        spec.path.display(),
        series.shape[0],
        series.shape[1],
        series.stored.name(),
        axis.rate,
        axis.t0,
        definition.len()
    );
    for line in log {
        text.push_str(&format!("\t{line}\n"));
    }
    let (definition, channels) = match select {
        Some(selection) => {
            let selected = selection.apply(&definition, axis.rate, &labels, &info_columns)?;
            text.push_str(&selected.log);
            (selected.definition, selected.channels)
        }
        None => (definition, None),
    };
    let source = NwbSource::new(&file, series, definition, labels, spec.scale, cfg, text)?;
    Ok(OpenedInput {
        source: with_channels(Box::new(source), channels),
        file: spec.path.clone(),
    })
}

fn trials_cfg(section: Option<&TrialsSection>) -> Value {
    section.map_or(Value::Null, |s| s.raw.clone())
}

/// An interval table's numeric columns (the trialinfo) and the names of the others.
fn table_columns(file: &NwbFile, name: &str) -> Result<TableColumns, PipelineError> {
    let table = file.table(name)?;
    let mut numeric = Vec::new();
    let mut skipped = Vec::new();
    for column in &table.columns {
        if column.kind == ColumnKind::Numeric {
            numeric.push((
                column.name.clone(),
                file.numeric_column(table, &column.name)?,
            ));
        } else {
            skipped.push(format!("{} ({})", column.name, column.dtype));
        }
    }
    Ok(TableColumns {
        name: table.name.clone(),
        rows: table.rows,
        numeric,
        skipped,
    })
}
