//! Calibration and invariants of `mtmfft` and `welch`, independent of any reference file:
//! Syncopy's power normalisation (a sine of amplitude A gives A²/2, white noise sums to its
//! variance, padding keeps power unless `ft_compat`), SciPy's Welch scalings, trial averaging,
//! NaN handling, refusals that name the trial, and orthonormal Slepian tapers.

use ndarray::{Array2, ArrayD, Axis};
use proptest::prelude::*;
use serde_json::{json, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::routines::spectral::{dpss, DpssNorm};
use trialflow::Registry;

const FS: f64 = 1000.0;

/// splitmix64 as a uniform in (0, 1).
fn uniform(i: u64) -> f64 {
    let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Gaussian noise (Box-Muller) of standard deviation `sigma`.
fn noise(n: usize, channels: usize, sigma: f64, seed: u64) -> Array2<f64> {
    Array2::from_shape_fn((n, channels), |(r, c)| {
        let i = 2 * (seed * 1_000_003 + (r * channels + c) as u64);
        let (u1, u2) = (uniform(i), uniform(i + 1));
        sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    })
}

fn sine(n_trials: usize, n: usize, amp: f64, freq: f64) -> Array2<f64> {
    Array2::from_shape_fn((n_trials * n, 2), |(r, c)| {
        let t = (r % n) as f64 / FS;
        amp * (2.0 * std::f64::consts::PI * freq * t + 0.3 * c as f64).sin()
    })
}

fn run_with(
    routine: &str,
    params: Value,
    data: Array2<f64>,
    lengths: &[usize],
    options: ExecutionOptions,
    dtype: DType,
) -> Result<(ArrayD<f64>, DataSchema), Error> {
    let built = Registry::builtin()
        .build(routine, params.as_object().unwrap().clone())
        .unwrap_or_else(|e| panic!("{routine}: {e}"));
    let mut source = InMemoryRecording::contiguous(data, FS, lengths)?.with_dtype(dtype);
    let mut sink = MemorySink::new();
    let step = Step {
        routine: built,
        name: "out".into(),
        save: false,
        dtype: None,
    };
    run_pipeline(
        &Pipeline::new(vec![step], options),
        &mut source,
        &mut sink,
        None,
    )?;
    let object = sink.object("out").unwrap();
    Ok((
        object.data.clone().unwrap(),
        object.metadata.as_ref().unwrap().schema.clone(),
    ))
}

fn run(
    routine: &str,
    params: Value,
    data: Array2<f64>,
    lengths: &[usize],
) -> (ArrayD<f64>, Vec<f64>) {
    let (out, schema) = run_with(
        routine,
        params,
        data,
        lengths,
        ExecutionOptions::sequential(),
        DType::Float64,
    )
    .unwrap();
    (out, schema.freq.unwrap())
}

/// Spectrum of trial `t`, taper `k`, channel `c`.
fn spectrum(out: &ArrayD<f64>, t: usize, k: usize, c: usize) -> Vec<f64> {
    out.index_axis(Axis(0), t)
        .index_axis(Axis(0), k)
        .index_axis(Axis(1), c)
        .iter()
        .copied()
        .collect()
}

fn bin(freq: &[f64], f: f64) -> usize {
    freq.iter().position(|&v| (v - f).abs() < 1e-9).unwrap()
}

#[test]
fn a_sine_of_amplitude_a_has_power_a2_over_2() {
    let (amp, f0, n) = (2.0, 50.0, 1000);
    let half_a2 = amp * amp / 2.0;
    // boxcar: the whole power in the sine's bin
    let (out, freq) = run(
        "mtmfft",
        json!({"taper": null}),
        sine(2, n, amp, f0),
        &[n, n],
    );
    let p = spectrum(&out, 1, 0, 1);
    let k = bin(&freq, f0);
    assert!((p[k] - half_a2).abs() < 1e-10, "{}", p[k]);
    assert!((p.iter().sum::<f64>() - half_a2).abs() < 1e-10);
    // hann (symmetric, as Syncopy's, so only nearly periodic): A²/3 at the bin, A²/2 over
    // the bin and its neighbours
    let (out, _) = run("mtmfft", json!({}), sine(1, n, amp, f0), &[n]);
    let p = spectrum(&out, 0, 0, 0);
    assert!((p[k] - amp * amp / 3.0).abs() < 2e-3 * p[k], "{}", p[k]);
    assert!((p[k - 1] + p[k] + p[k + 1] - half_a2).abs() < 2e-3 * half_a2);
    // dpss: spread over ±W, the band holds A²/2
    let (out, freq) = run(
        "mtmfft",
        json!({"tapsmofrq": 5.0}),
        sine(1, n, amp, f0),
        &[n],
    );
    let p = spectrum(&out, 0, 0, 0);
    let band: f64 = (0..freq.len())
        .filter(|&i| (freq[i] - f0).abs() <= 6.0)
        .map(|i| p[i])
        .sum();
    assert!((band - half_a2).abs() < 5e-3 * half_a2, "{band}");
    // welch, scaling 'spectrum' with whole periods per segment: A²/2 at the bin
    let (out, freq) = run(
        "welch",
        json!({"nperseg": 200, "scaling": "spectrum"}),
        sine(1, n, amp, f0),
        &[n],
    );
    let p = spectrum(&out, 0, 0, 0);
    assert!((p[bin(&freq, f0)] - half_a2).abs() < 1e-10);
}

#[test]
fn padding_keeps_power_unless_ft_compat() {
    let (amp, n) = (1.5, 500);
    let data = || sine(1, n, amp, 36.0);
    // The power in the sine's bin: padding interpolates the spectrum (more bins, the same
    // power per bin), so the peak stays A²/2; FieldTrip's scaling divides by the padded
    // length instead, so doubling it halves the peak.
    let peak = |params: Value| {
        let (out, freq) = run("mtmfft", params, data(), &[n]);
        spectrum(&out, 0, 0, 0)[bin(&freq, 36.0)]
    };
    let plain = peak(json!({"taper": null}));
    let padded = peak(json!({"taper": null, "pad": 1.0}));
    assert!((plain - amp * amp / 2.0).abs() < 1e-10, "{plain}");
    assert!((padded - plain).abs() < 1e-10, "{padded} vs {plain}");
    let ft = peak(json!({"taper": null, "ft_compat": true}));
    let ft_padded = peak(json!({"taper": null, "ft_compat": true, "pad": 1.0}));
    assert!((ft_padded / ft - 0.5).abs() < 1e-10, "{ft_padded} vs {ft}");
}

#[test]
fn white_noise_power_matches_its_variance() {
    let (sigma, n, trials) = (2.0, 2000, 6);
    let data = noise(n * trials, 3, sigma, 7);
    let var: f64 = data.iter().map(|v| v * v).sum::<f64>() / data.len() as f64;
    for params in [json!({"taper": null}), json!({}), json!({"tapsmofrq": 3.0})] {
        let (out, _) = run("mtmfft", params.clone(), data.clone(), &vec![n; trials]);
        let total: f64 = out.iter().sum::<f64>() / (trials * 3) as f64;
        assert!(
            (total - var).abs() < 0.03 * var,
            "{params}: {total} vs {var}"
        );
    }
    // welch density integrates to the variance
    let (out, freq) = run("welch", json!({"nperseg": 256}), data, &vec![n; trials]);
    let df = freq[1] - freq[0];
    let total: f64 = out.iter().sum::<f64>() * df / (trials * 3) as f64;
    assert!((total - var).abs() < 0.05 * var, "welch: {total} vs {var}");
}

#[test]
fn trial_average_is_the_mean_of_the_trials() {
    let lengths = [300, 280, 310, 300];
    let data = noise(lengths.iter().sum(), 2, 1.0, 3);
    for params in [
        json!({}),
        json!({"tapsmofrq": 10.0}),
        json!({"output": "abs"}),
    ] {
        let (each, _) = run("mtmfft", params.clone(), data.clone(), &lengths);
        let options = ExecutionOptions {
            keeptrials: false,
            ..ExecutionOptions::parallel(2)
        };
        let (avg, _) = run_with(
            "mtmfft",
            params.clone(),
            data.clone(),
            &lengths,
            options,
            DType::Float64,
        )
        .unwrap();
        let mean = each.mean_axis(Axis(0)).unwrap();
        assert_eq!(avg.shape()[0], 1);
        for (a, b) in avg.index_axis(Axis(0), 0).iter().zip(mean.iter()) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1e-12),
                "{params}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn output_dtype_follows_the_input() {
    let data = sine(1, 256, 1.0, 10.0).mapv(|v| v as f32 as f64);
    for (dtype, params, stored) in [
        (DType::Float32, json!({}), DType::Float32),
        (DType::Float64, json!({}), DType::Float64),
        (
            DType::Float32,
            json!({"output": "fourier"}),
            DType::Complex64,
        ),
        (
            DType::Float64,
            json!({"output": "fourier"}),
            DType::Complex128,
        ),
        (DType::Float32, json!({"nperseg": 64}), DType::Float32),
    ] {
        let routine = if params.get("nperseg").is_some() {
            "welch"
        } else {
            "mtmfft"
        };
        let (_, schema) = run_with(
            routine,
            params,
            data.clone(),
            &[256],
            ExecutionOptions::sequential(),
            dtype,
        )
        .unwrap();
        assert_eq!(schema.dtype, stored);
        assert_eq!(schema.kind, DataKind::Spectral);
        let freqs = if routine == "welch" { 33 } else { 129 };
        assert_eq!(schema.trial_shapes, vec![vec![1, 1, freqs, 2]]);
    }
}

#[test]
fn nan_and_inf_stay_in_their_channel() {
    let mut data = noise(400, 3, 1.0, 11);
    data[[100, 1]] = f64::NAN;
    data[[50, 2]] = f64::INFINITY;
    for (routine, params) in [
        ("mtmfft", json!({})),
        (
            "mtmfft",
            json!({"tapsmofrq": 8.0, "keeptapers": true, "output": "angle"}),
        ),
        ("welch", json!({"nperseg": 64})),
        (
            "welch",
            json!({"nperseg": 64, "average": "median", "detrend": "linear"}),
        ),
    ] {
        let (out, _) = run(routine, params.clone(), data.clone(), &[200, 200]);
        let t0c0 = spectrum(&out, 0, 0, 0);
        assert!(t0c0.iter().all(|v| v.is_finite()), "{routine} {params}");
        assert!(
            spectrum(&out, 0, 0, 1).iter().any(|v| v.is_nan()),
            "{routine} {params}"
        );
        assert!(spectrum(&out, 1, 0, 1).iter().all(|v| v.is_finite()));
        assert!(spectrum(&out, 0, 0, 2).iter().any(|v| !v.is_finite()));
    }
}

/// Refusals that depend on the trials happen in the dry run and name the trial.
#[test]
fn trial_dependent_refusals_name_the_trial() {
    let cases = [
        (
            "mtmfft",
            json!({"tapsmofrq": 40.0}),
            vec![400, 20, 400],
            "trial 1",
        ),
        ("mtmfft", json!({"pad": 0.2}), vec![150, 250], "trial 1"),
        ("mtmfft", json!({"foi": [10.0, 600.0]}), vec![100], "foi"),
        (
            "mtmfft",
            json!({"foilim": [200.5, 200.9]}),
            vec![100],
            "foi",
        ),
        ("welch", json!({"nperseg": 128}), vec![300, 100], "trial 1"),
        (
            "welch",
            json!({"nperseg": 64, "noverlap": 60}),
            vec![300, 50],
            "trial 1",
        ),
        (
            "welch",
            json!({"window": ["dpss", 40.0], "nperseg": 64}),
            vec![300],
            "trial 0",
        ),
    ];
    for (routine, params, lengths, needle) in cases {
        let data = noise(lengths.iter().sum(), 1, 1.0, 5);
        let err = run_with(
            routine,
            params.clone(),
            data,
            &lengths,
            ExecutionOptions::sequential(),
            DType::Float64,
        )
        .expect_err(&format!("{routine} {params}"));
        let msg = err.to_string();
        assert!(msg.contains(needle), "{routine} {params}: {msg}");
        assert_eq!(err.class(), ErrorClass::User, "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Slepian tapers are orthonormal, and even ones symmetric with a positive sum.
    #[test]
    fn dpss_tapers_are_orthonormal(m in 8usize..400, nw_frac in 0.05f64..0.45, k_frac in 0.1f64..1.0) {
        let nw = (1.0 + nw_frac * (m as f64 / 2.0 - 1.0)).min(m as f64 / 2.0 - 0.5).max(0.6);
        let kmax = ((2.0 * nw - 1.0).max(1.0) * k_frac).ceil() as usize;
        let tapers = dpss(m, nw, kmax, true, DpssNorm::UnitEnergy);
        prop_assert_eq!(tapers.len(), kmax);
        for (i, a) in tapers.iter().enumerate() {
            for (j, b) in tapers.iter().enumerate().skip(i) {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                prop_assert!((dot - want).abs() < 1e-9, "m {} nw {} <{},{}> = {}", m, nw, i, j, dot);
            }
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            for t in 0..m / 2 {
                prop_assert!((a[t] - sign * a[m - 1 - t]).abs() < 1e-9);
            }
            if i % 2 == 0 {
                prop_assert!(a.iter().sum::<f64>() > 0.0);
            }
        }
    }
}
