//! Continuing interrupted work: `begin` starts the journal or, resuming, checks the run's
//! identity against the recorded one and returns its checkpoint (with the cross-trial state
//! it names); merging checks every shard's journal and gathers every shard's cross-trial
//! state; parts a checkpoint does not cover go.

use serde_json::Value;
use trialflow_core::engine::Checkpoint;
use trialflow_core::Error;

use crate::durability::unsynced_since_restart;
use crate::error::StorageError;
use crate::journal::{
    identity_difference, journal_name, parse_shard_name, read_journal, JournalWriter,
};
use crate::parts::PartName;
use crate::sums::read_sums;

use super::{SpyWriter, WriteMode};

impl SpyWriter {
    pub(super) fn begin_run(&mut self, identity: &Value) -> Result<Option<Checkpoint>, Error> {
        let journal_path = self.staging.join(journal_name(self.shard()));
        let resume = match self.options.mode {
            WriteMode::Fresh => false,
            WriteMode::Resume => true,
            WriteMode::Shard { resume, .. } => resume,
            WriteMode::Merge => return self.begin_merge(identity).map(Some),
        };
        let recorded = if resume {
            read_journal(&journal_path)?
        } else {
            None
        };
        let Some(state) = recorded else {
            self.journal = Some(JournalWriter::create(
                &journal_path,
                identity,
                self.options.durable,
            )?);
            return Ok(None);
        };
        if let Some(diff) = identity_difference(&state.identity, identity) {
            return Err(Error::invalid(format!(
                "cannot resume {}: the interrupted run used a different {diff}; run without --resume to start over",
                self.container.dir.display()
            )));
        }
        if let Some(why) = unsynced_since_restart(&state.unsynced_boots) {
            return Err(Error::invalid(format!(
                "cannot resume {}: {why}; run without --resume to start over",
                self.container.dir.display()
            )));
        }
        self.journal = Some(JournalWriter::append(
            &journal_path,
            &state,
            self.options.durable,
        )?);
        let mut checkpoint = state.checkpoint.clone();
        match &state.sums {
            Some(record) => {
                checkpoint.sums =
                    read_sums(&self.staging, self.shard(), record, checkpoint.completed).map_err(
                        |e| {
                            Error::invalid(format!(
                                "cannot resume {}: {e}",
                                self.container.dir.display()
                            ))
                        },
                    )?;
                self.sums_generation = record.generation;
            }
            None if checkpoint.completed > 0
                && identity.get("keeptrials") == Some(&Value::Bool(false)) =>
            {
                return Err(Error::invalid(format!(
                    "cannot resume {}: its journal names no running sums for the average of the {} completed tasks; run without --resume to start over",
                    self.container.dir.display(),
                    checkpoint.completed
                )));
            }
            None => {}
        }
        self.progressed = checkpoint.completed > 0;
        self.recorded = Some(state);
        Ok(Some(checkpoint))
    }

    /// Merging: every shard's journal must be present, finished and of this run.
    pub(super) fn begin_merge(&mut self, identity: &Value) -> Result<Checkpoint, Error> {
        let mut found: Vec<(usize, usize)> = std::fs::read_dir(&self.staging)
            .map_err(|e| StorageError::io(&self.staging, e))?
            .flatten()
            .filter_map(|e| parse_shard_name(&e.file_name().to_string_lossy()))
            .collect();
        found.sort_unstable();
        let Some(&(_, count)) = found.first() else {
            return Err(Error::invalid(format!(
                "{} holds no shard results; run `trialflow run PIPELINE --shard I/N` first",
                self.staging.display()
            )));
        };
        if let Some(&(_, other)) = found.iter().find(|(_, n)| *n != count) {
            return Err(Error::invalid(format!(
                "{} holds shards of two different splits (/{count} and /{other}); rerun the shards of one split",
                self.staging.display()
            )));
        }
        let mut merged = Checkpoint {
            completed: identity["tasks"].as_u64().unwrap_or(0) as usize,
            ..Checkpoint::default()
        };
        let mut missing = Vec::new();
        for index in 0..count {
            let path = self.staging.join(journal_name(Some((index, count))));
            match read_journal(&path)? {
                None => missing.push(format!("{index}/{count} (never ran)")),
                Some(state) if !state.done => missing.push(format!(
                    "{index}/{count} (incomplete: stopped after task {})",
                    state.checkpoint.completed
                )),
                Some(state) => {
                    if let Some(diff) = identity_difference(&state.identity, identity) {
                        return Err(Error::invalid(format!(
                            "shard {index}/{count} was computed with a different {diff}; rerun it with this pipeline"
                        )));
                    }
                    merged.warnings.extend(state.checkpoint.warnings);
                    merged.failed.extend(state.checkpoint.failed);
                    // Each shard's cross-trial subtrees, concatenated per object: the engine
                    // sorts them by trial and checks they cover every trial exactly once.
                    if let Some(record) = &state.sums {
                        let shard = Some((index, count));
                        let path = self.staging.join(journal_name(shard));
                        let sums =
                            read_sums(&self.staging, shard, record, state.checkpoint.completed)
                                .map_err(|e| {
                                    Error::invalid(format!(
                                        "cannot merge shard {index}/{count} ({}): {e}",
                                        path.display()
                                    ))
                                })?;
                        if merged.sums.len() < sums.len() {
                            merged.sums.resize(sums.len(), None);
                        }
                        for (into, from) in merged.sums.iter_mut().zip(sums) {
                            if let Some(from) = from {
                                into.get_or_insert_with(Vec::new).extend(from);
                            }
                        }
                    }
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "cannot merge {}: missing shard {}; run it with --shard (add --resume to continue an incomplete one)",
                self.container.dir.display(),
                missing.join(", ")
            )));
        }
        self.merged_shards = count;
        Ok(merged)
    }

    /// After resuming from `completed` tasks: removes this run's parts that the checkpoint
    /// does not cover (a killed run may have closed some after its last checkpoint).
    pub(super) fn drop_uncovered_parts(&self, obj: usize, completed: usize) -> Result<(), Error> {
        let dir = self
            .staging
            .join(self.container.parts_dir_name(&self.objects[obj].spec.tag));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            // Ours (this shard's, or the whole run's) and not covered: half-written, or
            // closed after the checkpoint.
            let (closed, part) = match name.strip_suffix(".partial") {
                Some(open) => (false, PartName::parse(open)),
                None => (true, PartName::parse(&name)),
            };
            let stale =
                part.is_some_and(|p| p.shard == self.shard() && (!closed || p.last >= completed));
            if stale {
                std::fs::remove_file(entry.path())
                    .map_err(|e| StorageError::io(&entry.path(), e))?;
            }
        }
        Ok(())
    }
}
