//! The `connectivity` routine: Syncopy 2023.9's `connectivityanalysis` on AnalogData, as a
//! cross-trial, cross-channel step. Each trial's kernel computes its cross-spectra (or PPC
//! phasors) for the `channelcmb` pairs, the engine folds them in its fixed trial order, and
//! `finish_reduction` applies the method's finish step to the sum.

use std::sync::{Arc, Mutex};

use ndarray::{s, ArrayViewMut3, Ix3};
use num_complex::Complex64 as C64;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use trialflow_core::routine::{ReducedState, TrialReduction};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, TrialInput,
};

use super::{
    coherence, coherency, granger, ppc, ChannelCmb, ChannelPairs, CoherenceOutput,
    ConnectivityError, CrossSpectra, CrossSpectraParams, CsdBlock, CsdPlan, Method,
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

impl ConnectivityParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(self) -> Result<Connectivity, ConnectivityError> {
        let word = self.method.as_deref().ok_or(ConnectivityError::NoMethod)?;
        let method = match word {
            "coh" => Method::Coh(self.output.unwrap_or_default()),
            "csd" => Method::Csd,
            "ppc" => Method::Ppc,
            "granger" => Method::Granger,
            "corr" => return Err(ConnectivityError::NotYet("method corr")),
            other => return Err(ConnectivityError::UnknownMethod(other.to_string())),
        };
        if self.output.is_some() && !matches!(method, Method::Coh(_)) {
            return Err(ConnectivityError::OutputWithout(method.name()));
        }
        if self.keeptrials == Some(true) {
            return Err(ConnectivityError::NotYet("keeptrials: true"));
        }
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
            channelcmb: self.channelcmb,
            spectra,
            freqs: Mutex::new(Vec::new()),
        })
    }
}

/// Syncopy's `connectivityanalysis` (methods `coh`, `csd`, `ppc`, `granger`) on AnalogData:
/// one CrossSpectralData result, (time = 1, freq, channel_i, channel_j).
#[derive(Debug)]
pub struct Connectivity {
    method: Method,
    channelcmb: Option<ChannelCmb>,
    spectra: CrossSpectra,
    /// The frequency axis, known from the input in the dry run; Granger's finish names a
    /// frequency whose matrix cannot be factorised.
    freqs: Mutex<Vec<f64>>,
}

const NAME: &str = "connectivity";

impl Connectivity {
    fn pairs(&self, input: &DataSchema) -> Result<ChannelPairs, ConnectivityError> {
        ChannelPairs::resolve(self.channelcmb.as_ref(), &input.channels)
    }

    fn lens(input: &DataSchema) -> Vec<usize> {
        input.trial_shapes.iter().map(|s| s[0]).collect()
    }

    /// The contribution's (freq, i, j) shape: cross-spectra with the senders' auto-spectra
    /// in an extra column and the receivers' in an extra row, or PPC's unit phasors.
    fn contribution_shape(&self, n_freqs: usize, pairs: &ChannelPairs) -> Vec<usize> {
        let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
        match self.method {
            Method::Ppc => vec![n_freqs, ni, nj],
            _ => vec![n_freqs, ni + 1, nj + 1],
        }
    }

    fn output_complex(&self) -> bool {
        matches!(
            self.method,
            Method::Csd | Method::Coh(CoherenceOutput::Complex)
        )
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
        cfg.insert("keeptrials".into(), json!(false));
        cfg.insert(
            "channelcmb".into(),
            match &self.channelcmb {
                None => Value::Null,
                Some(cmb) => json!(cmb
                    .iter()
                    .map(|side| side
                        .iter()
                        .map(|c| match c {
                            super::ChannelRef::Index(i) => json!(i),
                            super::ChannelRef::Name(n) => json!(n),
                        })
                        .collect::<Vec<_>>())
                    .collect::<Vec<_>>()),
            },
        );
        Value::Object(cfg)
    }

    fn channel_independent(&self) -> bool {
        false
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        let pairs = self.pairs(input)?;
        if self.method == Method::Granger && !pairs.full {
            if let Some(&s) = pairs.senders.iter().find(|s| pairs.receivers.contains(s)) {
                return Err(ConnectivityError::SelfPair(format!("'{}'", input.channels[s])).into());
            }
        }
        let lens = Self::lens(input);
        let layout = self.spectra.layout(&lens, input.samplerate)?;
        // Pairwise Granger (channelcmb) factorises 2 x 2 matrices.
        let channels = if pairs.full { input.n_channels() } else { 2 };
        self.method.check_input(
            &lens,
            channels,
            layout.n_tapers,
            self.spectra.selects_frequencies(),
            false,
        )?;
        let shape = self.contribution_shape(layout.freqs.len(), &pairs);
        *self.freqs.lock().expect("not poisoned") = layout.freqs;
        Ok(Some(TrialReduction::complex(shape)))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let pairs = self.pairs(input)?;
        let layout = self.spectra.layout(&Self::lens(input), input.samplerate)?;
        let shape = vec![
            1,
            layout.freqs.len(),
            pairs.senders.len(),
            pairs.receivers.len(),
        ];
        let mut out = OutputShape::dense(DataKind::CrossSpectral, vec![shape]);
        out.complex = self.output_complex();
        Ok(out)
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let pairs = self.pairs(input)?;
        let layout = self.spectra.layout(&Self::lens(input), input.samplerate)?;
        let (ci, cj) = pairs.labels(&input.channels);
        let mut schema = input.clone();
        schema.kind = DataKind::CrossSpectral;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.trialdefinition = input.trialdefinition.first_only(1);
        schema.channels = ci;
        schema.channels_j = Some(cj);
        schema.freq = Some(layout.freqs);
        schema.taper = None;
        Ok(schema)
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let layout = self.spectra.layout(&Self::lens(input), input.samplerate)?;
        let pairs = self.pairs(input)?;
        Ok(Arc::new(ConnectivityKernel {
            csd: self.spectra.plan(task_shape[0], &layout, planner),
            pairs,
            channels: task_shape[1],
            ppc: self.method == Method::Ppc,
        }))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        let sum = state.complex();
        let sum = sum
            .into_dimensionality::<Ix3>()
            .map_err(|e| RoutineError::failed(format!("connectivity state: {e}")))?;
        if self.method == Method::Ppc {
            let got = ppc::finish(&sum.to_owned(), n_trials);
            output.dense_mut().slice_mut(s![0, .., .., ..]).assign(&got);
            return Ok(());
        }
        let (nf, ni1, nj1) = sum.dim();
        let (ni, nj) = (ni1 - 1, nj1 - 1);
        let block = CsdBlock {
            cross: sum.slice(s![.., ..ni, ..nj]).to_owned(),
            auto_i: sum.slice(s![.., ..ni, nj]).mapv(|v| v.re),
            auto_j: sum.slice(s![.., ni, ..nj]).mapv(|v| v.re),
        };
        match self.method {
            Method::Csd => {
                let mean = block.mean(n_trials);
                output
                    .complex_mut()
                    .slice_mut(s![0, .., .., ..])
                    .assign(&mean.cross);
            }
            Method::Coh(CoherenceOutput::Complex) => {
                let c = coherency(&block.mean(n_trials));
                output.complex_mut().slice_mut(s![0, .., .., ..]).assign(&c);
            }
            Method::Coh(out) => {
                let c = coherence(&block, n_trials, out);
                output.dense_mut().slice_mut(s![0, .., .., ..]).assign(&c);
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
            Method::Ppc | Method::Corr => unreachable!("handled above / refused in check"),
        }
        Ok(())
    }
}

/// One trial's cross-spectra (or PPC phasors) for the pairs.
struct ConnectivityKernel {
    csd: CsdPlan,
    pairs: ChannelPairs,
    channels: usize,
    ppc: bool,
}

impl Kernel for ConnectivityKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut scratch = self.csd.scratch(self.channels);
        let mut block = CsdBlock::zeros(self.csd.n_freqs(), &self.pairs);
        self.csd
            .trial(input.samples(), &self.pairs, &mut block, &mut scratch)?;
        let mut out = output.complex_mut();
        let mut out: ArrayViewMut3<'_, C64> = out
            .view_mut()
            .into_dimensionality()
            .map_err(|e| RoutineError::failed(format!("connectivity block: {e}")))?;
        if self.ppc {
            ppc::contribution(block.cross.view(), out);
            return Ok(());
        }
        let (ni, nj) = (self.pairs.senders.len(), self.pairs.receivers.len());
        out.slice_mut(s![.., ..ni, ..nj]).assign(&block.cross);
        out.slice_mut(s![.., ..ni, nj])
            .zip_mut_with(&block.auto_i, |o, &a| *o = C64::new(a, 0.0));
        out.slice_mut(s![.., ni, ..nj])
            .zip_mut_with(&block.auto_j, |o, &a| *o = C64::new(a, 0.0));
        out.slice_mut(s![.., ni, nj]).fill(C64::default());
        Ok(())
    }
}
