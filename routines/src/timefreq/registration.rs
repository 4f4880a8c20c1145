//! How the time-frequency routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{Mtmconvol, MtmconvolParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![RoutineEntry::of::<Mtmconvol>()]
}

impl Registrable for Mtmconvol {
    type Params = MtmconvolParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "mtmconvol",
            summary: "Sliding-window (multi-)tapered FFT of each trial: a time-frequency spectrum with Syncopy's normalisation, time axis and trial definition.",
            matches: "syncopy.freqanalysis(data, method='mtmconvol', t_ftimwin, toi='all', output='pow', foi=None, foilim=None, pad='maxperlen', polyremoval=0, taper='hann', taper_opt=None, tapsmofrq=None, nTaper=None, keeptapers=False)",
            input: DataKind::Analog,
            output: DataKind::Spectral,
            params: &[
                ParamDoc {
                    name: "t_ftimwin",
                    kind: "seconds > 0",
                    default: "required",
                    doc: "window length; L = int(t_ftimwin * samplerate) samples, at least one sample and at most the shortest trial",
                },
                ParamDoc {
                    name: "toi",
                    kind: "\"all\" | overlap in [0, 1] | list of seconds",
                    default: "all",
                    doc: "a window centred on every sample; windows sharing int(overlap * L) samples (at most L - 1), starting at the first sample; or one window centred on the sample nearest to each time (ascending, inside every trial)",
                },
                ParamDoc {
                    name: "output",
                    kind: "\"pow\" | \"abs\" | \"real\" | \"imag\" | \"angle\" | \"absreal\" | \"absimag\" | \"fourier\"",
                    default: "pow",
                    doc: "conversion of the complex coefficients X, as mtmfft's",
                },
                ParamDoc {
                    name: "taper",
                    kind: "window name | null",
                    default: "hann",
                    doc: "a scipy.signal.windows function of the window's length (symmetric); null for none (boxcar)",
                },
                ParamDoc {
                    name: "taper_opt",
                    kind: "map | null",
                    default: "null",
                    doc: "the window's parameters, all required, e.g. {beta: 8} for kaiser",
                },
                ParamDoc {
                    name: "tapsmofrq",
                    kind: "number >= 0 | null",
                    default: "null",
                    doc: "smoothing half-bandwidth W in Hz: periodic dpss tapers of the window's length with NW = W N / fs, N the mean trial length (as Syncopy), W clipped to [fs/N, fs/2 - 1/N]",
                },
                ParamDoc {
                    name: "n_taper",
                    kind: "integer >= 1 | null",
                    default: "null",
                    doc: "number of dpss tapers instead of int(2 NW - 1) (only with tapsmofrq)",
                },
                ParamDoc {
                    name: "keeptapers",
                    kind: "bool",
                    default: "false",
                    doc: "keep one spectrum per dpss taper; false averages them (only output pow)",
                },
                ParamDoc {
                    name: "polyremoval",
                    kind: "0 | 1 | null",
                    default: "0",
                    doc: "remove each window's mean (0) or least-squares line (1), zeros past the trial edges included; null removes nothing",
                },
                ParamDoc {
                    name: "foi",
                    kind: "list of Hz | \"all\"",
                    default: "all",
                    doc: "the nearest bin of rfftfreq(L) for each (in [0, samplerate/2]), duplicates dropped",
                },
                ParamDoc {
                    name: "foilim",
                    kind: "[low, high] | \"all\"",
                    default: "all",
                    doc: "every bin with low <= f <= high; not together with foi",
                },
                ParamDoc {
                    name: "pad",
                    kind: "\"maxperlen\"",
                    default: "maxperlen",
                    doc: "windows are zero-padded at the trial edges only; other values are refused (Syncopy ignores them)",
                },
            ],
            example: "- routine: mtmconvol\n  t_ftimwin: 0.5\n  toi: 0.5\n  foilim: [1, 100]",
        }
    }

    fn from_params(params: MtmconvolParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
