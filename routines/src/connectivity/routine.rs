//! The `connectivity` routine: Syncopy 2023.9's `connectivityanalysis`, a cross-channel
//! step that (except `csd` with `keeptrials: true`) reduces across trials. Each trial's
//! kernel writes its contribution (cross-spectra with their auto-spectra, PPC phasors or
//! cross-covariances) for the `channelcmb` pairs, the engine folds the contributions in its
//! fixed trial order, and `finish_reduction` applies the method's finish step to the sum.

use std::sync::{Arc, Mutex};

use ndarray::{s, Ix2, Ix3};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use trialflow_core::routine::{ReducedState, TrialReduction, ValueKind};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, TrialDefinition,
};

use super::kernels::{CorrKernel, CrossKernel};
use super::{
    coherence_packed, corr, granger, ppc, ChannelCmb, ChannelPairs, ChannelRef, CoherenceOutput,
    ConnectivityError, CorrPlan, CrossSpectra, CrossSpectraParams, Method, Packing,
};
use crate::spectral::{present, Frequencies, Padding, PolyRemoval, Taper};

/// Unchecked parameters of `connectivity`, Syncopy's names (`nTaper` is `n_taper`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectivityParams {
    pub method: Option<String>,
    pub output: Option<CoherenceOutput>,
    pub keeptrials: Option<bool>,
    pub channelcmb: Option<ChannelCmb>,
    #[serde(default, deserialize_with = "present")]
    pub taper: Option<Taper>,
    pub taper_opt: Option<Map<String, Value>>,
    pub tapsmofrq: Option<f64>,
    pub n_taper: Option<i64>,
    pub pad: Option<Padding>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
}

crate::params::setters!(ConnectivityParams {
    method: String,
    output: CoherenceOutput,
    keeptrials: bool,
    channelcmb: ChannelCmb,
    taper: Taper,
    taper_opt: Map<String, Value>,
    tapsmofrq: f64,
    n_taper: i64,
    pad: Padding,
    polyremoval: PolyRemoval,
    foi: Frequencies,
    foilim: Frequencies,
});

impl ConnectivityParams {
    pub fn check(self) -> Result<Connectivity, ConnectivityError> {
        let word = self.method.as_deref().ok_or(ConnectivityError::NoMethod)?;
        let method = match word {
            "coh" => Method::Coh(self.output.unwrap_or_default()),
            "csd" => Method::Csd,
            "ppc" => Method::Ppc,
            "granger" => Method::Granger,
            "corr" => Method::Corr,
            other => return Err(ConnectivityError::UnknownMethod(other.to_string())),
        };
        if self.output.is_some() && !matches!(method, Method::Coh(_)) {
            return Err(ConnectivityError::OutputWithout(method.name()));
        }
        let keeptrials = self.keeptrials.unwrap_or(false);
        if keeptrials && method != Method::Csd {
            return Err(ConnectivityError::KeeptrialsWithout(method.name()));
        }
        // The keys that shape the spectra; Syncopy's corr works on the samples.
        let spectral = [
            ("taper", self.taper.is_some()),
            ("taper_opt", self.taper_opt.is_some()),
            ("tapsmofrq", self.tapsmofrq.is_some()),
            ("n_taper", self.n_taper.is_some()),
            ("foi", self.foi.is_some()),
            ("foilim", self.foilim.is_some()),
        ];
        let set: Vec<&'static str> = spectral.iter().filter(|k| k.1).map(|k| k.0).collect();
        if method == Method::Corr {
            if let Some(key) = set.first() {
                return Err(ConnectivityError::SpectralKeyWithCorr(key));
            }
            if self.channelcmb.is_some() {
                return Err(ConnectivityError::ChannelCmbWithCorr);
            }
        }
        let padded = !matches!(self.pad, None | Some(Padding::MaxPerLen));
        let mut spectra_keys = set;
        if self.pad.is_some() {
            spectra_keys.push("pad");
        }
        if self.polyremoval.is_some() {
            spectra_keys.push("polyremoval");
        }
        let corr_trend = self.polyremoval.unwrap_or_default();
        let spectra = CrossSpectraParams {
            taper: self.taper,
            taper_opt: self.taper_opt,
            tapsmofrq: self.tapsmofrq,
            n_taper: self.n_taper,
            pad: self.pad,
            polyremoval: self.polyremoval,
            foi: self.foi,
            foilim: self.foilim,
        }
        .check(method.demean_taper())?;
        Ok(Connectivity {
            method,
            keeptrials,
            channelcmb: self.channelcmb,
            spectra,
            padded,
            corr_trend,
            spectra_keys,
            freqs: Mutex::new(Vec::new()),
            pairs: Mutex::new(None),
        })
    }
}

/// Syncopy's `connectivityanalysis` on AnalogData (computing each trial's multitaper
/// spectra) or on SpectralData holding `output: fourier` spectra: one CrossSpectralData
/// result, (time, freq, channel_i, channel_j).
#[derive(Debug)]
pub struct Connectivity {
    method: Method,
    keeptrials: bool,
    channelcmb: Option<ChannelCmb>,
    spectra: CrossSpectra,
    padded: bool,
    corr_trend: PolyRemoval,
    /// The spectral keys set, refused with SpectralData input (its spectra are computed).
    spectra_keys: Vec<&'static str>,
    /// The frequency axis, known from the input in the dry run; Granger's finish names a
    /// frequency whose matrix cannot be factorised.
    freqs: Mutex<Vec<f64>>,
    /// The pairs, resolved in the dry run: the finish unpacks the summed contribution.
    pairs: Mutex<Option<ChannelPairs>>,
}

const NAME: &str = "connectivity";

/// What a task writes: the packed cross-spectra with their auto-spectra ([`Packing`]: the
/// upper triangle when senders and receivers are the same channels), PPC's unit phasors, one trial's cross-spectra
/// (`keeptrials`), or the cross-covariances of `corr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Contribution {
    Packed,
    Phasors,
    Trial,
    Covariance,
}

/// The frequency axis and tapers of the spectra the cross-spectra come from.
struct SpectralAxis {
    freqs: Vec<f64>,
    n_tapers: usize,
}

impl Connectivity {
    fn pairs(&self, input: &DataSchema) -> Result<ChannelPairs, ConnectivityError> {
        ChannelPairs::resolve(self.channelcmb.as_ref(), &input.channels)
    }

    fn lens(input: &DataSchema) -> Vec<usize> {
        input.trial_shapes.iter().map(|s| s[0]).collect()
    }

    fn contribution(&self) -> Contribution {
        match self.method {
            Method::Ppc => Contribution::Phasors,
            Method::Corr => Contribution::Covariance,
            Method::Csd if self.keeptrials => Contribution::Trial,
            _ => Contribution::Packed,
        }
    }

    /// The input's spectra: computed here from AnalogData, or SpectralData's own.
    fn axis(&self, input: &DataSchema) -> Result<SpectralAxis, RoutineError> {
        match input.kind {
            DataKind::Analog => {
                let layout = self.spectra.layout(&Self::lens(input), input.samplerate)?;
                Ok(SpectralAxis {
                    freqs: layout.freqs,
                    n_tapers: layout.n_tapers,
                })
            }
            _ => Ok(SpectralAxis {
                freqs: input.freq.clone().unwrap_or_default(),
                n_tapers: input.trial_shapes[0][1],
            }),
        }
    }

    /// Syncopy's checks of SpectralData input: Fourier coefficients, no spectral keys, no
    /// time axis, and every trial of the same shape.
    fn check_spectra(&self, input: &DataSchema) -> Result<(), RoutineError> {
        let fail = |m: String| -> Result<(), RoutineError> { Err(RoutineError::invalid(m)) };
        if self.method == Method::Corr {
            return fail(
                "method corr needs AnalogData (it correlates the samples), not SpectralData".into(),
            );
        }
        if !input.dtype.is_complex() {
            return fail(format!(
                "method {} on SpectralData needs complex Fourier coefficients (mtmfft with output: fourier), but the input holds real {} values",
                self.method.name(),
                input.dtype.numpy_name()
            ));
        }
        if let Some(key) = self.spectra_keys.first() {
            return fail(format!(
                "{key} shapes the spectra of AnalogData input; SpectralData input brings its own spectra"
            ));
        }
        let first = &input.trial_shapes[0];
        if first.len() != 4 || first[0] != 1 {
            return fail(format!(
                "SpectralData input must be one time point per trial (mtmfft), but trial 0 has shape {first:?}"
            ));
        }
        if let Some(t) = input.trial_shapes.iter().position(|s| s != first) {
            return fail(format!(
                "SpectralData trials must all have the shape of trial 0 ({first:?}), but trial {t} has {:?}",
                input.trial_shapes[t]
            ));
        }
        Ok(())
    }

    fn output_complex(&self) -> bool {
        matches!(
            self.method,
            Method::Csd | Method::Coh(CoherenceOutput::Complex)
        )
    }

    /// The output's (time, freq, channel_i, channel_j) shape for one trial or the result.
    fn result_shape(&self, input: &DataSchema) -> Result<Vec<usize>, RoutineError> {
        if self.method == Method::Corr {
            let n = input.trial_shapes[0][0];
            let c = input.n_channels();
            return Ok(vec![n - n / 2, 1, c, c]);
        }
        let pairs = self.pairs(input)?;
        let axis = self.axis(input)?;
        Ok(vec![
            1,
            axis.freqs.len(),
            pairs.senders.len(),
            pairs.receivers.len(),
        ])
    }
}

impl ComputationalRoutine for Connectivity {
    fn name(&self) -> &str {
        NAME
    }

    fn cfg(&self) -> Value {
        let mut cfg = self.spectra.cfg();
        cfg.insert("method".into(), json!(self.method.name()));
        if let Method::Coh(output) = self.method {
            cfg.insert("output".into(), json!(output.name()));
        }
        cfg.insert("keeptrials".into(), json!(self.keeptrials));
        let cmb = self.channelcmb.as_ref().map(|cmb| {
            cmb.iter()
                .map(|side| {
                    side.iter()
                        .map(|c| match c {
                            ChannelRef::Index(i) => json!(i),
                            ChannelRef::Name(n) => json!(n),
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        });
        cfg.insert("channelcmb".into(), json!(cmb));
        Value::Object(cfg)
    }

    fn input_kind(&self) -> DataKind {
        DataKind::Analog
    }

    fn input_kinds(&self) -> Vec<DataKind> {
        vec![DataKind::Analog, DataKind::Spectral]
    }

    fn input_values(&self) -> ValueKind {
        ValueKind::Any
    }

    fn channel_independent(&self) -> bool {
        false
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        if input.kind == DataKind::Spectral {
            self.check_spectra(input)?;
        }
        let lens = Self::lens(input);
        if self.method == Method::Corr {
            self.method
                .check_input(&lens, input.n_channels(), 1, false, self.padded)?;
            let c = input.n_channels();
            return Ok(Some(TrialReduction::real(vec![
                lens[0] - lens[0] / 2,
                c,
                c,
            ])));
        }
        let pairs = self.pairs(input)?;
        if self.method == Method::Granger && !pairs.full {
            if let Some(&s) = pairs.senders.iter().find(|s| pairs.receivers.contains(s)) {
                return Err(ConnectivityError::SelfPair(format!("'{}'", input.channels[s])).into());
            }
        }
        let axis = self.axis(input)?;
        // Pairwise Granger (channelcmb) factorises 2 x 2 matrices.
        let channels = if pairs.full { input.n_channels() } else { 2 };
        self.method.check_input(
            &lens,
            channels,
            axis.n_tapers,
            self.spectra.selects_frequencies(),
            false,
        )?;
        let (nf, ni, nj) = (axis.freqs.len(), pairs.senders.len(), pairs.receivers.len());
        *self.freqs.lock().expect("not poisoned") = axis.freqs;
        let packed = Packing::of(&pairs).len(&pairs);
        *self.pairs.lock().expect("not poisoned") = Some(pairs);
        Ok(match self.contribution() {
            Contribution::Trial => None,
            Contribution::Phasors => Some(TrialReduction::complex(vec![nf, ni, nj])),
            _ => Some(TrialReduction::complex(vec![nf, packed])),
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let shape = self.result_shape(input)?;
        let trials = if self.keeptrials { input.n_trials() } else { 1 };
        let mut out = OutputShape::dense(DataKind::CrossSpectral, vec![shape; trials]);
        out.complex = self.output_complex();
        Ok(out)
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let mut schema = input.clone();
        schema.kind = DataKind::CrossSpectral;
        schema.trial_shapes = output.trial_shapes.clone();
        let len = output.trial_shapes[0][0];
        schema.trialdefinition = match self.method {
            _ if self.keeptrials => input.trialdefinition.restacked(&vec![1; input.n_trials()]),
            // Syncopy keeps the first trial's offset for PPC only.
            Method::Ppc => input.trialdefinition.first_only(len),
            _ => TrialDefinition::from_trials(&[(0, len, 0.0)], &[]),
        };
        if self.method == Method::Corr {
            schema.channels_j = Some(input.channels.clone());
            schema.freq = Some(vec![0.0]);
        } else {
            let (ci, cj) = self.pairs(input)?.labels(&input.channels);
            schema.channels = ci;
            schema.channels_j = Some(cj);
            schema.freq = Some(self.axis(input)?.freqs);
        }
        schema.taper = None;
        Ok(schema)
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let n = task_shape[0];
        let channels = input.n_channels();
        if self.method == Method::Corr {
            return Ok(Arc::new(CorrKernel {
                plan: CorrPlan::new(n, self.corr_trend, planner),
                channels,
            }));
        }
        let pairs = self.pairs(input)?;
        let (csd, n_freqs) = if input.kind == DataKind::Analog {
            let layout = self.spectra.layout(&Self::lens(input), input.samplerate)?;
            let plan = self.spectra.plan(n, &layout, planner);
            let nf = plan.n_freqs();
            (Some(plan), nf)
        } else {
            (None, task_shape[2])
        };
        Ok(Arc::new(CrossKernel {
            csd,
            n_freqs,
            packing: Packing::of(&pairs),
            pairs,
            channels,
            contribution: self.contribution(),
        }))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        let fail = |e: ndarray::ShapeError| RoutineError::failed(format!("connectivity: {e}"));
        match self.contribution() {
            Contribution::Covariance => {
                let sum = state.real().into_dimensionality::<Ix3>().map_err(fail)?;
                let got = corr::finish(&sum.to_owned(), n_trials);
                output.dense_mut().slice_mut(s![.., 0, .., ..]).assign(&got);
                return Ok(());
            }
            Contribution::Phasors => {
                let sum = state.complex().into_dimensionality::<Ix3>().map_err(fail)?;
                let got = ppc::finish(&sum.to_owned(), n_trials);
                output.dense_mut().slice_mut(s![0, .., .., ..]).assign(&got);
                return Ok(());
            }
            Contribution::Trial => {
                return Err(RoutineError::failed(
                    "csd with keeptrials: true does not reduce (a bug in the routine)",
                ))
            }
            Contribution::Packed => {}
        }
        let sum = state.complex().into_dimensionality::<Ix2>().map_err(fail)?;
        let packed_pairs = self.pairs.lock().expect("not poisoned").clone();
        let packed_pairs = packed_pairs.ok_or_else(|| {
            RoutineError::failed("connectivity: finished before its dry run (a bug)")
        })?;
        let packing = Packing::of(&packed_pairs);
        let not_contiguous = || RoutineError::failed("connectivity: state not contiguous");
        match self.method {
            Method::Coh(CoherenceOutput::Complex) => {
                let mut out = output.complex_mut();
                let out = out.slice_mut(s![0, .., .., ..]);
                return coherence_packed(sum, packing, &packed_pairs, n_trials, out, |c| c)
                    .ok_or_else(not_contiguous);
            }
            Method::Coh(convert) => {
                let mut out = output.dense_mut();
                let out = out.slice_mut(s![0, .., .., ..]);
                let convert = |c| convert.convert(c);
                return coherence_packed(sum, packing, &packed_pairs, n_trials, out, convert)
                    .ok_or_else(not_contiguous);
            }
            _ => {}
        }
        let block = packing.unpack(sum, &packed_pairs);
        let (nf, ni, nj) = block.cross.dim();
        match self.method {
            Method::Csd => {
                let mean = block.mean(n_trials);
                output
                    .complex_mut()
                    .slice_mut(s![0, .., .., ..])
                    .assign(&mean.cross);
            }
            Method::Granger => {
                let freqs = self.freqs.lock().expect("not poisoned").clone();
                let freqs = if freqs.len() == nf {
                    freqs
                } else {
                    (0..nf).map(|k| k as f64).collect()
                };
                // Pairwise Granger only tells a sender from a receiver (no sender is a
                // receiver: refused in the dry run); the state holds the pairs in order.
                let pairs = if self.channelcmb.is_none() {
                    ChannelPairs::all(ni)
                } else {
                    ChannelPairs {
                        senders: (0..ni).collect(),
                        receivers: (ni..ni + nj).collect(),
                        full: false,
                    }
                };
                let mut planner = Planner::new();
                let (g, _info) = granger::finish(&block, n_trials, &pairs, &freqs, &mut planner)?;
                output.dense_mut().slice_mut(s![0, .., .., ..]).assign(&g);
            }
            Method::Ppc | Method::Corr | Method::Coh(_) => {
                unreachable!("not packed cross-spectra, or finished above")
            }
        }
        Ok(())
    }
}
