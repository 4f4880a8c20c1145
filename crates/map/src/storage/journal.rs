//! The map's resume bookkeeping, in the storage crate's journal format (`trialflow_hdf5`'s
//! `JournalFile`, the one the engine's `--resume` trusts): `<name>.progress.jsonl` next to
//! the container, or `<name>.progress.shard-R-of-N.jsonl` per MPI rank that writes, so no
//! two processes append to one file. The header holds the map's identity; each later line
//! lists the tasks whose results became durable since the line before. Tasks finish in any
//! order on threads, so lines name tasks rather than a completed prefix.
//!
//! Like the engine, the journal is written at checkpoints, at most every half second and
//! at the end: the results written since the last one are synced first, then named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trialflow_hdf5::{journal_name, parse_shard_name, read_journal_lines, JournalFile};

use super::Storage;
use crate::error::{MapError, MapParamError};

/// How often finished tasks are made durable and journaled (as in the engine).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// What earlier runs of a map recorded.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Whether any journal exists.
    pub found: bool,
    pub tasks: BTreeSet<usize>,
}

impl Storage {
    /// The journal of the process that writes as `writer` (`None`: the only writer).
    pub(crate) fn journal_path(&self, writer: Option<(usize, usize)>) -> PathBuf {
        self.dir()
            .join(format!("{}.{}", self.name(), journal_name(writer)))
    }

    /// Every journal of this storage name in its folder.
    pub(crate) fn journal_paths(&self) -> Result<Vec<PathBuf>, MapError> {
        let prefix = format!("{}.", self.name());
        let entries = match std::fs::read_dir(self.dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(MapError::storage(self.dir(), e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| MapError::storage(self.dir(), e))?;
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if rest == journal_name(None) || parse_shard_name(rest).is_some() {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    }
}

/// The map's identity as journals record it.
fn identity(fingerprint: &str) -> Value {
    json!({ "map": fingerprint })
}

/// Reads every journal of `storage`: the union of the tasks they record. A journal of a
/// different map (another fingerprint) refuses the resume.
pub(crate) fn read_recorded(storage: &Storage, fingerprint: &str) -> Result<Recorded, MapError> {
    let mut recorded = Recorded::default();
    for path in storage.journal_paths()? {
        let Some((stored, entries)) =
            read_journal_lines(&path).map_err(|e| MapError::storage(&path, e))?
        else {
            continue;
        };
        recorded.found = true;
        if stored != identity(fingerprint) {
            let stored = stored["map"].as_str().unwrap_or("unknown").to_string();
            return Err(MapParamError::ResumeMismatch {
                path,
                detail: format!("its journal records '{stored}', this map '{fingerprint}'"),
            }
            .into());
        }
        for entry in entries {
            let tasks = entry.get("tasks").and_then(Value::as_array);
            for task in tasks.into_iter().flatten().filter_map(Value::as_u64) {
                recorded.tasks.insert(task as usize);
            }
        }
    }
    Ok(recorded)
}

/// Removes every journal of `storage` (before overwriting it).
pub(crate) fn remove_journals(storage: &Storage) -> Result<(), MapError> {
    for path in storage.journal_paths()? {
        std::fs::remove_file(&path).map_err(|e| MapError::storage(&path, e))?;
    }
    Ok(())
}

/// One writer's journal, open for the run.
pub(crate) struct Journal {
    file: JournalFile,
    /// Tasks written since the last line.
    pending: Vec<usize>,
    last: Instant,
}

impl Journal {
    /// Continues this writer's journal when resuming, or starts it.
    pub(crate) fn open(path: &Path, fingerprint: &str, resume: bool) -> Result<Journal, MapError> {
        let file = if resume && path.exists() {
            JournalFile::reopen(path)
        } else {
            JournalFile::create(path, &identity(fingerprint))
        }
        .map_err(|e| MapError::storage(path, e))?;
        Ok(Journal {
            file,
            pending: Vec::new(),
            last: Instant::now(),
        })
    }

    /// Notes that `task`'s results are written; every half second, `make_durable` syncs the
    /// pending tasks' results and they are journaled.
    pub(crate) fn task_written(
        &mut self,
        task: usize,
        make_durable: impl FnOnce(&[usize]) -> Result<(), String>,
    ) -> Result<(), String> {
        self.pending.push(task);
        if self.last.elapsed() < CHECKPOINT_INTERVAL {
            return Ok(());
        }
        self.checkpoint(make_durable)
    }

    /// Makes the pending tasks durable and journals them (also called at the end).
    pub(crate) fn checkpoint(
        &mut self,
        make_durable: impl FnOnce(&[usize]) -> Result<(), String>,
    ) -> Result<(), String> {
        self.last = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        make_durable(&self.pending)?;
        self.file
            .append(&json!({ "tasks": self.pending }))
            .map_err(|e| e.to_string())?;
        self.pending.clear();
        Ok(())
    }
}
