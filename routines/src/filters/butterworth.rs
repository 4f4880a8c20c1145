use ndarray::ArrayView2;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use trialflow_core::{
    ChunkContext, ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan,
    Planner, RoutineError, Sample, Samples, Scratch, ScratchSize, TimeSupport, TrialInput,
};

use super::butter_design::butter_sos;
use super::sos::SosCascade;
use super::{
    check_below_nyquist, check_freq, freq_json, load_rows, store_rows, FilterError, FilterType,
};
use crate::params::{keyword_serde, setters, Keyword, Numbers};

/// The highest Butterworth order accepted. SciPy takes any order, but beyond a few dozen the
/// sections are numerically meaningless in f64 and the padding of `twopass` grows with it.
pub const MAX_BUTTER_ORDER: i64 = 100;

/// Parameters of `butterworth` (Syncopy's names): what a pipeline step deserialises into,
/// and the typed builder (`ButterworthParams::new().filter_type(FilterType::Bandpass)
/// .freq([1.0, 40.0])`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButterworthParams {
    pub filter_type: Option<FilterType>,
    pub freq: Option<Numbers>,
    pub order: Option<i64>,
    pub direction: Option<IirDirection>,
}

setters!(ButterworthParams {
    filter_type: FilterType,
    freq: Numbers,
    order: i64,
    direction: IirDirection,
});

/// How an IIR filter is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IirDirection {
    /// `sosfiltfilt`: forward and backward, zero phase, squared magnitude response.
    #[default]
    TwoPass,
    /// `sosfilt`: forward only, causal, with the filter's group delay.
    OnePass,
}

impl Keyword for IirDirection {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("twopass", IirDirection::TwoPass),
        ("onepass", IirDirection::OnePass),
    ];
    const EXPECTED: &'static str = "'twopass' or 'onepass' ('onepass-minphase' is for firws only)";
}
keyword_serde!(IirDirection);

impl ButterworthParams {
    pub fn check(self) -> Result<Butterworth, FilterError> {
        let filter_type = self.filter_type.unwrap_or_default();
        let freq = check_freq(self.freq, filter_type)?;
        let order = self.order.unwrap_or(4);
        if !(1..=MAX_BUTTER_ORDER).contains(&order) {
            return Err(FilterError::range(
                "order",
                format!("an integer from 1 to {MAX_BUTTER_ORDER}"),
                order,
            ));
        }
        let direction = self.direction.unwrap_or_default();
        Ok(Butterworth {
            filter_type,
            freq,
            order: order as usize,
            direction,
        })
    }
}

/// Syncopy's `preprocessing(filter_class='but', ...)`: the sections of
/// `scipy.signal.butter(order, freq, filter_type, fs=samplerate, output='sos')`, applied with
/// `sosfiltfilt` (twopass) or `sosfilt` (onepass) along time, per trial and channel.
#[derive(Debug, Clone)]
pub struct Butterworth {
    filter_type: FilterType,
    freq: Vec<f64>,
    order: usize,
    direction: IirDirection,
}

impl Butterworth {
    /// The second-order sections for a samplerate, as SciPy's `sos` rows.
    pub fn sections(&self, samplerate: f64) -> Vec<[f64; 6]> {
        butter_sos(self.order, &self.freq, self.filter_type, samplerate)
    }

    fn cascade(&self, samplerate: f64) -> SosCascade {
        SosCascade::new(self.sections(samplerate))
    }
}

impl ComputationalRoutine for Butterworth {
    fn name(&self) -> &str {
        "butterworth"
    }

    fn cfg(&self) -> Value {
        serde_json::json!({
            "filter_type": self.filter_type.as_str(),
            "freq": freq_json(&self.freq),
            "order": self.order,
            "direction": self.direction.as_str(),
        })
    }

    /// One pass (`sosfilt`) carries its sections' state from sample to sample, so chunks
    /// in time order with that state give the whole trial's bits. Two passes run backwards
    /// from the trial's end, so they need the whole trial.
    fn time_support(&self) -> TimeSupport {
        match self.direction {
            IirDirection::OnePass => TimeSupport::Carried,
            IirDirection::TwoPass => TimeSupport::WholeTrial,
        }
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        check_below_nyquist(
            &self.freq,
            input.samplerate,
            false,
            "scipy.signal.butter needs 0 < freq < samplerate / 2",
        )?;
        if self.direction == IirDirection::TwoPass {
            let cascade = self.cascade(input.samplerate);
            for (trial, shape) in input.trial_shapes.iter().enumerate() {
                if shape[0] <= cascade.padlen() {
                    return Err(FilterError::TrialTooShortForPadding {
                        trial,
                        samples: shape[0],
                        padlen: cascade.padlen(),
                        ntaps: cascade.ntaps(),
                    }
                    .into());
                }
            }
        }
        Ok(OutputShape::same_as(input))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let cascade = self.cascade(input.samplerate);
        let pad = match self.direction {
            IirDirection::TwoPass => cascade.padlen(),
            IirDirection::OnePass => 0,
        };
        Ok(Arc::new(ButterworthKernel {
            cascade,
            direction: self.direction,
            pad,
            samples: task_shape[0],
            channels: task_shape[1],
        }))
    }
}

/// The second-order sections for the input's samplerate, run over blocks of one shape.
struct ButterworthKernel {
    cascade: SosCascade,
    direction: IirDirection,
    /// `filtfilt`'s odd extension at each end (0 for one pass).
    pad: usize,
    samples: usize,
    channels: usize,
}

impl Kernel for ButterworthKernel {
    fn scratch_size(&self) -> ScratchSize {
        let (rows, ch) = (self.samples + 2 * self.pad, self.channels);
        ScratchSize {
            real: rows * ch + self.cascade.state_len(ch),
            ..ScratchSize::default()
        }
    }

    /// Float32 input is read as stored: the forward pass (and the odd extension) widen
    /// each value as they read it, so the engine's widening copy of the trial is skipped.
    fn reads_f32(&self) -> bool {
        true
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        match input.analog() {
            Samples::F64(x) => self.filter(&x, output, scratch),
            Samples::F32(x) => self.filter(&x, output, scratch),
        }
    }

    /// One pass over a time chunk from the state the previous chunk left (zero at the
    /// trial's start, as `sosfilt` without `zi`). Two passes never get here: they declare
    /// the whole trial.
    fn compute_chunk(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
        chunk: &mut ChunkContext,
    ) -> Result<(), RoutineError> {
        if self.direction == IirDirection::TwoPass {
            return self.compute(input, output, scratch);
        }
        match input.analog() {
            Samples::F64(x) => self.filter_chunk(&x, output, scratch, chunk),
            Samples::F32(x) => self.filter_chunk(&x, output, scratch, chunk),
        }
    }
}

impl ButterworthKernel {
    /// One forward pass over a time chunk from samples in either precision
    /// (`compute_chunk`).
    fn filter_chunk<T: Sample>(
        &self,
        x: &ArrayView2<'_, T>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
        chunk: &mut ChunkContext,
    ) -> Result<(), RoutineError> {
        let cascade = &self.cascade;
        let (n, ch) = x.dim();
        if n == 0 || ch == 0 {
            return Ok(());
        }
        if chunk.state.len() != cascade.state_len(ch) {
            chunk.state.resize(cascade.state_len(ch), 0.0);
            cascade.init_state(&mut chunk.state, None);
        }
        scratch.reserve(ScratchSize {
            real: n * ch,
            ..ScratchSize::default()
        });
        let buf = &mut scratch.real[..n * ch];
        load_rows(x, buf);
        cascade.run(buf, ch, &mut chunk.state, false);
        store_rows(buf, &mut output.samples_mut());
        Ok(())
    }

    /// The whole-trial filter from samples in either precision (`compute`).
    fn filter<T: Sample>(
        &self,
        x: &ArrayView2<'_, T>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let cascade = &self.cascade;
        let (n, ch) = x.dim();
        if n == 0 || ch == 0 {
            return Ok(());
        }
        let pad = self.pad;
        let rows = n + 2 * pad;
        scratch.reserve(ScratchSize {
            real: rows * ch + cascade.state_len(ch),
            ..ScratchSize::default()
        });
        let (buf, rest) = scratch.real.split_at_mut(rows * ch);
        let state = &mut rest[..cascade.state_len(ch)];
        let mut out = output.samples_mut();
        if let (Some(x), Some(out)) = (x.as_slice(), out.as_slice_mut()) {
            // Standard layouts: straight from the input into the output block, with only
            // the extensions in scratch (no copy of the trial in or out).
            match self.direction {
                IirDirection::TwoPass => cascade.filtfilt_into(x, out, ch, buf, state),
                IirDirection::OnePass => {
                    cascade.init_state(state, None);
                    cascade.run_from(Some(x), out, ch, state, false);
                }
            }
            return Ok(());
        }
        load_rows(x, &mut buf[pad * ch..(pad + n) * ch]);
        match self.direction {
            IirDirection::TwoPass => cascade.filtfilt(buf, n, ch, state),
            IirDirection::OnePass => {
                cascade.init_state(state, None);
                cascade.run(buf, ch, state, false);
            }
        }
        store_rows(&buf[pad * ch..(pad + n) * ch], &mut out);
        Ok(())
    }
}
