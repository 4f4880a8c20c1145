//! Which object file a user meant by `CONTAINER.spy[/OBJECT]`.

use std::path::{Path, PathBuf};

use crate::error::StorageError;

/// Resolves `path` to one object's HDF5 file: an object file itself, a container holding
/// exactly one object, or `container.spy/NAME` where NAME is the file name
/// (`out_spectrum.spectral`) or its tag (`spectrum`).
pub fn locate_object(path: &Path) -> Result<PathBuf, StorageError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        let objects = list_objects(path)?;
        return match objects.len() {
            1 => Ok(objects[0].clone()),
            0 => Err(StorageError::format(path, "holds no Syncopy object")),
            _ => Err(StorageError::format(
                path,
                format!(
                    "holds {} objects ({}); name one, e.g. {}/{}",
                    objects.len(),
                    names(&objects).join(", "),
                    path.display(),
                    names(&objects[..1]).join("")
                ),
            )),
        };
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(StorageError::format(path, "does not exist"));
    };
    if !dir.is_dir() {
        return Err(StorageError::format(path, "does not exist"));
    }
    let objects = list_objects(dir)?;
    let base = dir.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let tag_matches =
        |p: &PathBuf| p.file_stem().and_then(|s| s.to_str()) == Some(&format!("{base}_{name}"));
    let found: Vec<&PathBuf> = objects.iter().filter(|p| tag_matches(p)).collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(StorageError::format(
            path,
            format!(
                "is not an object of {}; it holds {}",
                dir.display(),
                if objects.is_empty() {
                    "none".to_string()
                } else {
                    names(&objects).join(", ")
                }
            ),
        )),
    }
}

/// Object files of a container: every file with a `.info` beside it.
fn list_objects(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| StorageError::format(dir, format!("cannot be listed: {e}")))?;
    let mut objects: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| e != "info")
                && PathBuf::from(format!("{}.info", p.display())).is_file()
        })
        .collect();
    objects.sort();
    Ok(objects)
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}
