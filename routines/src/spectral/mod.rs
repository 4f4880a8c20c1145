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
pub(crate) mod output;
mod registration;
pub(crate) mod trend;
mod welch;
mod windows;

pub use dpss::{dpss, DpssNorm};
pub use errors::SpectralError;
pub use frequencies::{nearest_bins, rfftfreq};
pub use mtmfft::{
    dpss_parameters, Frequencies, Mtmfft, MtmfftLayout, MtmfftParams, Padding, PolyRemoval,
};
pub(crate) use mtmfft::{present, FreqSelection, Tapering};
pub use output::SpectralOutput;
pub use registration::registry_entries;
pub(crate) use trend::Trend;
pub use welch::{Average, Scaling, SegmentDetrend, Segments, Welch, WelchParams};
pub use windows::{GetWindow, Taper, Window};

use trialflow_core::{DataKind, DataSchema, OutputShape};

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

#[cfg(test)]
mod tests {
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
            let err = crate::build_builtin(name, params.as_object().unwrap().clone())
                .err()
                .unwrap_or_else(|| panic!("{name} {params} must fail"));
            let msg = err.to_string();
            assert!(msg.contains(key), "{name} {params}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
