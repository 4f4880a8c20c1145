//! The `select:` section: Syncopy's `selectdata` before any step runs. Trials (by index or
//! by a condition on trialinfo columns), channels (by label or index) and a latency window
//! on each trial's time axis. Trials and latency become a new trial definition over the same
//! data, so only the selected samples are read; channels are picked from each row read.

use std::ops::Range;

use serde_json::Value;
use trialflow_core::TrialDefinition;

use crate::error::PipelineError;

const KEYS: &[&str] = &["trials", "where", "channels", "latency"];

/// A checked `select:` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    trials: Option<Vec<usize>>,
    condition: Option<Vec<Comparison>>,
    channels: Option<Vec<ChannelRef>>,
    latency: Option<Latency>,
    /// The section as written, for `cfg` and the log.
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum ChannelRef {
    Label(String),
    Index(usize),
}

/// Syncopy's `latency`: a window `[t0, t1]` (closed, seconds on each trial's time axis), or
/// `prestim` (t <= 0 from the earliest start) / `poststim` (t >= 0 to the latest end).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Latency {
    Window(f64, f64),
    Prestim,
    Poststim,
}

/// `column OP value`.
#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    column: String,
    op: Op,
    value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// What a selection leaves of an input.
#[derive(Debug, Clone)]
pub struct Selected {
    pub definition: TrialDefinition,
    /// Channel indices kept, in the order given (`None`: all, in order).
    pub channels: Option<Vec<usize>>,
    pub log: String,
}

impl Selection {
    pub fn parse(value: &Value) -> Result<Selection, PipelineError> {
        let Value::Object(map) = value else {
            return Err(PipelineError::user(
                "`select` must be a mapping with trials, where, channels or latency",
            ));
        };
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(PipelineError::user(format!(
                    "unknown key `select.{key}`; expected one of: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let present = |k: &str| map.get(k).filter(|v| !v.is_null() && *v != "all");
        let trials = match present("trials") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_u64().map(|t| t as usize).ok_or_else(|| {
                            PipelineError::user(format!(
                                "`select.trials[{i}]`: expected a trial index, got {v}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`select.trials`: expected a list of trial indices, got {other}"
                )))
            }
        };
        let condition = match present("where") {
            None => None,
            Some(Value::String(text)) => Some(parse_condition(text)?),
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`select.where`: expected a condition such as \"condition == 2 and correct == 1\", got {other}"
                )))
            }
        };
        let channels = match present("channels") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::String(s) => Ok(ChannelRef::Label(s.clone())),
                        Value::Number(n) if n.as_u64().is_some() => {
                            Ok(ChannelRef::Index(n.as_u64().unwrap_or(0) as usize))
                        }
                        other => Err(PipelineError::user(format!(
                            "`select.channels[{i}]`: expected a label or an index, got {other}"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`select.channels`: expected a list of labels or indices, got {other}"
                )))
            }
        };
        let latency = match present("latency") {
            None => None,
            Some(Value::String(s)) if s == "prestim" => Some(Latency::Prestim),
            Some(Value::String(s)) if s == "poststim" => Some(Latency::Poststim),
            Some(Value::Array(items)) if items.len() == 2 => {
                let t: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
                if t.len() != 2 || t[0] >= t[1] {
                    return Err(PipelineError::user(format!(
                        "`select.latency`: expected [t0, t1] in seconds with t0 < t1, got {}",
                        Value::Array(items.clone())
                    )));
                }
                Some(Latency::Window(t[0], t[1]))
            }
            Some(other) => {
                return Err(PipelineError::user(format!(
                    "`select.latency`: expected [t0, t1], prestim or poststim, got {other}"
                )))
            }
        };
        Ok(Selection {
            trials,
            condition,
            channels,
            latency,
            raw: value.clone(),
        })
    }

    /// Applies the selection to a trial definition (its rows index the data the source
    /// reads), the channel labels and the trialinfo column names.
    pub fn apply(
        &self,
        definition: &TrialDefinition,
        samplerate: f64,
        labels: &[String],
        info_columns: &[String],
    ) -> Result<Selected, PipelineError> {
        let n = definition.len();
        let mut trials: Vec<usize> = match &self.trials {
            Some(list) => {
                if let Some(&bad) = list.iter().find(|&&t| t >= n) {
                    return Err(PipelineError::user(format!(
                        "`select.trials`: trial {bad} does not exist (the input has {n} trials)"
                    )));
                }
                list.clone()
            }
            None => (0..n).collect(),
        };
        if let Some(condition) = &self.condition {
            let columns: Vec<(usize, &Comparison)> = condition
                .iter()
                .map(|c| {
                    let index = info_columns
                        .iter()
                        .position(|n| *n == c.column)
                        .ok_or_else(|| {
                            PipelineError::user(format!(
                                "`select.where`: unknown column '{}'; trialinfo columns: {}",
                                c.column,
                                if info_columns.is_empty() {
                                    "none".to_string()
                                } else {
                                    info_columns.join(", ")
                                }
                            ))
                        })?;
                    Ok((index, c))
                })
                .collect::<Result<_, PipelineError>>()?;
            trials.retain(|&t| {
                let row = definition.row(t);
                columns
                    .iter()
                    .all(|(i, c)| row.get(3 + i).is_some_and(|&v| c.op.holds(v, c.value)))
            });
        }
        if trials.is_empty() {
            return Err(PipelineError::user(
                "`select`: no trial is left (select.trials / select.where)",
            ));
        }
        let channels = match &self.channels {
            None => None,
            Some(refs) => {
                let picked = refs
                    .iter()
                    .map(|r| match r {
                        ChannelRef::Index(i) if *i < labels.len() => Ok(*i),
                        ChannelRef::Index(i) => Err(PipelineError::user(format!(
                            "`select.channels`: channel {i} does not exist (the input has {} channels)",
                            labels.len()
                        ))),
                        ChannelRef::Label(l) => labels.iter().position(|x| x == l).ok_or_else(|| {
                            PipelineError::user(format!(
                                "`select.channels`: no channel is labelled '{l}'"
                            ))
                        }),
                    })
                    .collect::<Result<Vec<usize>, _>>()?;
                if picked.is_empty() {
                    return Err(PipelineError::user("`select.channels`: no channel is left"));
                }
                Some(picked)
            }
        };
        let window = self.window(definition, &trials, samplerate)?;
        // Syncopy's `create_trial_selection`: a latency window keeps only the trials that
        // cover it completely, so every kept trial has the same time axis.
        let mut discarded = 0;
        if let Some((lo, hi)) = window {
            let before = trials.len();
            trials.retain(|&t| {
                let (start, end) = trial_interval(definition, t, samplerate);
                start <= lo && end >= hi
            });
            discarded = before - trials.len();
            if trials.is_empty() {
                return Err(PipelineError::user(format!(
                    "`select.latency`: no selected trial covers the whole window [{lo}, {hi}] s (Syncopy keeps only trials that do)"
                )));
            }
        }
        let mut values = Vec::with_capacity(trials.len() * definition.columns());
        let mut kept = 0;
        for &t in &trials {
            let row = definition.row(t);
            let samples = definition.samples(t);
            let offset = row[2];
            let (range, new_offset) = match window {
                None => (samples.clone(), offset),
                Some((lo, hi)) => {
                    let keep = closed_window(samples.len(), offset, samplerate, lo, hi);
                    (
                        samples.start + keep.start..samples.start + keep.end,
                        offset + keep.start as f64,
                    )
                }
            };
            kept += usize::from(!range.is_empty());
            values.extend_from_slice(&[range.start as f64, range.end as f64, new_offset]);
            values.extend_from_slice(&row[3..]);
        }
        if kept == 0 {
            return Err(PipelineError::user(
                "`select.latency`: the window holds no sample of any selected trial",
            ));
        }
        let data_samples = (0..n).map(|t| definition.samples(t).end).max().unwrap_or(0);
        let definition = TrialDefinition::from_rows(values, definition.columns(), data_samples)
            .map_err(|m| PipelineError::user(format!("`select`: {m}")))?;
        let log = format!(
            "selected {} of {n} trials{}{}\n",
            trials.len(),
            channels
                .as_ref()
                .map(|c| format!(", {} of {} channels", c.len(), labels.len()))
                .unwrap_or_default(),
            window
                .map(|(lo, hi)| format!(
                    ", latency [{lo}, {hi}] s ({discarded} trial(s) that do not cover it left out)"
                ))
                .unwrap_or_default()
        );
        Ok(Selected {
            definition,
            channels,
            log,
        })
    }

    /// The latency window in seconds, resolving prestim/poststim over the selected trials
    /// (Syncopy's `get_analysis_window`).
    fn window(
        &self,
        definition: &TrialDefinition,
        trials: &[usize],
        samplerate: f64,
    ) -> Result<Option<(f64, f64)>, PipelineError> {
        let Some(latency) = self.latency else {
            return Ok(None);
        };
        let bounds = |t: usize| trial_interval(definition, t, samplerate);
        let start = trials
            .iter()
            .map(|&t| bounds(t).0)
            .fold(f64::INFINITY, f64::min);
        let end = trials
            .iter()
            .map(|&t| bounds(t).1)
            .fold(f64::NEG_INFINITY, f64::max);
        match latency {
            Latency::Window(lo, hi) => {
                if lo > end || hi < start {
                    return Err(PipelineError::user(format!(
                        "`select.latency`: [{lo}, {hi}] s lies outside every selected trial ({start} s to {end} s)"
                    )));
                }
                Ok(Some((lo, hi)))
            }
            Latency::Prestim if start < 0.0 => Ok(Some((start, 0.0))),
            Latency::Poststim if end > 0.0 => Ok(Some((0.0, end))),
            Latency::Prestim => Err(PipelineError::user(
                "`select.latency: prestim`: no selected trial has samples before t = 0",
            )),
            Latency::Poststim => Err(PipelineError::user(
                "`select.latency: poststim`: no selected trial has samples after t = 0",
            )),
        }
    }
}

/// A trial's first and last sample times in seconds (Syncopy's `trialintervals`).
fn trial_interval(definition: &TrialDefinition, trial: usize, samplerate: f64) -> (f64, f64) {
    let offset = definition.row(trial)[2];
    let len = definition.samples(trial).len() as f64;
    (offset / samplerate, (len - 1.0 + offset) / samplerate)
}

/// The samples `k` of a trial whose time `(k + offset) / samplerate` lies in `[lo, hi]`.
fn closed_window(len: usize, offset: f64, samplerate: f64, lo: f64, hi: f64) -> Range<usize> {
    let time = |k: usize| (k as f64 + offset) / samplerate;
    let first = (0..len).find(|&k| time(k) >= lo);
    match first {
        None => 0..0,
        Some(first) => {
            let end = (first..len).take_while(|&k| time(k) <= hi).last();
            match end {
                Some(last) => first..last + 1,
                None => 0..0,
            }
        }
    }
}

fn parse_condition(text: &str) -> Result<Vec<Comparison>, PipelineError> {
    let bad = |why: &str| {
        PipelineError::user(format!(
            "`select.where`: cannot parse '{text}': {why} (write e.g. \"condition == 2 and correct == 1\")"
        ))
    };
    let mut out = Vec::new();
    for part in text.split(" and ") {
        let part = part.trim();
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (symbol, op) = ops
            .iter()
            .find(|(s, _)| part.contains(s))
            .ok_or_else(|| bad("no comparison (==, !=, <, <=, >, >=)"))?;
        let (column, value) = part
            .split_once(symbol)
            .ok_or_else(|| bad("no comparison"))?;
        let column = column.trim();
        if column.is_empty() || !column.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad(&format!("'{column}' is not a column name")));
        }
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| bad(&format!("'{}' is not a number", value.trim())))?;
        out.push(Comparison {
            column: column.to_string(),
            op: *op,
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition() -> TrialDefinition {
        // Three trials of 10 samples with offsets -5, 0, -2 and a condition column.
        TrialDefinition::from_rows(
            vec![
                0.0, 10.0, -5.0, 1.0, //
                10.0, 20.0, 0.0, 2.0, //
                20.0, 30.0, -2.0, 2.0,
            ],
            4,
            30,
        )
        .unwrap()
    }

    fn labels() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn trials_condition_and_latency_make_a_new_definition() {
        let s = Selection::parse(
            &json!({"where": "condition == 2", "latency": [-0.002, 0.003], "channels": ["c", 0]}),
        )
        .unwrap();
        let out = s
            .apply(&definition(), 1000.0, &labels(), &["condition".into()])
            .unwrap();
        assert_eq!(out.channels, Some(vec![2, 0]));
        let d = out.definition;
        // Trial 1 (times 0..9 ms) does not cover [-2, 3] ms and is left out, as Syncopy does.
        assert_eq!(d.len(), 1);
        // Trial 2 (offset -2): times -2..7 ms; keeps samples 0..=5, new offset -2.
        assert_eq!(d.row(0), &[20.0, 26.0, -2.0, 2.0]);
        assert!(
            out.log.contains("1 trial(s) that do not cover it"),
            "{}",
            out.log
        );
    }

    #[test]
    fn prestim_and_nothing_left_are_named() {
        // prestim is [earliest start, 0]: only trial 0 starts that early.
        let s = Selection::parse(&json!({"latency": "prestim"})).unwrap();
        let out = s.apply(&definition(), 1000.0, &labels(), &[]).unwrap();
        assert_eq!(out.definition.len(), 1);
        assert_eq!(out.definition.row(0), &[0.0, 6.0, -5.0, 1.0]);
        for (v, needle) in [
            (json!({"trials": [7]}), "trial 7"),
            (json!({"where": "cond = 2"}), "select.where"),
            (json!({"where": "nope == 2"}), "unknown column 'nope'"),
            (json!({"channels": ["z"]}), "'z'"),
            (
                json!({"latency": [1.0, 2.0]}),
                "outside every selected trial",
            ),
            (json!({"trials": [1], "latency": "prestim"}), "prestim"),
            (json!({"where": "condition == 9"}), "no trial is left"),
        ] {
            let e = Selection::parse(&v)
                .and_then(|s| s.apply(&definition(), 1000.0, &labels(), &["condition".into()]))
                .unwrap_err();
            assert!(e.message.contains(needle), "{v}: {e}");
        }
    }
}
