//! An HDF5 file that shows up under its name only when it is complete: it is written as
//! `<name>.partial` (created without file locking, like every file here, `hdf5_util.rs`)
//! and renamed when closed. Whoever finds `<name>` therefore finds a whole file. Syncing is
//! separate ([`sync_file`], [`sync_dir`], [`TaskFile::sync`]), so a writer can make a batch
//! of files durable at once and then name them in a journal line (`journal.rs`), as the
//! engine does at its checkpoints. The parallel map writes each task's result file, its
//! container and its single-file layout this way.

use std::path::{Path, PathBuf};

use crate::error::StorageError;
use crate::hdf5_util::{create_file, one_line, open_rw};

/// A file being written under its partial name.
#[derive(Debug)]
pub struct TaskFile {
    file: hdf5::File,
    partial: PathBuf,
    path: PathBuf,
}

/// Where `path` is written until it is published: `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

impl TaskFile {
    /// Creates (truncating) `<path>.partial`.
    pub fn create(path: &Path) -> Result<TaskFile, StorageError> {
        let partial = partial_path(path);
        let file = create_file(&partial)
            .map_err(|e| StorageError::io(&partial, format!("creating: {}", one_line(&e))))?;
        Ok(TaskFile {
            file,
            partial,
            path: path.to_path_buf(),
        })
    }

    /// Reopens an earlier run's `<path>.partial` for writing (to resume it).
    pub fn reopen(path: &Path) -> Result<TaskFile, StorageError> {
        let partial = partial_path(path);
        let file = open_rw(&partial)
            .map_err(|e| StorageError::io(&partial, format!("unreadable ({})", one_line(&e))))?;
        Ok(TaskFile {
            file,
            partial,
            path: path.to_path_buf(),
        })
    }

    pub fn file(&self) -> &hdf5::File {
        &self.file
    }

    /// The name it is written under.
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// Makes what was written so far durable: HDF5's buffers, then the file's data.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.file
            .flush()
            .map_err(|e| StorageError::io(&self.partial, one_line(&e)))?;
        sync_file(&self.partial)
    }

    /// Closes the file and renames it to its final name (durable once [`sync_file`] of that
    /// name and [`sync_dir`] of its folder returned).
    pub fn publish(self) -> Result<(), StorageError> {
        let TaskFile {
            file,
            partial,
            path,
        } = self;
        file.close()
            .map_err(|e| StorageError::io(&partial, format!("closing: {}", one_line(&e))))?;
        std::fs::rename(&partial, &path)
            .map_err(|e| StorageError::io(&partial, format!("renaming to {}: {e}", path.display())))
    }
}

/// Syncs a closed file's data to disk.
pub fn sync_file(path: &Path) -> Result<(), StorageError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_data())
        .map_err(|e| StorageError::io(path, e))
}

/// Syncs a folder, so that files created or renamed in it survive a power loss.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_under_its_name_only_when_published() {
        let dir = std::env::temp_dir().join(format!("trialflow-task-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t_3.h5");
        let task = TaskFile::create(&path).unwrap();
        task.file()
            .new_dataset::<f64>()
            .shape(2)
            .create("x")
            .unwrap()
            .write(&[1.5, -2.0])
            .unwrap();
        task.sync().unwrap();
        assert!(!path.exists());
        assert_eq!(task.partial(), dir.join("t_3.h5.partial"));
        task.publish().unwrap();
        assert!(path.exists() && !partial_path(&path).exists());
        sync_file(&path).unwrap();
        sync_dir(&dir).unwrap();
        let back: Vec<f64> = crate::hdf5_util::open_read_only(&path)
            .unwrap()
            .dataset("x")
            .unwrap()
            .read_raw()
            .unwrap();
        assert_eq!(back, [1.5, -2.0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
