//! How `connectivity` is named from a pipeline: its documentation, its [`Registrable`]
//! implementation and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{Connectivity, ConnectivityParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![RoutineEntry::of::<Connectivity>()]
}

impl Registrable for Connectivity {
    type Params = ConnectivityParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "connectivity",
            summary: "Trial-averaged connectivity between channels (coherence, cross-spectra, pairwise phase consistency, spectral Granger causality, correlation) from the multitaper spectra of every trial (AnalogData) or from Fourier spectra (SpectralData, mtmfft output: fourier); one CrossSpectralData result.",
            matches: "syncopy.connectivityanalysis(data, method=..., ...)",
            input: DataKind::Analog,
            output: DataKind::CrossSpectral,
            params: &[
                ParamDoc {
                    name: "method",
                    kind: "\"coh\" | \"csd\" | \"ppc\" | \"granger\" | \"corr\"",
                    default: "required",
                    doc: "coherence, cross-spectral density, pairwise phase consistency, Granger-Geweke causality after Wilson's factorisation, or the cross-correlation at positive lags",
                },
                ParamDoc {
                    name: "output",
                    kind: "\"abs\" | \"pow\" | \"complex\" | \"fisher_z\" | \"angle\" | \"imag\" | \"real\"",
                    default: "abs",
                    doc: "coh only: |C|, |C|², C, atanh|C|, arg C, Im C or Re C of the coherency C",
                },
                ParamDoc {
                    name: "channelcmb",
                    kind: "[senders, receivers] (labels or indices) | null",
                    default: "null",
                    doc: "the channel_i and channel_j axes of the result; null: every channel against every channel. Granger with channelcmb factorises each pair on its own",
                },
                ParamDoc {
                    name: "keeptrials",
                    kind: "bool",
                    default: "false",
                    doc: "csd only: one cross-spectrum per trial instead of their average (the step then does not reduce across trials)",
                },
                ParamDoc {
                    name: "taper",
                    kind: "window name | null",
                    default: "hann",
                    doc: "as mtmfft (AnalogData input only; granger and csd also take dpss via tapsmofrq)",
                },
                ParamDoc {
                    name: "taper_opt",
                    kind: "map | null",
                    default: "null",
                    doc: "as mtmfft",
                },
                ParamDoc {
                    name: "tapsmofrq",
                    kind: "number >= 0 | null",
                    default: "null",
                    doc: "as mtmfft: dpss multitapering with this smoothing half-bandwidth in Hz; each taper adds to the rank of the averaged cross-spectra",
                },
                ParamDoc {
                    name: "n_taper",
                    kind: "integer >= 1 | null",
                    default: "null",
                    doc: "as mtmfft (Syncopy's nTaper)",
                },
                ParamDoc {
                    name: "pad",
                    kind: "\"maxperlen\" | \"nextpow2\" | seconds",
                    default: "maxperlen",
                    doc: "as mtmfft; corr takes only maxperlen",
                },
                ParamDoc {
                    name: "polyremoval",
                    kind: "0 | 1 | null",
                    default: "0",
                    doc: "as mtmfft; for corr, what is removed from each trial before correlating",
                },
                ParamDoc {
                    name: "foi",
                    kind: "list of Hz | \"all\"",
                    default: "all",
                    doc: "as mtmfft (not with granger, which needs every frequency)",
                },
                ParamDoc {
                    name: "foilim",
                    kind: "[low, high] | \"all\"",
                    default: "all",
                    doc: "as mtmfft (not with granger)",
                },
            ],
            example: "- routine: connectivity\n  method: coh\n  tapsmofrq: 4",
        }
    }

    fn from_params(params: ConnectivityParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
