//! The progress journal that makes runs resumable and shards mergeable.
//!
//! A writer appends one JSON line per checkpoint to `progress[.shard-I-of-N].jsonl` in the
//! staging folder, *after* the data it describes is durable (flushed and synced). The first
//! line holds the run's identity; a shard's last line says it is done. A line cut short by a
//! kill is ignored, so the journal always describes a consistent prefix of the run.
//!
//! The format itself (a header line with an identity, then synced JSON lines, a torn last
//! line ignored) is [`JournalFile`] and [`read_journal_lines`]; the parallel map
//! (trialflow-map) keeps its resume journal in it too, with lines of its own.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trialflow_core::engine::Checkpoint;

use crate::error::StorageError;
use crate::sums::SumsRecord;

/// The journal's file name for the whole run or for one shard.
pub fn journal_name(shard: Option<(usize, usize)>) -> String {
    match shard {
        None => "progress.jsonl".to_string(),
        Some((i, n)) => format!("progress.shard-{i}-of-{n}.jsonl"),
    }
}

/// Parses `progress.shard-I-of-N.jsonl` into (I, N).
pub fn parse_shard_name(name: &str) -> Option<(usize, usize)> {
    let rest = name
        .strip_prefix("progress.shard-")?
        .strip_suffix(".jsonl")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// What a journal says.
#[derive(Debug, Clone, Default)]
pub struct JournalState {
    pub identity: Value,
    pub checkpoint: Checkpoint,
    /// Bytes of each event sidecar covered by the last checkpoint, by object tag.
    pub event_bytes: serde_json::Map<String, Value>,
    /// The averaging sums file the last checkpoint names (averaging runs only).
    pub(crate) sums: Option<SumsRecord>,
    /// Whether a shard finished.
    pub done: bool,
    /// The boot ids recorded by lines written without syncing (`execution.durable: false`;
    /// `None` where the boot id could not be read), in order: see `durability.rs`.
    pub(crate) unsynced_boots: Vec<Option<String>>,
}

/// A journal's identity and its entries up to the first unreadable one, ignoring an
/// incomplete last line. `Ok(None)` if it does not exist or holds no complete header.
pub fn read_journal_lines(path: &Path) -> Result<Option<(Value, Vec<Value>)>, StorageError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let mut lines = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
    // The header is made durable together with the first checkpoint, so a machine that
    // lost power before then can leave a journal without one: nothing was recorded.
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let header: Value = serde_json::from_str(first)
        .map_err(|_| StorageError::format(path, "has no readable header line"))?;
    let identity = header.get("identity").cloned().unwrap_or(Value::Null);
    let entries = lines
        .map_while(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    Ok(Some((identity, entries)))
}

/// Reads a journal, ignoring an incomplete last line. `Ok(None)` if it does not exist.
pub fn read_journal(path: &Path) -> Result<Option<JournalState>, StorageError> {
    let Some((identity, entries)) = read_journal_lines(path)? else {
        return Ok(None);
    };
    let mut state = JournalState {
        identity,
        ..Default::default()
    };
    for entry in entries {
        if entry.get("done").and_then(Value::as_bool) == Some(true) {
            state.done = true;
        }
        if let Some(k) = entry.get("completed").and_then(Value::as_u64) {
            state.checkpoint.completed = k as usize;
            // Each checkpoint names its own sums; one without names none.
            state.sums = entry.get("sums").and_then(SumsRecord::from_json);
        }
        for w in entry
            .get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(step), Some(msg)) = (w[0].as_u64(), w[1].as_str()) {
                state
                    .checkpoint
                    .warnings
                    .push((step as usize, msg.to_string()));
            }
        }
        for f in entry
            .get("failed")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(task), Some(msg)) = (f[0].as_u64(), f[1].as_str()) {
                state
                    .checkpoint
                    .failed
                    .push((task as usize, msg.to_string()));
            }
        }
        if let Some(Value::Object(bytes)) = entry.get("event_bytes") {
            state.event_bytes = bytes.clone();
        }
        if let Some(boot) = entry.get("unsynced_boot") {
            state.unsynced_boots.push(boot.as_str().map(str::to_string));
        }
    }
    Ok(Some(state))
}

/// An open journal: a header line naming the identity, then one JSON line per
/// [`append`](Self::append), each synced before it returns (unless made with
/// [`unsynced`](Self::unsynced)).
#[derive(Debug)]
pub struct JournalFile {
    path: PathBuf,
    file: std::fs::File,
    synced: bool,
}

impl JournalFile {
    /// Starts a new journal with `identity` (replacing an old one). The header is not
    /// synced here: the first appended line's sync covers it, and until then there is
    /// nothing to resume, so a run starts without waiting for the disk.
    pub fn create(path: &Path, identity: &Value) -> Result<JournalFile, StorageError> {
        let mut file = std::fs::File::create(path).map_err(|e| StorageError::io(path, e))?;
        let line = json!({ "identity": identity, "format": 1 });
        file.write_all(format!("{line}\n").as_bytes())
            .map_err(|e| StorageError::io(path, e))?;
        Ok(JournalFile {
            path: path.to_path_buf(),
            file,
            synced: true,
        })
    }

    /// Leaves each appended line to the kernel's writeback instead of syncing it (a run
    /// with `execution.durable: false`).
    pub(crate) fn unsynced(self) -> JournalFile {
        JournalFile {
            synced: false,
            ..self
        }
    }

    /// Continues an existing journal, dropping a torn last line so the next starts clean.
    pub fn reopen(path: &Path) -> Result<JournalFile, StorageError> {
        let text = std::fs::read_to_string(path).map_err(|e| StorageError::io(path, e))?;
        let keep = text.rfind('\n').map_or(0, |i| i + 1);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        file.set_len(keep as u64)
            .map_err(|e| StorageError::io(path, e))?;
        let mut file = file;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| StorageError::io(path, e))?;
        Ok(JournalFile {
            path: path.to_path_buf(),
            file,
            synced: true,
        })
    }

    /// Appends `entry` as one line and syncs it (call only once what it records is durable).
    /// An unsynced journal's line records the boot it was written in instead.
    pub fn append(&mut self, entry: &Value) -> Result<(), StorageError> {
        let line = if self.synced {
            format!("{entry}\n")
        } else {
            let mut marked = entry.clone();
            marked["unsynced_boot"] = crate::durability::boot_id().into();
            format!("{marked}\n")
        };
        // One write per line: `writeln!` on a file makes a system call per JSON token.
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| StorageError::io(&self.path, e))?;
        if !self.synced {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Appends checkpoints to a journal, writing only what is new since the last line.
#[derive(Debug)]
pub struct JournalWriter {
    journal: JournalFile,
    warnings_written: usize,
    failed_written: usize,
}

impl JournalWriter {
    /// Starts a new journal with the run's identity (replacing an old one); `durable`
    /// says whether its lines are synced.
    pub fn create(
        path: &Path,
        identity: &Value,
        durable: bool,
    ) -> Result<JournalWriter, StorageError> {
        Ok(JournalWriter {
            journal: with_sync(JournalFile::create(path, identity)?, durable),
            warnings_written: 0,
            failed_written: 0,
        })
    }

    /// Continues an existing journal whose state was `state`.
    pub fn append(
        path: &Path,
        state: &JournalState,
        durable: bool,
    ) -> Result<JournalWriter, StorageError> {
        Ok(JournalWriter {
            journal: with_sync(JournalFile::reopen(path)?, durable),
            warnings_written: state.checkpoint.warnings.len(),
            failed_written: state.checkpoint.failed.len(),
        })
    }

    /// Records a checkpoint (call only once the data it covers, and the sums file `sums`
    /// names, are durable).
    pub(crate) fn record(
        &mut self,
        checkpoint: &Checkpoint,
        event_bytes: &serde_json::Map<String, Value>,
        sums: Option<&SumsRecord>,
    ) -> Result<(), StorageError> {
        let warnings: Vec<Value> = checkpoint.warnings
            [self.warnings_written.min(checkpoint.warnings.len())..]
            .iter()
            .map(|(s, w)| json!([s, w]))
            .collect();
        let failed: Vec<Value> = checkpoint.failed
            [self.failed_written.min(checkpoint.failed.len())..]
            .iter()
            .map(|(t, e)| json!([t, e]))
            .collect();
        let mut line = json!({
            "completed": checkpoint.completed,
            "warnings": warnings,
            "failed": failed,
            "event_bytes": event_bytes,
        });
        if let Some(sums) = sums {
            line["sums"] = sums.to_json();
        }
        self.journal.append(&line)?;
        self.warnings_written = checkpoint.warnings.len();
        self.failed_written = checkpoint.failed.len();
        Ok(())
    }

    /// Marks a shard as finished.
    pub fn mark_done(&mut self) -> Result<(), StorageError> {
        self.journal.append(&json!({ "done": true }))
    }
}

fn with_sync(journal: JournalFile, durable: bool) -> JournalFile {
    if durable {
        journal
    } else {
        journal.unsynced()
    }
}

/// Names the first top-level key whose value differs between two identities, so a refusal
/// can say what changed ("steps", "input", ...).
pub fn identity_difference(recorded: &Value, current: &Value) -> Option<String> {
    let (Value::Object(a), Value::Object(b)) = (recorded, current) else {
        return (recorded != current).then(|| "everything".to_string());
    };
    for (key, value) in b {
        if a.get(key) != Some(value) {
            return Some(describe_difference(key, a.get(key), value));
        }
    }
    a.keys().find(|k| !b.contains_key(*k)).cloned()
}

fn describe_difference(key: &str, old: Option<&Value>, new: &Value) -> String {
    if key == "steps" {
        if let (Some(Value::Array(old)), Value::Array(new)) = (old, new) {
            for (i, step) in new.iter().enumerate() {
                if old.get(i) != Some(step) {
                    return format!(
                        "step {} ({}) or its parameters",
                        i + 1,
                        step["routine"].as_str().unwrap_or("?")
                    );
                }
            }
            return format!(
                "the number of steps ({} then, {} now)",
                old.len(),
                new.len()
            );
        }
    }
    match key {
        "input" => "the input file (its path, size or modification time)".to_string(),
        "objects" => "the saved outputs or how they are stored (parallel_store)".to_string(),
        other => format!("execution setting '{other}'"),
    }
}
