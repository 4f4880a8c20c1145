//! `wavelet`: Syncopy's `freqanalysis(method='wavelet')`, the continuous wavelet transform.

use serde_json::{json, Map, Value};
use trialflow_core::{ComputationalRoutine, DataSchema, OutputShape, Plan, Planner, RoutineError};

use super::bank::Support;
use super::mother::Mother;
use super::scales::FreqChoice;
use super::transform::{Recipe, TimeFrequency};
use super::WaveletError;
use crate::params::{keyword_serde, Keyword};

/// `wavelet:` as Syncopy names them (`Mexican_hat`, `Marr` and `Ricker` are DOG of order 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaveletName {
    #[default]
    Morlet,
    Paul,
    Dog,
    MexicanHat,
    Marr,
    Ricker,
}

impl Keyword for WaveletName {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("Morlet", WaveletName::Morlet),
        ("Paul", WaveletName::Paul),
        ("DOG", WaveletName::Dog),
        ("Mexican_hat", WaveletName::MexicanHat),
        ("Marr", WaveletName::Marr),
        ("Ricker", WaveletName::Ricker),
    ];
    const EXPECTED: &'static str = "one of Morlet, Paul, DOG, Mexican_hat, Marr, Ricker";
}
keyword_serde!(WaveletName);

/// `freqanalysis(data, method='wavelet', wavelet, width, order, foi/foilim, toi, output,
/// polyremoval)` per trial.
///
/// Each trial is detrended, trimmed to the samples `toi` spans, convolved (`mode="same"`)
/// with `ψ(t / s) · √dt / (8 π s)` sampled over `10 s` for every scale `s`, and subsampled
/// at `toi`. Scales are `scale_from_period(1 / foi)`; the frequency axis is
/// `1 / fourier_period(s)`. Computed in f64 in the frequency domain (Syncopy: complex64
/// after a time-domain `fftconvolve`).
#[derive(Debug, Clone)]
pub struct Wavelet {
    name: WaveletName,
    mother: Mother,
    freqs: FreqChoice,
    tf: TimeFrequency,
}

impl Wavelet {
    pub(crate) fn new(
        name: WaveletName,
        width: Option<f64>,
        order: Option<i64>,
        freqs: FreqChoice,
        tf: TimeFrequency,
    ) -> Result<Wavelet, WaveletError> {
        // The upper bounds keep (2m)! and Γ(m + 1/2) finite in f64.
        let order_of = |min: i64, max: i64, default: u32| -> Result<u32, WaveletError> {
            match order {
                None => Ok(default),
                Some(m) if m >= min && m <= max => Ok(m as u32),
                Some(m) => Err(WaveletError::range(
                    "order",
                    format!("an integer in [{min}, {max}] for wavelet {}", name.as_str()),
                    m,
                )),
            }
        };
        // As Syncopy, `width` only matters for Morlet and `order` only for Paul and DOG; the
        // other is accepted and has no effect (Syncopy warns), so its configurations replay.
        let mother = match name {
            WaveletName::Morlet => {
                let w0 = width.unwrap_or(6.0);
                if !(w0.is_finite() && w0 >= 1.0) {
                    return Err(WaveletError::range("width", "a finite number >= 1", w0));
                }
                Mother::Morlet { w0 }
            }
            WaveletName::Paul => Mother::Paul {
                m: order_of(4, 85, 4)?,
            },
            WaveletName::Dog => Mother::Dog {
                m: order_of(1, 100, 2)?,
            },
            WaveletName::MexicanHat | WaveletName::Marr | WaveletName::Ricker => {
                Mother::Dog { m: 2 }
            }
        };
        Ok(Wavelet {
            name,
            mother,
            freqs,
            tf,
        })
    }

    /// The scales (in output order) and the frequency axis for this input.
    pub fn scales(&self, input: &DataSchema) -> Result<(Vec<f64>, Vec<f64>), WaveletError> {
        let mother = self.mother;
        let scales = self.freqs.scales(input, |p| mother.scale_from_period(p))?;
        if scales.is_empty() {
            return Err(WaveletError::range(
                "foi",
                "a list of frequencies: the shortest trial is too short for the default scales",
                "'all'",
            ));
        }
        let freqs = scales
            .iter()
            .map(|&s| 1.0 / mother.fourier_period(s))
            .collect();
        Ok((scales, freqs))
    }
}

impl ComputationalRoutine for Wavelet {
    fn name(&self) -> &str {
        "wavelet"
    }

    /// Syncopy's time-frequency routines average the trials' offsets.
    fn averaged_trialdefinition(
        &self,
        output: &trialflow_core::TrialDefinition,
        len: usize,
    ) -> trialflow_core::TrialDefinition {
        output.first_only_mean_offset(len)
    }

    fn cfg(&self) -> Value {
        let (foi, foilim) = self.freqs.to_values();
        let (width, order) = match self.mother {
            Mother::Morlet { w0 } => (json!(w0), Value::Null),
            Mother::Paul { m } | Mother::Dog { m } => (Value::Null, json!(m)),
        };
        let mut cfg = Map::new();
        cfg.insert("wavelet".into(), self.name.as_str().into());
        cfg.insert("width".into(), width);
        cfg.insert("order".into(), order);
        cfg.insert("foi".into(), foi);
        cfg.insert("foilim".into(), foilim);
        self.tf.cfg_into(&mut cfg);
        Value::Object(cfg)
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let (scales, _) = self.scales(input)?;
        Ok(self.tf.declare(input, scales.len())?)
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let (_, freqs) = self.scales(input)?;
        Ok(self.tf.schema(input, output, freqs))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let (scales, _) = self.scales(input)?;
        let dt = 1.0 / input.samplerate;
        let mother = self.mother;
        let key = format!("wavelet {:?} scales={scales:?}", self.mother);
        let mut recipe = Recipe::new(key, mother.is_real());
        for &s in &scales {
            // cwt_time: M = 10 s / dt samples, kernel norm √dt / (8 π s).
            let norm = dt.powf(0.5) / (s * 8.0 * std::f64::consts::PI);
            recipe.factor(
                Support::new(10.0 * s / dt),
                move |t| mother.time(t, s) * norm,
                1.0,
            );
            recipe.next_frequency();
        }
        Ok(self.tf.kernel(task_shape, input, recipe, planner))
    }
}
