//! The time points of interest of the wavelet methods: `all` samples, or an equidistant list
//! of times that trims each trial before the transform and subsamples it afterwards
//! (Syncopy's `preSelect` / `postSelect` in `freqanalysis.py`), and the output's trial
//! definition and samplerate that follow (`compRoutines.py`'s `_make_trialdef`).

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use trialflow_core::{DataSchema, TrialDefinition};

use super::WaveletError;

/// `toi`: every sample, or equidistant times in seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Toi {
    #[default]
    All,
    Seconds(Vec<f64>),
}

impl From<Vec<f64>> for Toi {
    fn from(v: Vec<f64>) -> Self {
        Toi::Seconds(v)
    }
}

impl<const N: usize> From<[f64; N]> for Toi {
    fn from(v: [f64; N]) -> Self {
        Toi::Seconds(v.to_vec())
    }
}

const TOI_EXPECTED: &str =
    "'all' or a list of at least two increasing, equidistant times in seconds";

impl<'de> Deserialize<'de> for Toi {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("must be {TOI_EXPECTED}, got {value}"));
        match &value {
            Value::String(s) if s == "all" => Ok(Toi::All),
            Value::Array(items) => items
                .iter()
                .map(|x| x.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()
                .map(Toi::Seconds),
            _ => Err(bad()),
        }
    }
}

/// Where one trial's output comes from: the transform runs over samples
/// `start..start + len`, and the output takes `indices` (relative to `start`) of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub len: usize,
}

impl Toi {
    /// Checks a list: at least two finite, increasing times with second differences within
    /// 1e-8 s (NumPy's `allclose(diff(toi, 2), 0)`, Syncopy's equidistance test).
    /// Syncopy crashes on a single time point (its samplerate is `1 / (toi[1] - toi[0])`), so
    /// one point is refused here.
    pub fn check(self) -> Result<Toi, WaveletError> {
        if let Toi::Seconds(t) = &self {
            let finite = t.iter().all(|v| v.is_finite());
            let increasing = t.windows(2).all(|w| w[1] > w[0]);
            let equidistant = t
                .windows(3)
                .all(|w| ((w[2] - w[1]) - (w[1] - w[0])).abs() <= 1e-8);
            if t.len() < 2 || !finite || !increasing || !equidistant {
                return Err(WaveletError::range("toi", TOI_EXPECTED, json!(t)));
            }
        }
        Ok(self)
    }

    pub fn to_value(&self) -> Value {
        match self {
            Toi::All => json!("all"),
            Toi::Seconds(t) => json!(t),
        }
    }

    /// Output time points for a trial of `n` samples.
    pub fn n_out(&self, n: usize) -> usize {
        match self {
            Toi::All => n,
            Toi::Seconds(t) => t.len(),
        }
    }

    /// Refuses a trial whose time axis, `(offset + k) / fs` for `k < n`, does not contain
    /// every time of interest (Syncopy only checks the union of all trials, then misplaces
    /// the windows of a trial that starts after `toi[0]`).
    pub fn check_trial(
        &self,
        trial: usize,
        n: usize,
        offset: f64,
        fs: f64,
    ) -> Result<(), WaveletError> {
        if n == 0 {
            return Err(WaveletError::Trial {
                trial,
                samples: 0,
                what: "an empty trial has no time-frequency representation".into(),
            });
        }
        let Toi::Seconds(t) = self else {
            return Ok(());
        };
        let t_start = offset / fs;
        // In samples from the trial's first one; a hair of round-off is tolerated.
        let eps = 1e-9;
        for &time in [t[0], t[t.len() - 1]].iter() {
            let at = fs * (time - t_start);
            if at < -eps || at > (n - 1) as f64 + eps {
                return Err(WaveletError::ToiOutsideTrial {
                    trial,
                    time,
                    first: t_start,
                    last: (offset + (n - 1) as f64) / fs,
                });
            }
        }
        Ok(())
    }

    /// The samples a trial is transformed over, and the output's positions within them
    /// (written to `indices[..n_out]`), with Syncopy's arithmetic: `start = int(fs (toi[0] -
    /// t0))`, `stop = int(fs (toi[-1] - t0) + 1)`, positions `int(min(n - 1, fs (toi - t0) -
    /// start))`. The trial has passed [`Toi::check_trial`].
    pub fn window(&self, n: usize, offset: f64, fs: f64, indices: &mut [usize]) -> Window {
        match self {
            Toi::All => {
                indices[..n]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = i);
                Window { start: 0, len: n }
            }
            Toi::Seconds(t) => {
                let t_start = offset / fs;
                let start = (fs * (t[0] - t_start)).trunc().max(0.0) as usize;
                let stop = ((fs * (t[t.len() - 1] - t_start) + 1.0).trunc() as usize).min(n);
                let len = stop.saturating_sub(start).max(1);
                for (slot, &time) in indices.iter_mut().zip(t) {
                    let at = f64::min((n - 1) as f64, fs * (time - t_start) - start as f64);
                    *slot = (at.max(0.0) as usize).min(len - 1);
                }
                Window { start, len }
            }
        }
    }

    /// The output's trial definition and samplerate: with `all`, the trials restacked with
    /// their offsets and the input's samplerate; with a list, `len(toi)` rows per trial,
    /// samplerate `1 / (toi[1] - toi[0])` and offset `toi[0]` times that (Syncopy's
    /// `_make_trialdef`), trialinfo kept.
    pub fn output_trials(&self, input: &DataSchema) -> (TrialDefinition, f64) {
        let def = &input.trialdefinition;
        let n_trials = input.n_trials();
        match self {
            Toi::All => {
                let lengths: Vec<usize> = (0..n_trials).map(|t| def.trial_len(t)).collect();
                (def.restacked(&lengths), input.samplerate)
            }
            Toi::Seconds(t) => {
                let samplerate = 1.0 / (t[1] - t[0]);
                let offset = t[0] * samplerate;
                let rows: Vec<(usize, usize, f64)> = (0..n_trials)
                    .map(|k| (k * t.len(), (k + 1) * t.len(), offset))
                    .collect();
                let info: Vec<Vec<f64>> =
                    (0..n_trials).map(|k| def.trialinfo(k).to_vec()).collect();
                (TrialDefinition::from_trials(&rows, &info), samplerate)
            }
        }
    }
}
