//! The contract between a routine's documentation, its parameter struct and its `cfg()`,
//! checked for every built-in routine so that neither the printed docs nor the typed builders
//! can drift from what YAML accepts.

use ndarray::Array2;
use serde_json::{Map, Value};
use trialflow_core::in_memory::{InMemoryRecording, MemorySink};
use trialflow_core::routine::RoutineEntry;
use trialflow_core::{
    run_pipeline, ComputationalRoutine, DataKind, ExecutionOptions, Pipeline, Step,
};
use trialflow_routines::builtin_entries;
use trialflow_routines::connectivity::{ChannelRef, CoherenceOutput, ConnectivityParams};
use trialflow_routines::filters::{
    ButterworthParams, DownsampleParams, FilterType, FirDirection, FirWindow, FirwsParams,
    HilbertOutput, HilbertParams, IirDirection, ResampleParams,
};
use trialflow_routines::peaks::{FindPeaksCwtParams, FindPeaksParams, Interval};
use trialflow_routines::preprocessing::{DetrendParams, DetrendType, RectifyParams, ZScoreParams};
use trialflow_routines::smoothing::{
    ExtendMode, GaussianParams, MedianFilterParams, MovingAverageParams, SavgolMode, SavgolParams,
};
use trialflow_routines::spectral::{
    Average, MtmfftParams, Padding, PolyRemoval, Scaling, SegmentDetrend, SpectralOutput, Taper,
    WelchParams, Window,
};
use trialflow_routines::statistics::{
    ItcParams, MeanName, MedianName, PsthParams, StdName, SummaryParams, TimelockParams, VarName,
};
use trialflow_routines::timefreq::{MtmconvolParams, Toi};
use trialflow_routines::wavelets::{SuperletParams, WaveletName, WaveletParams};

/// Parameters whose documented default is a rule computed from other parameters or from the
/// data (`nperseg // 2`), not a value a user could write. Each is checked to be accepted as
/// `null`, which means "the default"; the test also fails if one of these becomes a literal
/// default, so the list cannot go stale.
const DERIVED: &[(&str, &str)] = &[
    ("welch", "noverlap"),
    ("welch", "nfft"),
    ("find_peaks_cwt", "max_distances"),
    ("find_peaks_cwt", "gap_thresh"),
    ("find_peaks_cwt", "min_length"),
    ("find_peaks_cwt", "window_size"),
    // Paul's and DOG's orders differ; Morlet has none.
    ("wavelet", "order"),
];

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The parameters of a routine's documented example step.
fn example_params(entry: &RoutineEntry) -> Map<String, Value> {
    let steps = yaml(entry.doc.example);
    let mut step = steps[0]
        .as_object()
        .expect("an example is one step")
        .clone();
    assert_eq!(step.remove("routine"), Some(Value::from(entry.doc.name)));
    step
}

fn build(entry: &RoutineEntry, params: Map<String, Value>) -> Box<dyn ComputationalRoutine> {
    (entry.build)(params.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", entry.doc.name, Value::Object(params)))
}

/// The checked routine's `cfg()`, or the error message.
fn outcome(entry: &RoutineEntry, params: Map<String, Value>) -> Result<Value, String> {
    (entry.build)(params)
        .map(|r| r.cfg())
        .map_err(|e| e.to_string())
}

#[test]
fn documented_defaults_are_the_defaults_and_cfg_is_documented() {
    let mut derived_seen = Vec::new();
    for entry in builtin_entries() {
        let name = entry.doc.name;
        let base = example_params(&entry);
        let documented: Vec<&str> = entry.doc.params.iter().map(|p| p.name).collect();
        let cfg = build(&entry, base.clone()).cfg();
        let keys = cfg
            .as_object()
            .unwrap_or_else(|| panic!("{name}: cfg is an object"));
        for key in keys.keys() {
            assert!(
                documented.contains(&key.as_str()),
                "{name}: cfg key `{key}` is undocumented"
            );
        }
        for param in entry.doc.params {
            assert!(
                keys.contains_key(param.name),
                "{name}: cfg lacks `{}`",
                param.name
            );
            if param.default.starts_with("required") {
                if param.default == "required" {
                    assert!(
                        base.contains_key(param.name),
                        "{name}: the example sets `{}`",
                        param.name
                    );
                }
                continue;
            }
            // Leaving a parameter out may make the example invalid (a band's two `freq`
            // need `filter_type: bp`); then writing the default must fail the same way.
            let mut without = base.clone();
            without.remove(param.name);
            let implicit = outcome(&entry, without.clone());
            let literal = yaml(param.default);
            let mut explicit = without.clone();
            explicit.insert(param.name.into(), literal.clone());
            let same = outcome(&entry, explicit) == implicit;
            if DERIVED.contains(&(name, param.name)) {
                assert!(
                    !same,
                    "{name}.{}: default {literal} is a literal; drop it from DERIVED",
                    param.name
                );
                derived_seen.push((name, param.name));
                let mut null = without;
                null.insert(param.name.into(), Value::Null);
                assert_eq!(
                    outcome(&entry, null),
                    implicit,
                    "{name}.{}: null",
                    param.name
                );
            } else {
                assert!(
                    same,
                    "{name}.{}: writing the documented default {literal} differs from leaving it out",
                    param.name
                );
            }
        }
    }
    assert_eq!(
        derived_seen.len(),
        DERIVED.len(),
        "every DERIVED entry names a documented parameter"
    );
}

fn recording() -> InMemoryRecording {
    let (n, channels) = (300, 3);
    let data = Array2::from_shape_fn((n, channels), |(i, c)| {
        let t = i as f64 / 1000.0;
        (2.0 * std::f64::consts::PI * (7.0 + 5.0 * c as f64) * t).sin()
            + 0.5 * (2.0 * std::f64::consts::PI * 90.0 * t).cos()
            + 0.01 * ((i * 37 + c * 11) % 17) as f64
    });
    InMemoryRecording::contiguous(data, 1000.0, &[160, 140]).unwrap()
}

/// Runs one routine over [`recording`] and returns every stored value's bits and the events.
/// A routine taking SpectralData (`itc`) reads the complex spectra of an `mtmfft` before it,
/// one taking SpikeData (`psth`) the events of a `find_peaks`.
fn run(routine: Box<dyn ComputationalRoutine>) -> (Vec<u64>, String) {
    let mut source = recording();
    let mut sink = MemorySink::new();
    let mut steps = Vec::new();
    if routine.input_kind() == DataKind::Spectral {
        let spectrum = MtmfftParams::new().output(SpectralOutput::Fourier).check();
        steps.push(Step {
            routine: boxed(spectrum),
            name: "spectrum".into(),
            save: false,
            dtype: None,
        });
    }
    if routine.input_kind() == DataKind::Spike {
        let peaks = FindPeaksParams::new().height(0.5).check();
        steps.push(Step {
            routine: boxed(peaks),
            name: "peaks".into(),
            save: false,
            dtype: None,
        });
    }
    steps.push(Step {
        routine,
        name: "out".into(),
        save: false,
        dtype: None,
    });
    let pipeline = Pipeline::new(steps, ExecutionOptions::sequential());
    run_pipeline(&pipeline, &mut source, &mut sink, None).unwrap();
    let object = sink.object("out").unwrap();
    let bits = object
        .data
        .as_ref()
        .map(|d| d.iter().map(|v| v.to_bits()).collect())
        .unwrap_or_default();
    (bits, format!("{:?}", object.events))
}

fn boxed<R: ComputationalRoutine + 'static, E: std::fmt::Debug>(
    r: Result<R, E>,
) -> Box<dyn ComputationalRoutine> {
    Box::new(r.unwrap())
}

#[test]
fn typed_builders_and_yaml_give_the_same_routine() {
    let mut cases: Vec<(&str, Box<dyn ComputationalRoutine>, &str)> = vec![
        ("detrend", boxed(DetrendParams::new().kind(DetrendType::Constant).check()), "type: c"),
        ("zscore", boxed(ZScoreParams::new().check()), "{}"),
        ("rectify", boxed(RectifyParams::new().check()), "{}"),
        (
            "gaussian",
            boxed(GaussianParams::new().sigma(2.5).order(1).mode(ExtendMode::Wrap).truncate(3.0).check()),
            "{sigma: 2.5, order: 1, mode: wrap, truncate: 3}",
        ),
        (
            "savgol",
            boxed(SavgolParams::new().window_length(9).polyorder(3).deriv(1).delta(0.5).mode(SavgolMode::Interp).check()),
            "{window_length: 9, polyorder: 3, deriv: 1, delta: 0.5, mode: interp}",
        ),
        (
            "moving_average",
            boxed(MovingAverageParams::new().size(4).origin(-1).mode(ExtendMode::Constant).cval(0.25).check()),
            "{size: 4, origin: -1, mode: constant, cval: 0.25}",
        ),
        (
            "median_filter",
            boxed(MedianFilterParams::new().size(5).mode(ExtendMode::Nearest).check()),
            "{size: 5, mode: nearest}",
        ),
        (
            "find_peaks",
            boxed(FindPeaksParams::new().height(0.2).prominence(Interval::between(0.1, 5.0)).width(Interval::any()).distance(3.0).check()),
            "{height: 0.2, prominence: [0.1, 5], width: [null, null], distance: 3}",
        ),
        (
            "find_peaks_cwt",
            boxed(FindPeaksCwtParams::new().widths([2.0, 4.0, 8.0]).min_snr(0.5).max_distances(2.0).check()),
            "{widths: [2, 4, 8], min_snr: 0.5, max_distances: 2}",
        ),
        (
            "mtmfft",
            boxed(MtmfftParams::new().taper(Taper::Hamming).pad(Padding::NextPow2).polyremoval(PolyRemoval::Linear).foilim([5.0, 200.0]).output(SpectralOutput::Abs).check()),
            "{taper: hamming, pad: nextpow2, polyremoval: 1, foilim: [5, 200], output: abs}",
        ),
        (
            "welch",
            boxed(WelchParams::new().window(Window::Tukey { alpha: 0.25 }).nperseg(64).noverlap(16).detrend(SegmentDetrend::Linear).scaling(Scaling::Spectrum).average(Average::Median).check()),
            "{window: [tukey, 0.25], nperseg: 64, noverlap: 16, detrend: linear, scaling: spectrum, average: median}",
        ),
        (
            "butterworth",
            boxed(ButterworthParams::new().filter_type(FilterType::Bandpass).freq([5.0, 40.0]).order(3).direction(IirDirection::OnePass).check()),
            "{filter_type: bp, freq: [5, 40], order: 3, direction: onepass}",
        ),
        (
            "firws",
            boxed(FirwsParams::new().filter_type(FilterType::Highpass).freq(20.0).order(30).window(FirWindow::Blackman).direction(FirDirection::OnePass).check()),
            "{filter_type: hp, freq: 20, order: 30, window: blackman, direction: onepass}",
        ),
        ("hilbert", boxed(HilbertParams::new().output(HilbertOutput::Angle).check()), "output: angle"),
        (
            "downsample",
            boxed(DownsampleParams::new().factor(2).lpfreq(150.0).order(20).check()),
            "{factor: 2, lpfreq: 150, order: 20}",
        ),
        (
            "resample",
            boxed(ResampleParams::new().resamplefs(400.0).lpfreq(120.0).check()),
            "{resamplefs: 400, lpfreq: 120}",
        ),
        (
            "mtmconvol",
            boxed(
                MtmconvolParams::new()
                    .t_ftimwin(0.05)
                    .toi(Toi::All)
                    .taper(Taper::None)
                    .foi(vec![20.0, 100.0])
                    .check(),
            ),
            "{t_ftimwin: 0.05, toi: all, taper: null, foi: [20, 100]}",
        ),
    ];
    cases.extend([
        (
            "wavelet",
            boxed(
                WaveletParams::new()
                    .wavelet(WaveletName::Paul)
                    .order(6)
                    .foi(vec![10.0, 20.0])
                    .output(SpectralOutput::Abs)
                    .check(),
            ),
            "{wavelet: Paul, order: 6, foi: [10, 20], output: abs}",
        ),
        (
            "superlet",
            boxed(
                SuperletParams::new()
                    .order_max(4)
                    .order_min(2)
                    .adaptive(true)
                    .foilim(vec![5.0, 40.0])
                    .check(),
            ),
            "{order_max: 4, order_min: 2, adaptive: true, foilim: [5, 40]}",
        ),
    ]);
    cases.push((
        "connectivity",
        boxed(
            ConnectivityParams::new()
                .method("coh")
                .output(CoherenceOutput::Pow)
                .tapsmofrq(20.0)
                .channelcmb(vec![
                    vec![ChannelRef::Index(0), ChannelRef::Index(2)],
                    vec![ChannelRef::Index(1)],
                ])
                .check(),
        ),
        "{method: coh, output: pow, tapsmofrq: 20, channelcmb: [[0, 2], [1]]}",
    ));
    cases.push((
        "itc",
        boxed::<_, std::convert::Infallible>(Ok(ItcParams::new().check())),
        "{}",
    ));
    cases.extend([
        (
            "mean",
            boxed(SummaryParams::new().dim("time").check::<MeanName>()),
            "{dim: time}",
        ),
        (
            "var",
            boxed(SummaryParams::new().dim("time").check::<VarName>()),
            "{dim: time}",
        ),
        (
            "std",
            boxed(SummaryParams::new().dim("time").check::<StdName>()),
            "{dim: time}",
        ),
        (
            "median",
            boxed(SummaryParams::new().dim("time").check::<MedianName>()),
            "{dim: time}",
        ),
    ]);
    cases.push((
        "timelock",
        boxed(
            TimelockParams::new()
                .latency(0.0, 0.1)
                .covariance(true)
                .keeptrials(true)
                .ddof(0)
                .check(),
        ),
        "{latency: [0, 0.1], covariance: true, keeptrials: true, ddof: 0}",
    ));
    cases.push((
        "psth",
        boxed(
            PsthParams::new()
                .binsize(0.01)
                .output("spikecount")
                .latency(0.0, 0.1)
                .vartriallen(false)
                .check(),
        ),
        "{binsize: 0.01, output: spikecount, latency: [0, 0.1], vartriallen: false}",
    ));
    let entries = builtin_entries();
    let mut covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
    covered.sort_unstable();
    let registered: Vec<&str> = entries.iter().map(|e| e.doc.name).collect();
    assert_eq!(covered, registered, "one case per registered routine");
    for (name, typed, text) in cases {
        let entry = entries.iter().find(|e| e.doc.name == name).unwrap();
        let params = yaml(text).as_object().cloned().unwrap_or_default();
        let from_yaml = build(entry, params);
        assert_eq!(typed.cfg(), from_yaml.cfg(), "{name}: cfg");
        // `median` has one valid setting (dim: time) until the engine can write an output
        // with fewer channels than its input (dim: channel), so its case is its example.
        if !entry.doc.params.is_empty() && name != "median" {
            let example_cfg = build(entry, example_params(entry)).cfg();
            assert_ne!(
                typed.cfg(),
                example_cfg,
                "{name}: the case sets non-default parameters"
            );
        }
        let (typed_bits, typed_events) = run(typed);
        let (yaml_bits, yaml_events) = run(from_yaml);
        assert!(
            !typed_bits.is_empty() || typed_events.len() > 20,
            "{name}: some output"
        );
        assert_eq!(typed_bits, yaml_bits, "{name}: values");
        assert_eq!(typed_events, yaml_events, "{name}: events");
    }
}
