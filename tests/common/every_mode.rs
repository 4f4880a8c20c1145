//! Running routines in memory in every execution mode: the parity tests build a recording
//! from a reference input, run one pipeline sequentially, in parallel and with channel
//! groups, and require the same bits (and schema) from each before comparing with the
//! reference. Written once here so every parity test checks the same modes the same way.

use ndarray::ArrayD;
use serde_json::Value;
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::prelude::*;
use trialflow::Registry;

use super::reference::{array, number, trials};

/// A reference input (`data` as (samples, channels), `trials`, `samplerate`) as an in-memory
/// recording whose samples are stored as `dtype`.
pub fn recording(input: &Value, dtype: DType) -> InMemoryRecording {
    let data = array(&input["data"]).into_dimensionality().unwrap();
    InMemoryRecording::new(
        data,
        number(&input["samplerate"]),
        TrialDefinition::from_trials(&trials(input), &[]),
    )
    .unwrap()
    .with_dtype(dtype)
}

/// A built-in routine with `params` (a JSON object) as an unsaved step called `name`.
pub fn step(routine: &str, params: &Value, name: &str) -> Step {
    let built = Registry::builtin()
        .build(routine, params.as_object().unwrap().clone())
        .unwrap_or_else(|e| panic!("{routine} {params}: {e}"));
    Step {
        routine: built,
        name: name.into(),
        save: false,
        dtype: None,
    }
}

/// Runs `steps` over a copy of `source`; returns the data and schema of the object `out`.
pub fn run_steps(
    steps: Vec<Step>,
    out: &str,
    source: &InMemoryRecording,
    mode: ExecutionOptions,
) -> Result<(ArrayD<f64>, DataSchema), Error> {
    let mut sink = MemorySink::new();
    run_pipeline(
        &Pipeline::new(steps, mode),
        &mut source.clone(),
        &mut sink,
        None,
    )?;
    let object = sink.object(out).unwrap();
    let schema = object.metadata.as_ref().unwrap().schema.clone();
    Ok((object.data.clone().unwrap(), schema))
}

/// Runs one built-in routine over `source`; returns the stored data and the output schema.
pub fn run_step(
    routine: &str,
    params: &Value,
    source: &InMemoryRecording,
    mode: ExecutionOptions,
) -> Result<(ArrayD<f64>, DataSchema), Error> {
    run_steps(vec![step(routine, params, "out")], "out", source, mode)
}

/// The bit patterns of an array, for exact comparisons that also tell NaN payloads apart.
pub fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// The in-memory execution modes: sequential, two workers, two workers with one channel per
/// task, and sequential with `group` channels per task.
pub fn modes(group: usize) -> Vec<(String, ExecutionOptions)> {
    vec![
        ("sequential".into(), ExecutionOptions::sequential()),
        ("parallel(2)".into(), ExecutionOptions::parallel(2)),
        (
            "parallel(2), chan_per_worker 1".into(),
            ExecutionOptions {
                chan_per_worker: Some(1),
                ..ExecutionOptions::parallel(2)
            },
        ),
        (
            format!("sequential, chan_per_worker {group}"),
            ExecutionOptions {
                chan_per_worker: Some(group),
                ..ExecutionOptions::sequential()
            },
        ),
    ]
}

/// [`modes`] with `keeptrials` set in each.
pub fn modes_keeptrials(group: usize, keeptrials: bool) -> Vec<(String, ExecutionOptions)> {
    modes(group)
        .into_iter()
        .map(|(label, mut mode)| {
            mode.keeptrials = keeptrials;
            (label, mode)
        })
        .collect()
}

/// Runs `run` in each of `modes`, requires every mode to give the first one's bits and
/// schema, and returns the first (sequential) result. `name` labels the failures.
pub fn run_all_modes(
    name: &str,
    modes: Vec<(String, ExecutionOptions)>,
    mut run: impl FnMut(ExecutionOptions) -> Result<(ArrayD<f64>, DataSchema), Error>,
) -> (ArrayD<f64>, DataSchema) {
    let mut first: Option<(ArrayD<f64>, DataSchema)> = None;
    for (label, mode) in modes {
        let (data, schema) = run(mode).unwrap_or_else(|e| panic!("{name} ({label}): {e}"));
        match &first {
            None => first = Some((data, schema)),
            Some((d, s)) => {
                assert_eq!(
                    bits(d),
                    bits(&data),
                    "{name}: {label} differs from sequential"
                );
                assert_eq!(s, &schema, "{name}: {label} schema");
            }
        }
    }
    first.unwrap()
}

/// Requires `bits_in` (the bits of a result computed in the given mode) to give, in each
/// of `modes`, the first mode's bits. `name` labels the failures.
pub fn assert_same_bits(
    name: &str,
    modes: Vec<(String, ExecutionOptions)>,
    mut bits_in: impl FnMut(ExecutionOptions) -> Vec<u64>,
) {
    let mut first: Option<Vec<u64>> = None;
    for (label, mode) in modes {
        let got = bits_in(mode);
        match &first {
            None => first = Some(got),
            Some(want) => assert!(*want == got, "{name}: {label} differs from sequential"),
        }
    }
}
