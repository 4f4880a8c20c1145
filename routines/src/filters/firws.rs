use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::fir::{design_wsinc, minimum_phase, FirConvolver, FirWindow};
use super::{check_below_nyquist, check_freq, freq_json, FilterError, FilterType};
use crate::params::{keyword_serde, setters, Keyword, Numbers};

/// The highest FIR order accepted (kernels of up to 100,001 taps).
pub const MAX_FIR_ORDER: i64 = 100_000;
/// The highest order for `onepass-minphase`, whose cepstrum takes an FFT of
/// `2^ceil(log2(1000 (order + 1)))` points (2^22 = 64 MiB of complex values here).
pub const MAX_MINPHASE_ORDER: i64 = 4_000;

/// Parameters of `firws` (Syncopy's names): what a pipeline step deserialises into, and the
/// typed builder (`FirwsParams::new().filter_type(FilterType::Highpass).freq(1.0)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirwsParams {
    pub filter_type: Option<FilterType>,
    pub freq: Option<Numbers>,
    pub order: Option<i64>,
    pub window: Option<FirWindow>,
    pub direction: Option<FirDirection>,
}

setters!(FirwsParams {
    filter_type: FilterType,
    freq: Numbers,
    order: i64,
    window: FirWindow,
    direction: FirDirection,
});

/// How the FIR kernel is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirDirection {
    /// One 'same' convolution with the centred (linear-phase) kernel: zero phase.
    OnePass,
    /// Two 'same' convolutions: the squared magnitude response.
    #[default]
    TwoPass,
    /// One convolution with the minimum-phase version of the kernel.
    OnePassMinPhase,
}

impl Keyword for FirDirection {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("twopass", FirDirection::TwoPass),
        ("onepass", FirDirection::OnePass),
        ("onepass-minphase", FirDirection::OnePassMinPhase),
    ];
    const EXPECTED: &'static str = "'twopass', 'onepass' or 'onepass-minphase'";
}
keyword_serde!(FirDirection);

impl FirwsParams {
    pub fn check(self) -> Result<Firws, FilterError> {
        let filter_type = self.filter_type.unwrap_or_default();
        let freq = check_freq(self.freq, filter_type)?;
        let window = self.window.unwrap_or_default();
        let direction = self.direction.unwrap_or_default();
        let max = if direction == FirDirection::OnePassMinPhase {
            MAX_MINPHASE_ORDER
        } else {
            MAX_FIR_ORDER
        };
        let order = match self.order {
            None => None,
            Some(o) if (1..=max).contains(&o) => Some(o as usize),
            Some(o) => {
                return Err(FilterError::range(
                    "order",
                    format!(
                        "an integer from 1 to {max} (direction '{}')",
                        direction.as_str()
                    ),
                    o,
                ))
            }
        };
        Ok(Firws {
            filter_type,
            freq,
            order,
            window,
            direction,
            kernel: Mutex::new(None),
        })
    }
}

/// Syncopy's `preprocessing(filter_class='firws', ...)`: a windowed-sinc kernel of
/// `order + 1` taps (`design_wsinc`), applied as `scipy.signal.convolve(x, h, mode='same')`
/// along time, once, twice, or once with its minimum-phase version.
#[derive(Debug)]
pub struct Firws {
    filter_type: FilterType,
    freq: Vec<f64>,
    order: Option<usize>,
    window: FirWindow,
    direction: FirDirection,
    /// The kernel of the last (samplerate, order) planned: the min-phase one takes a long FFT.
    kernel: Mutex<Option<CachedKernel>>,
}

/// A designed kernel and the (samplerate bits, order) it was designed for.
type CachedKernel = (u64, usize, Arc<Vec<f64>>);

/// Syncopy's default FIR order: the shortest trial, at most 1000.
pub(crate) fn default_fir_order(input: &DataSchema) -> usize {
    let shortest = input.trial_shapes.iter().map(|s| s[0]).min().unwrap_or(0);
    if shortest < 1000 {
        shortest
    } else {
        1000
    }
}

impl Firws {
    fn effective_order(&self, input: &DataSchema) -> usize {
        self.order.unwrap_or_else(|| default_fir_order(input))
    }

    /// The kernel applied to the data (after the min-phase transform, if asked for).
    pub fn kernel(&self, input: &DataSchema) -> Arc<Vec<f64>> {
        let order = self.effective_order(input);
        let key = input.samplerate.to_bits();
        let mut cached = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, o, kernel)) = cached.as_ref() {
            if *k == key && *o == order {
                return kernel.clone();
            }
        }
        let f_c: Vec<f64> = self.freq.iter().map(|f| f / input.samplerate).collect();
        let mut kernel = design_wsinc(self.window, order, &f_c, self.filter_type);
        if self.direction == FirDirection::OnePassMinPhase {
            kernel = minimum_phase(&kernel);
        }
        let kernel = Arc::new(kernel);
        *cached = Some((key, order, kernel.clone()));
        kernel
    }
}

impl ComputationalRoutine for Firws {
    fn name(&self) -> &str {
        "firws"
    }

    fn cfg(&self) -> Value {
        serde_json::json!({
            "filter_type": self.filter_type.as_str(),
            "freq": freq_json(&self.freq),
            "order": self.order,
            "window": self.window.as_str(),
            "direction": self.direction.as_str(),
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        check_below_nyquist(
            &self.freq,
            input.samplerate,
            true,
            "the windowed sinc needs 0 < freq <= samplerate / 2",
        )?;
        if let Some(trial) = input.trial_shapes.iter().position(|s| s[0] == 0) {
            return Err(FilterError::EmptyTrial {
                trial,
                routine: "firws",
            }
            .into());
        }
        if self.order.is_none() && self.direction == FirDirection::OnePassMinPhase {
            let order = self.effective_order(input) as i64;
            if order > MAX_MINPHASE_ORDER {
                return Err(FilterError::range(
                    "order",
                    format!("set explicitly to at most {MAX_MINPHASE_ORDER} for direction 'onepass-minphase' (the default, the shortest trial up to 1000, is {order})"),
                    order,
                )
                .into());
            }
        }
        Ok(OutputShape::same_as(input))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(FirwsKernel {
            conv: FirConvolver::new(self.kernel(input), task_shape[0], planner),
            direction: self.direction,
        }))
    }
}

/// The kernel's spectrum for one trial length's FFT.
struct FirwsKernel {
    conv: FirConvolver,
    direction: FirDirection,
}

impl Kernel for FirwsKernel {
    fn state_bytes(&self) -> usize {
        self.conv.state_bytes()
    }

    fn scratch_size(&self) -> ScratchSize {
        let (real, complex) = self.conv.scratch_len();
        ScratchSize {
            real: real + self.conv.samples(),
            complex,
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let conv = &self.conv;
        let x = input.samples();
        let (n, ch) = x.dim();
        let (real, complex) = conv.scratch_len();
        scratch.reserve(ScratchSize {
            real: real + n,
            complex,
            ..ScratchSize::default()
        });
        let (column, real) = scratch.real.split_at_mut(n);
        let complex = &mut scratch.complex[..];
        let mut out = output.samples_mut();
        for c in 0..ch {
            column
                .iter_mut()
                .zip(x.column(c))
                .for_each(|(d, &v)| *d = v);
            conv.apply(column, real, complex);
            if self.direction == FirDirection::TwoPass {
                conv.apply(column, real, complex);
            }
            out.column_mut(c)
                .iter_mut()
                .zip(column.iter())
                .for_each(|(d, &v)| *d = v);
        }
        Ok(())
    }
}
