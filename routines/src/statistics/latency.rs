//! Syncopy's `latency` for the cross-trial statistics (`timelockanalysis`, `spike_psth`):
//! the analysis window in seconds (`shared/latency.py`, `get_analysis_window`), the trials
//! that cover it completely (`create_trial_selection`; the others are left out), and the
//! samples of a trial inside it (`best_match(time, window, span=True)`: the closed window).

use std::ops::Range;

use serde::Deserialize;
use trialflow_core::TrialDefinition;

use super::StatisticsError;

/// The `latency` a step asks for, as written: a window `[t0, t1]` in seconds or one of
/// Syncopy's names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LatencyParam {
    Window([f64; 2]),
    Named(String),
}

/// A checked `latency`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// `[t0, t1]`, seconds on each trial's time axis (closed).
    Window(f64, f64),
    /// From the earliest trial start to the latest end (Syncopy's default).
    MaxPeriod,
    /// The window every trial covers.
    MinPeriod,
    /// From the earliest start to t = 0.
    Prestim,
    /// From t = 0 to the latest end.
    Poststim,
}

impl Latency {
    pub fn check(
        param: Option<LatencyParam>,
        routine: &'static str,
    ) -> Result<Latency, StatisticsError> {
        let bad = |got: String| StatisticsError::BadLatency { routine, got };
        match param {
            None => Ok(Latency::MaxPeriod),
            Some(LatencyParam::Window([t0, t1])) => {
                if t0.is_finite() && t1.is_finite() && t0 <= t1 {
                    Ok(Latency::Window(t0, t1))
                } else {
                    Err(bad(format!("[{t0}, {t1}]")))
                }
            }
            Some(LatencyParam::Named(name)) => match name.as_str() {
                "maxperiod" => Ok(Latency::MaxPeriod),
                "minperiod" => Ok(Latency::MinPeriod),
                "prestim" => Ok(Latency::Prestim),
                "poststim" => Ok(Latency::Poststim),
                _ => Err(bad(format!("'{name}'"))),
            },
        }
    }

    /// As written in `cfg`: the window, or the name.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Latency::Window(t0, t1) => serde_json::json!([t0, t1]),
            Latency::MaxPeriod => "maxperiod".into(),
            Latency::MinPeriod => "minperiod".into(),
            Latency::Prestim => "prestim".into(),
            Latency::Poststim => "poststim".into(),
        }
    }

    /// The analysis window `[lo, hi]` in seconds over the given trials, as Syncopy's
    /// `get_analysis_window`: a window outside every trial is refused.
    pub fn window(
        self,
        def: &TrialDefinition,
        samplerate: f64,
        routine: &'static str,
    ) -> Result<(f64, f64), StatisticsError> {
        if def.is_empty() {
            return Err(StatisticsError::NoTrials { routine });
        }
        let (start, end) = (0..def.len())
            .map(|t| trial_interval(def, t, samplerate))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(s, e), (a, b)| {
                (s.min(a), e.max(b))
            });
        let outside = |what: &str| StatisticsError::LatencyOutside {
            routine,
            what: what.to_string(),
            start,
            end,
        };
        match self {
            Latency::Window(lo, hi) => {
                if lo > end || hi < start {
                    return Err(outside(&format!("[{lo}, {hi}] s")));
                }
                Ok((lo, hi))
            }
            Latency::MaxPeriod => Ok((start, end)),
            Latency::MinPeriod => {
                let (lo, hi) = (0..def.len())
                    .map(|t| trial_interval(def, t, samplerate))
                    .fold((f64::NEG_INFINITY, f64::INFINITY), |(s, e), (a, b)| {
                        (s.max(a), e.min(b))
                    });
                if lo > hi {
                    return Err(outside("minperiod (no window common to all trials)"));
                }
                Ok((lo, hi))
            }
            Latency::Prestim if start < 0.0 => Ok((start, 0.0)),
            Latency::Poststim if end > 0.0 => Ok((0.0, end)),
            Latency::Prestim => Err(outside("prestim (no sample before t = 0)")),
            Latency::Poststim => Err(outside("poststim (no sample after t = 0)")),
        }
    }
}

/// A trial's first and last sample times in seconds (Syncopy's `trialintervals`).
pub fn trial_interval(def: &TrialDefinition, trial: usize, samplerate: f64) -> (f64, f64) {
    let offset = def.offset(trial);
    let len = def.trial_len(trial) as f64;
    (offset / samplerate, (len - 1.0 + offset) / samplerate)
}

/// Whether a trial covers the whole window (Syncopy keeps only those).
pub fn covers(def: &TrialDefinition, trial: usize, samplerate: f64, (lo, hi): (f64, f64)) -> bool {
    let (start, end) = trial_interval(def, trial, samplerate);
    start <= lo && end >= hi
}

/// The samples `k` of a trial whose time `(k + offset) / samplerate` lies in `[lo, hi]`.
pub fn window_samples(
    len: usize,
    offset: f64,
    samplerate: f64,
    (lo, hi): (f64, f64),
) -> Range<usize> {
    let time = |k: usize| (k as f64 + offset) / samplerate;
    let Some(first) = (0..len).find(|&k| time(k) >= lo) else {
        return 0..0;
    };
    match (first..len).take_while(|&k| time(k) <= hi).last() {
        Some(last) => first..last + 1,
        None => 0..0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(rows: &[(usize, usize, f64)]) -> TrialDefinition {
        TrialDefinition::from_trials(rows, &[])
    }

    #[test]
    fn windows_follow_syncopy_names_and_refuse_what_lies_outside() {
        // Trials at 10 Hz: [-0.2, 0.7] s, [0, 0.4] s.
        let d = def(&[(0, 10, -2.0), (10, 15, 0.0)]);
        let w = |l: Latency| l.window(&d, 10.0, "timelock");
        assert_eq!(w(Latency::MaxPeriod).unwrap(), (-0.2, 0.7));
        assert_eq!(w(Latency::MinPeriod).unwrap(), (0.0, 0.4));
        assert_eq!(w(Latency::Prestim).unwrap(), (-0.2, 0.0));
        assert_eq!(w(Latency::Poststim).unwrap(), (0.0, 0.7));
        let text = w(Latency::Window(2.0, 3.0)).unwrap_err().to_string();
        assert!(text.contains("[2, 3] s") && text.contains("0.7"), "{text}");
        assert!(covers(&d, 0, 10.0, (0.0, 0.4)) && !covers(&d, 1, 10.0, (-0.1, 0.4)));
        assert_eq!(window_samples(10, -2.0, 10.0, (0.0, 0.4)), 2..7);
        assert_eq!(window_samples(5, 0.0, 10.0, (0.05, 0.25)), 1..3);
    }

    #[test]
    fn latency_parameters_are_checked_by_name() {
        let named = |s: &str| Latency::check(Some(LatencyParam::Named(s.into())), "timelock");
        assert_eq!(named("prestim").unwrap(), Latency::Prestim);
        assert!(named("all").unwrap_err().to_string().contains("'all'"));
        let window = Latency::check(Some(LatencyParam::Window([0.5, 0.1])), "timelock");
        assert!(window.unwrap_err().to_string().contains("[0.5, 0.1]"));
        assert_eq!(Latency::check(None, "psth").unwrap(), Latency::MaxPeriod);
    }
}
