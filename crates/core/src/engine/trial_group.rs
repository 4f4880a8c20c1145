//! Tiny float32 trials read a batch at a time.
//!
//! With 200 000 trials of 200 samples x 8 channels, the parallel engine's reader thread
//! read each trial on its own: the source copied it out of its read-ahead window into the
//! trial's buffer, a second pass over every input byte on the one thread that feeds both
//! workers. Here the trials of a batch are read with one call into one buffer
//! ([`TrialSource::read_trials_f32`]), and each trial's tasks read their values where that
//! call put them. The buffer goes back to the pool when the last of its trials is done.

use std::ops::Range;
use std::sync::Arc;

use super::sink::TrialSource;
use super::worker::Pools;

/// Consecutive trials' float32 values, back to back.
pub(super) struct TrialGroup<'p> {
    pub values: Vec<f32>,
    pools: &'p Pools,
}

impl Drop for TrialGroup<'_> {
    fn drop(&mut self) {
        self.pools.trials_f32.give(std::mem::take(&mut self.values));
    }
}

/// The group being handed out, trial by trial, in trial order.
#[derive(Default)]
pub(super) struct GroupReader<'p> {
    current: Option<Arc<TrialGroup<'p>>>,
    /// The trials of `current` not yet handed out; without `current`, the rest of a group
    /// the source could not read at once (they are read one by one, not tried again).
    trials: Range<usize>,
    /// Where the first of them starts in `current`'s values.
    next: usize,
}

impl<'p> GroupReader<'p> {
    /// Trial `trial`'s values as `(group, first value)`: from the current group when it is
    /// the group's next trial, else from a new group of trials `trial..=last` read at once.
    /// `None` when the source cannot read them so (or the read failed: reading the trials
    /// one by one then reports the error at the trial it concerns).
    pub fn values(
        &mut self,
        source: &mut dyn TrialSource,
        trial: usize,
        last: usize,
        pools: &'p Pools,
    ) -> Option<(Arc<TrialGroup<'p>>, usize)> {
        if self.current.is_none() && self.trials.contains(&trial) {
            return None;
        }
        if self.trials.start != trial || self.trials.is_empty() {
            self.current = None;
            if last <= trial {
                self.trials = trial..trial;
                return None;
            }
            self.trials = trial..last + 1;
            let mut values = pools.trials_f32.take();
            if !matches!(
                source.read_trials_f32(self.trials.clone(), &mut values),
                Ok(true)
            ) {
                pools.trials_f32.give(values);
                return None;
            }
            self.current = Some(Arc::new(TrialGroup { values, pools }));
            self.next = 0;
        }
        let group = Arc::clone(self.current.as_ref()?);
        let schema = source.schema();
        let len = schema.trialdefinition.trial_len(trial) * schema.n_channels();
        let start = self.next;
        self.next += len;
        self.trials.start += 1;
        if self.trials.is_empty() {
            self.current = None;
        }
        Some((group, start))
    }
}
