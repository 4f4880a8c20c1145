//! `mtmconvol`: Syncopy's `freqanalysis(method='mtmconvol')`, a (multi-)tapered FFT of a
//! window sliding along each trial.

use std::sync::Arc;

use realfft::RealToComplex;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use trialflow_core::routine::fft_plan_bytes;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::segments::{detrend, gather};
use super::toi::{output_trials, Centres, Toi};
use super::TimeFreqError;
use crate::params::setters;
use crate::spectral::{
    dpss, dpss_parameters, present, rfftfreq, DpssNorm, FreqSelection, Frequencies, Padding,
    PolyRemoval, SpectralOutput, Taper, Tapering, Trend, Window,
};

/// Channels per pass over a window's rows: 8 f64 are one cache line of a time-major row.
const CHANNEL_BLOCK: usize = 8;

/// Parameters of `mtmconvol` (Syncopy's names; `nTaper` is `n_taper`): what a pipeline
/// step deserialises into, and the typed builder (`MtmconvolParams::new().t_ftimwin(0.5)
/// .toi(0.5).foilim([1.0, 100.0])`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtmconvolParams {
    /// Window length in seconds (required).
    pub t_ftimwin: Option<f64>,
    pub toi: Option<Toi>,
    #[serde(default, deserialize_with = "present")]
    pub taper: Option<Taper>,
    pub taper_opt: Option<Map<String, Value>>,
    pub tapsmofrq: Option<f64>,
    pub n_taper: Option<i64>,
    pub keeptapers: Option<bool>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
    pub output: Option<SpectralOutput>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
    /// Only `maxperlen` (Syncopy's default, which it ignores here): windows are padded
    /// with zeros at the trial edges and nowhere else.
    pub pad: Option<Padding>,
}

setters!(MtmconvolParams {
    t_ftimwin: f64,
    toi: Toi,
    taper: Taper,
    taper_opt: Map<String, Value>,
    tapsmofrq: f64,
    n_taper: i64,
    keeptapers: bool,
    foi: Frequencies,
    foilim: Frequencies,
    output: SpectralOutput,
    polyremoval: PolyRemoval,
    pad: Padding,
});

impl MtmconvolParams {
    pub fn check(self) -> Result<Mtmconvol, TimeFreqError> {
        let t_ftimwin = match self.t_ftimwin {
            None => {
                return Err(TimeFreqError::Missing {
                    param: "t_ftimwin",
                    why: "the sliding window's length in seconds",
                })
            }
            Some(t) if !(t.is_finite() && t > 0.0) => {
                return Err(TimeFreqError::range(
                    "t_ftimwin",
                    "a window length in seconds > 0",
                    t,
                ))
            }
            Some(t) => t,
        };
        if let Some(p) = self.pad.filter(|p| *p != Padding::MaxPerLen) {
            let got = match p {
                Padding::Seconds(s) => s.to_string(),
                _ => "'nextpow2'".into(),
            };
            return Err(TimeFreqError::range(
                "pad",
                "'maxperlen' (mtmconvol only pads windows at the trial edges; Syncopy ignores other values)",
                got,
            ));
        }
        let output = self.output.unwrap_or_default();
        let keeptapers = self.keeptapers.unwrap_or(false);
        let tapering = Tapering::check(
            self.taper.unwrap_or_default(),
            self.taper_opt.as_ref(),
            self.tapsmofrq,
            self.n_taper,
            keeptapers,
            output,
        )?;
        Ok(Mtmconvol {
            t_ftimwin,
            toi: self.toi.unwrap_or_default().check()?,
            tapering,
            keeptapers,
            selection: FreqSelection::check(&self.foi, &self.foilim)?,
            output,
            trend: match self.polyremoval.unwrap_or_default() {
                PolyRemoval::None => Trend::None,
                PolyRemoval::Constant => Trend::Constant,
                PolyRemoval::Linear => Trend::Linear,
            },
        })
    }
}

/// `freqanalysis(data, method='mtmconvol', t_ftimwin, toi, taper, taper_opt, tapsmofrq,
/// nTaper, keeptapers, foi/foilim, output, polyremoval)` per trial.
///
/// With `L = int(t_ftimwin · fs)` and `h = L // 2`, the window centred on sample `s` holds
/// samples `s - h .. s - h + L` of the trial (zero outside it). Each window is detrended
/// (`polyremoval`, on the whole window, zeros included), multiplied by each taper `w_k`
/// (normalised as Syncopy's `_norm_taper`: dpss `w·√L` with periodic dpss, boxcar
/// `w·√(L/Σw)`, others `w·√(4/3)·√(L/Σw)`), transformed with a real FFT of length L and
/// scaled by `√2 / L`. Everything is f64 until storage.
#[derive(Debug, Clone)]
pub struct Mtmconvol {
    t_ftimwin: f64,
    toi: Toi,
    tapering: Tapering,
    keeptapers: bool,
    selection: FreqSelection,
    output: SpectralOutput,
    trend: Trend,
}

/// What the dry run derives from the whole input.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    /// Window length L in samples.
    nperseg: usize,
    centres: Arc<Centres>,
    /// Windows per trial.
    counts: Vec<usize>,
    /// Kept bins of `rfftfreq(L)`, in output order.
    bins: Vec<usize>,
    freqs: Vec<f64>,
    n_tapers: usize,
    /// dpss `NW`, when multitapering.
    nw: Option<f64>,
    out_tapers: usize,
}

impl Mtmconvol {
    fn layout(&self, input: &DataSchema) -> Result<Layout, TimeFreqError> {
        let fs = input.samplerate;
        let lens: Vec<usize> = (0..input.n_trials())
            .map(|t| input.trialdefinition.trial_len(t))
            .collect();
        // Syncopy: t_ftimwin within [1 / samplerate, the shortest trial's duration].
        if self.t_ftimwin * fs < 1.0 {
            return Err(TimeFreqError::range(
                "t_ftimwin",
                format!("at least one sample ({} s)", 1.0 / fs),
                self.t_ftimwin,
            ));
        }
        let (shortest, &min_len) = lens
            .iter()
            .enumerate()
            .min_by_key(|(i, n)| (**n, *i))
            .expect("the engine refuses inputs without trials");
        if self.t_ftimwin > min_len as f64 / fs {
            return Err(TimeFreqError::trial(
                shortest,
                "t_ftimwin",
                format!(
                    "{} s is longer than the trial ({min_len} samples, {} s)",
                    self.t_ftimwin,
                    min_len as f64 / fs
                ),
            ));
        }
        let nperseg = (self.t_ftimwin * fs) as usize;
        let all = rfftfreq(nperseg, fs);
        let bins = self.selection.bins(&all, fs / 2.0)?;
        let freqs = bins.iter().map(|&b| all[b]).collect();
        let (n_tapers, nw) = match &self.tapering {
            Tapering::Single(_) => (1, None),
            Tapering::Multi { tapsmofrq, n_taper } => {
                // Syncopy sets NW from the mean trial length, then takes tapers of the
                // window's length.
                let (nw, kmax) = dpss_parameters(*tapsmofrq, &lens, fs);
                let k = n_taper.unwrap_or(kmax);
                if nw >= nperseg as f64 / 2.0 || k > nperseg {
                    return Err(TimeFreqError::range(
                        "tapsmofrq",
                        format!(
                            "small enough for the {nperseg}-sample window (t_ftimwin): NW = tapsmofrq x mean trial length / samplerate below {} and at most {nperseg} tapers (scipy.signal.windows.dpss refuses this)",
                            nperseg as f64 / 2.0
                        ),
                        format!("{tapsmofrq} (NW {nw}, {k} tapers)"),
                    ));
                }
                (k, Some(nw))
            }
        };
        let centres = Centres::of(&self.toi, input, nperseg)?;
        let counts = lens
            .iter()
            .enumerate()
            .map(|(t, &n)| centres.count(t, n))
            .collect();
        Ok(Layout {
            nperseg,
            centres: Arc::new(centres),
            counts,
            bins,
            freqs,
            n_tapers,
            nw,
            out_tapers: if self.keeptapers { n_tapers } else { 1 },
        })
    }

    /// The tapers of the window, normalised as Syncopy's `_norm_taper`, back to back. The
    /// planner computes each unscaled taper once per run and length.
    fn tapers(&self, layout: &Layout, planner: &mut Planner) -> Vec<f64> {
        let l = layout.nperseg;
        let lf = l as f64;
        match &self.tapering {
            Tapering::Multi { .. } => {
                let nw = layout.nw.expect("multitapering has NW");
                let k = layout.n_tapers;
                // Syncopy's mtmconvol asks for periodic dpss (`sym=False`).
                let name = format!("dpss(NW={nw:?}, Kmax={k}, sym=False, norm=2)");
                let raw = planner.taper(&name, l, || {
                    dpss(l, nw, k, false, DpssNorm::UnitEnergy).concat()
                });
                raw.iter().map(|v| v * lf.sqrt()).collect()
            }
            Tapering::Single(window) => {
                let w = window.as_ref().unwrap_or(&Window::Boxcar);
                let raw = planner.taper(&format!("{w:?}, sym=True"), l, || w.samples(l, true));
                let sum: f64 = raw.iter().sum();
                let factor = if *w == Window::Boxcar {
                    (lf / sum).sqrt()
                } else {
                    (4.0f64 / 3.0).sqrt() * (lf / sum).sqrt()
                };
                raw.iter().map(|v| v * factor).collect()
            }
        }
    }
}

impl ComputationalRoutine for Mtmconvol {
    fn name(&self) -> &str {
        "mtmconvol"
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
        let (taper, taper_opt, tapsmofrq, n_taper) = match &self.tapering {
            Tapering::Single(None) => (Value::Null, Value::Null, Value::Null, Value::Null),
            Tapering::Single(Some(w)) => {
                let opts = w.options();
                let opts = if opts.is_empty() {
                    Value::Null
                } else {
                    Value::Object(opts)
                };
                (json!(w.name()), opts, Value::Null, Value::Null)
            }
            Tapering::Multi { tapsmofrq, n_taper } => {
                (json!("dpss"), Value::Null, json!(tapsmofrq), json!(n_taper))
            }
        };
        let (foi, foilim) = match &self.selection {
            FreqSelection::All => (Value::Null, Value::Null),
            FreqSelection::Foi(f) => (json!(f), Value::Null),
            FreqSelection::Foilim(lo, hi) => (Value::Null, json!([lo, hi])),
        };
        json!({
            "t_ftimwin": self.t_ftimwin,
            "toi": self.toi.to_value(),
            "output": self.output.name(),
            "taper": taper,
            "taper_opt": taper_opt,
            "tapsmofrq": tapsmofrq,
            "n_taper": n_taper,
            "keeptapers": self.keeptapers,
            "pad": "maxperlen",
            "polyremoval": match self.trend {
                Trend::None => Value::Null,
                Trend::Constant => json!(0),
                Trend::Linear => json!(1),
            },
            "foi": foi,
            "foilim": foilim,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let layout = self.layout(input)?;
        let channels = input.n_channels();
        let shapes = layout
            .counts
            .iter()
            .map(|&n_time| vec![n_time, layout.out_tapers, layout.bins.len(), channels])
            .collect();
        Ok(self.output.declare(shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let layout = self.layout(input)?;
        let (trialdefinition, samplerate) =
            output_trials(&self.toi, input, layout.nperseg, &layout.counts);
        let mut schema = input.clone();
        schema.kind = trialflow_core::DataKind::Spectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = trialdefinition;
        schema.samplerate = samplerate;
        schema.taper = Some(self.tapering.labels(layout.out_tapers));
        schema.freq = Some(layout.freqs);
        schema.units = None;
        schema.event_columns = Vec::new();
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        // Every trial shape shares the window, its tapers and FFT; the trial's length and
        // index pick its windows at compute time.
        let layout = self.layout(input)?;
        let l = layout.nperseg;
        let fft = planner.real_fft_forward(l);
        let n_spec = l / 2 + 1;
        // The detrended windows of a channel block and one FFT input; one spectrum per
        // channel of a block and the FFT's own scratch.
        let scratch = ScratchSize {
            real: CHANNEL_BLOCK * l + l,
            complex: CHANNEL_BLOCK * n_spec + fft.get_scratch_len(),
            ..ScratchSize::default()
        };
        let tapers = self.tapers(&layout, planner);
        Ok(Arc::new(MtmconvolKernel {
            trend: self.trend,
            output: self.output,
            keeptapers: self.keeptapers,
            fft,
            tapers,
            scale: 2f64.sqrt() / l as f64,
            layout,
            scratch,
        }))
    }
}

/// `mtmconvol` for one task shape: the FFT of the window, its normalised tapers and where
/// the windows go in every trial.
struct MtmconvolKernel {
    trend: Trend,
    output: SpectralOutput,
    keeptapers: bool,
    fft: Arc<dyn RealToComplex<f64>>,
    /// `n_tapers` normalised tapers of L samples, back to back.
    tapers: Vec<f64>,
    scale: f64,
    layout: Layout,
    scratch: ScratchSize,
}

impl Kernel for MtmconvolKernel {
    fn state_bytes(&self) -> usize {
        self.tapers.len() * std::mem::size_of::<f64>()
            + fft_plan_bytes(self.fft.len())
            + self.layout.centres.bytes()
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
        let l = self.layout.nperseg;
        let half = (l / 2) as isize;
        let n_spec = l / 2 + 1;
        let k_total = self.layout.n_tapers;
        let average = k_total > 1 && !self.keeptapers;
        let centres = &self.layout.centres;
        let count = centres.count(input.trial, n);
        // A no-op when the engine sized the scratch from the plan, as it does.
        scratch.reserve(self.scratch);
        let (windows, rest) = scratch.real.split_at_mut(CHANNEL_BLOCK * l);
        let buf = &mut rest[..l];
        let (spectra, fft_scratch) = scratch.complex.split_at_mut(CHANNEL_BLOCK * n_spec);
        let mut out = self.output.view4(output);
        for c0 in (0..channels).step_by(CHANNEL_BLOCK) {
            let width = CHANNEL_BLOCK.min(channels - c0);
            for i in 0..count {
                let start = centres.centre(input.trial, i) as isize - half;
                gather(&x, start, l, c0, width, windows);
                for line in windows[..width * l].chunks_exact_mut(l) {
                    detrend(self.trend, line);
                }
                for k in 0..k_total {
                    let taper = &self.tapers[k * l..(k + 1) * l];
                    for j in 0..width {
                        let window = &windows[j * l..(j + 1) * l];
                        for ((b, &v), &w) in buf.iter_mut().zip(window).zip(taper) {
                            *b = v * w;
                        }
                        self.fft
                            .process_with_scratch(
                                buf,
                                &mut spectra[j * n_spec..(j + 1) * n_spec],
                                fft_scratch,
                            )
                            .map_err(|e| RoutineError::failed(format!("FFT: {e}")))?;
                    }
                    let row = if self.keeptapers { k } else { 0 };
                    out.write_at(
                        i,
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
                    out.scale_at(i, 0, c0, width, 1.0 / k_total as f64);
                }
            }
        }
        Ok(())
    }
}
