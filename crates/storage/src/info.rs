//! The `.info` JSON that sits beside every Syncopy object file.
//!
//! Syncopy's loader requires every key written here; it compares `file_checksum` (SHA-1 of
//! the whole HDF5 file) only when asked to (`spy.load(..., checksum=True)`), but we always
//! write the true value so that check passes.

use std::path::Path;

use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use trialflow_core::{DataKind, DataSchema};

use crate::error::StorageError;

/// The Syncopy version whose format we write; `spy.load` accepts files from this version.
pub const SYNCOPY_FORMAT_VERSION: &str = "2023.9";

/// Facts about the HDF5 file that go into `.info`.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub filename: String,
    pub data_dtype: String,
    pub data_shape: Vec<usize>,
    pub data_offset: Option<u64>,
    pub trl_shape: [usize; 2],
    pub checksum: String,
}

/// Builds the `.info` document for an object.
pub fn info_document(
    facts: &FileFacts,
    schema: &DataSchema,
    log: &str,
    cfg: &Value,
    info: &Value,
) -> Value {
    let mut doc = Map::new();
    doc.insert("filename".into(), json!(facts.filename));
    doc.insert("dataclass".into(), json!(schema.kind.class_name()));
    doc.insert("data_dtype".into(), json!(facts.data_dtype));
    doc.insert("data_shape".into(), json!(facts.data_shape));
    doc.insert("data_offset".into(), json!(facts.data_offset));
    doc.insert("trl_dtype".into(), json!("float64"));
    doc.insert("trl_shape".into(), json!(facts.trl_shape));
    doc.insert("trl_offset".into(), Value::Null);
    doc.insert("file_checksum".into(), json!(facts.checksum));
    doc.insert("order".into(), json!("C"));
    doc.insert("checksum_algorithm".into(), json!("openssl_sha1"));
    doc.insert("dimord".into(), json!(schema.kind.dimord()));
    doc.insert("_version".into(), json!(SYNCOPY_FORMAT_VERSION));
    doc.insert("_log".into(), json!(log));
    doc.insert("cfg".into(), cfg.clone());
    doc.insert("info".into(), info.clone());
    doc.insert("samplerate".into(), json!(schema.samplerate));
    // CrossSpectralData has no `channel` property: Syncopy's loader sets every key it finds.
    if schema.kind != DataKind::CrossSpectral {
        doc.insert("channel".into(), json!(schema.channels));
    }
    match schema.kind {
        DataKind::Spectral => {
            doc.insert(
                "taper".into(),
                json!(schema.taper.clone().unwrap_or_default()),
            );
            doc.insert(
                "freq".into(),
                json!(schema.freq.clone().unwrap_or_default()),
            );
        }
        DataKind::Spike => {
            doc.insert(
                "unit".into(),
                json!(schema.units.clone().unwrap_or_default()),
            );
        }
        DataKind::CrossSpectral => {
            doc.insert("channel_i".into(), json!(schema.channels));
            doc.insert(
                "channel_j".into(),
                json!(schema.channels_j.clone().unwrap_or_default()),
            );
            doc.insert(
                "freq".into(),
                json!(schema.freq.clone().unwrap_or_default()),
            );
        }
        DataKind::Analog | DataKind::TimeLock => {}
    }
    // TimeLockData's extra datasets (`writer/timelock.rs`); Syncopy sets a listed dataset
    // the file does not hold (`cov` without covariance) to None.
    let datasets: &[&str] = match schema.kind {
        DataKind::TimeLock => &crate::writer::TIMELOCK_DATASETS,
        _ => &["data"],
    };
    doc.insert("_hdfFileDatasetProperties".into(), json!(datasets));
    Value::Object(doc)
}

/// SHA-1 of a file's bytes, hex-encoded, as Syncopy's `openssl_sha1` checksum.
pub fn file_sha1(path: &Path) -> Result<String, StorageError> {
    let file = std::fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
    let len = file
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    let mut hasher = Sha1::new();
    hash_range(&mut hasher, &mut vec![0u8; 1 << 20], &file, path, 0, len)?;
    Ok(sha1_hex(hasher))
}

/// Hashes bytes `from..to` of `file` (at `path`, for errors) through `buf`.
pub(crate) fn hash_range(
    hasher: &mut Sha1,
    buf: &mut [u8],
    file: &std::fs::File,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<(), StorageError> {
    use std::os::unix::fs::FileExt;
    let mut at = from;
    while at < to {
        let n = (to - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)
            .map_err(|e| StorageError::io(path, e))?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

/// The digest as `.info` writes it: lower-case hex, as Python's `hexdigest`.
pub(crate) fn sha1_hex(hasher: Sha1) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads an `.info` file if it exists.
pub fn read_info(path: &Path) -> Result<Option<Map<String, Value>>, StorageError> {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(StorageError::format(path, "is not a JSON object")),
            Err(e) => Err(StorageError::format(
                path,
                format!("is not valid JSON: {e}"),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(path, e)),
    }
}
