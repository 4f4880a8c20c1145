//! What `wavelet` and `superlet` share: the checks and metadata of a time-frequency output
//! (`(time, taper, freq, channel)`, one taper), and the kernel that runs a bank of wavelets
//! over a trial.
//!
//! Each output frequency is a product of powers of wavelet responses, `Π_k (x * ψ_k)^e_k`:
//! one factor with exponent 1 for a wavelet transform, a superlet's orders for a superlet.
//! Per block of channels the trial is detrended and gathered once (time-major rows read once
//! per block), each channel's window is transformed once, and every factor is a product
//! with a precomputed kernel spectrum and one inverse FFT. Powers are only taken at the
//! output's time points.

use std::sync::Arc;

use ndarray::{ArrayViewMut4, Ix4};
use num_complex::Complex64;
use serde_json::Value;
use trialflow_core::{
    DataKind, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TrialInput,
};

use super::bank::{KernelBank, Support};
use super::toi::Toi;
use super::WaveletError;
use crate::spectral::trend::Trend;
use crate::spectral::{PolyRemoval, SpectralOutput};

/// Channels gathered per pass over a trial's rows (8 f64: one cache line per row).
const CHANNEL_BLOCK: usize = 8;

/// The settings both routines share: time points, output conversion and detrending.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeFrequency {
    pub toi: Toi,
    pub output: SpectralOutput,
    pub trend: Trend,
}

impl TimeFrequency {
    pub fn new(
        toi: Option<Toi>,
        output: Option<SpectralOutput>,
        polyremoval: Option<PolyRemoval>,
    ) -> Result<TimeFrequency, WaveletError> {
        let trend = match polyremoval.unwrap_or_default() {
            PolyRemoval::None => Trend::None,
            PolyRemoval::Constant => Trend::Constant,
            PolyRemoval::Linear => Trend::Linear,
        };
        Ok(TimeFrequency {
            toi: toi.unwrap_or_default().check()?,
            output: output.unwrap_or_default(),
            trend,
        })
    }

    /// `output`, `toi` and `polyremoval` as `cfg` records them.
    pub fn cfg_into(&self, cfg: &mut serde_json::Map<String, Value>) {
        cfg.insert("output".into(), self.output.name().into());
        cfg.insert("toi".into(), self.toi.to_value());
        cfg.insert(
            "polyremoval".into(),
            match self.trend {
                Trend::None => Value::Null,
                Trend::Constant => 0.into(),
                Trend::Linear => 1.into(),
            },
        );
    }

    /// The dry run's per-trial checks and the output declaration for `n_freqs` frequencies.
    pub fn declare(&self, input: &DataSchema, n_freqs: usize) -> Result<OutputShape, WaveletError> {
        let fs = input.samplerate;
        let def = &input.trialdefinition;
        let mut shapes = Vec::with_capacity(input.n_trials());
        for t in 0..input.n_trials() {
            let n = def.trial_len(t);
            self.toi.check_trial(t, n, def.offset(t), fs)?;
            shapes.push(vec![self.toi.n_out(n), 1, n_freqs, input.n_channels()]);
        }
        Ok(self.output.declare(shapes))
    }

    /// SpectralData with Syncopy's time axis (see [`Toi::output_trials`]), frequency axis
    /// `freqs` and the one taper "None".
    pub fn schema(&self, input: &DataSchema, output: &OutputShape, freqs: Vec<f64>) -> DataSchema {
        let (trialdefinition, samplerate) = self.toi.output_trials(input);
        let mut schema = input.clone();
        schema.kind = DataKind::Spectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = trialdefinition;
        schema.samplerate = samplerate;
        schema.freq = Some(freqs);
        schema.taper = Some(vec!["None".into()]);
        schema.units = None;
        schema.event_columns = Vec::new();
        schema
    }

    /// The kernel for tasks of `task_shape` (samples, channels): `recipe`'s wavelets
    /// sampled and transformed for this trial length.
    pub fn kernel(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        recipe: Recipe,
        planner: &mut Planner,
    ) -> Plan {
        let (n, channels) = (task_shape[0], task_shape[1]);
        let dt = 1.0 / input.samplerate;
        // One FFT length for every trial length, so every plan shares one bank.
        let longest = (0..input.n_trials())
            .map(|t| input.trialdefinition.trial_len(t))
            .max()
            .unwrap_or(n)
            .max(n);
        let reach = recipe
            .supports
            .iter()
            .map(|s| s.centre().max(s.len - 1 - s.centre()))
            .max()
            .unwrap_or(0);
        let p = KernelBank::fft_len(longest, reach);
        let kernels: Vec<(Support, &dyn Fn(f64) -> Complex64)> = recipe
            .supports
            .iter()
            .zip(&recipe.values)
            .map(|(s, v)| (*s, v.as_ref()))
            .collect();
        let key = format!("{} fs={:?}", recipe.key, input.samplerate);
        let bank = KernelBank::new(&key, p, longest, &kernels, dt, planner);
        let n_out = self.toi.n_out(n);
        let scratch = ScratchSize {
            real: CHANNEL_BLOCK * n + 2 * channels,
            complex: CHANNEL_BLOCK * p + p + n_out + bank.fft_scratch_len(),
            index: n_out,
        };
        Arc::new(TfKernel {
            settings: self.clone(),
            n,
            samplerate: input.samplerate,
            bank,
            starts: recipe.starts,
            exponents: recipe.exponents,
            real_wavelets: recipe.real,
            scratch,
        })
    }
}

/// A wavelet as a function of time (seconds), normalisation included.
type WaveletFn = Box<dyn Fn(f64) -> Complex64>;

/// What every output frequency is made of, before sampling: factors (a wavelet, its
/// support and its exponent), frequency after frequency.
pub struct Recipe {
    /// Names the wavelets completely (routine and parameters), for sharing their spectra.
    key: String,
    supports: Vec<Support>,
    values: Vec<WaveletFn>,
    exponents: Vec<f64>,
    starts: Vec<usize>,
    real: bool,
}

impl Recipe {
    /// An empty recipe; `key` names the wavelets it will hold completely, `real` says that
    /// every one is real valued.
    pub fn new(key: String, real: bool) -> Recipe {
        Recipe {
            key,
            supports: Vec::new(),
            values: Vec::new(),
            exponents: Vec::new(),
            starts: vec![0],
            real,
        }
    }

    /// Adds a factor `(x * ψ)^exponent` to the current frequency.
    pub fn factor(
        &mut self,
        support: Support,
        wavelet: impl Fn(f64) -> Complex64 + 'static,
        exponent: f64,
    ) {
        self.supports.push(support);
        self.values.push(Box::new(wavelet));
        self.exponents.push(exponent);
    }

    /// Closes the current frequency; the next factor starts the next one.
    pub fn next_frequency(&mut self) {
        self.starts.push(self.exponents.len());
    }
}

/// A wavelet bank planned for one trial length.
pub struct TfKernel {
    settings: TimeFrequency,
    n: usize,
    samplerate: f64,
    bank: KernelBank,
    starts: Vec<usize>,
    exponents: Vec<f64>,
    real_wavelets: bool,
    scratch: ScratchSize,
}

/// `z^e` on the principal branch, as NumPy's complex power (`e = 1` returns `z` itself).
#[inline]
fn power(z: Complex64, e: f64) -> Complex64 {
    if e == 1.0 {
        z
    } else if z.re == 0.0 && z.im == 0.0 {
        Complex64::new(0.0, 0.0)
    } else {
        let magnitude = z.norm().powf(e);
        let angle = z.im.atan2(z.re) * e;
        Complex64::new(magnitude * angle.cos(), magnitude * angle.sin())
    }
}

enum Out<'a> {
    Real(ArrayViewMut4<'a, f64>),
    Complex(ArrayViewMut4<'a, Complex64>),
}

impl Kernel for TfKernel {
    fn state_bytes(&self) -> usize {
        self.bank.state_bytes() + self.exponents.len() * std::mem::size_of::<f64>()
    }

    fn scratch_size(&self) -> ScratchSize {
        self.scratch
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let (n, channels) = x.dim();
        debug_assert_eq!(n, self.n);
        scratch.reserve(self.scratch);
        let p = self.bank.p();
        let toi = &self.settings.toi;
        let n_out = toi.n_out(n);
        let trend = self.settings.trend;
        let kind = self.settings.output;

        let indices = &mut scratch.index[..n_out];
        let window = toi.window(n, input.offset, self.samplerate, indices);
        let (gathered, rest) = scratch.real.split_at_mut(CHANNEL_BLOCK * n);
        let (mean, rest) = rest.split_at_mut(channels);
        let slope = &mut rest[..channels];
        let (spectra, rest) = scratch.complex.split_at_mut(CHANNEL_BLOCK * p);
        let (work, rest) = rest.split_at_mut(p);
        let (acc, fft_scratch) = rest.split_at_mut(n_out);

        let mut out = if kind == SpectralOutput::Fourier {
            Out::Complex(
                output
                    .complex_mut()
                    .into_dimensionality::<Ix4>()
                    .expect("time-frequency output is declared 4-D"),
            )
        } else {
            Out::Real(
                output
                    .dense_mut()
                    .into_dimensionality::<Ix4>()
                    .expect("time-frequency output is declared 4-D"),
            )
        };

        // Syncopy detrends the whole trial, then transforms the window.
        trend.fit(&x, 0, n, mean, slope);
        let n_freqs = self.starts.len() - 1;
        for c0 in (0..channels).step_by(CHANNEL_BLOCK) {
            let width = CHANNEL_BLOCK.min(channels - c0);
            trend.remove_block(&x, c0, width, 0, n, mean, slope, gathered, n);
            for j in 0..width {
                let column = &gathered[j * n + window.start..j * n + window.start + window.len];
                let spectrum = &mut spectra[j * p..(j + 1) * p];
                for (s, &v) in spectrum.iter_mut().zip(column) {
                    *s = Complex64::new(v, 0.0);
                }
                spectrum[window.len..].fill(Complex64::new(0.0, 0.0));
                self.bank.forward(spectrum, fft_scratch);
            }
            for f in 0..n_freqs {
                for j in 0..width {
                    let spectrum = &spectra[j * p..(j + 1) * p];
                    for k in self.starts[f]..self.starts[f + 1] {
                        self.bank.convolve(spectrum, k, work, fft_scratch);
                        let e = self.exponents[k];
                        let first = k == self.starts[f];
                        for (a, &i) in acc.iter_mut().zip(indices.iter()) {
                            let mut z = work[i];
                            if self.real_wavelets {
                                z.im = 0.0;
                            }
                            let v = power(z, e);
                            *a = if first { v } else { *a * v };
                        }
                    }
                    let c = c0 + j;
                    match &mut out {
                        Out::Complex(o) => {
                            for (t, &a) in acc.iter().enumerate() {
                                o[[t, 0, f, c]] = a;
                            }
                        }
                        Out::Real(o) => {
                            for (t, &a) in acc.iter().enumerate() {
                                o[[t, 0, f, c]] = kind.real_value(a);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
