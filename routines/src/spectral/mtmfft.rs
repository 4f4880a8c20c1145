//! `mtmfft`: Syncopy's `freqanalysis(method='mtmfft')`, one (multi-)tapered FFT per trial.

use std::sync::Arc;
use trialflow_core::routine::fft_plan_bytes;

use ndarray::ArrayView2;
use realfft::RealToComplex;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Sample, Samples, Scratch, ScratchSize, TrialInput,
};

use super::dpss::{dpss, DpssNorm};
use super::frequencies::{bins_within, nearest_bins, rfftfreq};
use super::output::SpectralOutput;
use super::trend::Trend;
use super::windows::{Taper, Window};
use super::SpectralError;
use crate::params::{setters, Keyword};

/// Channels gathered per pass over a trial's rows: 8 f64 are one cache line, so each line
/// of the time-major trial is read once per block rather than once per channel.
const CHANNEL_BLOCK: usize = 8;

/// Reads a present key through `T`'s own deserializer, so `null` reaches it (`taper: null`
/// is no taper, `polyremoval: null` no detrending) instead of meaning "unset".
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Parameters of `mtmfft` (Syncopy's names; `nTaper` is `n_taper`): what a pipeline step
/// deserialises into, and the typed builder (`MtmfftParams::new().tapsmofrq(4.0)
/// .foilim([1.0, 100.0])`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtmfftParams {
    #[serde(default, deserialize_with = "present")]
    pub taper: Option<Taper>,
    /// The taper's keyword arguments, as Syncopy's `taper_opt` dict (`{alpha: 0.5}`).
    pub taper_opt: Option<Map<String, Value>>,
    pub tapsmofrq: Option<f64>,
    pub n_taper: Option<i64>,
    pub keeptapers: Option<bool>,
    pub pad: Option<Padding>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
    pub output: Option<SpectralOutput>,
    pub ft_compat: Option<bool>,
    pub demean_taper: Option<bool>,
}

setters!(MtmfftParams {
    taper: Taper,
    taper_opt: Map<String, Value>,
    tapsmofrq: f64,
    n_taper: i64,
    keeptapers: bool,
    pad: Padding,
    polyremoval: PolyRemoval,
    foi: Frequencies,
    foilim: Frequencies,
    output: SpectralOutput,
    ft_compat: bool,
    demean_taper: bool,
});

/// The padded FFT length (`pad`): `maxperlen`, `nextpow2` or a length in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Padding {
    /// The longest trial.
    #[default]
    MaxPerLen,
    /// The longest trial rounded up to a power of two.
    NextPow2,
    /// This many seconds (at least the longest trial).
    Seconds(f64),
}

const PAD_EXPECTED: &str = "'maxperlen', 'nextpow2' or a length in seconds > 0";

impl Padding {
    fn to_value(self) -> Value {
        match self {
            Padding::MaxPerLen => json!("maxperlen"),
            Padding::NextPow2 => json!("nextpow2"),
            Padding::Seconds(s) => json!(s),
        }
    }
}

impl From<f64> for Padding {
    fn from(seconds: f64) -> Self {
        Padding::Seconds(seconds)
    }
}

impl<'de> Deserialize<'de> for Padding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match &value {
            Value::String(s) if s == "maxperlen" => Ok(Padding::MaxPerLen),
            Value::String(s) if s == "nextpow2" => Ok(Padding::NextPow2),
            Value::Number(n) => Ok(Padding::Seconds(n.as_f64().unwrap_or(f64::NAN))),
            other => Err(serde::de::Error::custom(format!(
                "must be {PAD_EXPECTED}, got {other}"
            ))),
        }
    }
}

/// Syncopy's `polyremoval`: the polynomial removed from each trial before tapering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolyRemoval {
    /// `null`: nothing.
    None,
    /// `0`: the mean.
    #[default]
    Constant,
    /// `1`: the least-squares line.
    Linear,
}

impl<'de> Deserialize<'de> for PolyRemoval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match value.as_i64() {
            _ if value.is_null() => Ok(PolyRemoval::None),
            Some(0) => Ok(PolyRemoval::Constant),
            Some(1) => Ok(PolyRemoval::Linear),
            _ => Err(serde::de::Error::custom(format!(
                "must be 0, 1 or null, got {value}"
            ))),
        }
    }
}

impl From<PolyRemoval> for Trend {
    fn from(p: PolyRemoval) -> Trend {
        match p {
            PolyRemoval::None => Trend::None,
            PolyRemoval::Constant => Trend::Constant,
            PolyRemoval::Linear => Trend::Linear,
        }
    }
}

/// `foi` / `foilim`: `all` (or `null`), or frequencies in Hz (`foilim`: `[low, high]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Frequencies {
    #[default]
    All,
    Hz(Vec<f64>),
}

impl From<Vec<f64>> for Frequencies {
    fn from(v: Vec<f64>) -> Self {
        Frequencies::Hz(v)
    }
}

impl<const N: usize> From<[f64; N]> for Frequencies {
    fn from(v: [f64; N]) -> Self {
        Frequencies::Hz(v.to_vec())
    }
}

impl<'de> Deserialize<'de> for Frequencies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "must be 'all' or a list of frequencies in Hz, got {value}"
            ))
        };
        match &value {
            Value::Null => Ok(Frequencies::All),
            Value::String(s) if s == "all" => Ok(Frequencies::All),
            Value::Array(items) => items
                .iter()
                .map(|x| x.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()
                .map(Frequencies::Hz),
            _ => Err(bad()),
        }
    }
}

/// Which frequencies to keep (`foi`, `foilim`, or all).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FreqSelection {
    All,
    Foi(Vec<f64>),
    Foilim(f64, f64),
}

/// A single window (`None`: no taper, Syncopy's boxcar labelled "None"), or Slepian
/// multitapering set by `tapsmofrq`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tapering {
    Single(Option<Window>),
    Multi {
        tapsmofrq: f64,
        n_taper: Option<usize>,
    },
}

impl MtmfftParams {
    pub fn check(self) -> Result<Mtmfft, SpectralError> {
        let output = self.output.unwrap_or_default();
        let keeptapers = self.keeptapers.unwrap_or(false);
        let trend = Trend::from(self.polyremoval.unwrap_or_default());
        let tapering = Tapering::check(
            self.taper.unwrap_or_default(),
            self.taper_opt.as_ref(),
            self.tapsmofrq,
            self.n_taper,
            keeptapers,
            output,
        )?;
        let padding = match self.pad.unwrap_or_default() {
            Padding::Seconds(s) if !(s.is_finite() && s > 0.0) => {
                return Err(SpectralError::range("pad", PAD_EXPECTED, s))
            }
            p => p,
        };
        let selection = FreqSelection::check(&self.foi, &self.foilim)?;
        Ok(Mtmfft {
            tapering,
            keeptapers,
            padding,
            trend,
            selection,
            output,
            ft_compat: self.ft_compat.unwrap_or(false),
            demean_taper: self.demean_taper.unwrap_or(false),
        })
    }
}

impl Tapering {
    /// Syncopy's `process_taper`: a single window from `taper`/`taper_opt`, or dpss
    /// multitapering when `tapsmofrq` is set (then `taper` must stay hann, and averaging
    /// tapers is only allowed for power).
    pub(crate) fn check(
        taper: Taper,
        taper_opt: Option<&Map<String, Value>>,
        tapsmofrq: Option<f64>,
        n_taper: Option<i64>,
        keeptapers: bool,
        output: SpectralOutput,
    ) -> Result<Tapering, SpectralError> {
        Ok(match tapsmofrq {
            None => {
                if n_taper.is_some() {
                    return Err(SpectralError::range(
                        "n_taper",
                        "unset without tapsmofrq (it only counts dpss tapers)",
                        n_taper.unwrap_or_default(),
                    ));
                }
                match taper {
                    Taper::None => {
                        if taper_opt.is_some() {
                            return Err(SpectralError::window(
                                "taper_opt",
                                "taper: null (no taper) takes no parameters",
                            ));
                        }
                        Tapering::Single(None)
                    }
                    name => Tapering::Single(Some(Window::from_syncopy(name.as_str(), taper_opt)?)),
                }
            }
            Some(w) => {
                if !(w.is_finite() && w >= 0.0) {
                    return Err(SpectralError::range(
                        "tapsmofrq",
                        "a finite smoothing half-bandwidth in Hz >= 0",
                        w,
                    ));
                }
                if taper != Taper::Hann {
                    return Err(SpectralError::TaperWithTapsmofrq(
                        taper.as_str().to_string(),
                    ));
                }
                if taper_opt.is_some() {
                    return Err(SpectralError::TaperOptWithTapsmofrq);
                }
                if !keeptapers && output != SpectralOutput::Pow {
                    return Err(SpectralError::TaperAverage(output.name().to_string()));
                }
                let n_taper = match n_taper {
                    None => None,
                    Some(k) if k >= 1 => Some(k as usize),
                    Some(k) => return Err(SpectralError::range("n_taper", "an integer >= 1", k)),
                };
                Tapering::Multi {
                    tapsmofrq: w,
                    n_taper,
                }
            }
        })
    }

    /// Syncopy's taper labels: `None` for no taper, the window's name, or `dpss0..`.
    pub(crate) fn labels(&self, out_tapers: usize) -> Vec<String> {
        match self {
            Tapering::Single(None) => vec!["None".into()],
            Tapering::Single(Some(w)) => vec![w.name().into()],
            Tapering::Multi { .. } => (0..out_tapers).map(|k| format!("dpss{k}")).collect(),
        }
    }
}

impl FreqSelection {
    /// `foi` or `foilim` (not both), each `all` or frequencies >= 0 in Hz.
    pub(crate) fn check(
        foi: &Option<Frequencies>,
        foilim: &Option<Frequencies>,
    ) -> Result<FreqSelection, SpectralError> {
        match (select(foi), select(foilim)) {
            (Some(_), Some(_)) => Err(SpectralError::FoiAndFoilim),
            (Some(foi), None) => Ok(FreqSelection::Foi(numbers("foi", foi, None)?)),
            (None, Some(lim)) => {
                let v = numbers("foilim", lim, Some(2))?;
                Ok(FreqSelection::Foilim(v[0].min(v[1]), v[0].max(v[1])))
            }
            (None, None) => Ok(FreqSelection::All),
        }
    }

    /// The kept bins of the frequency axis `all` (ascending, up to `nyquist`), refusing
    /// frequencies above Nyquist and an empty selection.
    pub(crate) fn bins(&self, all: &[f64], nyquist: f64) -> Result<Vec<usize>, SpectralError> {
        let bins = match self {
            FreqSelection::All => (0..all.len()).collect(),
            FreqSelection::Foi(foi) => {
                if let Some(f) = foi.iter().find(|&&f| f > nyquist) {
                    return Err(SpectralError::range(
                        "foi",
                        format!("frequencies within [0, {nyquist}] Hz (samplerate / 2)"),
                        f,
                    ));
                }
                nearest_bins(all, foi)
            }
            FreqSelection::Foilim(lo, hi) => {
                if *hi > nyquist {
                    return Err(SpectralError::range(
                        "foilim",
                        format!("limits within [0, {nyquist}] Hz (samplerate / 2)"),
                        hi,
                    ));
                }
                bins_within(all, *lo, *hi)
            }
        };
        if bins.is_empty() {
            return Err(SpectralError::EmptyFrequencySelection {
                n_freqs: all.len(),
                max_freq: all[all.len() - 1],
            });
        }
        Ok(bins)
    }
}

/// `foi`/`foilim` given and not "all"/null.
fn select(v: &Option<Frequencies>) -> Option<&[f64]> {
    match v {
        None | Some(Frequencies::All) => None,
        Some(Frequencies::Hz(f)) => Some(f),
    }
}

fn numbers(param: &'static str, v: &[f64], len: Option<usize>) -> Result<Vec<f64>, SpectralError> {
    let expected = match len {
        Some(2) => "'all' or [low, high] in Hz, finite and >= 0",
        _ => "'all' or a non-empty list of frequencies in Hz, finite and >= 0",
    };
    let fits = !v.is_empty()
        && len.is_none_or(|l| v.len() == l)
        && v.iter().all(|f| f.is_finite() && *f >= 0.0);
    if !fits {
        return Err(SpectralError::range(param, expected, json!(v)));
    }
    Ok(v.to_vec())
}

/// `freqanalysis(data, method='mtmfft', output, foi/foilim, pad, polyremoval, taper,
/// taper_opt, tapsmofrq, nTaper, keeptapers, ft_compat, demean_taper)` per trial.
///
/// Each trial `x` (N x C) is detrended (`polyremoval`), multiplied by each taper `w_k` of
/// length N (normalised as Syncopy's `_norm_taper`: dpss `w·√M`, boxcar `w·√(M/Σw)`, others
/// `w·√(4/3)·√(M/Σw)`), zero-padded to M, transformed with a real FFT and scaled by
/// `√2 / (N·√(M/N))` (`√2 / M` with `ft_compat`). Syncopy computes in float64 and stores
/// complex64 before converting; here everything stays in f64 until storage.
#[derive(Debug, Clone)]
pub struct Mtmfft {
    tapering: Tapering,
    keeptapers: bool,
    padding: Padding,
    trend: Trend,
    selection: FreqSelection,
    output: SpectralOutput,
    ft_compat: bool,
    demean_taper: bool,
}

/// What the dry run derives from the whole input: the padded length, the frequency bins and
/// the tapers' count and half-bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct MtmfftLayout {
    /// Padded FFT length M.
    pub nfft: usize,
    /// Indices of the kept bins of `rfftfreq(M)`, in output order.
    pub bins: Vec<usize>,
    pub freqs: Vec<f64>,
    /// Tapers per trial (dpss `Kmax` or `n_taper`; 1 otherwise).
    pub n_tapers: usize,
    /// dpss `NW` (time half-bandwidth product), when multitapering.
    pub nw: Option<f64>,
    /// Taper rows in the output (`n_tapers` with `keeptapers`, else 1).
    pub out_tapers: usize,
}

/// `mtmfft` for trials of one length: the settings the kernel reads, the FFT and the
/// normalised tapers.
struct MtmfftKernel {
    trend: Trend,
    keeptapers: bool,
    output: SpectralOutput,
    demean_taper: bool,
    fft: Arc<dyn RealToComplex<f64>>,
    /// `n_tapers` normalised tapers of `n` samples, back to back.
    tapers: Vec<f64>,
    n: usize,
    layout: MtmfftLayout,
    scale: f64,
    scratch: ScratchSize,
}

impl Mtmfft {
    /// The padded length, frequencies and tapers for this input (a dry run's worth of
    /// checks: every trial must fit the tapers).
    pub fn layout(&self, input: &DataSchema) -> Result<MtmfftLayout, SpectralError> {
        let lens: Vec<usize> = (0..input.n_trials())
            .map(|t| input.trialdefinition.trial_len(t))
            .collect();
        self.layout_of(&lens, input.samplerate)
    }

    /// [`Mtmfft::layout`] from the trial lengths and samplerate alone, for callers (the
    /// connectivity numerics) that have no schema.
    pub(crate) fn layout_of(&self, lens: &[usize], fs: f64) -> Result<MtmfftLayout, SpectralError> {
        if let Some(t) = lens.iter().position(|&n| n == 0) {
            return Err(SpectralError::Trial {
                trial: t,
                samples: 0,
                what: "an empty trial has no spectrum".into(),
            });
        }
        let (longest_trial, &longest) = lens
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, usize::MAX - i))
            .expect("the engine refuses inputs without trials");
        let nfft = match self.padding {
            Padding::MaxPerLen => longest,
            Padding::NextPow2 => longest.next_power_of_two(),
            Padding::Seconds(s) => {
                let samples = (s * fs) as usize;
                if s < longest as f64 / fs || samples < longest {
                    return Err(SpectralError::PadTooShort {
                        pad: s,
                        samples,
                        trial: longest_trial,
                        longest,
                        min_seconds: longest as f64 / fs,
                    });
                }
                samples
            }
        };
        let all = rfftfreq(nfft, fs);
        let bins = self.selection.bins(&all, fs / 2.0)?;
        let freqs = bins.iter().map(|&b| all[b]).collect();
        let (n_tapers, nw) = match &self.tapering {
            Tapering::Single(_) => (1, None),
            Tapering::Multi { tapsmofrq, n_taper } => {
                let (nw, kmax) = dpss_parameters(*tapsmofrq, lens, fs);
                let k = n_taper.unwrap_or(kmax);
                for (trial, &n) in lens.iter().enumerate() {
                    if n < 2 || k > n || nw >= n as f64 / 2.0 {
                        return Err(SpectralError::Trial {
                            trial,
                            samples: n,
                            what: format!(
                                "dpss with NW {nw} (from tapsmofrq and the mean trial length) and {k} tapers needs more than 2 NW and at least {k} samples (scipy.signal.windows.dpss refuses this trial)"
                            ),
                        });
                    }
                }
                (k, Some(nw))
            }
        };
        let out_tapers = if self.keeptapers { n_tapers } else { 1 };
        Ok(MtmfftLayout {
            nfft,
            bins,
            freqs,
            n_tapers,
            nw,
            out_tapers,
        })
    }

    fn taper_labels(&self, layout: &MtmfftLayout) -> Vec<String> {
        self.tapering.labels(layout.out_tapers)
    }

    /// The normalised tapers for a trial of `n` samples, back to back.
    /// The tapers for trials of `n` samples padded to `layout.nfft`, scaled as Syncopy
    /// scales them. The unscaled tapers come from the planner, which computes each (a DPSS
    /// eigenproblem, a window) once per run and length.
    pub(crate) fn tapers(
        &self,
        n: usize,
        layout: &MtmfftLayout,
        planner: &mut Planner,
    ) -> Vec<f64> {
        let m = layout.nfft as f64;
        match &self.tapering {
            Tapering::Multi { .. } => {
                let nw = layout.nw.expect("multitapering has NW");
                let k = layout.n_tapers;
                let name = format!("dpss(NW={nw:?}, Kmax={k}, sym=True, norm=2)");
                let raw = planner.taper(&name, n, || {
                    dpss(n, nw, k, true, DpssNorm::UnitEnergy).concat()
                });
                raw.iter().map(|v| v * m.sqrt()).collect()
            }
            Tapering::Single(window) => {
                let w = window.as_ref().unwrap_or(&Window::Boxcar);
                let raw = planner.taper(&format!("{w:?}, sym=True"), n, || w.samples(n, true));
                let sum: f64 = raw.iter().sum();
                let factor = if *w == Window::Boxcar {
                    (m / sum).sqrt()
                } else {
                    (4.0f64 / 3.0).sqrt() * (m / sum).sqrt()
                };
                raw.iter().map(|v| v * factor).collect()
            }
        }
    }
}

impl Mtmfft {
    /// Syncopy's `_norm_spec`: `√2 / (N·√(M/N))` for a trial of `n` samples padded to `m`
    /// (`√2 / M` with `ft_compat`).
    pub(crate) fn spectrum_scale(&self, n: usize, m: usize) -> f64 {
        if self.ft_compat {
            2f64.sqrt() / m as f64
        } else {
            2f64.sqrt() / (n as f64 * (m as f64 / n as f64).sqrt())
        }
    }

    /// The trend removed before tapering (`polyremoval`).
    pub(crate) fn trend(&self) -> Trend {
        self.trend
    }

    /// Whether each tapered trial is demeaned again (`demean_taper`).
    pub(crate) fn demean_taper(&self) -> bool {
        self.demean_taper
    }
}

/// Syncopy's `process_taper` + `_get_dpss_pars`: `tapsmofrq` clipped to
/// `[fs / N̄, min(fs/2 - 1/N̄, fs (N̄+1) / (2 N̄))]` with N̄ the mean trial length, then
/// `NW = W N̄ / fs` and `Kmax = max(1, int(2 NW - 1))`.
pub fn dpss_parameters(tapsmofrq: f64, lens: &[usize], fs: f64) -> (f64, usize) {
    let mean = lens.iter().map(|&n| n as f64).sum::<f64>() / lens.len() as f64;
    let min_bw = fs / mean;
    let max_bw = f64::min(fs / 2.0 - 1.0 / mean, fs * (mean + 1.0) / (2.0 * mean));
    let mut w = tapsmofrq;
    if w < min_bw {
        w = min_bw;
    }
    if w > max_bw {
        w = max_bw;
    }
    let nw = w * mean / fs;
    let kmax = (2.0 * nw - 1.0) as i64;
    (nw, kmax.max(1) as usize)
}

impl ComputationalRoutine for Mtmfft {
    fn name(&self) -> &str {
        "mtmfft"
    }

    fn cfg(&self) -> Value {
        let (taper, taper_opt, tapsmofrq, n_taper) = match &self.tapering {
            Tapering::Single(None) => (Value::Null, Value::Null, Value::Null, Value::Null),
            Tapering::Single(Some(w)) => {
                let opts = w.options();
                (
                    json!(w.name()),
                    if opts.is_empty() {
                        Value::Null
                    } else {
                        Value::Object(opts)
                    },
                    Value::Null,
                    Value::Null,
                )
            }
            Tapering::Multi { tapsmofrq, n_taper } => {
                (json!("dpss"), Value::Null, json!(tapsmofrq), json!(n_taper))
            }
        };
        let pad = self.padding.to_value();
        let (foi, foilim) = match &self.selection {
            FreqSelection::All => (Value::Null, Value::Null),
            FreqSelection::Foi(f) => (json!(f), Value::Null),
            FreqSelection::Foilim(lo, hi) => (Value::Null, json!([lo, hi])),
        };
        json!({
            "output": self.output.name(),
            "taper": taper,
            "taper_opt": taper_opt,
            "tapsmofrq": tapsmofrq,
            "n_taper": n_taper,
            "keeptapers": self.keeptapers,
            "pad": pad,
            "polyremoval": match self.trend {
                Trend::None => Value::Null,
                Trend::Constant => json!(0),
                Trend::Linear => json!(1),
            },
            "foi": foi,
            "foilim": foilim,
            "ft_compat": self.ft_compat,
            "demean_taper": self.demean_taper,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let layout = self.layout(input)?;
        let shape = vec![1, layout.out_tapers, layout.bins.len(), input.n_channels()];
        let shapes = vec![shape; input.n_trials()];
        Ok(self.output.declare(shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let layout = self.layout(input)?;
        Ok(super::spectral_schema(
            input,
            output,
            layout.freqs.clone(),
            self.taper_labels(&layout),
        ))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let layout = self.layout(input)?;
        let (n, channels) = (task_shape[0], task_shape[1]);
        let m = layout.nfft;
        let fft = planner.real_fft_forward(m);
        let scale = self.spectrum_scale(n, m);
        // Detrended columns (only with several tapers: one taper is applied in place), one
        // FFT buffer per channel of a block, the trend coefficients; one spectrum per channel
        // of a block and the FFT's own scratch.
        let columns = if layout.n_tapers > 1 {
            CHANNEL_BLOCK * n
        } else {
            0
        };
        let scratch = ScratchSize {
            real: columns + CHANNEL_BLOCK * m + 2 * channels,
            complex: CHANNEL_BLOCK * (m / 2 + 1) + fft.get_scratch_len(),
            ..ScratchSize::default()
        };
        let tapers = self.tapers(n, &layout, planner);
        Ok(Arc::new(MtmfftKernel {
            trend: self.trend,
            keeptapers: self.keeptapers,
            output: self.output,
            demean_taper: self.demean_taper,
            fft,
            tapers,
            n,
            layout,
            scale,
            scratch,
        }))
    }
}

impl Kernel for MtmfftKernel {
    fn state_bytes(&self) -> usize {
        self.tapers.len() * std::mem::size_of::<f64>() + fft_plan_bytes(self.fft.len())
    }

    fn scratch_size(&self) -> ScratchSize {
        self.scratch
    }

    /// Float32 input is read as stored: the trend fit and the gather into the FFT buffers
    /// are the first passes over the trial anyway, and widen each value as they read it.
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
            Samples::F64(x) => self.spectra(&x, output, scratch),
            Samples::F32(x) => self.spectra(&x, output, scratch),
        }
    }
}

impl MtmfftKernel {
    /// One trial's (or channel group's) spectra from its samples, f64 or float32 as stored.
    fn spectra<T: Sample>(
        &self,
        x: &ArrayView2<'_, T>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = x.view();
        let (n, channels) = x.dim();
        debug_assert_eq!(n, self.n);
        let m = self.layout.nfft;
        // A no-op when the engine sized the scratch from the plan, as it does.
        scratch.reserve(self.scratch);
        let k_total = self.layout.n_tapers;
        let n_spec = m / 2 + 1;
        let (columns, rest) =
            scratch
                .real
                .split_at_mut(if k_total > 1 { CHANNEL_BLOCK * n } else { 0 });
        let (bufs, rest) = rest.split_at_mut(CHANNEL_BLOCK * m);
        let (mean, rest) = rest.split_at_mut(channels);
        let slope = &mut rest[..channels];
        let (spectra, fft_scratch) = scratch.complex.split_at_mut(CHANNEL_BLOCK * n_spec);
        self.trend.fit(&x, 0, n, mean, slope);
        let average = k_total > 1 && !self.keeptapers;
        let mut out = self.output.view4(output);
        for c0 in (0..channels).step_by(CHANNEL_BLOCK) {
            let width = CHANNEL_BLOCK.min(channels - c0);
            if k_total == 1 {
                // Straight into the FFT buffers, tapered on the way.
                let taper = &self.tapers[..n];
                self.trend
                    .remove_block_tapered(&x, c0, width, 0, n, mean, slope, taper, bufs, m);
            } else {
                self.trend
                    .remove_block(&x, c0, width, 0, n, mean, slope, columns, n);
            }
            for k in 0..k_total {
                let taper = &self.tapers[k * n..(k + 1) * n];
                for j in 0..width {
                    let buf = &mut bufs[j * m..(j + 1) * m];
                    if k_total > 1 {
                        let column = &columns[j * n..(j + 1) * n];
                        for ((b, &v), &w) in buf.iter_mut().zip(column).zip(taper) {
                            *b = v * w;
                        }
                    }
                    if self.demean_taper {
                        let mu = buf[..n].iter().sum::<f64>() / n as f64;
                        buf[..n].iter_mut().for_each(|b| *b -= mu);
                    }
                    buf[n..].fill(0.0);
                    self.fft
                        .process_with_scratch(
                            buf,
                            &mut spectra[j * n_spec..(j + 1) * n_spec],
                            fft_scratch,
                        )
                        .map_err(|e| RoutineError::failed(format!("FFT: {e}")))?;
                }
                let row = if self.keeptapers { k } else { 0 };
                out.write_block(
                    row,
                    c0,
                    width,
                    &self.layout.bins,
                    spectra,
                    n_spec,
                    self.scale,
                    average && k > 0,
                );
            }
            if average {
                out.scale_block(0, c0, width, 1.0 / k_total as f64);
            }
        }
        Ok(())
    }
}
