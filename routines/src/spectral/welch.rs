//! `welch`: `scipy.signal.welch` per trial and channel.

use std::sync::Arc;
use trialflow_core::routine::fft_plan_bytes;

use realfft::RealToComplex;
use serde::Deserialize;
use serde_json::{json, Value};
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::frequencies::rfftfreq;
use super::output::SpectralOutput;
use super::windows::{GetWindow, Window};
use super::SpectralError;
use crate::params::{keyword_serde, setters, Keyword};

/// SciPy's `nperseg` when none is given (shortened, as a given one is, to a shorter trial).
const DEFAULT_NPERSEG: usize = 256;

/// Parameters of `welch` (SciPy's names): what a pipeline step deserialises into, and the
/// typed builder (`WelchParams::new().nperseg(512).window(Window::Hann)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelchParams {
    pub window: Option<GetWindow>,
    pub nperseg: Option<i64>,
    pub noverlap: Option<i64>,
    pub nfft: Option<i64>,
    pub detrend: Option<SegmentDetrend>,
    pub scaling: Option<Scaling>,
    pub average: Option<Average>,
}

setters!(WelchParams {
    window: GetWindow,
    nperseg: i64,
    noverlap: i64,
    nfft: i64,
    detrend: SegmentDetrend,
    scaling: Scaling,
    average: Average,
});

/// Per-segment detrending (`detrend=`): `constant`, `linear` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentDetrend {
    None,
    #[default]
    Constant,
    Linear,
}

impl SegmentDetrend {
    fn to_value(self) -> Value {
        match self {
            SegmentDetrend::None => json!(false),
            SegmentDetrend::Constant => json!("constant"),
            SegmentDetrend::Linear => json!("linear"),
        }
    }
}

impl<'de> Deserialize<'de> for SegmentDetrend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match &value {
            Value::String(s) if s == "constant" => Ok(SegmentDetrend::Constant),
            Value::String(s) if s == "linear" => Ok(SegmentDetrend::Linear),
            Value::Bool(false) => Ok(SegmentDetrend::None),
            other => Err(serde::de::Error::custom(format!(
                "must be 'constant', 'linear' or false, got {other}"
            ))),
        }
    }
}

/// What the averaged periodogram is scaled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scaling {
    /// `1 / (fs Σw²)`: power spectral density, V²/Hz.
    #[default]
    Density,
    /// `1 / (Σw)²`: power spectrum, V².
    Spectrum,
}

impl Keyword for Scaling {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("density", Scaling::Density),
        ("spectrum", Scaling::Spectrum),
    ];
    const EXPECTED: &'static str = "'density' or 'spectrum'";
}
keyword_serde!(Scaling);

/// How segments are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Average {
    #[default]
    Mean,
    /// The median over segments divided by `_median_bias(P)`.
    Median,
}

impl Keyword for Average {
    const SPELLINGS: &'static [(&'static str, Self)] =
        &[("mean", Average::Mean), ("median", Average::Median)];
    const EXPECTED: &'static str = "'mean' or 'median'";
}
keyword_serde!(Average);

impl WelchParams {
    pub fn check(self) -> Result<Welch, SpectralError> {
        let window = self.window.unwrap_or_else(|| Window::Hann.into());
        let positive = |param: &'static str, v: Option<i64>, min: i64| match v {
            None => Ok(None),
            Some(x) if x >= min => Ok(Some(x as usize)),
            Some(x) => Err(SpectralError::range(
                param,
                format!("an integer >= {min}"),
                x,
            )),
        };
        let nperseg = positive("nperseg", self.nperseg, 1)?;
        let noverlap = positive("noverlap", self.noverlap, 0)?;
        let nfft = positive("nfft", self.nfft, 1)?;
        if let (Some(o), Some(p)) = (noverlap, nperseg) {
            if o >= p {
                return Err(SpectralError::range(
                    "noverlap",
                    format!("less than nperseg ({p})"),
                    o,
                ));
            }
        }
        if let (Some(f), Some(p)) = (nfft, nperseg) {
            if f < p {
                return Err(SpectralError::range(
                    "nfft",
                    format!("at least nperseg ({p})"),
                    f,
                ));
            }
        }
        let detrend = self.detrend.unwrap_or_default();
        let scaling = self.scaling.unwrap_or_default();
        let average = self.average.unwrap_or_default();
        Ok(Welch {
            periodic: !window.symmetric.unwrap_or(false),
            window_value: window.to_value(),
            window: window.window,
            nperseg,
            noverlap,
            nfft,
            detrend,
            scaling,
            average,
        })
    }
}

/// `scipy.signal.welch(x, fs=samplerate, window, nperseg, noverlap, nfft, detrend,
/// return_onesided=True, scaling, axis=0, average)` per trial.
///
/// Segments of `nperseg` samples start every `nperseg - noverlap` samples (a tail that does
/// not fill a segment is dropped); each is detrended, windowed (`get_window`, periodic),
/// zero-padded to `nfft` and transformed; `|X|²` is scaled, doubled except at DC (and
/// Nyquist for even `nfft`) and averaged over segments.
#[derive(Debug, Clone)]
pub struct Welch {
    window: Window,
    window_value: Value,
    periodic: bool,
    nperseg: Option<usize>,
    noverlap: Option<usize>,
    nfft: Option<usize>,
    detrend: SegmentDetrend,
    scaling: Scaling,
    average: Average,
}

/// SciPy's segment settings for one trial length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub nperseg: usize,
    pub noverlap: usize,
    pub nfft: usize,
    pub count: usize,
    /// SciPy shortened `nperseg` to the trial (and warns).
    pub shortened_from: Option<usize>,
}

/// `welch` for trials of one length: the segment settings, the FFT and the window.
struct WelchKernel {
    detrend: SegmentDetrend,
    average: Average,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Arc<[f64]>,
    seg: Segments,
    scale: f64,
    median_bias: f64,
    scratch: ScratchSize,
}

impl Welch {
    /// `csd`'s parameter resolution for a trial of `n` samples.
    pub fn segments(&self, trial: usize, n: usize) -> Result<Segments, SpectralError> {
        if n == 0 {
            return Err(SpectralError::Trial {
                trial,
                samples: 0,
                what: "an empty trial has no spectrum".into(),
            });
        }
        let asked = self.nperseg.unwrap_or(DEFAULT_NPERSEG);
        let (nperseg, shortened_from) = if n < asked {
            (n, Some(asked))
        } else {
            (asked, None)
        };
        let nfft = self.nfft.unwrap_or(nperseg);
        let noverlap = self.noverlap.unwrap_or(nperseg / 2);
        if noverlap >= nperseg {
            return Err(SpectralError::Trial {
                trial,
                samples: n,
                what: format!(
                    "scipy.signal.welch shortens nperseg to the trial length, and noverlap ({noverlap}) must be less than that"
                ),
            });
        }
        if let Window::Dpss { nw } = self.window {
            let m = if self.periodic { nperseg + 1 } else { nperseg };
            if nperseg > 1 && !(nw > 0.0 && nw < m as f64 / 2.0) {
                return Err(SpectralError::Trial {
                    trial,
                    samples: n,
                    what: format!(
                        "the dpss window needs 0 < NW < M/2 for its {m} points, got NW {nw}"
                    ),
                });
            }
        }
        let hop = nperseg - noverlap;
        Ok(Segments {
            nperseg,
            noverlap,
            nfft,
            count: (n - noverlap) / hop,
            shortened_from,
        })
    }

    /// The frequency axis, the same for every trial (refusing trials that would give another).
    fn nfft(&self, input: &DataSchema) -> Result<usize, SpectralError> {
        let mut nfft = None;
        for t in 0..input.n_trials() {
            let n = input.trialdefinition.trial_len(t);
            let seg = self.segments(t, n)?;
            match nfft {
                None => nfft = Some(seg.nfft),
                Some(f) if f != seg.nfft => {
                    return Err(SpectralError::Trial {
                        trial: t,
                        samples: n,
                        what: format!(
                            "scipy.signal.welch would use nfft {} here but {f} for trial 0 (nperseg is shortened to short trials), and one output needs one frequency axis; set nfft, or nperseg at most the shortest trial",
                            seg.nfft
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(nfft.expect("the engine refuses inputs without trials"))
    }
}

/// `scipy.signal._spectral_py._median_bias(n)`.
fn median_bias(n: usize) -> f64 {
    let mut s = 0.0;
    for k in 1..=(n.saturating_sub(1)) / 2 {
        let ii2 = 2.0 * k as f64;
        s += 1.0 / (ii2 + 1.0) - 1.0 / ii2;
    }
    1.0 + s
}

/// `scipy.signal.detrend(seg, type=...)` in place.
fn detrend_segment(kind: SegmentDetrend, seg: &mut [f64]) {
    let n = seg.len() as f64;
    match kind {
        SegmentDetrend::None => {}
        SegmentDetrend::Constant => {
            let mean = seg.iter().sum::<f64>() / n;
            seg.iter_mut().for_each(|v| *v -= mean);
        }
        SegmentDetrend::Linear => {
            let centre = (n - 1.0) / 2.0;
            let mean = seg.iter().sum::<f64>() / n;
            let stt = n * (n * n - 1.0) / 12.0;
            let slope = if stt > 0.0 {
                seg.iter()
                    .enumerate()
                    .map(|(t, v)| (t as f64 - centre) * v)
                    .sum::<f64>()
                    / stt
            } else {
                0.0
            };
            for (t, v) in seg.iter_mut().enumerate() {
                *v -= mean + slope * (t as f64 - centre);
            }
        }
    }
}

/// numpy's median of `values` (NaN if any is NaN); sorts `values`.
fn median(values: &mut [f64]) -> f64 {
    if values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl ComputationalRoutine for Welch {
    fn name(&self) -> &str {
        "welch"
    }

    fn cfg(&self) -> Value {
        json!({
            "window": self.window_value,
            "nperseg": self.nperseg.unwrap_or(DEFAULT_NPERSEG),
            "noverlap": self.noverlap,
            "nfft": self.nfft,
            "detrend": self.detrend.to_value(),
            "scaling": self.scaling.as_str(),
            "average": self.average.as_str(),
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let nfft = self.nfft(input)?;
        let shape = vec![1, 1, nfft / 2 + 1, input.n_channels()];
        Ok(SpectralOutput::Pow.declare(vec![shape; input.n_trials()]))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let nfft = self.nfft(input)?;
        Ok(super::spectral_schema(
            input,
            output,
            rfftfreq(nfft, input.samplerate),
            vec![self.window.name().to_string()],
        ))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let n = task_shape[0];
        // Any trial of this length gives the same settings; name the first for errors.
        let trial = (0..input.n_trials())
            .find(|&t| input.trialdefinition.trial_len(t) == n)
            .unwrap_or(0);
        let seg = self.segments(trial, n)?;
        let sym = !self.periodic;
        let name = format!("{:?}, sym={sym}", self.window);
        let window = planner.taper(&name, seg.nperseg, || self.window.samples(seg.nperseg, sym));
        let scale = match self.scaling {
            Scaling::Density => {
                1.0 / (input.samplerate * window.iter().map(|w| w * w).sum::<f64>())
            }
            Scaling::Spectrum => 1.0 / window.iter().sum::<f64>().powi(2),
        };
        let fft = planner.real_fft_forward(seg.nfft);
        let n_freqs = seg.nfft / 2 + 1;
        let per_segment = match self.average {
            Average::Mean => 0,
            Average::Median => seg.count * n_freqs + seg.count,
        };
        let scratch = ScratchSize {
            real: seg.nfft + n_freqs + per_segment,
            complex: n_freqs + fft.get_scratch_len(),
            ..ScratchSize::default()
        };
        Ok(Arc::new(WelchKernel {
            detrend: self.detrend,
            average: self.average,
            fft,
            window,
            seg,
            scale,
            median_bias: median_bias(seg.count),
            scratch,
        }))
    }
}

impl Kernel for WelchKernel {
    fn state_bytes(&self) -> usize {
        self.window.len() * std::mem::size_of::<f64>() + fft_plan_bytes(self.window.len())
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
        let channels = x.ncols();
        let seg = self.seg;
        if let Some(asked) = seg.shortened_from {
            scratch.warn(format!(
                "nperseg = {asked} is greater than the trial length {}, using nperseg = {}",
                seg.nperseg, seg.nperseg
            ));
        }
        let n_freqs = seg.nfft / 2 + 1;
        let hop = seg.nperseg - seg.noverlap;
        // DC is not doubled, nor Nyquist for an even nfft (SciPy's onesided doubling).
        let doubled = 1..if seg.nfft.is_multiple_of(2) {
            n_freqs - 1
        } else {
            n_freqs
        };
        scratch.reserve(self.scratch);
        let (buf, rest) = scratch.real.split_at_mut(seg.nfft);
        let (acc, rest) = rest.split_at_mut(n_freqs);
        let (per_segment, rest) = rest.split_at_mut(match self.average {
            Average::Mean => 0,
            Average::Median => seg.count * n_freqs,
        });
        let column_tmp = &mut rest[..if self.average == Average::Median {
            seg.count
        } else {
            0
        }];
        let (spectrum, fft_scratch) = scratch.complex.split_at_mut(n_freqs);
        let mut out = SpectralOutput::Pow.view4(output);
        for c in 0..channels {
            let column = x.column(c);
            acc.fill(0.0);
            for s in 0..seg.count {
                let start = s * hop;
                for (b, &v) in buf[..seg.nperseg]
                    .iter_mut()
                    .zip(column.slice(ndarray::s![start..start + seg.nperseg]))
                {
                    *b = v;
                }
                detrend_segment(self.detrend, &mut buf[..seg.nperseg]);
                for (b, &w) in buf.iter_mut().zip(self.window.iter()) {
                    *b *= w;
                }
                buf[seg.nperseg..].fill(0.0);
                self.fft
                    .process_with_scratch(buf, spectrum, fft_scratch)
                    .map_err(|e| RoutineError::failed(format!("FFT: {e}")))?;
                for (f, z) in spectrum.iter().enumerate() {
                    let mut v = (z.re * z.re + z.im * z.im) * self.scale;
                    if doubled.contains(&f) {
                        v *= 2.0;
                    }
                    match self.average {
                        Average::Mean => acc[f] += v,
                        Average::Median => per_segment[s * n_freqs + f] = v,
                    }
                }
            }
            for f in 0..n_freqs {
                let value = match self.average {
                    Average::Mean => acc[f] / seg.count as f64,
                    Average::Median if seg.count == 1 => per_segment[f],
                    Average::Median => {
                        for (s, t) in column_tmp.iter_mut().enumerate() {
                            *t = per_segment[s * n_freqs + f];
                        }
                        median(column_tmp) / self.median_bias
                    }
                };
                out.set_real(0, f, c, value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_bias_matches_scipy() {
        use crate::reference::{cases, float, index};
        // scipy.signal._spectral_py._median_bias(n)
        for case in cases("median_bias") {
            let (n, want) = (index(&case["n"]), float(&case["bias"]));
            assert!((median_bias(n) - want).abs() < 1e-15, "n = {n}");
        }
    }

    #[test]
    fn segments_follow_scipy() {
        let w = WelchParams::default().check().unwrap();
        let s = w.segments(0, 1000).unwrap();
        assert_eq!((s.nperseg, s.noverlap, s.nfft, s.count), (256, 128, 256, 6));
        let s = w.segments(0, 100).unwrap();
        assert_eq!(
            (s.nperseg, s.noverlap, s.count, s.shortened_from),
            (100, 50, 1, Some(256))
        );
        let w = WelchParams {
            nperseg: Some(64),
            noverlap: Some(60),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert!(w
            .segments(3, 40)
            .unwrap_err()
            .to_string()
            .starts_with("trial 3"));
    }
}
