//! The numbers of `psth` (Syncopy's `spike_psth`) against Syncopy 2023.9 on the cases
//! `fixtures/reference/make_psth.py` generated: the analysis window and the trials it keeps
//! (`vartriallen`), the bin edges (`binsize` in seconds, `rice`, `sqrt`), each trial's
//! histogram per channel-unit combination (`rate`, `spikecount`, `proportion`, NaN where a
//! trial does not reach), the result's time axis, and the trial average and variance.
//!
//! These are the pure functions the `psth` routine runs per trial (`tests/psth.rs` drives
//! the routine through the command line).
//!
//! Tolerance. Syncopy stores float32 histograms and averages them in float32: counts are
//! exact, rates and proportions agree to 1e-6 relative, averages and variances to 1e-5.

mod common;

use common::reference::{array, number};
use ndarray::{Array3, ArrayD};
use serde_json::Value;
use trialflow::model::TrialDefinition;
use trialflow::routines::statistics::psth::{
    bin_edges, time_axis, trial_histogram, BinSize, PsthOutput, TrialSpan,
};
use trialflow::routines::statistics::{covers, Latency, LatencyParam};

fn fixture() -> Value {
    let path = format!(
        "{}/fixtures/reference/psth.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * b.abs().max(1.0)
}

#[test]
fn psth_numerics_match_syncopy() {
    let doc = fixture();
    let mut compared = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let input = &doc["inputs"][case["input"].as_str().unwrap()];
        let params = &case["params"];
        let rate = number(&input["samplerate"]);
        let rows: Vec<(usize, usize, f64)> = input["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    number(&r[0]) as usize,
                    number(&r[1]) as usize,
                    number(&r[2]),
                )
            })
            .collect();
        let def = TrialDefinition::from_trials(&rows, &[]);
        let events: Vec<[i64; 3]> = input["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| [0, 1, 2].map(|i| e[i].as_i64().unwrap()))
            .collect();

        // The window and the trials it keeps.
        let latency: Option<LatencyParam> = params
            .get("latency")
            .map(|v| serde_json::from_value(v.clone()).unwrap());
        let window = Latency::check(latency, "psth")
            .unwrap()
            .window(&def, rate, "psth")
            .unwrap();
        let want_window = array(&case["window"]);
        assert!(
            (window.0 - want_window[0]).abs() < 1e-12 && (window.1 - want_window[1]).abs() < 1e-12,
            "{name}: window {window:?}"
        );
        let kept: Vec<usize> = if params.get("vartriallen") == Some(&Value::Bool(false)) {
            (0..rows.len())
                .filter(|&t| covers(&def, t, rate, window))
                .collect()
        } else {
            (0..rows.len()).collect()
        };
        let want_kept: Vec<usize> = case["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(kept, want_kept, "{name}: kept trials");

        // The edges.
        let binsize = match params.get("binsize") {
            None => BinSize::Rice,
            Some(Value::String(s)) if s == "rice" => BinSize::Rice,
            Some(Value::String(s)) if s == "sqrt" => BinSize::Sqrt,
            Some(v) => BinSize::Seconds(number(v)),
        };
        let average =
            kept.iter().map(|&t| def.trial_len(t) as f64).sum::<f64>() / kept.len() as f64;
        let edges = bin_edges(binsize, window, average).unwrap();
        let want_edges = array(&case["edges"]);
        assert_eq!(edges.len(), want_edges.len(), "{name}: edges");
        for (a, b) in edges.iter().zip(want_edges.iter()) {
            assert_eq!(a.to_bits(), b.to_bits(), "{name}: edge {a} vs {b}");
        }
        let (srate, offset) = time_axis(&edges);
        assert!(
            close(srate, number(&case["samplerate"]), 1e-12),
            "{name}: samplerate {srate}"
        );
        assert_eq!(offset, number(&case["offset"]), "{name}: offset");

        // Each kept trial's histogram.
        let combos: Vec<[i64; 2]> = case["combinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| [c[0].as_i64().unwrap(), c[1].as_i64().unwrap()])
            .collect();
        let output = PsthOutput::parse(
            params
                .get("output")
                .and_then(Value::as_str)
                .unwrap_or("rate"),
        )
        .unwrap();
        let bins = edges.len() - 1;
        let want = array(&case["per_trial"]);
        assert_eq!(want.shape(), [kept.len(), bins, combos.len()], "{name}");
        let mut got = Array3::<f64>::zeros((kept.len(), bins, combos.len()));
        for (k, &t) in kept.iter().enumerate() {
            let (start, stop, offset) = rows[t];
            let in_trial: Vec<&[i64; 3]> = events
                .iter()
                .filter(|e| e[0] >= start as i64 && e[0] < stop as i64)
                .collect();
            let samples: Vec<i64> = in_trial.iter().map(|e| e[0]).collect();
            let columns: Vec<usize> = in_trial
                .iter()
                .map(|e| {
                    combos
                        .iter()
                        .position(|c| c[0] == e[1] && c[1] == e[2])
                        .unwrap()
                })
                .collect();
            let span = TrialSpan {
                start: start as f64,
                stop: stop as f64,
                offset,
            };
            let mut out = vec![0.0; bins * combos.len()];
            trial_histogram(
                samples.iter().copied().zip(columns.iter().copied()),
                span,
                &edges,
                output,
                rate,
                &mut out,
            );
            for b in 0..bins {
                for c in 0..combos.len() {
                    let (g, w) = (out[b * combos.len() + c], want[[k, b, c]]);
                    assert!(
                        close(g, w, 1e-6),
                        "{name}: trial {t} bin {b} column {c}: {g} vs {w}"
                    );
                    got[[k, b, c]] = g;
                }
            }
        }

        // Average and variance over trials (ddof 0, NaN propagating, as spy.mean/var).
        let n = kept.len() as f64;
        let mean = got.sum_axis(ndarray::Axis(0)) / n;
        let var = got
            .outer_iter()
            .map(|t| (&t - &mean).mapv(|d| d * d))
            .fold(ndarray::Array2::zeros(mean.dim()), |a, b| a + b)
            / n;
        for (what, mine, theirs) in [
            ("avg", mean, array(&case["avg"])),
            ("var", var, array(&case["var"])),
        ] {
            let theirs: ArrayD<f64> = theirs;
            for (g, w) in mine.iter().zip(theirs.iter()) {
                assert!(close(*g, *w, 1e-5), "{name}: {what} {g} vs {w}");
            }
        }
        compared += 1;
    }
    assert_eq!(compared, 6);
}

/// A PSTH of a known spike train is its hand count: spikes at fixed times in three trials,
/// counted per 50 ms bin and averaged.
#[test]
fn a_known_spike_train_matches_a_hand_count() {
    let rate = 1000.0;
    // Three trials of 200 samples with t = 0 at sample 50: -0.05 s to 0.149 s.
    let trials = [(0.0, 200.0), (200.0, 400.0), (400.0, 600.0)];
    // Spike times (s) per trial, one channel-unit column.
    let times: [&[f64]; 3] = [
        &[-0.04, 0.01, 0.02, 0.06],
        &[0.0, 0.03, 0.12],
        &[0.051, 0.149],
    ];
    let edges = bin_edges(BinSize::Seconds(0.05), (-0.05, 0.149), 200.0).unwrap();
    assert_eq!(edges.len(), 5, "{edges:?}");
    let hand = [
        [1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 1.0],
    ];
    let mut sum = [0.0; 4];
    for (k, (&(start, stop), spikes)) in trials.iter().zip(times).enumerate() {
        let samples: Vec<i64> = spikes
            .iter()
            .map(|t| (start + 50.0 + (t * rate)).round() as i64)
            .collect();
        let columns = vec![0; samples.len()];
        let span = TrialSpan {
            start,
            stop,
            offset: -50.0,
        };
        let mut out = vec![0.0; 4];
        trial_histogram(
            samples.iter().copied().zip(columns.iter().copied()),
            span,
            &edges,
            PsthOutput::SpikeCount,
            rate,
            &mut out,
        );
        assert_eq!(out, hand[k], "trial {k}");
        for (s, v) in sum.iter_mut().zip(&out) {
            *s += v;
        }
        trial_histogram(
            samples.iter().copied().zip(columns.iter().copied()),
            span,
            &edges,
            PsthOutput::Rate,
            rate,
            &mut out,
        );
        for (b, v) in out.iter().enumerate() {
            assert!(
                (v - hand[k][b] * 20.0).abs() < 1e-9,
                "rate, trial {k} bin {b}"
            );
        }
    }
    assert_eq!(
        sum.map(|s| s / 3.0),
        [1.0 / 3.0, 4.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]
    );
}
