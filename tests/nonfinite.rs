//! NaN, +Inf, -Inf (and values near f64::MAX) in the data, through every registered routine
//! with the parameters of its registry example, in every execution mode: never a panic.
//! A routine may compute (NaN and Inf propagate as SciPy propagates them, and never into
//! other trials) or refuse with one line that names the trial; sequential, parallel and
//! channel-group runs must agree bit for bit. Then absurd but valid parameters (kernels and
//! windows far longer than any trial, distances of 1e300) must be computed or refused
//! clearly, never allocate without bound.
//!
//! Routines are taken from the registry, so a newly registered family is covered as soon as
//! its example parses.

mod common;

use common::*;
use ndarray::Array2;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::pipeline::load_pipeline;
use trialflow::routine::RoutineDoc;
use trialflow::run_pipeline;
use trialflow::{DataKind, Registry};

/// Trial lengths of the in-memory recording (5 channels).
const LENGTHS: [usize; 6] = [160, 120, 200, 140, 180, 150];
const CHANNELS: usize = 5;

/// Trial 0 is clean; the others hold NaN, +Inf, -Inf, an all-NaN channel, huge values and
/// non-finite first and last samples.
fn nonfinite_data() -> Array2<f64> {
    let rows: usize = LENGTHS.iter().sum();
    let mut x = Array2::from_shape_fn((rows, CHANNELS), |(i, c)| {
        ((i as f64) * 0.05 * (1.0 + c as f64)).sin() + 0.1 * c as f64
    });
    let start = |t: usize| LENGTHS[..t].iter().sum::<usize>();
    x[[start(1) + 10, 1]] = f64::NAN;
    x[[start(2) + 50, 2]] = f64::INFINITY;
    x[[start(2) + 51, 3]] = f64::NEG_INFINITY;
    for i in 0..LENGTHS[3] {
        x[[start(3) + i, 0]] = f64::NAN;
    }
    for i in 0..LENGTHS[4] {
        x[[start(4) + i, 4]] = if i % 2 == 0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        x[[start(4) + i, 0]] = 1e308 * if i % 3 == 0 { -1.0 } else { 1.0 };
    }
    for c in 0..CHANNELS {
        x[[start(5), c]] = f64::NAN;
        x[[start(5) + LENGTHS[5] - 1, c]] = f64::INFINITY;
    }
    x
}

/// The registry example of a routine, as a pipeline file's text.
fn pipeline_text(doc: &RoutineDoc) -> String {
    let steps: String = example_steps(doc)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    format!("input: unused.spy\noutput: unused.spy\nsteps:\n{steps}")
}

/// A routine's example step, after an `mtmfft` giving the complex spectra it reads when it
/// takes SpectralData (`itc`), or a `find_peaks` giving the events it reads when it takes
/// SpikeData (`psth`): the recordings here are analog.
fn example_steps(doc: &RoutineDoc) -> String {
    if doc.input == DataKind::Spectral {
        format!("- routine: mtmfft\n  output: fourier\n{}", doc.example)
    } else if doc.input == DataKind::Spike {
        format!("- routine: find_peaks\n  height: 0.0\n{}", doc.example)
    } else {
        doc.example.to_string()
    }
}

/// What a run gave: the saved values' bit patterns (dense) or the events' debug print.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done {
        digest: Vec<u64>,
        events: String,
        /// The bit patterns of trial 0's values in every dense object.
        trial0: Vec<u64>,
    },
    Refused(String),
}

const MODES: &[(&str, &[&str])] = &[
    ("sequential", &["execution.mode=sequential"]),
    (
        "parallel",
        &["execution.mode=parallel", "execution.workers=2"],
    ),
    (
        "channel groups",
        &[
            "execution.mode=parallel",
            "execution.workers=2",
            "execution.chan_per_worker=2",
        ],
    ),
];

/// Runs `text` (a pipeline file) over `data` in one mode, in-process.
fn run(
    dir: &std::path::Path,
    text: &str,
    sets: &[&str],
    data: &Array2<f64>,
    lengths: &[usize],
) -> Outcome {
    let file = write_file(dir, "p.yaml", text);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let config = match load_pipeline(&file, &sets, &Registry::builtin()) {
        Ok(config) => config,
        Err(e) => return Outcome::Refused(e.message),
    };
    let mut source = InMemoryRecording::contiguous(data.clone(), 1000.0, lengths).unwrap();
    let mut sink = MemorySink::new();
    match run_pipeline(&config.pipeline, &mut source, &mut sink, None) {
        Ok(report) => {
            let mut digest = Vec::new();
            let mut events = String::new();
            let mut trial0 = Vec::new();
            for saved in &report.objects {
                let object = sink.object(&saved.tag).expect("a saved object");
                if let Some(values) = &object.data {
                    digest.extend(values.iter().map(|v| v.to_bits()));
                    let schema = &object.spec.schema;
                    let n = schema.trial_shapes[0].iter().product::<usize>()
                        * schema.dtype.components();
                    // A cross-trial result (one trial made of all, like itc's) has no part
                    // that belongs to trial 0 alone.
                    if schema.n_trials() > 1 {
                        trial0.extend(values.iter().take(n).map(|v| v.to_bits()));
                    }
                }
                events.push_str(&format!("{:?}", object.events));
            }
            Outcome::Done {
                digest,
                events,
                trial0,
            }
        }
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

fn assert_clear_refusal(what: &str, message: &str, needles: &[&str]) {
    assert!(
        !message.trim().is_empty() && !message.contains('\n'),
        "{what}: not one line: {message:?}"
    );
    assert!(!message.contains("panicked"), "{what}: {message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "{what}: should name {needle}: {message}"
        );
    }
}

#[test]
fn every_routine_survives_nan_and_inf_in_every_mode() {
    let tmp = TempDir::new("nonfinite");
    let data = nonfinite_data();
    let registry = Registry::builtin();
    let mut summary = Vec::new();
    for entry in registry.entries() {
        let name = entry.doc.name;
        let text = pipeline_text(&entry.doc);
        let mut outcomes = Vec::new();
        for (mode, sets) in MODES {
            let outcome = run(&tmp.path, &text, sets, &data, &LENGTHS);
            if let Outcome::Refused(message) = &outcome {
                if *mode == "channel groups" && message.contains("chan_per_worker") {
                    continue; // a routine whose channels depend on each other refuses groups
                }
                assert_clear_refusal(&format!("{name} ({mode})"), message, &["trial "]);
            }
            outcomes.push((mode, outcome));
        }
        let (first_mode, first) = &outcomes[0];
        for (mode, outcome) in &outcomes[1..] {
            match (first, outcome) {
                (Outcome::Done { .. }, Outcome::Done { .. }) => {
                    assert!(first == outcome, "{name}: {mode} differs from {first_mode}")
                }
                (Outcome::Refused(_), Outcome::Refused(_)) => {}
                (Outcome::Refused(m), _) | (_, Outcome::Refused(m)) => {
                    panic!(
                        "{name}: one of {first_mode} and {mode} computed, the other refused: {m}"
                    )
                }
            }
        }
        summary.push(format!(
            "{name}: {}",
            match first {
                Outcome::Done { .. } => "computed".to_string(),
                Outcome::Refused(m) => format!("refused ({m})"),
            }
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

/// Trial 0 (clean) gives the same output whatever the other trials hold: nothing leaks
/// between trials (dense outputs, which are stacked in trial order).
#[test]
fn nonfinite_values_do_not_leak_into_other_trials() {
    let tmp = TempDir::new("nonfinite-leak");
    let data = nonfinite_data();
    for entry in Registry::builtin().entries() {
        let text = pipeline_text(&entry.doc);
        let dirty = run(
            &tmp.path,
            &text,
            &["execution.mode=sequential"],
            &data,
            &LENGTHS,
        );
        let Outcome::Done { trial0, .. } = dirty else {
            continue;
        };
        // The same routine with the same trial layout but finite values everywhere (a
        // routine may legitimately depend on every trial's length, as mtmfft's padding and
        // taper count do, but never on another trial's values).
        let clean = data.mapv(|v| if v.is_finite() { v } else { 0.5 });
        let alone = run(
            &tmp.path,
            &text,
            &["execution.mode=sequential"],
            &clean,
            &LENGTHS,
        );
        let Outcome::Done {
            trial0: clean_trial0,
            ..
        } = alone
        else {
            panic!(
                "{}: the finite recording was refused: {alone:?}",
                entry.doc.name
            );
        };
        assert!(
            trial0 == clean_trial0,
            "{}: trial 0's output depends on the other trials",
            entry.doc.name
        );
    }
}

/// The same data through the command line, one run per routine: exit 0, or an exit-1/2 error
/// on one line that names the trial; the input is untouched and no output appears on failure.
#[test]
fn the_command_line_reports_nonfinite_failures_by_trial() {
    let tmp = TempDir::new("nonfinite-cli");
    init();
    let data = nonfinite_data();
    {
        let f = h5_create(tmp.join("in.analog")).unwrap();
        f.new_dataset::<f64>()
            .shape(data.dim())
            .create("data")
            .unwrap()
            .write_raw(data.as_slice().unwrap())
            .unwrap();
        let mut trl = Vec::new();
        let mut start = 0.0;
        for &len in &LENGTHS {
            trl.extend([start, start + len as f64, 0.0]);
            start += len as f64;
        }
        f.new_dataset::<f64>()
            .shape((LENGTHS.len(), 3))
            .create("trialdefinition")
            .unwrap()
            .write_raw(&trl)
            .unwrap();
        f.new_attr::<f64>()
            .create("samplerate")
            .unwrap()
            .write_scalar(&1000.0)
            .unwrap();
    }
    let input = fingerprint(&tmp.join("in.analog"));
    for (i, entry) in Registry::builtin().entries().iter().enumerate() {
        let out = format!("out{i}");
        let steps: String = example_steps(&entry.doc)
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        write_file(
            &tmp.path,
            "p.yaml",
            &format!(
                "input: in.analog\noutput: {out}\nexecution:\n  mode: sequential\nsteps:\n{steps}"
            ),
        );
        let run = trialflow(&tmp.path, &["run", "p.yaml", "-q"]);
        match run.code {
            0 => assert!(tmp.join(format!("{out}.spy")).is_dir()),
            1 | 2 => {
                run.assert_error(run.code, &["trial "]);
                assert!(
                    !tmp.join(format!("{out}.spy")).exists(),
                    "{}",
                    entry.doc.name
                );
            }
            other => panic!("{}: exit {other}: {}", entry.doc.name, run.stderr),
        }
        assert_eq!(
            fingerprint(&tmp.join("in.analog")),
            input,
            "{}",
            entry.doc.name
        );
    }
}

/// Absurd but valid parameters on short trials (3 trials of 40..60 samples, NaN in one):
/// computed, in every mode alike, or refused with one line naming the parameter. The
/// kernels here are a hundred times longer than the trials, but small enough for a debug
/// build; `sigma: 1e9` (8e9 taps) must be refused before anything is allocated. (Kernels near
/// the 10,000,001-tap limit are computed, in O(samples x taps) as SciPy does, which takes
/// minutes: see the report on `sigma: 1e6`.)
#[test]
fn absurd_parameters_are_computed_or_refused_clearly() {
    let tmp = TempDir::new("nonfinite-absurd");
    let lengths = [50, 40, 60];
    let mut data = Array2::from_shape_fn((150, 3), |(i, c)| ((i * (c + 1)) as f64 * 0.3).cos());
    data[[60, 1]] = f64::NAN;
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("gaussian", "sigma: 1e9", Some("sigma")),
        ("gaussian", "sigma: 1e-200", Some("sigma")),
        ("gaussian", "sigma: 1000", None),
        ("gaussian", "sigma: 1\n    radius: 5000\n    mode: wrap", None),
        ("gaussian", "sigma: 1\n    truncate: 1e300", Some("truncate")),
        ("moving_average", "size: 200000\n    mode: mirror", None),
        ("moving_average", "size: 1e12", Some("size")),
        ("median_filter", "size: 10001\n    mode: reflect", None),
        ("median_filter", "size: 10000000000", Some("size")),
        ("savgol", "window_length: 5001\n    polyorder: 3\n    mode: wrap", None),
        ("savgol", "window_length: 200001\n    polyorder: 100\n    mode: nearest", Some("window_length")),
        ("savgol", "window_length: 5\n    polyorder: 2\n    deriv: 1000000", None),
        ("find_peaks", "distance: 1e300\n    wlen: 1e300\n    prominence: 0\n    width: 0", None),
        ("find_peaks", "height: 1e308\n    plateau_size: 1e18", None),
        ("find_peaks_cwt", "widths: [1e9, 1e12]", None),
        ("find_peaks_cwt", "widths: [1, 2, 3]\n    window_size: 1e300", None),
        (
            "find_peaks_cwt",
            "widths: [1, 2, 3]\n    max_distances: 1e300\n    gap_thresh: 1e300\n    min_length: 1e300",
            None,
        ),
    ];
    for (routine, params, refused_naming) in cases {
        let text = format!(
            "input: unused.spy\noutput: unused.spy\nsteps:\n  - routine: {routine}\n    {params}\n"
        );
        let what = format!("{routine} {}", params.replace("\n   ", ","));
        let started = std::time::Instant::now();
        let sequential = run(
            &tmp.path,
            &text,
            &["execution.mode=sequential"],
            &data,
            &lengths,
        );
        let parallel = run(
            &tmp.path,
            &text,
            &["execution.mode=parallel", "execution.workers=2"],
            &data,
            &lengths,
        );
        match (refused_naming, &sequential) {
            (Some(param), Outcome::Refused(message)) => {
                assert_clear_refusal(&what, message, &[param]);
                assert!(
                    matches!(parallel, Outcome::Refused(_)),
                    "{what}: {parallel:?}"
                );
            }
            (None, Outcome::Done { .. }) => {
                assert!(
                    sequential == parallel,
                    "{what}: parallel differs from sequential"
                );
            }
            (_, Outcome::Refused(message)) => panic!("{what}: refused: {message}"),
            (_, Outcome::Done { .. }) => {
                panic!("{what}: computed, but {refused_naming:?} should refuse it")
            }
        }
        eprintln!("{what}: {:?}", started.elapsed());
    }
}
