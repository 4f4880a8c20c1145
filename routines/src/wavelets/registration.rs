//! How the wavelet routines are named from a pipeline: their typed parameters (what a step
//! deserialises into, and the builders code uses), documentation and [`Registrable`]
//! implementations.

use serde::Deserialize;
use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::scales::FreqChoice;
use super::transform::TimeFrequency;
use super::{Superlet, Toi, Wavelet, WaveletError, WaveletName};
use crate::params::setters;
use crate::spectral::{present, Frequencies, PolyRemoval, SpectralOutput};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Wavelet>(),
        RoutineEntry::of::<Superlet>(),
    ]
}

/// Parameters of `wavelet` (Syncopy's names): `WaveletParams::new().wavelet(WaveletName::Paul)
/// .order(8).foilim([2.0, 40.0])`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveletParams {
    pub wavelet: Option<WaveletName>,
    pub width: Option<f64>,
    pub order: Option<i64>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
    pub toi: Option<Toi>,
    pub output: Option<SpectralOutput>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
}

setters!(WaveletParams {
    wavelet: WaveletName,
    width: f64,
    order: i64,
    foi: Frequencies,
    foilim: Frequencies,
    toi: Toi,
    output: SpectralOutput,
    polyremoval: PolyRemoval,
});

impl WaveletParams {
    pub fn check(self) -> Result<Wavelet, WaveletError> {
        let freqs = FreqChoice::from_params(self.foi.as_ref(), self.foilim.as_ref())?;
        let tf = TimeFrequency::new(self.toi, self.output, self.polyremoval)?;
        Wavelet::new(
            self.wavelet.unwrap_or_default(),
            self.width,
            self.order,
            freqs,
            tf,
        )
    }
}

/// Parameters of `superlet` (Syncopy's names): `SuperletParams::new().order_max(10)
/// .adaptive(true).foilim([1.0, 100.0])`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperletParams {
    pub order_max: Option<i64>,
    pub order_min: Option<i64>,
    pub c_1: Option<i64>,
    pub adaptive: Option<bool>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
    pub toi: Option<Toi>,
    pub output: Option<SpectralOutput>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
}

setters!(SuperletParams {
    order_max: i64,
    order_min: i64,
    c_1: i64,
    adaptive: bool,
    foi: Frequencies,
    foilim: Frequencies,
    toi: Toi,
    output: SpectralOutput,
    polyremoval: PolyRemoval,
});

impl SuperletParams {
    pub fn check(self) -> Result<Superlet, WaveletError> {
        let freqs = FreqChoice::from_params(self.foi.as_ref(), self.foilim.as_ref())?;
        let tf = TimeFrequency::new(self.toi, self.output, self.polyremoval)?;
        Superlet::new(
            self.order_max,
            self.order_min,
            self.c_1,
            self.adaptive,
            freqs,
            tf,
        )
    }
}

const OUTPUT: ParamDoc = ParamDoc {
    name: "output",
    kind: "\"pow\" | \"abs\" | \"real\" | \"imag\" | \"angle\" | \"absreal\" | \"absimag\" | \"fourier\"",
    default: "pow",
    doc: "conversion of the complex coefficients W: |W|², |W|, Re, Im, atan2(Im, Re), |Re|, |Im|, or W itself",
};
const TOI: ParamDoc = ParamDoc {
    name: "toi",
    kind: "\"all\" | list of seconds",
    default: "all",
    doc: "every sample, or at least two increasing, equidistant times inside every trial: the trial is trimmed to them before the transform and subsampled after; the output's samplerate is 1/(toi[1] - toi[0])",
};
const POLYREMOVAL: ParamDoc = ParamDoc {
    name: "polyremoval",
    kind: "0 | 1 | null",
    default: "0",
    doc: "remove each trial's mean (0) or least-squares line (1) first; null removes nothing",
};
const FOILIM: ParamDoc = ParamDoc {
    name: "foilim",
    kind: "[low, high] | \"all\"",
    default: "all",
    doc: "low, low + 1, ... Hz up to high (0 < low <= high <= samplerate/2); not together with foi",
};

impl Registrable for Wavelet {
    type Params = WaveletParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "wavelet",
            summary: "Continuous wavelet transform of each trial (time-frequency SpectralData), with Syncopy's scales and normalisation.",
            matches: "syncopy.freqanalysis(data, method='wavelet', output='pow', foi=None, foilim=None, toi='all', wavelet='Morlet', width=6, order=None, polyremoval=0)",
            input: DataKind::Analog,
            output: DataKind::Spectral,
            params: &[
                ParamDoc {
                    name: "wavelet",
                    kind: "\"Morlet\" | \"Paul\" | \"DOG\" | \"Mexican_hat\" | \"Marr\" | \"Ricker\"",
                    default: "Morlet",
                    doc: "mother wavelet; DOG and its order-2 aliases are real valued (no phase)",
                },
                ParamDoc {
                    name: "width",
                    kind: "number >= 1",
                    default: "6",
                    doc: "the Morlet's nondimensional frequency w0 (Morlet only)",
                },
                ParamDoc {
                    name: "order",
                    kind: "integer",
                    default: "4 (Paul), 2 (DOG)",
                    doc: "Paul order (4..=85) or DOG derivative order (1..=100)",
                },
                ParamDoc {
                    name: "foi",
                    kind: "list of Hz | \"all\"",
                    default: "all",
                    doc: "frequencies of interest in (0, samplerate/2], in output order; 'all' takes Torrence & Compo's scales (dj 0.25) from period 2/samplerate to the shortest trial",
                },
                FOILIM,
                TOI,
                OUTPUT,
                POLYREMOVAL,
            ],
            example: "- routine: wavelet\n  wavelet: Morlet\n  width: 6\n  foilim: [2, 60]\n  toi: all",
        }
    }

    fn from_params(params: WaveletParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Superlet {
    type Params = SuperletParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "superlet",
            summary: "Superlet transform of each trial (Moca et al. 2021): geometric means of Morlet responses with growing cycle counts, multiplicative or fractional adaptive.",
            matches: "syncopy.freqanalysis(data, method='superlet', output='pow', foi=None, foilim=None, toi='all', order_max=..., order_min=1, c_1=3, adaptive=False, polyremoval=0)",
            input: DataKind::Analog,
            output: DataKind::Spectral,
            params: &[
                ParamDoc {
                    name: "order_max",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "the highest order: c_1 · order_max cycles in the longest wavelet",
                },
                ParamDoc {
                    name: "order_min",
                    kind: "integer >= 1, at most order_max",
                    default: "1",
                    doc: "the lowest order: c_1 · order_min cycles in the shortest wavelet",
                },
                ParamDoc {
                    name: "c_1",
                    kind: "integer >= 1",
                    default: "3",
                    doc: "cycles of the base Morlet wavelet",
                },
                ParamDoc {
                    name: "adaptive",
                    kind: "bool",
                    default: "false",
                    doc: "fractional adaptive superlets (FASLT): the order grows linearly from order_min at the lowest frequency to order_max at the highest (needs two frequencies; they are sorted low to high); false uses order_max everywhere",
                },
                ParamDoc {
                    name: "foi",
                    kind: "list of Hz | \"all\"",
                    default: "all",
                    doc: "frequencies of interest in (0, samplerate/2]; 'all' takes Torrence & Compo's scales (dj 0.25) from period 2/samplerate to the shortest trial",
                },
                FOILIM,
                TOI,
                OUTPUT,
                POLYREMOVAL,
            ],
            example: "- routine: superlet\n  order_max: 10\n  adaptive: true\n  foilim: [1, 100]",
        }
    }

    fn from_params(params: SuperletParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
