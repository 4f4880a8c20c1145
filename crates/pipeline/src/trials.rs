//! The `trials:` section: trials cut from a continuous recording, as Syncopy's `definetrial`
//! and MNE's `Epochs` do. Times are seconds on the recording's time axis; a time `t` is
//! sample `round((t - t0) x rate)`, where `t0` is the time of the first sample. Windows are
//! half-open, and event windows all have the same number of samples: the window length is
//! rounded once, not per trial.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use trialflow_core::TrialDefinition;

use crate::error::PipelineError;

const KEYS: &[&str] = &[
    "table",
    "align",
    "pre",
    "post",
    "events",
    "events_file",
    "column",
    "length",
    "overlap",
    "outside",
];

/// How trials are cut.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialsSpec {
    /// One trial per row of an interval table, from `start_time` to `stop_time`.
    Table { table: String },
    /// Windows `[t - pre, t + post)` around a time column of an interval table.
    TableAligned {
        table: String,
        align: String,
        window: Window,
    },
    /// Windows around event times.
    Events { times: Vec<f64>, window: Window },
    /// Windows around the event times in one column of a CSV file.
    EventsFile {
        file: PathBuf,
        column: String,
        window: Window,
    },
    /// Consecutive segments of `length` seconds, overlapping by a fraction `overlap`.
    Segments { length: f64, overlap: f64 },
}

/// Seconds before and after an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub pre: f64,
    pub post: f64,
}

/// What to do with a trial that does not lie inside the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    Refuse,
    Drop,
}

/// The `trials:` section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialsSection {
    pub spec: TrialsSpec,
    pub outside: Outside,
    /// The section as written, for the result's `cfg`.
    pub raw: Value,
}

/// Per trial `(start time, stop time)` (stop is NaN for event windows), the trialinfo column
/// names, and each trial's trialinfo values.
type Windows = (Vec<(f64, f64)>, Vec<String>, Vec<Vec<f64>>);

/// The recording's time axis.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    /// Time of the first sample, seconds.
    pub t0: f64,
    pub rate: f64,
    pub samples: usize,
}

impl TimeAxis {
    fn sample(&self, t: f64) -> f64 {
        ((t - self.t0) * self.rate).round()
    }

    fn end_time(&self) -> f64 {
        self.t0 + self.samples as f64 / self.rate
    }
}

/// An interval table's columns, as the cutting needs them.
#[derive(Debug, Clone, Default)]
pub struct TableColumns {
    pub name: String,
    pub rows: usize,
    /// Numeric columns, in table order: the trialinfo.
    pub numeric: Vec<(String, Vec<f64>)>,
    /// Text and other columns, listed in the log and skipped.
    pub skipped: Vec<String>,
}

impl TableColumns {
    fn column(&self, name: &str) -> Result<&[f64], PipelineError> {
        self.numeric
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                let known: Vec<&str> = self.numeric.iter().map(|(n, _)| n.as_str()).collect();
                PipelineError::user(format!(
                    "trials: table '{}' has no numeric column '{name}'; its numeric columns: {}",
                    self.name,
                    known.join(", ")
                ))
            })
    }
}

/// The trials a section cut, and what the log says about them.
#[derive(Debug, Clone)]
pub struct CutTrials {
    pub definition: TrialDefinition,
    /// Names of the trialinfo columns (after start, stop, offset).
    pub info_columns: Vec<String>,
    /// Lines for the result's `_log`: dropped trials, skipped columns.
    pub log: Vec<String>,
}

impl TrialsSection {
    /// Checks the section's keys and values. `base` resolves a relative `events_file`.
    pub fn parse(value: &Value, base: &Path) -> Result<TrialsSection, PipelineError> {
        let Value::Object(map) = value else {
            return Err(PipelineError::user(
                "`trials` must be a mapping, e.g. {table: trials} or {events: [..], pre: 0.2, post: 0.5}",
            ));
        };
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(PipelineError::user(format!(
                    "unknown key `trials.{key}`; expected one of: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let given: Vec<&str> = ["table", "events", "events_file", "length"]
            .into_iter()
            .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        let outside = match map.get("outside").and_then(Value::as_str) {
            None | Some("refuse") => Outside::Refuse,
            Some("drop") => Outside::Drop,
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`trials.outside`: expected refuse or drop, got '{other}'"
                )))
            }
        };
        let spec = match given.as_slice() {
            ["table"] => {
                let table = text(map, "table")?;
                match map.get("align").filter(|v| !v.is_null()) {
                    Some(_) => TrialsSpec::TableAligned {
                        table,
                        align: text(map, "align")?,
                        window: window(map)?,
                    },
                    None => {
                        refuse_keys(
                            map,
                            &["pre", "post", "column", "overlap"],
                            "table without align",
                        )?;
                        TrialsSpec::Table { table }
                    }
                }
            }
            ["events"] => {
                let times = match map.get("events") {
                    Some(Value::Array(items)) if !items.is_empty() => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.as_f64().filter(|t| t.is_finite()).ok_or_else(|| {
                                PipelineError::user(format!(
                                    "`trials.events[{i}]`: expected a time in seconds, got {v}"
                                ))
                            })
                        })
                        .collect::<Result<Vec<f64>, _>>()?,
                    _ => {
                        return Err(PipelineError::user(
                            "`trials.events`: expected a non-empty list of times in seconds",
                        ))
                    }
                };
                TrialsSpec::Events {
                    times,
                    window: window(map)?,
                }
            }
            ["events_file"] => {
                let file = text(map, "events_file")?;
                let file = if Path::new(&file).is_absolute() {
                    PathBuf::from(file)
                } else {
                    base.join(file)
                };
                TrialsSpec::EventsFile {
                    file,
                    column: text(map, "column")?,
                    window: window(map)?,
                }
            }
            ["length"] => {
                let length = number(map, "length")?;
                let overlap = match map.get("overlap").filter(|v| !v.is_null()) {
                    Some(_) => number(map, "overlap")?,
                    None => 0.0,
                };
                if length <= 0.0 {
                    return Err(PipelineError::user(format!(
                        "`trials.length`: must be positive, got {length}"
                    )));
                }
                if !(0.0..1.0).contains(&overlap) {
                    return Err(PipelineError::user(format!(
                        "`trials.overlap`: must be a fraction in [0, 1), got {overlap}"
                    )));
                }
                TrialsSpec::Segments { length, overlap }
            }
            [] => {
                return Err(PipelineError::user(
                    "`trials` needs one of table, events, events_file or length",
                ))
            }
            several => {
                return Err(PipelineError::user(format!(
                    "`trials` takes one of table, events, events_file or length, got {}",
                    several.join(" and ")
                )))
            }
        };
        Ok(TrialsSection {
            spec,
            outside,
            raw: value.clone(),
        })
    }

    /// The section from `key=value` pairs (`table=trials`, `pre=0.2`), values read as YAML:
    /// what a command line gives instead of a pipeline file.
    pub fn from_pairs(pairs: &[String], base: &Path) -> Result<TrialsSection, PipelineError> {
        let mut document = crate::PipelineDocument::from_value(Value::Object(Map::new()), base);
        for pair in pairs {
            document.set(pair)?;
        }
        TrialsSection::parse(document.tree(), base)
    }

    /// Whether the cut needs an NWB interval table (and which).
    pub fn table(&self) -> Option<&str> {
        match &self.spec {
            TrialsSpec::Table { table } | TrialsSpec::TableAligned { table, .. } => Some(table),
            _ => None,
        }
    }

    /// Cuts the trials on `axis`; `table` is the interval table the section names, if any.
    pub fn cut(
        &self,
        axis: TimeAxis,
        table: Option<&TableColumns>,
    ) -> Result<CutTrials, PipelineError> {
        let mut log = Vec::new();
        let (windows, info_columns, info): Windows = match &self.spec {
            TrialsSpec::Table { .. } | TrialsSpec::TableAligned { .. } => {
                let table = table.expect("the caller reads the table the section names");
                let names: Vec<String> = table.numeric.iter().map(|(n, _)| n.clone()).collect();
                let info = (0..table.rows)
                    .map(|r| table.numeric.iter().map(|(_, v)| v[r]).collect())
                    .collect();
                if !table.skipped.is_empty() {
                    log.push(format!(
                        "trials: columns not used as trialinfo (not numeric): {}",
                        table.skipped.join(", ")
                    ));
                }
                let times = match &self.spec {
                    TrialsSpec::Table { .. } => {
                        let start = table.column("start_time")?;
                        let stop = table.column("stop_time")?;
                        start.iter().zip(stop).map(|(&a, &b)| (a, b)).collect()
                    }
                    _ => table
                        .column(match &self.spec {
                            TrialsSpec::TableAligned { align, .. } => align,
                            _ => unreachable!(),
                        })?
                        .iter()
                        .map(|&t| (t, f64::NAN))
                        .collect(),
                };
                (times, names, info)
            }
            TrialsSpec::Events { times, .. } => (
                times.iter().map(|&t| (t, f64::NAN)).collect(),
                Vec::new(),
                Vec::new(),
            ),
            TrialsSpec::EventsFile { file, column, .. } => (
                read_events_file(file, column)?
                    .into_iter()
                    .map(|t| (t, f64::NAN))
                    .collect(),
                Vec::new(),
                Vec::new(),
            ),
            TrialsSpec::Segments { length, overlap } => {
                let len = (length * axis.rate).round();
                if len < 1.0 {
                    return Err(PipelineError::user(format!(
                        "`trials.length`: {length} s is less than one sample at {} Hz",
                        axis.rate
                    )));
                }
                let step = (len * (1.0 - overlap)).round().max(1.0);
                let mut rows = Vec::new();
                let mut start = 0.0;
                while start + len <= axis.samples as f64 {
                    rows.push(vec![start, start + len, 0.0]);
                    start += step;
                }
                if rows.is_empty() {
                    return Err(PipelineError::user(format!(
                        "`trials.length`: {length} s is longer than the recording ({} s)",
                        axis.samples as f64 / axis.rate
                    )));
                }
                let definition = definition(rows, &[], axis)?;
                return Ok(CutTrials {
                    definition,
                    info_columns: Vec::new(),
                    log,
                });
            }
        };
        let window = match &self.spec {
            TrialsSpec::TableAligned { window, .. }
            | TrialsSpec::Events { window, .. }
            | TrialsSpec::EventsFile { window, .. } => Some(*window),
            _ => None,
        };
        // The window length is rounded once, so every event trial has the same samples.
        let (pre_samples, length) = match window {
            Some(w) => {
                let pre = (w.pre * axis.rate).round();
                let length = ((w.pre + w.post) * axis.rate).round();
                if length < 1.0 {
                    return Err(PipelineError::user(format!(
                        "`trials`: the window pre {} s + post {} s holds no sample at {} Hz",
                        w.pre, w.post, axis.rate
                    )));
                }
                (pre, length)
            }
            None => (0.0, 0.0),
        };
        let mut rows = Vec::with_capacity(windows.len());
        let mut kept_info = Vec::with_capacity(info.len());
        let mut dropped = Vec::new();
        for (i, &(t, stop_time)) in windows.iter().enumerate() {
            let (start, stop, offset, shown) = if window.is_some() {
                let start = axis.sample(t) - pre_samples;
                let w = window.unwrap_or(Window {
                    pre: 0.0,
                    post: 0.0,
                });
                (start, start + length, -pre_samples, (t - w.pre, t + w.post))
            } else {
                let start = axis.sample(t);
                let stop = axis.sample(stop_time);
                if stop <= start {
                    return Err(PipelineError::user(format!(
                        "trials: trial {i} runs from {t} s to {stop_time} s, which holds no sample at {} Hz",
                        axis.rate
                    )));
                }
                (start, stop, 0.0, (t, stop_time))
            };
            if !(start >= 0.0 && stop <= axis.samples as f64) {
                match self.outside {
                    Outside::Refuse => {
                        return Err(PipelineError::user(format!(
                            "trials: trial {i} ({:.6} s to {:.6} s) is not inside the recording ({:.6} s to {:.6} s); set trials.outside: drop to leave such trials out",
                            shown.0,
                            shown.1,
                            axis.t0,
                            axis.end_time()
                        )))
                    }
                    Outside::Drop => {
                        dropped.push(format!("{i} ({:.6} s to {:.6} s)", shown.0, shown.1));
                        continue;
                    }
                }
            }
            rows.push(vec![start, stop, offset]);
            if let Some(values) = info.get(i) {
                kept_info.push(values.clone());
            }
        }
        if !dropped.is_empty() {
            log.push(format!(
                "trials: dropped {} trial(s) outside the recording: {}",
                dropped.len(),
                dropped.join(", ")
            ));
        }
        if rows.is_empty() {
            return Err(PipelineError::user(
                "trials: no trial lies inside the recording",
            ));
        }
        let definition = definition(rows, &kept_info, axis)?;
        Ok(CutTrials {
            definition,
            info_columns,
            log,
        })
    }
}

fn definition(
    rows: Vec<Vec<f64>>,
    info: &[Vec<f64>],
    axis: TimeAxis,
) -> Result<TrialDefinition, PipelineError> {
    let columns = 3 + info.first().map_or(0, Vec::len);
    let mut values = Vec::with_capacity(rows.len() * columns);
    for (i, row) in rows.iter().enumerate() {
        values.extend_from_slice(row);
        if let Some(extra) = info.get(i) {
            values.extend_from_slice(extra);
        }
    }
    TrialDefinition::from_rows(values, columns, axis.samples)
        .map_err(|m| PipelineError::user(format!("trials: {m}")))
}

fn refuse_keys(map: &Map<String, Value>, keys: &[&str], what: &str) -> Result<(), PipelineError> {
    for key in keys {
        if map.get(*key).is_some_and(|v| !v.is_null()) {
            return Err(PipelineError::user(format!(
                "`trials.{key}` does not apply to {what}"
            )));
        }
    }
    Ok(())
}

fn text(map: &Map<String, Value>, key: &str) -> Result<String, PipelineError> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Value::Null) => Err(PipelineError::user(format!("missing key `trials.{key}`"))),
        Some(other) => Err(PipelineError::user(format!(
            "`trials.{key}`: expected a name, got {other}"
        ))),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<f64, PipelineError> {
    match map.get(key) {
        Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
            PipelineError::user(format!("`trials.{key}`: expected seconds, got {v}"))
        }),
        None => Err(PipelineError::user(format!("missing key `trials.{key}`"))),
    }
}

fn window(map: &Map<String, Value>) -> Result<Window, PipelineError> {
    let pre = number(map, "pre")?;
    let post = number(map, "post")?;
    for (key, value) in [("pre", pre), ("post", post)] {
        if value < 0.0 {
            return Err(PipelineError::user(format!(
                "`trials.{key}`: must not be negative, got {value}"
            )));
        }
    }
    Ok(Window { pre, post })
}

/// The times (seconds) in column `column` of a CSV file with a header row.
fn read_events_file(file: &Path, column: &str) -> Result<Vec<f64>, PipelineError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        PipelineError::user(format!(
            "`trials.events_file`: {} cannot be read: {e}",
            file.display()
        ))
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| {
        PipelineError::user(format!("`trials.events_file`: {} is empty", file.display()))
    })?;
    let names: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let index = names.iter().position(|n| *n == column).ok_or_else(|| {
        PipelineError::user(format!(
            "`trials.column`: {} has no column '{column}'; its columns: {}",
            file.display(),
            names.join(", ")
        ))
    })?;
    let mut times = Vec::new();
    for (line, row) in lines {
        let cell = row.split(',').nth(index).map(str::trim).unwrap_or("");
        let t: f64 = cell.trim_matches('"').parse().ok().filter(|t: &f64| t.is_finite()).ok_or_else(|| {
            PipelineError::user(format!(
                "`trials.events_file`: {} line {}: '{cell}' in column '{column}' is not a time in seconds",
                file.display(),
                line + 1
            ))
        })?;
        times.push(t);
    }
    if times.is_empty() {
        return Err(PipelineError::user(format!(
            "`trials.events_file`: {} holds no events",
            file.display()
        )));
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn section(v: Value) -> Result<TrialsSection, PipelineError> {
        TrialsSection::parse(&v, Path::new("/base"))
    }

    const AXIS: TimeAxis = TimeAxis {
        t0: 2.0,
        rate: 1000.0,
        samples: 6000,
    };

    #[test]
    fn event_windows_have_one_length_and_time_zero_at_the_event() {
        let s = section(json!({"events": [2.5004, 3.0, 4.2], "pre": 0.1, "post": 0.2004})).unwrap();
        let cut = s.cut(AXIS, None).unwrap();
        let d = &cut.definition;
        assert_eq!(d.len(), 3);
        for t in 0..3 {
            let row = d.row(t);
            assert_eq!(row[1] - row[0], 300.0, "one rounded length for every trial");
            assert_eq!(row[2], -100.0);
        }
        assert_eq!(d.row(0)[0], 400.0); // round(0.5004 * 1000) - 100
    }

    #[test]
    fn outside_windows_are_refused_or_dropped() {
        let s = section(json!({"events": [2.05, 3.0], "pre": 0.1, "post": 0.1})).unwrap();
        let e = s.cut(AXIS, None).unwrap_err();
        assert!(
            e.message.contains("trial 0") && e.message.contains("outside: drop"),
            "{e}"
        );
        let s = section(json!({"events": [2.05, 3.0], "pre": 0.1, "post": 0.1, "outside": "drop"}))
            .unwrap();
        let cut = s.cut(AXIS, None).unwrap();
        assert_eq!(cut.definition.len(), 1);
        assert!(cut.log[0].contains("dropped 1 trial"), "{:?}", cut.log);
    }

    #[test]
    fn segments_overlap_by_a_fraction() {
        let s = section(json!({"length": 1.0, "overlap": 0.5})).unwrap();
        let cut = s.cut(AXIS, None).unwrap();
        assert_eq!(cut.definition.len(), 11);
        assert_eq!(cut.definition.row(1)[0], 500.0);
    }

    #[test]
    fn bad_sections_name_the_key() {
        for (v, needle) in [
            (
                json!({"events": [1.0], "pre": -0.1, "post": 0.2}),
                "trials.pre",
            ),
            (
                json!({"events": [1.0], "pre": 0.0, "post": 0.0}),
                "holds no sample",
            ),
            (json!({"table": "trials", "events": [1.0]}), "one of"),
            (json!({"length": 1.0, "overlap": 1.0}), "trials.overlap"),
            (json!({"tabel": "trials"}), "trials.tabel"),
            (
                json!({"events_file": "missing.csv", "column": "t", "pre": 0.1, "post": 0.1}),
                "cannot be read",
            ),
        ] {
            let e = section(v.clone())
                .and_then(|s| s.cut(AXIS, None))
                .unwrap_err();
            assert!(e.message.contains(needle), "{v}: {e}");
        }
    }
}
