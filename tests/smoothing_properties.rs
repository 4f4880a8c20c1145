//! Invariants of the smoothing routines on random shapes and parameters: smoothing a
//! constant returns it (derivatives give ~0), and results do not depend on the execution
//! mode or on how channels are grouped into tasks.

use ndarray::Array2;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::Registry;

const MODES: [&str; 5] = ["reflect", "mirror", "nearest", "constant", "wrap"];
const SAVGOL_MODES: [&str; 5] = ["interp", "mirror", "nearest", "constant", "wrap"];

/// A routine with random valid parameters, given the shortest trial (savgol's interp mode
/// needs window_length <= every trial's length). `raw` values are mapped into range.
#[derive(Debug, Clone)]
struct Config {
    routine: &'static str,
    params: Map<String, Value>,
    /// Whether the routine differentiates (a constant then gives ~0, not the constant).
    derivative: bool,
}

fn config(kind: usize, raw: [u32; 5], sigma: f64, shortest: usize) -> Config {
    let pick = |r: u32, n: usize| r as usize % n;
    let origin_for = |size: usize, r: u32| -> i64 {
        let lo = -((size / 2) as i64);
        let hi = ((size - 1) / 2) as i64;
        lo + (r as i64 % (hi - lo + 1))
    };
    let obj = |v: Value| v.as_object().unwrap().clone();
    match kind % 4 {
        0 => {
            let order = pick(raw[0], 4);
            let mut p =
                obj(json!({"sigma": sigma, "order": order, "mode": MODES[pick(raw[1], 5)]}));
            if raw[2].is_multiple_of(3) {
                p.insert("radius".into(), json!(pick(raw[3], 15)));
            }
            Config {
                routine: "gaussian",
                params: p,
                derivative: order > 0,
            }
        }
        1 => {
            let mode = SAVGOL_MODES[pick(raw[0], 5)];
            let mut wl = 1 + pick(raw[1], 13);
            if mode == "interp" {
                wl = wl.min(shortest);
            }
            let polyorder = pick(raw[2], wl);
            let deriv = pick(raw[3], 3);
            let delta = [0.5, 1.0, 2.0][pick(raw[4], 3)];
            Config {
                routine: "savgol",
                params: obj(
                    json!({"window_length": wl, "polyorder": polyorder, "deriv": deriv, "delta": delta, "mode": mode}),
                ),
                derivative: deriv > 0,
            }
        }
        k => {
            let size = 1 + pick(raw[0], 15);
            Config {
                routine: if k == 2 {
                    "moving_average"
                } else {
                    "median_filter"
                },
                params: obj(
                    json!({"size": size, "origin": origin_for(size, raw[1]), "mode": MODES[pick(raw[2], 5)]}),
                ),
                derivative: false,
            }
        }
    }
}

fn run(
    config: &Config,
    data: Array2<f64>,
    lengths: &[usize],
    execution: ExecutionOptions,
) -> Array2<f64> {
    let routine = Registry::builtin()
        .build(config.routine, config.params.clone())
        .unwrap_or_else(|e| panic!("{config:?}: {e}"));
    let mut source = InMemoryRecording::contiguous(data, 500.0, lengths).unwrap();
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![Step {
            routine,
            name: "out".into(),
            save: false,
            dtype: None,
        }],
        execution,
    );
    run_pipeline(&pipeline, &mut source, &mut sink, None)
        .unwrap_or_else(|e| panic!("{config:?}: {e}"));
    sink.object("out")
        .unwrap()
        .data
        .clone()
        .unwrap()
        .into_dimensionality()
        .unwrap()
}

fn bits(a: &Array2<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_constant_stays_constant(
        kind in 0usize..4,
        raw in any::<[u32; 5]>(),
        sigma in 0.3f64..6.0,
        value in -1e3f64..1e3,
        lengths in prop::collection::vec(1usize..40, 1..4),
        channels in 1usize..5,
    ) {
        let shortest = *lengths.iter().min().unwrap();
        let mut config = config(kind, raw, sigma, shortest);
        // Beyond the edges, mode 'constant' sees cval: make it the constant too.
        config.params.insert("cval".into(), json!(value));
        let total: usize = lengths.iter().sum();
        let data = Array2::from_elem((total, channels), value);
        let out = run(&config, data, &lengths, ExecutionOptions::sequential());
        let tol = 1e-12 * value.abs().max(1.0);
        for &v in out.iter() {
            if config.derivative {
                // A derivative of a constant is 0; a truncated Gaussian derivative kernel
                // does not sum to exactly 0 for even orders, so only savgol and odd orders
                // are held to rounding.
                let even_gaussian = config.routine == "gaussian"
                    && config.params["order"].as_u64().unwrap().is_multiple_of(2);
                if !even_gaussian {
                    let scale = config.params.get("delta").and_then(Value::as_f64).unwrap_or(1.0);
                    // Savgol's 'interp' edges fit a polynomial of `polyorder` through the
                    // window, whose derivative weights at the ends grow about as
                    // 2^polyorder: rounding grows with them (polyorder 12 on 13 points
                    // gave 1.2e-9 of a constant of 765).
                    let polyorder = config.params.get("polyorder").and_then(Value::as_u64).unwrap_or(0);
                    let conditioning = 2f64.powi(polyorder as i32).max(10.0) * 1e-12;
                    prop_assert!(v.abs() <= conditioning * value.abs().max(1.0) / scale.powi(3), "{config:?}: {v}");
                }
            } else {
                prop_assert!((v - value).abs() <= tol, "{config:?}: {v} vs {value}");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_mode_or_channel_groups(
        kind in 0usize..4,
        raw in any::<[u32; 5]>(),
        sigma in 0.3f64..6.0,
        lengths in prop::collection::vec(1usize..30, 1..4),
        channels in 1usize..6,
        group in 1usize..6,
        seed in any::<u64>(),
        with_nan in any::<bool>(),
    ) {
        let shortest = *lengths.iter().min().unwrap();
        let config = config(kind, raw, sigma, shortest);
        let total: usize = lengths.iter().sum();
        let mut state = seed | 1;
        let mut data = Array2::from_shape_fn((total, channels), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f64 / 100.0 - 10.0
        });
        if with_nan && config.routine != "savgol" {
            data[[(seed as usize) % total, (seed as usize / 7) % channels]] = f64::NAN;
        }
        let seq = bits(&run(&config, data.clone(), &lengths, ExecutionOptions::sequential()));
        let par = bits(&run(&config, data.clone(), &lengths, ExecutionOptions::parallel(2)));
        prop_assert_eq!(&seq, &par, "{:?}: parallel(2)", config);
        for mode in [ExecutionOptions::sequential(), ExecutionOptions::parallel(2)] {
            let grouped = ExecutionOptions { chan_per_worker: Some(group), ..mode };
            let got = bits(&run(&config, data.clone(), &lengths, grouped));
            prop_assert_eq!(&seq, &got, "{:?}: chan_per_worker {}", config, group);
        }
    }
}
