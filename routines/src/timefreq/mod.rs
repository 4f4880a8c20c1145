//! Time-frequency analysis (AnalogData in, SpectralData out with a time axis): `mtmconvol`,
//! Syncopy's `freqanalysis(method='mtmconvol')`.
//!
//! Output dims are `(time, taper, freq, channel)` with one time row per window, and the
//! trial definition and samplerate Syncopy gives a time-frequency result (`toi.rs`). The
//! tapers, frequency selection, detrending and output conversions are the spectral
//! family's; the window (its FFT plan and normalised tapers) is planned once per run, and a
//! task gathers a block of channels per window into caller-owned scratch (`segments.rs`),
//! so nothing is allocated per trial.

mod errors;
mod mtmconvol;
mod registration;
mod segments;
mod toi;

pub use errors::TimeFreqError;
pub use mtmconvol::{Mtmconvol, MtmconvolParams};
pub use registration::registry_entries;
pub use toi::Toi;

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    #[test]
    fn invalid_parameters_are_named_on_one_line() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({}), "t_ftimwin"),
            (json!({"t_ftimwin": 0.0}), "t_ftimwin"),
            (json!({"t_ftimwin": -0.5}), "t_ftimwin"),
            (json!({"t_ftimwin": 0.2, "toi": 1.5}), "toi"),
            (json!({"t_ftimwin": 0.2, "toi": "some"}), "toi"),
            (json!({"t_ftimwin": 0.2, "toi": [0.3, 0.1]}), "toi"),
            (json!({"t_ftimwin": 0.2, "toi": []}), "toi"),
            (json!({"t_ftimwin": 0.2, "pad": "nextpow2"}), "pad"),
            (json!({"t_ftimwin": 0.2, "pad": 2.0}), "pad"),
            (json!({"t_ftimwin": 0.2, "taper": "hanning"}), "taper"),
            (json!({"t_ftimwin": 0.2, "taper": "kaiser"}), "taper_opt"),
            (json!({"t_ftimwin": 0.2, "tapsmofrq": -1.0}), "tapsmofrq"),
            (
                json!({"t_ftimwin": 0.2, "tapsmofrq": 4, "output": "abs"}),
                "keeptapers",
            ),
            (json!({"t_ftimwin": 0.2, "n_taper": 2}), "n_taper"),
            (
                json!({"t_ftimwin": 0.2, "foi": [1], "foilim": [1, 2]}),
                "foilim",
            ),
            (json!({"t_ftimwin": 0.2, "foi": [-1.0]}), "foi"),
            (json!({"t_ftimwin": 0.2, "polyremoval": 3}), "polyremoval"),
            (json!({"t_ftimwin": 0.2, "output": "power"}), "output"),
            (json!({"t_ftimwin": 0.2, "width": 6}), "width"),
        ];
        for (params, key) in cases {
            let err = crate::build_builtin("mtmconvol", params.as_object().unwrap().clone())
                .err()
                .unwrap_or_else(|| panic!("{params} must fail"));
            let msg = err.to_string();
            assert!(msg.contains(key), "{params}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
