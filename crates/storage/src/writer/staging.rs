//! The staging folder and who may write it: an output is built in `<name>.spy.partial`
//! beside its final place, claimed by one writer at a time (a pid lock file, taken under an
//! flock of the parent folder), and an aborted run leaves it only when it holds work to
//! resume.

use std::path::{Path, PathBuf};

use crate::container::ContainerPath;
use crate::error::StorageError;
use crate::typed::ConversionBuffers;

use super::{SpyWriter, WriteMode, WriterOptions};

impl SpyWriter {
    /// Checks the output location and creates the staging folder. Refuses an existing
    /// container unless `overwrite`, an output that is the input, and a location another run
    /// is writing to.
    pub fn create(output: &Path, options: WriterOptions) -> Result<SpyWriter, StorageError> {
        let container = ContainerPath::new(output)?;
        let staging = staging_dir(&container.dir);
        check_output_location(&container.dir, options)?;
        let shard = match options.mode {
            WriteMode::Shard { index, count, .. } => Some((index, count)),
            _ => None,
        };
        let lock = staging.join(match shard {
            None => ".writer-pid".to_string(),
            Some((i, n)) => format!(".writer-pid.shard-{i}-of-{n}"),
        });
        // Claiming the staging folder (checking who holds it, clearing a dead run's, writing
        // our pid) is one critical section across processes: two runs started together
        // must not both take it.
        let inherited = with_claim_lock(&container.dir, || {
            let mut inherited = false;
            match options.mode {
                WriteMode::Fresh | WriteMode::Resume => {
                    inherited =
                        claim_staging(&container.dir, &staging, options.mode == WriteMode::Resume)?
                }
                WriteMode::Shard { .. } => {
                    std::fs::create_dir_all(&staging).map_err(|e| {
                        StorageError::output(&container.dir, format!("cannot be created: {e}"))
                    })?;
                    if lock_in_use(&lock) {
                        return Err(StorageError::output(
                            &container.dir,
                            format!(
                                "another process is writing this shard ({} is in use)",
                                lock.display()
                            ),
                        ));
                    }
                }
                WriteMode::Merge => {
                    if !staging.is_dir() {
                        return Err(StorageError::output(
                            &container.dir,
                            format!(
                                "has no shards to merge ({} does not exist); run the shards first",
                                staging.display()
                            ),
                        ));
                    }
                    if let Some(busy) = locks_in_use(&staging) {
                        return Err(StorageError::output(
                            &container.dir,
                            format!("cannot be merged while {busy} is still writing"),
                        ));
                    }
                }
            }

            std::fs::write(&lock, std::process::id().to_string())
                .map_err(|e| StorageError::io(&lock, e))?;
            Ok(inherited)
        })?;
        Ok(SpyWriter {
            container,
            staging,
            options,
            objects: Vec::new(),
            buffers: ConversionBuffers::default(),
            committed: false,
            lock,
            journal: None,
            recorded: None,
            merged_shards: 0,
            unsynced: Vec::new(),
            last_recorded: std::time::Instant::now(),
            // An interrupted run's work is never ours to delete, even if resuming fails.
            progressed: inherited,
            pace: None,
            part_plan: None,
            sums_generation: 0,
            crash_after_sums: None,
            sums_written: 0,
            crashed: false,
        })
    }

    pub(super) fn abort_run(&mut self) {
        if self.crashed {
            // A killed process cleans nothing up.
            return;
        }
        for state in &mut self.objects {
            state.data = None;
            state.events = None;
            state.part = None;
            if let Some(f) = state.file.take() {
                let _ = f.close();
            }
        }
        if self.committed {
            return;
        }
        // Completed work stays for --resume (or the merge); a run that completed nothing
        // leaves nothing behind.
        let keep =
            self.progressed || self.shard().is_some() || self.options.mode == WriteMode::Merge;
        if keep {
            let _ = std::fs::remove_file(&self.lock);
        } else {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

pub(super) fn staging_dir(final_dir: &Path) -> PathBuf {
    let mut name = final_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    final_dir.with_file_name(name)
}

/// Whether the process whose pid a lock file holds is still running.
fn lock_in_use(lock: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(lock) else {
        return false;
    };
    let pid = pid.trim();
    !pid.is_empty()
        && pid != std::process::id().to_string()
        && Path::new("/proc").join(pid).exists()
}

/// The first writer lock in a staging folder (whole run, merge or shard) that is in use.
fn locks_in_use(staging: &Path) -> Option<String> {
    let entries = std::fs::read_dir(staging).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".writer-pid"))
        .find(|e| lock_in_use(&e.path()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            match name.strip_prefix(".writer-pid.") {
                Some(shard) => format!("another process ({shard})"),
                None => "another trialflow run".to_string(),
            }
        })
}

/// Runs `claim` while holding an exclusive lock on the output's parent folder (flock; held
/// only for the few file operations of claiming, never for the run).
fn with_claim_lock<T>(
    final_dir: &Path,
    claim: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let parent = final_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = std::fs::File::open(parent).map_err(|e| StorageError::io(parent, e))?;
    folder.lock().map_err(|e| StorageError::io(parent, e))?;
    let result = claim();
    let _ = folder.unlock();
    result
}

/// Takes the staging folder for a whole run. One in use by another process is refused; one
/// left by a killed run is kept when resuming and discarded otherwise. Returns whether an
/// interrupted run's folder was kept (resuming).
fn claim_staging(final_dir: &Path, staging: &Path, resume: bool) -> Result<bool, StorageError> {
    match std::fs::create_dir(staging) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Some(busy) = locks_in_use(staging) {
                return Err(StorageError::output(
                    final_dir,
                    format!(
                        "{busy} is writing this output (its staging folder {} is in use)",
                        staging.display()
                    ),
                ));
            }
            if !resume {
                // Left behind by a run that was killed; without --resume we start over.
                std::fs::remove_dir_all(staging).map_err(|e| StorageError::io(staging, e))?;
                std::fs::create_dir(staging).map_err(|e| StorageError::io(staging, e))?;
            }
            Ok(resume)
        }
        Err(e) => Err(StorageError::output(
            final_dir,
            format!("cannot be created: {e}"),
        )),
    }
}

fn check_output_location(dir: &Path, options: WriterOptions) -> Result<(), StorageError> {
    if dir.exists() && !options.overwrite && !matches!(options.mode, WriteMode::Shard { .. }) {
        return Err(StorageError::output(
            dir,
            "already exists; pass --overwrite (or `overwrite: true`) to replace it",
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(StorageError::output(dir, "exists and is not a folder"));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if parent.exists() && !parent.is_dir() {
        return Err(StorageError::output(
            dir,
            format!("cannot be created: {} is not a folder", parent.display()),
        ));
    }
    if !parent.is_dir() {
        return Err(StorageError::output(
            dir,
            format!(
                "cannot be created: folder {} does not exist",
                parent.display()
            ),
        ));
    }
    Ok(())
}
