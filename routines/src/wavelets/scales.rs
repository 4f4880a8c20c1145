//! Which frequencies a wavelet method analyses (`foi`, `foilim`, or Torrence & Compo's
//! default set) and the scales they become, with Syncopy's arithmetic
//! (`freqanalysis.py`'s wavelet and superlet branches, `wavelet.py`'s
//! `get_optimal_wavelet_scales`).

use serde_json::{json, Value};
use trialflow_core::DataSchema;

use super::WaveletError;
use crate::spectral::Frequencies;

/// The frequencies asked for, checked for shape (the Nyquist limit needs the samplerate and
/// is checked in the dry run).
#[derive(Debug, Clone, PartialEq)]
pub enum FreqChoice {
    /// Torrence & Compo's scales from twice the sampling interval up to the shortest trial.
    Default,
    Foi(Vec<f64>),
    /// `[low, high]`: `low, low + 1, ...` Hz up to `high`.
    Foilim(f64, f64),
}

impl FreqChoice {
    pub fn from_params(
        foi: Option<&Frequencies>,
        foilim: Option<&Frequencies>,
    ) -> Result<FreqChoice, WaveletError> {
        let given = |f: Option<&Frequencies>| match f {
            None | Some(Frequencies::All) => None,
            Some(Frequencies::Hz(v)) => Some(v.clone()),
        };
        let positive = |v: &[f64]| v.iter().all(|f| f.is_finite() && *f > 0.0);
        match (given(foi), given(foilim)) {
            (Some(_), Some(_)) => Err(WaveletError::FoiAndFoilim),
            (Some(f), None) => {
                if f.is_empty() || !positive(&f) {
                    return Err(WaveletError::range(
                        "foi",
                        "'all' or a non-empty list of frequencies in Hz, finite and > 0",
                        json!(f),
                    ));
                }
                Ok(FreqChoice::Foi(f))
            }
            (None, Some(l)) => {
                if l.len() != 2 || !positive(&l) || l[0] > l[1] {
                    return Err(WaveletError::range(
                        "foilim",
                        "'all' or [low, high] in Hz with 0 < low <= high",
                        json!(l),
                    ));
                }
                Ok(FreqChoice::Foilim(l[0], l[1]))
            }
            (None, None) => Ok(FreqChoice::Default),
        }
    }

    /// `(foi, foilim)` as `cfg` records them.
    pub fn to_values(&self) -> (Value, Value) {
        match self {
            FreqChoice::Default => (Value::Null, Value::Null),
            FreqChoice::Foi(f) => (json!(f), Value::Null),
            FreqChoice::Foilim(lo, hi) => (Value::Null, json!([lo, hi])),
        }
    }

    /// The scales for this input, in output order. `scale_from_period` is the wavelet's.
    ///
    /// `foilim` gives `numpy.arange(low, high + 1)` in Syncopy, which passes `high` when
    /// `high - low` is not whole (`[1, 2.5]` gives 1, 2, 3 Hz); here it stops at `high`, as
    /// its documentation promises ("fmin and fmax are included", nothing beyond).
    pub fn scales(
        &self,
        input: &DataSchema,
        scale_from_period: impl Fn(f64) -> f64,
    ) -> Result<Vec<f64>, WaveletError> {
        let fs = input.samplerate;
        let dt = 1.0 / fs;
        let nyquist = fs / 2.0;
        let foi: Vec<f64> = match self {
            FreqChoice::Default => {
                let shortest = (0..input.n_trials())
                    .map(|t| input.trialdefinition.trial_len(t))
                    .min()
                    .unwrap_or(0);
                // int(minTrialLength * samplerate), minTrialLength = shortest / samplerate
                let n = ((shortest as f64 / fs) * fs).trunc();
                return Ok(optimal_scales(scale_from_period, n, dt));
            }
            FreqChoice::Foi(f) => {
                if let Some(&f) = f.iter().find(|&&f| f > nyquist) {
                    return Err(WaveletError::AboveNyquist {
                        param: "foi",
                        got: f,
                        nyquist,
                    });
                }
                f.clone()
            }
            FreqChoice::Foilim(lo, hi) => {
                if *hi > nyquist {
                    return Err(WaveletError::AboveNyquist {
                        param: "foilim",
                        got: *hi,
                        nyquist,
                    });
                }
                let delta = (lo + 1.0) - lo;
                (0..)
                    .map(|k| {
                        if k == 1 {
                            lo + 1.0
                        } else {
                            lo + k as f64 * delta
                        }
                    })
                    .take_while(|f| f <= hi)
                    .collect()
            }
        };
        // Syncopy replaces frequencies below 0.01 Hz by 0.01 Hz.
        Ok(foi
            .iter()
            .map(|&f| scale_from_period(1.0 / f.max(0.01)))
            .collect())
    }
}

/// Torrence & Compo's scales `s0 2^(j dj)`, `j = 0..=J`, `dj = 0.25`, `s0` the scale of
/// period `2 dt`, `J = int(log2(n dt / s0) / dj)`: returned from the largest scale (lowest
/// frequency) down, as Syncopy returns them.
pub fn optimal_scales(scale_from_period: impl Fn(f64) -> f64, n: f64, dt: f64) -> Vec<f64> {
    let dj = 0.25f64;
    let s0 = scale_from_period(2.0 * dt);
    let j_max = ((1.0 / dj) * (n * dt / s0).log2()).trunc();
    if j_max.is_nan() || j_max < 0.0 {
        return Vec::new();
    }
    let mut scales: Vec<f64> = (0..=j_max as usize)
        .map(|j| s0 * 2f64.powf(dj * j as f64))
        .collect();
    scales.reverse();
    scales
}
