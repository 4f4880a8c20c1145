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
            summary: "Trial-averaged connectivity between channels (coherence, cross-spectra, pairwise phase consistency, spectral Granger causality) from the multitaper spectra of every trial; one CrossSpectralData result.",
            matches: "syncopy.connectivityanalysis(data, method=..., ...)",
            input: DataKind::Analog,
            output: DataKind::CrossSpectral,
            params: &[
                ParamDoc {
                    name: "method",
                    kind: "\"coh\" | \"csd\" | \"ppc\" | \"granger\"",
                    default: "(required)",
                    doc: "coherence, trial-averaged cross-spectral density, pairwise phase consistency, or Granger-Geweke causality after Wilson's factorisation",
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
                    name: "taper, taper_opt, tapsmofrq, n_taper, pad, polyremoval, foi, foilim",
                    kind: "as mtmfft",
                    default: "as mtmfft",
                    doc: "the spectra of every trial, as mtmfft computes them (granger takes no foi/foilim)",
                },
            ],
            example: "- routine: connectivity\n  method: coh\n  tapsmofrq: 4",
        }
    }

    fn from_params(params: ConnectivityParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
