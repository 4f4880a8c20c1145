//! Spectral analysis (AnalogData in, SpectralData out): `mtmfft`, Syncopy's
//! `freqanalysis(method='mtmfft')` with its tapers, padding, frequency selection and output
//! conversions, and `welch`, `scipy.signal.welch` per trial and channel.
//!
//! Both write one `time` row per trial with dims `(time, taper, freq, channel)`, as Syncopy
//! writes spectra, and declare their frequency axis and taper labels before running. Tapers,
//! windows and FFT plans (realfft) are built once per trial length in `plan`; a task gathers
//! one channel at a time into caller-owned scratch, so nothing is allocated per trial.
//! Windows are SciPy's formulas (`windows.rs`); Slepian tapers are computed here with SciPy's
//! conventions (`dpss.rs`).

mod dpss;
mod errors;
mod frequencies;
mod mtmfft;
mod output;
mod trend;
mod welch;
mod windows;

pub use dpss::{dpss, DpssNorm};
pub use errors::SpectralError;
pub use frequencies::{nearest_bins, rfftfreq};
pub use mtmfft::{dpss_parameters, Mtmfft, MtmfftLayout, MtmfftParams};
pub use output::SpectralOutput;
pub use welch::{Segments, Welch, WelchParams};
pub use windows::Window;

use trialflow_core::{DataKind, DataSchema, OutputShape, RoutineError};

use crate::params::{parse_params, ParamDoc};
use crate::registry::{RoutineDoc, RoutineEntry};

/// This family's routines, for [`crate::Registry::builtin`].
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![mtmfft_entry(), welch_entry()]
}

/// The output schema of a spectrum per trial: one `time` row per trial (start/stop
/// restacked, offset and trialinfo kept, as Syncopy's `propagate_properties`), the input's
/// samplerate and channels, and the frequency and taper axes.
fn spectral_schema(
    input: &DataSchema,
    output: &OutputShape,
    freq: Vec<f64>,
    taper: Vec<String>,
) -> DataSchema {
    let mut schema = input.clone();
    schema.kind = DataKind::Spectral;
    schema.trial_shapes = output.trial_shapes.clone();
    schema.trialdefinition = input.trialdefinition.restacked(&vec![1; input.n_trials()]);
    schema.freq = Some(freq);
    schema.taper = Some(taper);
    schema.units = None;
    schema.event_columns = Vec::new();
    schema
}

fn mtmfft_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
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
        },
        build: |params| {
            let p: MtmfftParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn welch_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
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
        },
        build: |params| {
            let p: WelchParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::Registry;
    use serde_json::{json, Value};

    #[test]
    fn invalid_parameters_are_named_on_one_line() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("mtmfft", json!({"output": "power"}), "output"),
            ("mtmfft", json!({"taper": "hanning"}), "taper"),
            ("mtmfft", json!({"taper": "kaiser"}), "taper_opt"),
            (
                "mtmfft",
                json!({"taper": "kaiser", "taper_opt": {"alpha": 1}}),
                "taper_opt",
            ),
            ("mtmfft", json!({"tapsmofrq": -1.0}), "tapsmofrq"),
            (
                "mtmfft",
                json!({"tapsmofrq": 2, "taper": "hamming"}),
                "taper",
            ),
            (
                "mtmfft",
                json!({"tapsmofrq": 2, "output": "abs"}),
                "keeptapers",
            ),
            ("mtmfft", json!({"tapsmofrq": 2, "n_taper": 0}), "n_taper"),
            ("mtmfft", json!({"n_taper": 3}), "n_taper"),
            ("mtmfft", json!({"pad": "maxlen"}), "pad"),
            ("mtmfft", json!({"pad": -1.0}), "pad"),
            ("mtmfft", json!({"polyremoval": 2}), "polyremoval"),
            (
                "mtmfft",
                json!({"foi": [10, 20], "foilim": [1, 5]}),
                "foilim",
            ),
            ("mtmfft", json!({"foi": "some"}), "foi"),
            ("mtmfft", json!({"foilim": [1]}), "foilim"),
            ("mtmfft", json!({"foi": [-1.0]}), "foi"),
            ("mtmfft", json!({"tapers": 3}), "tapers"),
            ("welch", json!({"nperseg": 0}), "nperseg"),
            ("welch", json!({"nperseg": 64, "noverlap": 64}), "noverlap"),
            ("welch", json!({"nperseg": 64, "nfft": 32}), "nfft"),
            ("welch", json!({"window": "hanning"}), "window"),
            ("welch", json!({"window": ["kaiser"]}), "window"),
            ("welch", json!({"detrend": "quadratic"}), "detrend"),
            ("welch", json!({"scaling": "psd"}), "scaling"),
            ("welch", json!({"average": "max"}), "average"),
            ("welch", json!({"nperseg": "a"}), "nperseg"),
        ];
        for (name, params, key) in cases {
            let err = Registry::builtin()
                .build(name, params.as_object().unwrap().clone())
                .err()
                .unwrap_or_else(|| panic!("{name} {params} must fail"));
            let msg = err.to_string();
            assert!(msg.contains(key), "{name} {params}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
