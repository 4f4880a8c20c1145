//! Where objects live: a `.spy` container folder holds `<base>_<tag>.<ext>` files, each with
//! a `.info` JSON beside it.

use std::path::{Path, PathBuf};

use trialflow_core::DataKind;

use crate::error::StorageError;

/// Resolves what a user wrote as `input:` to the HDF5 file of one AnalogData object: a
/// `.analog` file, or a `.spy` container that holds exactly one.
pub fn resolve_input(path: &Path) -> Result<PathBuf, StorageError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StorageError::format(path, "does not exist")
        } else {
            StorageError::format(path, format!("cannot be read: {e}"))
        }
    })?;
    if meta.is_file() {
        return Ok(path.to_path_buf());
    }
    let mut analog = Vec::new();
    let entries = std::fs::read_dir(path)
        .map_err(|e| StorageError::format(path, format!("cannot be listed: {e}")))?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("analog") {
            analog.push(p);
        }
    }
    analog.sort();
    match analog.len() {
        1 => Ok(analog.remove(0)),
        0 => Err(StorageError::format(
            path,
            "holds no AnalogData object (no .analog file)",
        )),
        n => Err(StorageError::format(
            path,
            format!(
                "holds {n} AnalogData objects ({}); name one of them as the input",
                analog
                    .iter()
                    .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// An output container: `<dir>/<base>.spy/` holding `<base>_<tag>.<ext>` objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPath {
    /// The final folder, e.g. `results.spy`.
    pub dir: PathBuf,
    /// The base name objects are prefixed with, e.g. `results`.
    pub base: String,
}

impl ContainerPath {
    /// Interprets an output path; a missing `.spy` extension is added, as Syncopy does.
    pub fn new(path: &Path) -> Result<ContainerPath, StorageError> {
        let mut dir = path.to_path_buf();
        if dir.extension().and_then(|e| e.to_str()) != Some("spy") {
            let mut name = dir
                .file_name()
                .map(|n| n.to_os_string())
                .ok_or_else(|| StorageError::output(path, "is not a usable output name"))?;
            name.push(".spy");
            dir.set_file_name(name);
        }
        let base = dir
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| StorageError::output(path, "is not a usable output name"))?
            .to_string();
        Ok(ContainerPath { dir, base })
    }

    /// The object's file name inside the container, `<base>_<tag>.<ext>`.
    pub fn object_file_name(&self, tag: &str, kind: DataKind) -> String {
        format!("{}_{}.{}", self.base, tag, kind.extension())
    }

    /// The folder holding per-task source files of an object's virtual dataset, relative to
    /// the container (kept inside it so moving the container keeps them together).
    pub fn parts_dir_name(&self, tag: &str) -> String {
        format!("{}_{}.parts", self.base, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_spy_extension_and_names_objects() {
        let c = ContainerPath::new(Path::new("out/results")).unwrap();
        assert_eq!(c.dir, PathBuf::from("out/results.spy"));
        assert_eq!(
            c.object_file_name("zscore", DataKind::Analog),
            "results_zscore.analog"
        );
    }
}
