//! Checkpoints: make the written data durable, write the cross-trial state of this generation,
//! then append the journal line that claims them (see `journal.rs` and `sums.rs`).

use trialflow_core::engine::Checkpoint;
use trialflow_core::Error;

use crate::error::StorageError;
use crate::hdf5_util::one_line;
use crate::sums::{remove_other_generations, write_sums};

use super::SpyWriter;

/// The longest a checkpoint is deferred because closed parts are still being synced.
const MAX_DEFERRAL: std::time::Duration = std::time::Duration::from_secs(5);

impl SpyWriter {
    /// Fault injection for tests of `--resume`: after the `n`-th averaging sums file is
    /// durable and before the journal line naming it is written, the writer stops like a
    /// killed process. That checkpoint fails, every later call fails, and nothing is
    /// cleaned up, so the staging folder holds exactly what a kill at that point leaves.
    #[doc(hidden)]
    pub fn crash_after_sums(&mut self, n: usize) {
        self.crash_after_sums = Some(n);
    }

    pub(super) fn crashed_error(&self) -> Error {
        StorageError::output(&self.staging, "stopped by an injected crash (a test hook)").into()
    }

    /// Waits for the closed parts being synced on threads of their own.
    pub(super) fn join_part_syncs(&mut self) -> Result<(), StorageError> {
        for sync in self.unsynced.drain(..) {
            sync.join().unwrap_or_else(|_| {
                Err(StorageError::output(&self.staging, "a sync thread failed"))
            })?;
        }
        Ok(())
    }

    /// Whether a part has tasks applied but is not closed yet: then no checkpoint can be
    /// recorded (`defers_checkpoint` tells the engine so before it builds one).
    pub(super) fn inside_part(&self) -> bool {
        self.objects
            .iter()
            .any(|o| o.part.as_ref().is_some_and(|p| p.applied.is_some()))
    }

    pub(super) fn record_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        // Checkpoints fall between parts, so a resumed run finds every covered task in a
        // closed part and nothing else. Inside a part, wait for its end, unless the run is
        // ending: then the part is closed where the applied tasks end.
        if self.inside_part() && !checkpoint.closing {
            return Ok(false);
        }
        // Closed parts are synced on their own threads while the run goes on. Waiting for
        // them here would hold the run to the disk's speed, so while one is still syncing
        // the checkpoint is deferred too (it is offered again after the next task), unless
        // none was recorded for MAX_DEFERRAL: then it waits, which bounds the work a
        // resume after a node failure may redo. The last checkpoint always waits.
        let syncing = self.unsynced.iter().any(|sync| !sync.is_finished());
        if syncing && !checkpoint.closing && self.last_recorded.elapsed() < MAX_DEFERRAL {
            return Ok(false);
        }
        if checkpoint.closing {
            let shard = self.shard();
            for obj in 0..self.objects.len() {
                self.close_part(obj, shard)?;
            }
        }
        // Make the data durable first; only then may the journal claim it.
        for state in &self.objects {
            if let Some(file) = &state.file {
                let path = self.staging.join(&state.file_name);
                file.flush()
                    .map_err(|e| StorageError::io(&path, one_line(&e)))?;
                if !self.options.durable {
                    continue;
                }
                std::fs::File::open(&path)
                    .and_then(|f| f.sync_data())
                    .map_err(|e| StorageError::io(&path, e))?;
            }
        }
        self.join_part_syncs()?;
        let mut event_bytes = serde_json::Map::new();
        for state in &mut self.objects {
            if let Some(sidecar) = &mut state.events {
                event_bytes.insert(
                    state.spec.tag.clone(),
                    sidecar.sync(self.options.durable)?.into(),
                );
            }
        }
        // A new generation of sums, durable before the journal line that names it; the
        // previous generation stays until that line is durable too.
        let sums = if checkpoint.sums.iter().any(Option::is_some) {
            let generation = self.sums_generation + 1;
            let record = write_sums(
                &self.staging,
                self.shard(),
                generation,
                checkpoint.completed,
                &checkpoint.sums,
                self.options.durable,
            )?;
            self.sums_written += 1;
            if self.crash_after_sums == Some(self.sums_written) {
                self.crashed = true;
                return Err(self.crashed_error());
            }
            Some(record)
        } else {
            None
        };
        if let Some(journal) = &mut self.journal {
            journal.record(checkpoint, &event_bytes, sums.as_ref())?;
        }
        if let Some(record) = sums {
            self.sums_generation = record.generation;
            remove_other_generations(&self.staging, self.shard(), record.generation);
        }
        if checkpoint.completed > 0 {
            self.progressed = true;
        }
        self.last_recorded = std::time::Instant::now();
        Ok(true)
    }
}
