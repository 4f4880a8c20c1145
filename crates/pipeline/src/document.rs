//! The pipeline document: what a user wrote (a YAML file, YAML text, or a value tree such as
//! a Python dict), before validation. It stays a plain value tree so `--set` edits apply to
//! any key, and is checked into a [`CheckedPipeline`](crate::CheckedPipeline) only once,
//! by [`PipelineDocument::check`], whichever front end built it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::check::check_document;
use crate::error::PipelineError;
use crate::registry::Registry;
use crate::CheckedPipeline;

/// Deepest `--set` key path accepted (`steps.0.height.1` has 4 parts).
const MAX_SET_DEPTH: usize = 16;

/// A pipeline as written, not yet validated.
#[derive(Debug, Clone)]
pub struct PipelineDocument {
    tree: Value,
    /// What messages call the document: the file's path, or `pipeline` for text and values.
    origin: String,
    /// The folder relative `input` and `output` paths are resolved against: the pipeline
    /// file's, so a pipeline means the same thing whatever folder it is launched from (a
    /// SLURM job's, say).
    base: PathBuf,
}

impl PipelineDocument {
    /// Reads a pipeline file.
    pub fn from_file(path: &Path) -> Result<PipelineDocument, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PipelineError::user(format!(
                "{}: cannot be read: {}",
                path.display(),
                io_reason(&e)
            ))
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        PipelineDocument::from_yaml(&text, &path.display().to_string(), base)
    }

    /// Parses YAML text; `origin` names it in messages and `base` resolves relative paths.
    pub fn from_yaml(
        text: &str,
        origin: &str,
        base: &Path,
    ) -> Result<PipelineDocument, PipelineError> {
        let tree: Value = serde_saphyr::from_str(text).map_err(|e| {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            PipelineError::user(format!(
                "{origin}: invalid YAML: {}",
                explain_budget(first.trim_start_matches("error: "))
            ))
        })?;
        Ok(PipelineDocument {
            tree,
            origin: origin.to_string(),
            base: base.to_path_buf(),
        })
    }

    /// A value tree with the YAML's structure (what the Python bindings build from a dict).
    pub fn from_value(tree: Value, base: &Path) -> PipelineDocument {
        PipelineDocument {
            tree,
            origin: "pipeline".to_string(),
            base: base.to_path_buf(),
        }
    }

    /// Applies one `key.path=value` edit: the value is read as YAML (so numbers, booleans,
    /// `null` and lists work); list elements are addressed by index (`steps.0.type=constant`).
    pub fn set(&mut self, edit: &str) -> Result<(), PipelineError> {
        apply_set(&mut self.tree, edit)
    }

    /// Applies `--set` edits in order.
    pub fn with_sets(mut self, edits: &[String]) -> Result<PipelineDocument, PipelineError> {
        for edit in edits {
            self.set(edit)?;
        }
        Ok(self)
    }

    /// The value tree, as edited so far.
    pub fn tree(&self) -> &Value {
        &self.tree
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Validates every key and builds every step through `registry`.
    pub fn check(&self, registry: &Registry) -> Result<CheckedPipeline, PipelineError> {
        check_document(self, registry)
    }
}

/// Reads, edits (`--set`) and validates a pipeline file: what `trialflow run` does first.
pub fn load_pipeline(
    path: &Path,
    sets: &[String],
    registry: &Registry,
) -> Result<CheckedPipeline, PipelineError> {
    PipelineDocument::from_file(path)?
        .with_sets(sets)?
        .check(registry)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
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

fn apply_set(doc: &mut Value, set: &str) -> Result<(), PipelineError> {
    let (path, raw) = set
        .split_once('=')
        .ok_or_else(|| PipelineError::user(format!("--set {set}: expected KEY.PATH=VALUE")))?;
    if path.is_empty() {
        return Err(PipelineError::user(format!(
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
        return Err(PipelineError::user(format!(
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
                    PipelineError::user(format!("--set {set}: `{so_far}`: expected a list index"))
                })?;
                let len = items.len();
                let slot = items.get_mut(index).ok_or_else(|| {
                    PipelineError::user(format!(
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
                return Err(PipelineError::user(format!(
                    "--set {set}: `{}` is not a mapping or list",
                    parts[..i].join(".")
                )))
            }
        };
    }
    Ok(())
}
