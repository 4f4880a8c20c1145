//! What identifies an input file's contents for `--resume` and shard merging.

use std::path::Path;

use serde_json::{json, Value};

/// The file's absolute path, size and modification time: a changed or replaced input is
/// never mixed with results computed from the old one.
pub fn file_identity(path: &Path) -> Value {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string());
    json!({
        "path": absolute.display().to_string(),
        "bytes": meta.map(|m| m.len()),
        "modified_ns": modified,
    })
}
