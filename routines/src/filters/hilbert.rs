use std::sync::Arc;
use trialflow_core::routine::fft_plan_bytes;

use ndarray::Axis;
use num_complex::Complex64;
use rustfft::Fft;
use serde::Deserialize;
use serde_json::Value;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::FilterError;
use crate::params::{keyword_serde, setters, Keyword};

/// Parameters of `hilbert`: what a pipeline step deserialises into, and the typed builder
/// (`HilbertParams::new().output(HilbertOutput::Angle)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HilbertParams {
    pub output: Option<HilbertOutput>,
}

setters!(HilbertParams {
    output: HilbertOutput
});

/// What is kept of the analytic signal `x + i H(x)` (Syncopy's `spectralConversions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HilbertOutput {
    /// `|z|`, the envelope.
    #[default]
    Abs,
    /// `z` itself.
    Complex,
    Real,
    Imag,
    AbsReal,
    AbsImag,
    /// `arg z` in (-pi, pi], the instantaneous phase.
    Angle,
}

impl Keyword for HilbertOutput {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("abs", HilbertOutput::Abs),
        ("complex", HilbertOutput::Complex),
        ("real", HilbertOutput::Real),
        ("imag", HilbertOutput::Imag),
        ("absreal", HilbertOutput::AbsReal),
        ("absimag", HilbertOutput::AbsImag),
        ("angle", HilbertOutput::Angle),
    ];
    const EXPECTED: &'static str =
        "one of 'abs', 'complex', 'real', 'imag', 'absreal', 'absimag' or 'angle'";
}
keyword_serde!(HilbertOutput);

impl HilbertOutput {
    fn real_part(self, z: Complex64) -> f64 {
        match self {
            HilbertOutput::Abs => z.norm(),
            HilbertOutput::Real | HilbertOutput::Complex => z.re,
            HilbertOutput::Imag => z.im,
            HilbertOutput::AbsReal => z.re.abs(),
            HilbertOutput::AbsImag => z.im.abs(),
            HilbertOutput::Angle => z.im.atan2(z.re),
        }
    }
}

impl HilbertParams {
    pub fn check(self) -> Result<Hilbert, FilterError> {
        let output = self.output.unwrap_or_default();
        Ok(Hilbert { output })
    }
}

/// `scipy.signal.hilbert(x, axis=0)` per trial (an FFT of the trial's length, no padding),
/// then Syncopy's conversion of the analytic signal (`preprocessing(hilbert=output)`).
#[derive(Debug, Clone)]
pub struct Hilbert {
    output: HilbertOutput,
}

/// FFT plans for one trial length.
/// The analytic signal of columns of `n` samples, and which part of it is kept.
struct HilbertKernel {
    output: HilbertOutput,
    n: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
}

impl HilbertKernel {
    fn scratch_len(&self) -> usize {
        self.n
            + self
                .forward
                .get_inplace_scratch_len()
                .max(self.inverse.get_inplace_scratch_len())
    }

    /// The analytic signal of `buf` (the column as complex values), in place.
    fn analytic(&self, buf: &mut [Complex64], fft_scratch: &mut [Complex64]) {
        let n = self.n;
        self.forward.process_with_scratch(buf, fft_scratch);
        // Positive frequencies doubled, negative ones zeroed; DC (and Nyquist) kept.
        let positive_end = n.div_ceil(2);
        for v in &mut buf[1..positive_end] {
            *v *= 2.0;
        }
        let negative_start = n / 2 + 1;
        for v in &mut buf[negative_start.min(n)..] {
            *v = Complex64::new(0.0, 0.0);
        }
        self.inverse.process_with_scratch(buf, fft_scratch);
        let scale = 1.0 / n as f64;
        for v in buf.iter_mut() {
            *v *= scale;
        }
    }
}

impl Hilbert {
    pub fn output(&self) -> HilbertOutput {
        self.output
    }
}

impl ComputationalRoutine for Hilbert {
    fn name(&self) -> &str {
        "hilbert"
    }

    fn cfg(&self) -> Value {
        serde_json::json!({ "output": self.output.as_str() })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        if let Some(trial) = input.trial_shapes.iter().position(|s| s[0] == 0) {
            return Err(FilterError::EmptyTrial {
                trial,
                routine: "hilbert",
            }
            .into());
        }
        let shape = OutputShape::same_as(input);
        Ok(if self.output == HilbertOutput::Complex {
            shape.with_complex_values()
        } else {
            shape
        })
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let n = task_shape[0];
        Ok(Arc::new(HilbertKernel {
            output: self.output,
            n,
            forward: planner.fft_forward(n),
            inverse: planner.fft_inverse(n),
        }))
    }
}

impl Kernel for HilbertKernel {
    fn state_bytes(&self) -> usize {
        2 * fft_plan_bytes(self.n)
    }

    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            complex: self.scratch_len(),
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let plan = self;
        let x = input.samples();
        let (n, ch) = x.dim();
        scratch.reserve(self.scratch_size());
        let (buf, fft_scratch) = scratch.complex.split_at_mut(n);
        for c in 0..ch {
            buf.iter_mut()
                .zip(x.column(c))
                .for_each(|(d, &v)| *d = Complex64::new(v, 0.0));
            plan.analytic(buf, fft_scratch);
            if self.output == HilbertOutput::Complex {
                let mut out = output.complex_mut();
                let mut out = out.index_axis_mut(Axis(1), c);
                out.iter_mut().zip(buf.iter()).for_each(|(d, &z)| *d = z);
            } else {
                output
                    .samples_mut()
                    .column_mut(c)
                    .iter_mut()
                    .zip(buf.iter())
                    .for_each(|(d, &z)| *d = self.output.real_part(z));
            }
        }
        Ok(())
    }
}
