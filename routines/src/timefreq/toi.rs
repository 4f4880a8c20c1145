//! `toi`, the times of interest of a sliding-window analysis: where each window is centred
//! in a trial, and the time axis (trial definition and samplerate) Syncopy gives the result.

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use trialflow_core::{DataSchema, TrialDefinition};

use super::TimeFreqError;

/// Where the windows go, as Syncopy's `toi`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Toi {
    /// `"all"`: one window centred on every sample.
    #[default]
    All,
    /// A number in [0, 1]: the fraction of a window that consecutive windows share.
    Overlap(f64),
    /// Times in seconds (trial time, as the input's time axis): one window centred on the
    /// sample nearest to each.
    Times(Vec<f64>),
}

impl From<f64> for Toi {
    fn from(overlap: f64) -> Self {
        Toi::Overlap(overlap)
    }
}

impl From<Vec<f64>> for Toi {
    fn from(times: Vec<f64>) -> Self {
        Toi::Times(times)
    }
}

const TOI_EXPECTED: &str =
    "'all', an overlap fraction in [0, 1] or a non-empty ascending list of times in seconds";

impl<'de> Deserialize<'de> for Toi {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("must be {TOI_EXPECTED}, got {value}"));
        match &value {
            Value::String(s) if s == "all" => Ok(Toi::All),
            Value::Number(n) => Ok(Toi::Overlap(n.as_f64().unwrap_or(f64::NAN))),
            Value::Array(items) => items
                .iter()
                .map(|x| x.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()
                .map(Toi::Times),
            _ => Err(bad()),
        }
    }
}

impl Toi {
    /// Refuses what Syncopy refuses before looking at trials: an overlap outside [0, 1], an
    /// empty, non-finite or unsorted list of times.
    pub(crate) fn check(self) -> Result<Toi, TimeFreqError> {
        let fits = match &self {
            Toi::All => true,
            Toi::Overlap(o) => (0.0..=1.0).contains(o),
            Toi::Times(t) => {
                !t.is_empty()
                    && t.iter().all(|v| v.is_finite())
                    && t.windows(2).all(|w| w[0] <= w[1])
            }
        };
        if !fits {
            return Err(TimeFreqError::range("toi", TOI_EXPECTED, self.to_value()));
        }
        Ok(self)
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            Toi::All => json!("all"),
            Toi::Overlap(o) => json!(o),
            Toi::Times(t) => json!(t),
        }
    }

    /// Samples between consecutive windows for `"all"` and an overlap (Syncopy's
    /// `nperseg - noverlap`, `noverlap = min(nperseg - 1, int(overlap * nperseg))`); `None`
    /// for a list of times.
    fn step(&self, nperseg: usize) -> Option<usize> {
        match self {
            Toi::All => Some(1),
            Toi::Overlap(o) => {
                let noverlap = (nperseg - 1).min((o * nperseg as f64) as usize);
                Some(nperseg - noverlap)
            }
            Toi::Times(_) => None,
        }
    }
}

/// The window centres of every trial, as sample indices into the trial.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Centres {
    /// Samples 0, step, 2 step, ...: `ceil(n / step)` windows in a trial of n samples
    /// (Syncopy's STFT with `boundary='zeros'`, `padded=True`).
    Regular { step: usize },
    /// The sample nearest to each time of interest, per trial.
    Listed(Vec<Vec<usize>>),
}

impl Centres {
    /// Where the windows of `toi` go in every trial of `input`, refusing a time of
    /// interest outside a trial's time axis (naming the trial).
    pub(crate) fn of(toi: &Toi, input: &DataSchema, nperseg: usize) -> Result<Self, TimeFreqError> {
        if let Some(step) = toi.step(nperseg) {
            return Ok(Centres::Regular { step });
        }
        let Toi::Times(times) = toi else {
            unreachable!("only a list of times has no step")
        };
        let fs = input.samplerate;
        let def = &input.trialdefinition;
        (0..input.n_trials())
            .map(|trial| {
                let (n, offset) = (def.trial_len(trial), def.offset(trial));
                let t_start = offset / fs;
                times
                    .iter()
                    .map(|&t| {
                        // Syncopy's `samplerate * (toi - tStart)`, rounded to the nearest
                        // sample (half away from zero).
                        let s = (fs * (t - t_start)).round();
                        if s < 0.0 || s > n as f64 - 1.0 {
                            return Err(TimeFreqError::trial(
                                trial,
                                "toi",
                                format!(
                                    "{t} s is outside the trial's time axis [{}, {}] s",
                                    t_start,
                                    (offset + n as f64 - 1.0) / fs
                                ),
                            ));
                        }
                        Ok(s as usize)
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()
            .map(Centres::Listed)
    }

    /// Windows in trial `trial` of `n` samples.
    pub(crate) fn count(&self, trial: usize, n: usize) -> usize {
        match self {
            Centres::Regular { step } => n.div_ceil(*step),
            Centres::Listed(per_trial) => per_trial[trial].len(),
        }
    }

    /// The centre sample of window `i` of trial `trial`.
    #[inline]
    pub(crate) fn centre(&self, trial: usize, i: usize) -> usize {
        match self {
            Centres::Regular { step } => i * step,
            Centres::Listed(per_trial) => per_trial[trial][i],
        }
    }

    /// Bytes the per-trial lists hold.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Centres::Regular { .. } => 0,
            Centres::Listed(per_trial) => per_trial
                .iter()
                .map(|v| v.len() * std::mem::size_of::<usize>())
                .sum(),
        }
    }
}

/// Syncopy's `_make_trialdef`: the output's trial definition and samplerate for windows
/// counted `counts` per trial. Trials are stacked by their window counts, trialinfo kept;
/// the offset and samplerate are
/// - `"all"`: the input's;
/// - an overlap, `step` samples apart: `offset / step` and `round(samplerate / step, 2)`;
/// - times: `toi[0] · sr` with `sr = 1 / (toi[1] - toi[0])` when the times are evenly
///   spaced (numpy's `allclose`), else `sr = 1` (Syncopy's time axis cannot show uneven
///   times; nor one time, where Syncopy fails and this keeps `sr = 1`).
pub(crate) fn output_trials(
    toi: &Toi,
    input: &DataSchema,
    nperseg: usize,
    counts: &[usize],
) -> (TrialDefinition, f64) {
    let def = &input.trialdefinition;
    let (samplerate, offset): (f64, Box<dyn Fn(usize) -> f64>) = match toi {
        Toi::All => (input.samplerate, Box::new(|t| def.offset(t))),
        Toi::Overlap(_) => {
            let step = toi.step(nperseg).expect("an overlap has a step") as f64;
            let sr = round2(input.samplerate / step);
            (sr, Box::new(move |t| def.offset(t) / step))
        }
        Toi::Times(times) => {
            let sr = if times.len() >= 2 && evenly_spaced(times) {
                1.0 / (times[1] - times[0])
            } else {
                1.0
            };
            let first = times[0] * sr;
            (sr, Box::new(move |_| first))
        }
    };
    let mut start = 0;
    let mut rows = Vec::with_capacity(counts.len());
    let mut info = Vec::with_capacity(counts.len());
    for (trial, &count) in counts.iter().enumerate() {
        rows.push((start, start + count, offset(trial)));
        info.push(def.trialinfo(trial).to_vec());
        start += count;
    }
    (TrialDefinition::from_trials(&rows, &info), samplerate)
}

/// `numpy.round(x, 2)`: scale by 100, round half to even, divide.
fn round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

/// `numpy.allclose(steps, steps[0])` (rtol 1e-5, atol 1e-8) over `numpy.diff(times)`.
fn evenly_spaced(times: &[f64]) -> bool {
    let first = times[1] - times[0];
    times
        .windows(2)
        .all(|w| ((w[1] - w[0]) - first).abs() <= 1e-8 + 1e-5 * first.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_steps_follow_syncopy() {
        assert_eq!(Toi::All.step(50), Some(1));
        assert_eq!(Toi::Overlap(0.5).step(50), Some(25));
        assert_eq!(Toi::Overlap(0.0).step(50), Some(50));
        assert_eq!(Toi::Overlap(1.0).step(50), Some(1));
        // int(0.3 * 51) = 15
        assert_eq!(Toi::Overlap(0.3).step(51), Some(36));
        assert_eq!(round2(250.0 / 3.0), 83.33);
        assert_eq!(round2(0.125), 0.12);
    }

    #[test]
    fn regular_centres_cover_the_trial() {
        let c = Centres::Regular { step: 25 };
        assert_eq!(c.count(0, 200), 8);
        assert_eq!(c.count(0, 201), 9);
        assert_eq!(c.centre(0, 3), 75);
    }

    #[test]
    fn times_must_be_sorted_and_finite() {
        assert!(Toi::Times(vec![0.2, 0.1]).check().is_err());
        assert!(Toi::Times(vec![]).check().is_err());
        assert!(Toi::Overlap(1.5).check().is_err());
        assert!(Toi::Times(vec![0.1, 0.1, 0.3]).check().is_ok());
        assert!(evenly_spaced(&[0.1, 0.2, 0.3]));
        assert!(!evenly_spaced(&[0.1, 0.2, 0.4]));
    }
}
