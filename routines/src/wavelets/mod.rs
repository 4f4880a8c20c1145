//! Time-frequency analysis with wavelets (AnalogData in, SpectralData out): `wavelet`,
//! Syncopy's `freqanalysis(method='wavelet')` with its Morlet, Paul and DOG wavelets, and
//! `superlet`, its `method='superlet'` (multiplicative and fractional adaptive).
//!
//! Both write `(time, taper, freq, channel)` with one taper and Syncopy's time axis. Syncopy
//! convolves each trial with every wavelet in the time domain; here the wavelets are sampled
//! exactly as Syncopy samples them and held as spectra (`bank.rs`, computed once per run and
//! shared by every plan through the planner), so a channel costs one forward FFT and one
//! product and inverse FFT per wavelet, into caller-owned scratch.

mod bank;
mod errors;
mod mother;
mod registration;
mod scales;
mod superlet;
mod toi;
mod transform;
mod wavelet;

pub use errors::WaveletError;
pub use mother::{MorletSl, Mother};
pub use registration::{registry_entries, SuperletParams, WaveletParams};
pub use superlet::Superlet;
pub use toi::Toi;
pub use wavelet::{Wavelet, WaveletName};

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use trialflow_core::{ComputationalRoutine, DType, DataSchema, Planner, TrialDefinition};

    /// Plans for different trial lengths and channel groups share one bank of kernel
    /// spectra, and only the plan that computed it counts it in its state.
    #[test]
    fn plans_share_one_kernel_bank() {
        let def = TrialDefinition::from_trials(&[(0, 100, 0.0), (100, 160, 0.0)], &[]);
        let input = DataSchema::analog(DType::Float32, 200.0, vec!["a".into(), "b".into()], def);
        let routine = super::SuperletParams::new()
            .order_max(3)
            .foi(vec![10.0, 20.0])
            .check()
            .unwrap();
        let mut planner = Planner::new();
        let plans: Vec<_> = [[100, 2], [60, 2], [60, 1]]
            .iter()
            .map(|shape| routine.plan(shape, &input, &mut planner).unwrap())
            .collect();
        assert_eq!(planner.tapers_computed(), 1);
        let states: Vec<usize> = plans.iter().map(|p| p.state_bytes()).collect();
        assert!(
            states[0] > states[1] && states[1] == states[2],
            "{states:?}"
        );
    }

    #[test]
    fn invalid_parameters_are_named_on_one_line() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("wavelet", json!({"wavelet": "morlet"}), "wavelet"),
            ("wavelet", json!({"width": 0.5}), "width"),
            ("wavelet", json!({"wavelet": "Paul", "order": 2}), "order"),
            ("wavelet", json!({"wavelet": "DOG", "order": 0}), "order"),
            ("wavelet", json!({"foi": [0.0, 10.0]}), "foi"),
            (
                "wavelet",
                json!({"foi": [10.0], "foilim": [1, 5]}),
                "foilim",
            ),
            ("wavelet", json!({"foilim": [5, 1]}), "foilim"),
            ("wavelet", json!({"toi": 0.5}), "toi"),
            ("wavelet", json!({"toi": [0.1]}), "toi"),
            ("wavelet", json!({"toi": [0.1, 0.2, 0.4]}), "toi"),
            ("wavelet", json!({"toi": [0.2, 0.1]}), "toi"),
            ("wavelet", json!({"polyremoval": 2}), "polyremoval"),
            ("superlet", json!({}), "order_max"),
            ("superlet", json!({"order_max": 0}), "order_max"),
            (
                "superlet",
                json!({"order_max": 3, "order_min": 4}),
                "order_min",
            ),
            (
                "superlet",
                json!({"order_max": 3, "order_min": 0}),
                "order_min",
            ),
            ("superlet", json!({"order_max": 3, "c_1": 0}), "c_1"),
            ("superlet", json!({"order_max": 3, "foi": [-2.0]}), "foi"),
            ("superlet", json!({"order_max": 3, "orders": 2}), "orders"),
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
