//! The YAML pipeline file: parsed into a plain value tree (so `--set` can edit it), then
//! checked key by key into a [`Pipeline`], with messages that name the offending key.
//!
//! Relative `input` and `output` paths are resolved against the pipeline file's folder, so a
//! pipeline means the same thing whatever folder it is launched from (a SLURM job's, say).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use trialflow_core::engine::OnError;
use trialflow_core::{DType, ExecutionMode, ExecutionOptions, Pipeline, Step};
use trialflow_routines::Registry;

use crate::failure::CliError;

const TOP_KEYS: &[&str] = &["input", "output", "overwrite", "execution", "steps"];
const EXECUTION_KEYS: &[&str] = &[
    "mode",
    "workers",
    "chan_per_worker",
    "parallel_store",
    "keeptrials",
    "mem_thresh",
    "on_error",
];
const STEP_KEYS: &[&str] = &["routine", "name", "save", "dtype"];
/// Deepest `--set` key path accepted (`steps.0.height.1` has 4 parts).
const MAX_SET_DEPTH: usize = 16;

/// A pipeline file after validation.
#[derive(Debug)]
pub struct PipelineConfig {
    pub input: PathBuf,
    pub output: PathBuf,
    pub overwrite: bool,
    pub pipeline: Pipeline,
}

/// Reads, edits (`--set`) and validates a pipeline file.
pub fn load_pipeline(
    path: &Path,
    sets: &[String],
    registry: &Registry,
) -> Result<PipelineConfig, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::user(format!(
            "{}: cannot be read: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse_pipeline(&text, &path.display().to_string(), base, sets, registry)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parses pipeline text; `name` is used in messages, `base` resolves relative paths.
pub fn parse_pipeline(
    text: &str,
    name: &str,
    base: &Path,
    sets: &[String],
    registry: &Registry,
) -> Result<PipelineConfig, CliError> {
    let mut doc: Value = serde_saphyr::from_str(text).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        CliError::user(format!(
            "{name}: invalid YAML: {}",
            explain_budget(first.trim_start_matches("error: "))
        ))
    })?;
    for set in sets {
        apply_set(&mut doc, set)?;
    }
    let Value::Object(top) = doc else {
        return Err(CliError::user(format!(
            "{name}: a pipeline must be a mapping with keys {}",
            TOP_KEYS.join(", ")
        )));
    };
    check_keys(&top, TOP_KEYS, "")?;

    let input: String = required(&top, "input")?;
    let output: String = required(&top, "output")?;
    let overwrite: bool = optional(&top, "overwrite")?.unwrap_or(false);
    let execution = parse_execution(top.get("execution"))?;
    let steps_value = top
        .get("steps")
        .ok_or_else(|| CliError::user("missing key `steps` (the list of routines to run)"))?;
    let Value::Array(raw_steps) = steps_value else {
        return Err(CliError::user("`steps` must be a list of steps"));
    };
    if raw_steps.is_empty() {
        return Err(CliError::user(
            "`steps` is empty: a pipeline needs at least one step",
        ));
    }
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, raw) in raw_steps.iter().enumerate() {
        steps.push(parse_step(i, raw, registry)?);
    }
    Ok(PipelineConfig {
        input: resolve(base, &input),
        output: resolve(base, &output),
        overwrite,
        pipeline: Pipeline::new(steps, execution),
    })
}

/// serde-saphyr guards against documents nested too deeply or expanding too far (alias
/// bombs) and reports it as `budget breached: Depth { depth: 65 }`; say it in words.
fn explain_budget(message: &str) -> String {
    let Some(at) = message.find("budget breached: ") else {
        return message.to_string();
    };
    let what = &message[at + "budget breached: ".len()..];
    let words = if what.starts_with("Depth") {
        "the document is nested too deeply (a pipeline needs a few levels)".to_string()
    } else if what.starts_with("Nodes") || what.starts_with("Alias") {
        "the document expands to too many values (aliases?)".to_string()
    } else {
        format!("the document is too large ({what})")
    };
    format!("{}{words}", &message[..at])
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn check_keys(map: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), CliError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(CliError::user(format!(
                "unknown key `{prefix}{key}`; expected one of: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T, CliError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        CliError::user(format!(
            "`{key}`: {}",
            e.to_string().replace(" at line 0 column 0", "")
        ))
    })
}

fn required<T: DeserializeOwned>(map: &Map<String, Value>, key: &str) -> Result<T, CliError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(CliError::user(format!("missing key `{key}`"))),
        Some(v) => typed(v, key),
    }
}

fn optional<T: DeserializeOwned>(
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, CliError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => typed(v, key).map(Some),
    }
}

fn parse_execution(value: Option<&Value>) -> Result<ExecutionOptions, CliError> {
    let mut options = ExecutionOptions::default();
    let map = match value {
        None | Some(Value::Null) => return Ok(options),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(CliError::user("`execution` must be a mapping")),
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
                return Err(CliError::user(format!(
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
                return Err(CliError::user(format!(
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
    if let Some(v) = map.get("parallel_store").filter(|v| !v.is_null()) {
        options.parallel_store = Some(typed(v, &sub("parallel_store"))?);
    }
    if let Some(v) = map.get("keeptrials").filter(|v| !v.is_null()) {
        options.keeptrials = typed(v, &sub("keeptrials"))?;
    }
    if let Some(v) = map.get("mem_thresh").filter(|v| !v.is_null()) {
        options.mem_thresh = typed(v, &sub("mem_thresh"))?;
    }
    options.validate().map_err(CliError::from)?;
    Ok(options)
}

fn parse_step(index: usize, raw: &Value, registry: &Registry) -> Result<Step, CliError> {
    let at = format!("steps[{index}]");
    let Value::Object(map) = raw else {
        return Err(CliError::user(format!(
            "{at}: a step must be a mapping with a `routine` key"
        )));
    };
    let routine: String = match map.get("routine") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(CliError::user(format!(
                "{at}.routine: expected a routine name, got {other}"
            )))
        }
        None => return Err(CliError::user(format!("{at}: missing key `routine`"))),
    };
    let mut params = Map::new();
    for (key, value) in map {
        if !STEP_KEYS.contains(&key.as_str()) {
            params.insert(key.clone(), value.clone());
        }
    }
    let built = registry.build(&routine, params).map_err(|e| {
        let message = e.to_string();
        CliError::user(if message.starts_with("unknown routine") {
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
        return Err(CliError::user(format!(
            "{at}.name: '{name}' must be non-empty and use only letters, digits, '_' and '-' (it becomes a file name)"
        )));
    }
    let save = match map.get("save") {
        Some(v) if !v.is_null() => typed::<bool>(v, &format!("{at}.save"))?,
        _ => false,
    };
    let dtype = match map.get("dtype") {
        Some(Value::String(s)) => Some(DType::parse(s).ok_or_else(|| {
            CliError::user(format!(
                "{at}.dtype: expected float32 or float64, got '{s}'"
            ))
        })?),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(CliError::user(format!(
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

/// Applies `key.path=value`: the value is read as YAML (so numbers, booleans, `null` and
/// lists work); list elements are addressed by index (`steps.0.type=constant`).
fn apply_set(doc: &mut Value, set: &str) -> Result<(), CliError> {
    let (path, raw) = set
        .split_once('=')
        .ok_or_else(|| CliError::user(format!("--set {set}: expected KEY.PATH=VALUE")))?;
    if path.is_empty() {
        return Err(CliError::user(format!(
            "--set {set}: the key path is empty"
        )));
    }
    let value: Value = if raw.is_empty() {
        Value::String(String::new())
    } else {
        serde_saphyr::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
    };
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() > MAX_SET_DEPTH {
        // A pipeline is a few levels deep; a path of thousands of keys would build a value
        // tree deep enough to overflow the stack when it is dropped.
        return Err(CliError::user(format!(
            "--set {}...: the key path has {} parts; at most {MAX_SET_DEPTH} are accepted",
            set.chars().take(40).collect::<String>(),
            parts.len()
        )));
    }
    let mut node = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let so_far = parts[..=i].join(".");
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
        node = match node {
            Value::Object(map) => {
                if last {
                    map.insert(part.to_string(), value);
                    return Ok(());
                }
                map.entry(part.to_string()).or_insert(Value::Null)
            }
            Value::Array(items) => {
                let index: usize = part.parse().map_err(|_| {
                    CliError::user(format!("--set {set}: `{so_far}`: expected a list index"))
                })?;
                let len = items.len();
                let slot = items.get_mut(index).ok_or_else(|| {
                    CliError::user(format!(
                        "--set {set}: `{so_far}`: index {index} is out of range (the list has {len} entries)"
                    ))
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(CliError::user(format!(
                    "--set {set}: `{}` is not a mapping or list",
                    parts[..i].join(".")
                )))
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, sets: &[&str]) -> Result<PipelineConfig, CliError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        parse_pipeline(
            text,
            "p.yaml",
            Path::new("/base"),
            &sets,
            &Registry::builtin(),
        )
    }

    const OK: &str = "input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: constant\n  - routine: zscore\n";

    #[test]
    fn parses_steps_and_resolves_paths() {
        let c = parse(OK, &[]).unwrap();
        assert_eq!(c.input, PathBuf::from("/base/in.spy"));
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
