//! `superlet`: Syncopy's `freqanalysis(method='superlet')`, Moca et al.'s superlet transform
//! (multiplicative, or fractional adaptive: FASLT).

use serde_json::{json, Map, Value};
use trialflow_core::{ComputationalRoutine, DataSchema, OutputShape, Plan, Planner, RoutineError};

use super::bank::Support;
use super::mother::MorletSl;
use super::scales::FreqChoice;
use super::transform::{Recipe, TimeFrequency};
use super::WaveletError;

/// `freqanalysis(data, method='superlet', order_max, order_min, c_1, adaptive, foi/foilim,
/// toi, output, polyremoval)` per trial.
///
/// A superlet of order `o` is the geometric mean of the responses to Morlet-SL wavelets with
/// `c_1 · k` cycles, `k = order_min..=o`. Multiplicative (`adaptive: false`): every
/// frequency uses `o = order_max`, `R = Π_k R_k^(1/(order_max - order_min + 1))`.
/// Adaptive (FASLT): the order grows linearly with frequency, `o(f) = order_min +
/// (order_max - order_min)(f - f_min)/(f_max - f_min)`, and a fractional order `i + α` takes
/// `R = (R_min ⋯ R_i · R_{i+1}^α)^(1/(o - order_min + 1))`. Each response is the
/// convolution with `ψ_c(t/s) · √dt / (4π)` sampled over `10 s c` seconds, `s = 1/(2π f)`.
#[derive(Debug, Clone)]
pub struct Superlet {
    order_max: u32,
    order_min: u32,
    c_1: u32,
    adaptive: bool,
    freqs: FreqChoice,
    tf: TimeFrequency,
}

/// The factors of one output frequency: `(cycles, exponent)`.
type Factors = Vec<(f64, f64)>;

impl Superlet {
    pub(crate) fn new(
        order_max: Option<i64>,
        order_min: Option<i64>,
        c_1: Option<i64>,
        adaptive: Option<bool>,
        freqs: FreqChoice,
        tf: TimeFrequency,
    ) -> Result<Superlet, WaveletError> {
        // Beyond these the plan holds (orders x frequencies) kernel spectra to no purpose:
        // Moca et al. use orders up to 30 and 1 to 5 base cycles.
        const LIMIT: i64 = 100;
        let order_max = match order_max {
            Some(o) if (1..=LIMIT).contains(&o) => o,
            other => {
                return Err(WaveletError::range(
                    "order_max",
                    format!("an integer in [1, {LIMIT}] (required)"),
                    other.map_or("nothing".to_string(), |o| o.to_string()),
                ))
            }
        };
        let order_min = order_min.unwrap_or(1);
        if !(1..=order_max).contains(&order_min) {
            return Err(WaveletError::range(
                "order_min",
                format!("an integer in [1, order_max = {order_max}]"),
                order_min,
            ));
        }
        let c_1 = c_1.unwrap_or(3);
        if !(1..=LIMIT).contains(&c_1) {
            return Err(WaveletError::range(
                "c_1",
                format!("an integer in [1, {LIMIT}]"),
                c_1,
            ));
        }
        Ok(Superlet {
            order_max: order_max as u32,
            order_min: order_min as u32,
            c_1: c_1 as u32,
            adaptive: adaptive.unwrap_or(false),
            freqs,
            tf,
        })
    }

    /// The scales in output order (sorted from low to high frequency when adaptive, as
    /// Syncopy sorts them) and the frequency axis `1 / (2π s)`.
    pub fn scales(&self, input: &DataSchema) -> Result<(Vec<f64>, Vec<f64>), WaveletError> {
        let mut scales = self.freqs.scales(input, MorletSl::scale_from_period)?;
        if scales.is_empty() {
            return Err(WaveletError::range(
                "foi",
                "a list of frequencies: the shortest trial is too short for the default scales",
                "'all'",
            ));
        }
        if self.adaptive {
            if scales.len() < 2 || scales.iter().all(|&s| s == scales[0]) {
                return Err(WaveletError::range(
                    "foi",
                    "at least two different frequencies for adaptive: true (the order grows from the lowest to the highest)",
                    json!(scales.iter().map(|&s| 1.0 / MorletSl::fourier_period(s)).collect::<Vec<_>>()),
                ));
            }
            if scales.windows(2).any(|w| w[1] > w[0]) {
                scales.sort_by(|a, b| b.total_cmp(a));
            }
        }
        let freqs = scales
            .iter()
            .map(|&s| 1.0 / MorletSl::fourier_period(s))
            .collect();
        Ok((scales, freqs))
    }

    /// Every output frequency's factors.
    ///
    /// Syncopy's FASLT builds its wavelets from the distinct integer orders that occur and
    /// so uses the wrong cycle counts when neighbouring frequencies skip an order (a coarse
    /// `foi` with a wide order range), and leaves out `R_{i+1}^α` of the last order seen;
    /// here every frequency gets exactly the factors its order asks for.
    fn factors(&self, scales: &[f64]) -> Vec<Factors> {
        let c_1 = self.c_1 as f64;
        let (o_min, o_max) = (self.order_min as f64, self.order_max as f64);
        if !self.adaptive {
            let n_orders = self.order_max + 1 - self.order_min;
            let e = 1.0 / n_orders as f64;
            let all: Factors = (self.order_min..=self.order_max)
                .map(|k| (c_1 * k as f64, e))
                .collect();
            return vec![all; scales.len()];
        }
        // compute_adaptive_order on fois = 1 / (2π s), low to high.
        let fois: Vec<f64> = scales
            .iter()
            .map(|&s| 1.0 / (2.0 * std::f64::consts::PI * s))
            .collect();
        let (f_min, f_max) = (fois[0], fois[fois.len() - 1]);
        fois.iter()
            .map(|&f| {
                let order = o_min + (o_max - o_min) * (f - f_min) / (f_max - f_min);
                let whole = order.floor();
                let alpha = order % whole;
                let e = 1.0 / (order - o_min + 1.0);
                let mut factors: Factors = (self.order_min..=whole as u32)
                    .map(|k| (c_1 * k as f64, e))
                    .collect();
                if alpha > 0.0 && whole + 1.0 <= o_max {
                    factors.push((c_1 * (whole + 1.0), alpha * e));
                }
                factors
            })
            .collect()
    }
}

impl ComputationalRoutine for Superlet {
    fn name(&self) -> &str {
        "superlet"
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
        let mut cfg = Map::new();
        cfg.insert("order_max".into(), self.order_max.into());
        cfg.insert("order_min".into(), self.order_min.into());
        cfg.insert("c_1".into(), self.c_1.into());
        cfg.insert("adaptive".into(), self.adaptive.into());
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
        let norm = dt.powf(0.5) / (4.0 * std::f64::consts::PI);
        let all_factors = self.factors(&scales);
        let key = format!("superlet scales={scales:?} factors={all_factors:?}");
        let mut recipe = Recipe::new(key, false);
        for (&s, factors) in scales.iter().zip(all_factors) {
            for (cycles, e) in factors {
                // _get_superlet_support: M = 10 s c / dt samples.
                let wavelet = MorletSl { cycles };
                recipe.factor(
                    Support::new(10.0 * s * cycles / dt),
                    move |t| wavelet.time(t, s) * norm,
                    e,
                );
            }
            recipe.next_frequency();
        }
        Ok(self.tf.kernel(task_shape, input, recipe, planner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wavelets::Toi;

    fn superlet(order_max: i64, order_min: i64, adaptive: bool) -> Superlet {
        let tf = TimeFrequency::new(Some(Toi::All), None, None).unwrap();
        Superlet::new(
            Some(order_max),
            Some(order_min),
            Some(3),
            Some(adaptive),
            FreqChoice::Default,
            tf,
        )
        .unwrap()
    }

    /// FASLT gives each frequency the factors of its own order, also where neighbouring
    /// frequencies skip an order (Syncopy 2023.9 then uses the cycles of the next order that
    /// occurs: 9 instead of 6 below).
    #[test]
    fn adaptive_orders_take_their_own_cycles() {
        let scales: Vec<f64> = [10.0, 20.0, 40.0, 80.0]
            .iter()
            .map(|f| MorletSl::scale_from_period(1.0 / f))
            .collect();
        let factors = superlet(3, 1, true).factors(&scales);
        let cycles: Vec<Vec<f64>> = factors
            .iter()
            .map(|f| f.iter().map(|&(c, _)| c).collect())
            .collect();
        assert_eq!(
            cycles,
            vec![
                vec![3.0],
                vec![3.0, 6.0],
                vec![3.0, 6.0],
                vec![3.0, 6.0, 9.0]
            ]
        );
        // order 1 + 2 (20 - 10) / 70: the whole part with 1/o, the fraction α/o on order 2.
        let o = 1.0 + 2.0 * (10.0 / 70.0);
        let (whole, fraction) = (factors[1][0].1, factors[1][1].1);
        assert!((whole - 1.0 / o).abs() < 1e-12);
        assert!((fraction - (o - 1.0) / o).abs() < 1e-12);
        // The highest frequency is order_max exactly: every order, each to the 1/3.
        assert!(factors[3]
            .iter()
            .all(|&(_, e)| (e - 1.0 / 3.0).abs() < 1e-12));
    }

    #[test]
    fn multiplicative_superlets_use_every_order_everywhere() {
        let factors = superlet(4, 2, false).factors(&[0.01, 0.02]);
        for f in factors {
            assert_eq!(
                f,
                vec![(6.0, 1.0 / 3.0), (9.0, 1.0 / 3.0), (12.0, 1.0 / 3.0)]
            );
        }
    }
}
