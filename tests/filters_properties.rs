//! Calibration and invariants of the filters and transforms: Butterworth gains at DC and at
//! the cut-off (-3 dB per pass), FIR unit DC gain and stop-band attenuation, Hilbert
//! envelopes and phases of pure tones, decimation picking samples exactly, resampling
//! keeping slow signals, output dtype, linearity, NaN/Inf never panicking, and bad
//! parameters refused with one line naming them.

use ndarray::{s, Array2};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::f64::consts::PI;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::Registry;

const FS: f64 = 1000.0;

fn params(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

struct Output {
    data: Array2<f64>,
    schema: DataSchema,
}

fn run_with(
    routine: &str,
    p: Value,
    source: InMemoryRecording,
    dtype: Option<DType>,
) -> Result<Output, Error> {
    let built = Registry::builtin()
        .build(routine, params(p))
        .map_err(|e| Error::invalid(e.to_string()))?;
    let mut source = source;
    let mut sink = MemorySink::new();
    let pipeline = Pipeline::new(
        vec![Step {
            routine: built,
            name: "out".into(),
            save: false,
            dtype,
        }],
        ExecutionOptions::sequential(),
    );
    run_pipeline(&pipeline, &mut source, &mut sink, None)?;
    let object = sink.object("out").unwrap();
    let data = object.data.clone().unwrap();
    let data = if data.ndim() == 3 {
        // Complex values: keep the real part for the 2-D helpers.
        data.slice(s![.., .., 0]).to_owned()
    } else {
        data.into_dimensionality().unwrap()
    };
    Ok(Output {
        data,
        schema: object.spec.schema.clone(),
    })
}

fn run(routine: &str, p: Value, x: &Array2<f64>) -> Result<Output, Error> {
    let source = InMemoryRecording::contiguous(x.clone(), FS, &[x.nrows()])?;
    run_with(routine, p, source, None)
}

fn tone(n: usize, freq: f64, amplitude: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, 1), |(i, _)| {
        amplitude * (2.0 * PI * freq * i as f64 / FS).sin()
    })
}

/// Largest |value| in the middle half of a column (away from edge effects).
fn middle_peak(y: &Array2<f64>) -> f64 {
    let n = y.nrows();
    y.slice(s![n / 4..3 * n / 4, 0])
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
}

#[test]
fn butterworth_gains_at_dc_passband_cutoff_and_stopband() {
    // A constant passes a low-pass (DC gain 1) and is removed by a high-pass.
    let dc = Array2::from_elem((500, 2), 2.5);
    let y = run("butterworth", json!({"freq": 40}), &dc).unwrap().data;
    assert!(y.iter().all(|v| (v - 2.5).abs() < 1e-10), "lp keeps DC");
    let y = run("butterworth", json!({"filter_type": "hp", "freq": 40}), &dc)
        .unwrap()
        .data;
    assert!(y.iter().all(|v| v.abs() < 1e-10), "hp removes DC");
    // At the cut-off each pass has gain 1/sqrt(2): twopass 1/2, onepass 1/sqrt(2).
    let x = tone(4000, 40.0, 1.0);
    let two = middle_peak(&run("butterworth", json!({"freq": 40}), &x).unwrap().data);
    assert!((two - 0.5).abs() < 2e-3, "twopass gain at cut-off {two}");
    let one = middle_peak(
        &run(
            "butterworth",
            json!({"freq": 40, "direction": "onepass"}),
            &x,
        )
        .unwrap()
        .data,
    );
    assert!(
        (one - std::f64::consts::FRAC_1_SQRT_2).abs() < 2e-3,
        "onepass gain at cut-off {one}"
    );
    // Pass band kept, stop band gone; a band-pass keeps its centre, a band-stop removes it.
    let pass = middle_peak(
        &run("butterworth", json!({"freq": 40}), &tone(4000, 5.0, 1.0))
            .unwrap()
            .data,
    );
    assert!((pass - 1.0).abs() < 1e-3, "{pass}");
    let stop = middle_peak(
        &run("butterworth", json!({"freq": 40}), &tone(4000, 200.0, 1.0))
            .unwrap()
            .data,
    );
    assert!(stop < 1e-4, "{stop}");
    let centre = (8.0f64 * 30.0).sqrt();
    let bp = middle_peak(
        &run(
            "butterworth",
            json!({"filter_type": "bp", "freq": [8, 30]}),
            &tone(4000, centre, 1.0),
        )
        .unwrap()
        .data,
    );
    assert!((bp - 1.0).abs() < 1e-2, "bp centre {bp}");
    let bs = middle_peak(
        &run(
            "butterworth",
            json!({"filter_type": "bs", "freq": [45, 55]}),
            &tone(4000, 50.0, 1.0),
        )
        .unwrap()
        .data,
    );
    assert!(bs < 1e-2, "bs centre {bs}");
}

#[test]
fn firws_unit_dc_gain_and_attenuation() {
    for window in ["hamming", "hann", "blackman"] {
        let dc = Array2::from_elem((600, 1), -1.25);
        let y = run(
            "firws",
            json!({"freq": 40, "order": 100, "window": window, "direction": "onepass"}),
            &dc,
        )
        .unwrap()
        .data;
        // Away from the zero-padded edges, the normalised kernel passes DC exactly.
        assert!(
            y.slice(s![100..500, ..])
                .iter()
                .all(|v| (v + 1.25).abs() < 1e-12),
            "{window}"
        );
        let pass = middle_peak(
            &run(
                "firws",
                json!({"freq": 40, "order": 200, "window": window}),
                &tone(3000, 5.0, 1.0),
            )
            .unwrap()
            .data,
        );
        assert!((pass - 1.0).abs() < 1e-2, "{window} pass {pass}");
        let stop = middle_peak(
            &run(
                "firws",
                json!({"freq": 40, "order": 200, "window": window}),
                &tone(3000, 150.0, 1.0),
            )
            .unwrap()
            .data,
        );
        assert!(stop < 1e-3, "{window} stop {stop}");
    }
    // The minimum-phase kernel keeps the magnitude response.
    let pass = middle_peak(
        &run(
            "firws",
            json!({"freq": 40, "order": 200, "direction": "onepass-minphase"}),
            &tone(3000, 5.0, 1.0),
        )
        .unwrap()
        .data,
    );
    assert!((pass - 1.0).abs() < 1e-2, "minphase pass {pass}");
}

#[test]
fn hilbert_of_a_tone_has_constant_envelope_and_linear_phase() {
    // 25 whole cycles in 1000 samples: the analytic signal is exactly A exp(i (w t - pi/2)).
    let x = tone(1000, 25.0, 3.0);
    let env = run("hilbert", json!({"output": "abs"}), &x).unwrap().data;
    assert!(env.iter().all(|v| (v - 3.0).abs() < 1e-12));
    let phase = run("hilbert", json!({"output": "angle"}), &x).unwrap().data;
    for (i, &p) in phase.iter().enumerate() {
        let want = 2.0 * PI * 25.0 * i as f64 / FS - PI / 2.0;
        let d = (p - want).rem_euclid(2.0 * PI);
        assert!(d.min(2.0 * PI - d) < 1e-10, "sample {i}: {p} vs {want}");
    }
    let imag = run("hilbert", json!({"output": "imag"}), &x).unwrap().data;
    for (i, &v) in imag.iter().enumerate() {
        let want = -3.0 * (2.0 * PI * 25.0 * i as f64 / FS).cos();
        assert!((v - want).abs() < 1e-11);
    }
    let real = run("hilbert", json!({"output": "real"}), &x).unwrap().data;
    assert!(real
        .iter()
        .zip(x.iter())
        .all(|(a, b)| (a - b).abs() < 1e-12));
    let complex = run("hilbert", json!({"output": "complex"}), &x).unwrap();
    assert!(complex
        .data
        .iter()
        .zip(x.iter())
        .all(|(a, b)| (a - b).abs() < 1e-12));
    assert_eq!(complex.schema.dtype, DType::Complex128);
}

#[test]
fn downsample_picks_every_kth_sample_and_sets_samplerate_and_offsets() {
    let x = Array2::from_shape_fn((103, 3), |(i, c)| (i * 3 + c) as f64 * 0.1);
    let def =
        TrialDefinition::from_trials(&[(0, 50, -20.0), (50, 103, 7.0)], &[vec![4.0], vec![5.0]]);
    let source = InMemoryRecording::new(x.clone(), FS, def).unwrap();
    let out = run_with("downsample", json!({"resamplefs": 250}), source, None).unwrap();
    assert_eq!(out.schema.samplerate, 250.0);
    // ceil(50 / 4) = 13 and ceil(53 / 4) = 14 samples; offsets ceil(offset / 4).
    assert_eq!(
        out.schema.trialdefinition.values(),
        &[0., 13., -5., 4., 13., 27., 2., 5.]
    );
    for (i, row) in out.data.rows().into_iter().enumerate() {
        let src = if i < 13 { 4 * i } else { 50 + 4 * (i - 13) };
        assert_eq!(row, x.row(src), "row {i}");
    }
    let by_factor = run("downsample", json!({"factor": 4}), &x).unwrap();
    assert_eq!(by_factor.schema.samplerate, 250.0);
    assert_eq!(by_factor.data.nrows(), 26);
}

#[test]
fn resample_keeps_a_slow_tone_at_the_new_times() {
    let x = tone(2000, 3.0, 1.0);
    // Not 441 Hz: up = 441 makes the default 1001-tap kernel's transition band ~1.5 kHz wide at
    // the upsampled rate, so images leak (Syncopy's design, reproduced; raise `order` there).
    for fs_new in [300.0, 250.0, 640.0] {
        let out = run("resample", json!({"resamplefs": fs_new}), &x).unwrap();
        assert_eq!(out.schema.samplerate, fs_new);
        let n = out.data.nrows();
        assert_eq!(n, (2000.0 * fs_new / FS).ceil() as usize);
        for i in n / 4..3 * n / 4 {
            let want = (2.0 * PI * 3.0 * i as f64 / fs_new).sin();
            assert!(
                (out.data[[i, 0]] - want).abs() < 1e-3,
                "{fs_new}: sample {i}"
            );
        }
    }
}

#[test]
fn output_dtype_follows_the_input_unless_a_step_forces_it() {
    let x = tone(400, 7.3, 1.0).mapv(|v| v as f32 as f64);
    let f32_source = || {
        InMemoryRecording::contiguous(x.clone(), FS, &[400])
            .unwrap()
            .with_dtype(DType::Float32)
    };
    for routine in ["butterworth", "firws"] {
        let p = json!({"freq": 40});
        let stored32 = run_with(routine, p.clone(), f32_source(), None).unwrap();
        assert_eq!(stored32.schema.dtype, DType::Float32);
        assert!(stored32.data.iter().all(|&v| v == v as f32 as f64));
        let forced = run_with(routine, p, f32_source(), Some(DType::Float64)).unwrap();
        assert_eq!(forced.schema.dtype, DType::Float64);
        assert!(forced.data.iter().any(|&v| v != v as f32 as f64));
        // Forcing only changes the storage rounding.
        for (a, b) in forced.data.iter().zip(&stored32.data) {
            assert_eq!(*a as f32 as f64, *b);
        }
    }
    let complex = run_with("hilbert", json!({"output": "complex"}), f32_source(), None).unwrap();
    assert_eq!(complex.schema.dtype, DType::Complex64);
}

fn one_line_error(routine: &str, p: Value, x: &Array2<f64>, needle: &str) {
    let err = match run(routine, p.clone(), x) {
        Ok(_) => panic!("{routine} {p}: accepted"),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains('\n'), "{routine} {p}: {err}");
    assert!(
        err.contains(needle),
        "{routine} {p}: '{err}' lacks '{needle}'"
    );
}

#[test]
fn bad_parameters_are_refused_naming_them() {
    let x = tone(300, 5.0, 1.0);
    one_line_error("butterworth", json!({}), &x, "freq");
    one_line_error("butterworth", json!({"freq": 500}), &x, "freq 500");
    one_line_error("butterworth", json!({"freq": -3}), &x, "freq");
    one_line_error(
        "butterworth",
        json!({"filter_type": "bp", "freq": 30}),
        &x,
        "pair",
    );
    one_line_error(
        "butterworth",
        json!({"filter_type": "bs", "freq": [30, 30]}),
        &x,
        "freq",
    );
    one_line_error(
        "butterworth",
        json!({"filter_type": "notch", "freq": 30}),
        &x,
        "filter_type",
    );
    one_line_error("butterworth", json!({"freq": 30, "order": 0}), &x, "order");
    one_line_error(
        "butterworth",
        json!({"freq": 30, "direction": "onepass-minphase"}),
        &x,
        "direction",
    );
    one_line_error("butterworth", json!({"freq": "high"}), &x, "freq");
    one_line_error(
        "butterworth",
        json!({"freq": 30, "window": "hann"}),
        &x,
        "window",
    );
    one_line_error(
        "butterworth",
        json!({"freq": 30, "order": 40}),
        &tone(100, 5.0, 1.0),
        "trial 0",
    );
    one_line_error(
        "firws",
        json!({"freq": 30, "window": "kaiser"}),
        &x,
        "window",
    );
    one_line_error("firws", json!({"freq": 501}), &x, "freq 501");
    one_line_error("firws", json!({"freq": 30, "order": -2}), &x, "order");
    one_line_error(
        "firws",
        json!({"freq": 30, "direction": "onepass-minphase", "order": 10000}),
        &x,
        "order",
    );
    one_line_error("hilbert", json!({"output": "pow"}), &x, "output");
    one_line_error("downsample", json!({}), &x, "resamplefs");
    one_line_error("downsample", json!({"resamplefs": 300}), &x, "resamplefs");
    one_line_error(
        "downsample",
        json!({"resamplefs": 250, "factor": 4}),
        &x,
        "factor",
    );
    one_line_error("downsample", json!({"factor": 0}), &x, "factor");
    one_line_error(
        "downsample",
        json!({"resamplefs": 250, "lpfreq": 200}),
        &x,
        "lpfreq",
    );
    one_line_error("resample", json!({"resamplefs": 2000}), &x, "resamplefs");
    one_line_error("resample", json!({"resamplefs": 0.5}), &x, "resamplefs");
    one_line_error(
        "resample",
        json!({"resamplefs": 300, "lpfreq": 200}),
        &x,
        "lpfreq",
    );
    one_line_error(
        "resample",
        json!({"resamplefs": 300, "order": 0}),
        &x,
        "order",
    );
}

fn routines() -> Vec<(&'static str, Value)> {
    vec![
        ("butterworth", json!({"freq": 40})),
        (
            "butterworth",
            json!({"filter_type": "bs", "freq": [40, 60], "direction": "onepass"}),
        ),
        ("firws", json!({"freq": 40, "order": 30})),
        (
            "firws",
            json!({"filter_type": "hp", "freq": 40, "order": 30, "direction": "onepass-minphase"}),
        ),
        ("hilbert", json!({"output": "angle"})),
        (
            "downsample",
            json!({"resamplefs": 500, "lpfreq": 100, "order": 20}),
        ),
        ("resample", json!({"resamplefs": 300, "order": 30})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every routine is linear: f(a x + y) = a f(x) + f(y), to rounding.
    #[test]
    fn routines_are_linear(
        seed in prop::collection::vec(-1.0f64..1.0, 2 * 120),
        a in -3.0f64..3.0,
        which in 0usize..7,
    ) {
        let (routine, p) = routines()[which].clone();
        prop_assume!(routine != "hilbert");
        let x = Array2::from_shape_vec((120, 1), seed[..120].to_vec()).unwrap();
        let y = Array2::from_shape_vec((120, 1), seed[120..].to_vec()).unwrap();
        let combined = &x * a + &y;
        let fx = run(routine, p.clone(), &x).unwrap().data;
        let fy = run(routine, p.clone(), &y).unwrap().data;
        let fc = run(routine, p, &combined).unwrap().data;
        for ((c, x), y) in fc.iter().zip(&fx).zip(&fy) {
            prop_assert!((c - (a * x + y)).abs() < 1e-9, "{routine}: {c} vs {}", a * x + y);
        }
    }

    /// NaN and Inf anywhere never panic nor fail a run, and leave other channels alone.
    #[test]
    fn nan_and_inf_never_panic(
        at in 0usize..150,
        value in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        which in 0usize..7,
    ) {
        let (routine, p) = routines()[which].clone();
        let mut x = Array2::from_shape_fn((150, 2), |(i, c)| ((i * (c + 2)) as f64 * 0.37).sin());
        let clean = run(routine, p.clone(), &x).unwrap().data;
        x[[at, 1]] = value;
        let out = run(routine, p, &x).unwrap().data;
        prop_assert_eq!(out.column(0), clean.column(0));
    }
}
