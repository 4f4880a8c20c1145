//! Validation of a [`PipelineDocument`] into a [`CheckedPipeline`]: every key is checked,
//! `execution` becomes [`ExecutionOptions`] and every step is built through the registry, with
//! messages that name the offending key.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use trialflow_core::engine::OnError;
use trialflow_core::{DType, ExecutionMode, ExecutionOptions, Pipeline, Step};

use crate::document::PipelineDocument;
use crate::error::PipelineError;
use crate::input::InputSpec;
use crate::registry::Registry;
use crate::select::Selection;
use crate::trials::TrialsSection;

const TOP_KEYS: &[&str] = &[
    "input",
    "output",
    "overwrite",
    "trials",
    "select",
    "execution",
    "steps",
];
const EXECUTION_KEYS: &[&str] = &[
    "mode",
    "workers",
    "chan_per_worker",
    "parallel_store",
    "keeptrials",
    "mem_thresh",
    "on_error",
    "chunk_samples",
    "durable",
];
const STEP_KEYS: &[&str] = &["routine", "name", "save", "dtype"];

/// A pipeline after validation: only validated routines exist in it.
#[derive(Debug)]
pub struct CheckedPipeline {
    pub input: InputSpec,
    /// Trials cut from a continuous recording, replacing the input's own definition.
    pub trials: Option<TrialsSection>,
    /// Trials, channels and a latency window to keep (Syncopy's `selectdata`).
    pub select: Option<Selection>,
    pub output: PathBuf,
    pub overwrite: bool,
    pub pipeline: Pipeline,
}

pub(crate) fn check_document(
    document: &PipelineDocument,
    registry: &Registry,
) -> Result<CheckedPipeline, PipelineError> {
    let Value::Object(top) = document.tree() else {
        return Err(PipelineError::user(format!(
            "{}: a pipeline must be a mapping with keys {}",
            document.origin(),
            TOP_KEYS.join(", ")
        )));
    };
    check_keys(top, TOP_KEYS, "")?;

    let input = InputSpec::parse(top.get("input").unwrap_or(&Value::Null), |p| {
        resolve(document.base(), p)
    })?;
    let trials = match top.get("trials") {
        None | Some(Value::Null) => None,
        Some(v) => Some(TrialsSection::parse(v, document.base())?),
    };
    let select = match top.get("select") {
        None | Some(Value::Null) => None,
        Some(v) => Some(Selection::parse(v)?),
    };
    let output: String = required(top, "output")?;
    let overwrite: bool = optional(top, "overwrite")?.unwrap_or(false);
    let execution = parse_execution(top.get("execution"))?;
    let steps_value = top
        .get("steps")
        .ok_or_else(|| PipelineError::user("missing key `steps` (the list of routines to run)"))?;
    let Value::Array(raw_steps) = steps_value else {
        return Err(PipelineError::user("`steps` must be a list of steps"));
    };
    if raw_steps.is_empty() {
        return Err(PipelineError::user(
            "`steps` is empty: a pipeline needs at least one step",
        ));
    }
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, raw) in raw_steps.iter().enumerate() {
        steps.push(parse_step(i, raw, registry)?);
    }
    Ok(CheckedPipeline {
        input,
        trials,
        select,
        output: resolve(document.base(), &output),
        overwrite,
        pipeline: Pipeline::new(steps, execution),
    })
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn check_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), PipelineError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(PipelineError::user(format!(
                "unknown key `{prefix}{key}`; expected one of: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T, PipelineError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        PipelineError::user(format!(
            "`{key}`: {}",
            e.to_string().replace(" at line 0 column 0", "")
        ))
    })
}

fn required<T: DeserializeOwned>(map: &Map<String, Value>, key: &str) -> Result<T, PipelineError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(PipelineError::user(format!("missing key `{key}`"))),
        Some(v) => typed(v, key),
    }
}

fn optional<T: DeserializeOwned>(
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, PipelineError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => typed(v, key).map(Some),
    }
}

fn parse_execution(value: Option<&Value>) -> Result<ExecutionOptions, PipelineError> {
    let mut options = ExecutionOptions::default();
    let map = match value {
        None | Some(Value::Null) => return Ok(options),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(PipelineError::user("`execution` must be a mapping")),
    };
    check_keys(map, EXECUTION_KEYS, "execution.")?;
    let sub = |key: &str| format!("execution.{key}");
    if let Some(mode) = map.get("mode").filter(|v| !v.is_null()) {
        options.mode = match mode.as_str() {
            Some("sequential") => ExecutionMode::Sequential,
            Some("parallel") => ExecutionMode::Parallel,
            Some("debug") => ExecutionMode::Debug,
            Some("mpi") => ExecutionMode::Mpi,
            _ => {
                return Err(PipelineError::user(format!(
                    "`execution.mode`: expected sequential, parallel, debug or mpi, got {mode}"
                )))
            }
        };
    }
    if let Some(v) = map.get("on_error").filter(|v| !v.is_null()) {
        options.on_error = match v.as_str() {
            Some("stop") => OnError::Stop,
            Some("continue") => OnError::Continue,
            _ => {
                return Err(PipelineError::user(format!(
                    "`execution.on_error`: expected stop or continue, got {v}"
                )))
            }
        };
    }
    if let Some(v) = map.get("workers").filter(|v| !v.is_null()) {
        options.workers = Some(typed(v, &sub("workers"))?);
    }
    if let Some(v) = map.get("chan_per_worker").filter(|v| !v.is_null()) {
        options.chan_per_worker = Some(typed(v, &sub("chan_per_worker"))?);
    }
    if let Some(v) = map.get("chunk_samples").filter(|v| !v.is_null()) {
        options.chunk_samples = Some(typed(v, &sub("chunk_samples"))?);
    }
    if let Some(v) = map.get("parallel_store").filter(|v| !v.is_null()) {
        options.parallel_store = Some(typed(v, &sub("parallel_store"))?);
    }
    if let Some(v) = map.get("keeptrials").filter(|v| !v.is_null()) {
        options.keeptrials = typed(v, &sub("keeptrials"))?;
    }
    if let Some(v) = map.get("mem_thresh").filter(|v| !v.is_null()) {
        options.mem_thresh = typed(v, &sub("mem_thresh"))?;
    }
    if let Some(v) = map.get("durable").filter(|v| !v.is_null()) {
        options.durable = typed(v, &sub("durable"))?;
    }
    options.validate().map_err(PipelineError::from)?;
    Ok(options)
}

fn parse_step(index: usize, raw: &Value, registry: &Registry) -> Result<Step, PipelineError> {
    let at = format!("steps[{index}]");
    let Value::Object(map) = raw else {
        return Err(PipelineError::user(format!(
            "{at}: a step must be a mapping with a `routine` key"
        )));
    };
    let routine: String = match map.get("routine") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(PipelineError::user(format!(
                "{at}.routine: expected a routine name, got {other}"
            )))
        }
        None => return Err(PipelineError::user(format!("{at}: missing key `routine`"))),
    };
    let mut params = Map::new();
    for (key, value) in map {
        if !STEP_KEYS.contains(&key.as_str()) {
            params.insert(key.clone(), value.clone());
        }
    }
    let built = registry.build(&routine, params).map_err(|e| {
        let message = e.to_string();
        PipelineError::user(if message.starts_with("unknown routine") {
            format!("{at}: {message}")
        } else {
            format!("{at} ({routine}): {message}")
        })
    })?;
    let name = match map.get("name") {
        Some(v) if !v.is_null() => typed::<String>(v, &format!("{at}.name"))?,
        _ => routine.clone(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(PipelineError::user(format!(
            "{at}.name: '{name}' must be non-empty and use only letters, digits, '_' and '-' (it becomes a file name)"
        )));
    }
    let save = match map.get("save") {
        Some(v) if !v.is_null() => typed::<bool>(v, &format!("{at}.save"))?,
        _ => false,
    };
    let dtype = match map.get("dtype") {
        Some(Value::String(s)) => Some(DType::parse(s).ok_or_else(|| {
            PipelineError::user(format!(
                "{at}.dtype: expected float32 or float64, got '{s}'"
            ))
        })?),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(PipelineError::user(format!(
                "{at}.dtype: expected float32 or float64, got {other}"
            )))
        }
    };
    Ok(Step {
        routine: built,
        name,
        save,
        dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, sets: &[&str]) -> Result<CheckedPipeline, PipelineError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        PipelineDocument::from_yaml(text, "p.yaml", Path::new("/base"))?
            .with_sets(&sets)?
            .check(&Registry::builtin())
    }

    const OK: &str = "input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: constant\n  - routine: zscore\n";

    #[test]
    fn parses_steps_and_resolves_paths() {
        let c = parse(OK, &[]).unwrap();
        assert_eq!(c.input.path, PathBuf::from("/base/in.spy"));
        assert_eq!(c.pipeline.steps.len(), 2);
        assert_eq!(c.pipeline.steps[1].name, "zscore");
    }

    #[test]
    fn set_overrides_values() {
        let c = parse(OK, &["execution.workers=3", "steps.0.name=flat"]).unwrap();
        assert_eq!(c.pipeline.execution.workers, Some(3));
        assert_eq!(c.pipeline.steps[0].name, "flat");
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(OK, &["execution.wokers=3"]).unwrap_err();
        assert!(e.message.contains("execution.wokers"), "{}", e.message);
        let e = parse(OK, &["execution.workers=two"]).unwrap_err();
        assert!(e.message.contains("execution.workers"), "{}", e.message);
        let e = parse(OK, &["steps.0.typ=linear"]).unwrap_err();
        assert!(
            e.message.contains("steps[0] (detrend)") && e.message.contains("typ"),
            "{}",
            e.message
        );
        let e = parse("input: [1, 2\n", &[]).unwrap_err();
        assert!(e.message.contains("line 1 column"), "{}", e.message);
        let e = parse(OK, &["steps.5.type=x"]).unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
    }
}
