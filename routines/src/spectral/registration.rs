//! How the spectral routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{Mtmfft, MtmfftParams, Welch, WelchParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![RoutineEntry::of::<Mtmfft>(), RoutineEntry::of::<Welch>()]
}

impl Registrable for Mtmfft {
    type Params = MtmfftParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "mtmfft",
            summary: "(Multi-)tapered FFT spectrum of each trial, with Syncopy's normalisation: a sine of amplitude A gives A²/2 total power.",
            matches: "syncopy.freqanalysis(data, method='mtmfft', output='pow', foi=None, foilim=None, pad='maxperlen', polyremoval=0, taper='hann', taper_opt=None, tapsmofrq=None, nTaper=None, keeptapers=False, ft_compat=False, demean_taper=False)",
            input: DataKind::Analog,
            output: DataKind::Spectral,
            params: &[
                ParamDoc {
                    name: "output",
                    kind: "\"pow\" | \"abs\" | \"real\" | \"imag\" | \"angle\" | \"absreal\" | \"absimag\" | \"fourier\"",
                    default: "pow",
                    doc: "conversion of the complex coefficients X: |X|², |X|, Re, Im, atan2(Im, Re), |Re|, |Im|, or X itself",
                },
                ParamDoc {
                    name: "taper",
                    kind: "window name | null",
                    default: "hann",
                    doc: "a scipy.signal.windows function (symmetric, trial length): hann, hamming, blackman, boxcar, kaiser, tukey, ...; null for none (boxcar)",
                },
                ParamDoc {
                    name: "taper_opt",
                    kind: "map | null",
                    default: "null",
                    doc: "the window's parameters, all required, e.g. {beta: 8} for kaiser, {alpha: 0.25} for tukey, {std: 20} for gaussian",
                },
                ParamDoc {
                    name: "tapsmofrq",
                    kind: "number >= 0 | null",
                    default: "null",
                    doc: "smoothing half-bandwidth W in Hz; switches on dpss multitapering, clipped to [fs/N, fs/2 - 1/N] with N the mean trial length; NW = W N / fs, 2 NW - 1 tapers",
                },
                ParamDoc {
                    name: "n_taper",
                    kind: "integer >= 1 | null",
                    default: "null",
                    doc: "number of dpss tapers instead of int(2 NW - 1) (Syncopy's nTaper; only with tapsmofrq)",
                },
                ParamDoc {
                    name: "keeptapers",
                    kind: "bool",
                    default: "false",
                    doc: "keep one spectrum per dpss taper; false averages them (only output pow)",
                },
                ParamDoc {
                    name: "pad",
                    kind: "\"maxperlen\" | \"nextpow2\" | seconds",
                    default: "maxperlen",
                    doc: "FFT length: the longest trial, the next power of two at or above it, or int(pad * samplerate) samples (at least the longest trial)",
                },
                ParamDoc {
                    name: "polyremoval",
                    kind: "0 | 1 | null",
                    default: "0",
                    doc: "remove the mean (0) or the least-squares line (1) before tapering; null removes nothing",
                },
                ParamDoc {
                    name: "foi",
                    kind: "list of Hz | \"all\"",
                    default: "all",
                    doc: "frequencies of interest: the nearest bin of each (in [0, samplerate/2]), duplicates dropped",
                },
                ParamDoc {
                    name: "foilim",
                    kind: "[low, high] | \"all\"",
                    default: "all",
                    doc: "every bin with low <= f <= high; not together with foi",
                },
                ParamDoc {
                    name: "ft_compat",
                    kind: "bool",
                    default: "false",
                    doc: "FieldTrip's scaling sqrt(2)/M (power then depends on padding) instead of sqrt(2)/sqrt(N M)",
                },
                ParamDoc {
                    name: "demean_taper",
                    kind: "bool",
                    default: "false",
                    doc: "subtract the mean again after tapering",
                },
            ],
            example: "- routine: mtmfft\n  output: pow\n  tapsmofrq: 4\n  foilim: [1, 100]",
        }
    }

    fn from_params(params: MtmfftParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Welch {
    type Params = WelchParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "welch",
            summary: "Welch power spectral density of each trial and channel (averaged periodograms of overlapping segments).",
            matches: "scipy.signal.welch(x, fs=samplerate, window='hann', nperseg=None, noverlap=None, nfft=None, detrend='constant', return_onesided=True, scaling='density', axis=0, average='mean')",
            input: DataKind::Analog,
            output: DataKind::Spectral,
            params: &[
                ParamDoc {
                    name: "window",
                    kind: "name | [name, args...]",
                    default: "hann",
                    doc: "as scipy.signal.get_window (periodic): hann, hamming, [kaiser, 8], [tukey, 0.25], [dpss, 3], ...",
                },
                ParamDoc {
                    name: "nperseg",
                    kind: "integer >= 1",
                    default: "256",
                    doc: "segment length in samples; shortened (with a warning) to a trial that is shorter",
                },
                ParamDoc {
                    name: "noverlap",
                    kind: "integer >= 0",
                    default: "nperseg // 2",
                    doc: "samples shared by consecutive segments; less than nperseg",
                },
                ParamDoc {
                    name: "nfft",
                    kind: "integer >= nperseg",
                    default: "nperseg",
                    doc: "FFT length (zero padding of each segment); sets the frequency axis rfftfreq(nfft, 1/samplerate)",
                },
                ParamDoc {
                    name: "detrend",
                    kind: "\"constant\" | \"linear\" | false",
                    default: "constant",
                    doc: "per-segment detrending before windowing",
                },
                ParamDoc {
                    name: "scaling",
                    kind: "\"density\" | \"spectrum\"",
                    default: "density",
                    doc: "density: V²/Hz, 1/(fs Σw²); spectrum: V², 1/(Σw)²",
                },
                ParamDoc {
                    name: "average",
                    kind: "\"mean\" | \"median\"",
                    default: "mean",
                    doc: "how segments are combined; median is bias-corrected as SciPy's",
                },
            ],
            example: "- routine: welch\n  nperseg: 512\n  window: hann\n  scaling: density",
        }
    }

    fn from_params(params: WelchParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
