use std::ops::Range;
use std::sync::Arc;

/// Syncopy's trial definition: one row `[start, stop, offset, trialinfo...]` per trial.
///
/// `start`/`stop` are sample indices along the stacking axis with `stop` exclusive; `offset`
/// is the sample of t = 0 relative to `start` (so time is `(arange(len) + offset) / fs`).
/// Stored as f64 because that is how Syncopy stores it, and trialinfo columns are arbitrary.
/// The rows are shared between clones: a schema is cloned several times per run, and a
/// copy of 200 000 rows each time cost more than a run of tiny trials' first tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialDefinition {
    columns: usize,
    values: Arc<[f64]>,
}

impl TrialDefinition {
    /// Builds a definition from rows already known to be consistent (our own results).
    pub fn from_trials(trials: &[(usize, usize, f64)], info: &[Vec<f64>]) -> Self {
        let extra = info.first().map_or(0, Vec::len);
        let columns = 3 + extra;
        let mut values = Vec::with_capacity(trials.len() * columns);
        for (i, &(start, stop, offset)) in trials.iter().enumerate() {
            values.extend_from_slice(&[start as f64, stop as f64, offset]);
            if extra > 0 {
                values.extend_from_slice(&info[i]);
            }
        }
        TrialDefinition {
            columns,
            values: values.into(),
        }
    }

    /// Validates rows read from a file against the number of samples in `data`.
    ///
    /// Refuses what Syncopy would silently misread: no trials, non-integer or negative bounds,
    /// start after stop, and trials reaching past the data.
    pub fn from_rows(values: Vec<f64>, columns: usize, n_samples: usize) -> Result<Self, String> {
        if columns < 3 {
            return Err(format!(
                "trialdefinition has {columns} columns; at least 3 (start, stop, offset) are required"
            ));
        }
        if values.is_empty() {
            return Err("trialdefinition holds zero trials".into());
        }
        if !values.len().is_multiple_of(columns) {
            return Err("trialdefinition is not a 2-D table".into());
        }
        let def = TrialDefinition {
            columns,
            values: values.into(),
        };
        for trial in 0..def.len() {
            let row = def.row(trial);
            let (start, stop) = (row[0], row[1]);
            if !start.is_finite()
                || !stop.is_finite()
                || start.fract() != 0.0
                || stop.fract() != 0.0
            {
                return Err(format!(
                    "trial {trial}: start {start} and stop {stop} must be whole sample indices"
                ));
            }
            if start < 0.0 {
                return Err(format!("trial {trial}: start {start} is negative"));
            }
            if start > stop {
                return Err(format!("trial {trial}: start {start} is after stop {stop}"));
            }
            if stop > n_samples as f64 {
                return Err(format!(
                    "trial {trial}: stop {stop} is past the end of the data ({n_samples} samples)"
                ));
            }
            if !row[2].is_finite() {
                return Err(format!("trial {trial}: offset {} is not finite", row[2]));
            }
        }
        Ok(def)
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.columns
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of columns including start, stop and offset.
    pub fn columns(&self) -> usize {
        self.columns
    }

    pub fn row(&self, trial: usize) -> &[f64] {
        &self.values[trial * self.columns..(trial + 1) * self.columns]
    }

    pub fn start(&self, trial: usize) -> usize {
        self.row(trial)[0] as usize
    }

    pub fn stop(&self, trial: usize) -> usize {
        self.row(trial)[1] as usize
    }

    pub fn samples(&self, trial: usize) -> Range<usize> {
        self.start(trial)..self.stop(trial)
    }

    pub fn trial_len(&self, trial: usize) -> usize {
        self.stop(trial) - self.start(trial)
    }

    pub fn offset(&self, trial: usize) -> f64 {
        self.row(trial)[2]
    }

    pub fn trialinfo(&self, trial: usize) -> &[f64] {
        &self.row(trial)[3..]
    }

    /// Flat row-major values, as written to `/trialdefinition`.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The same trials laid out back to back with new lengths, keeping offsets and trialinfo.
    ///
    /// This is what a same-class operation produces: trial `i` of the output occupies
    /// `lengths[..i].sum() .. lengths[..=i].sum()` in the output's stacking axis.
    pub fn restacked(&self, lengths: &[usize]) -> TrialDefinition {
        let mut values = Vec::with_capacity(self.values.len());
        let mut start = 0usize;
        for (trial, &len) in lengths.iter().enumerate() {
            let row = self.row(trial);
            values.extend_from_slice(&[start as f64, (start + len) as f64]);
            values.extend_from_slice(&row[2..]);
            start += len;
        }
        TrialDefinition {
            columns: self.columns,
            values: values.into(),
        }
    }

    /// The first trial only, placed at the start: what averaging over trials keeps.
    pub fn first_only(&self, len: usize) -> TrialDefinition {
        self.first_only_with_offset(len, self.offset(0))
    }

    /// [`first_only`](Self::first_only) with the given offset.
    fn first_only_with_offset(&self, len: usize, offset: f64) -> TrialDefinition {
        let mut values = vec![0.0, len as f64, offset];
        values.extend_from_slice(self.trialinfo(0));
        TrialDefinition {
            columns: self.columns,
            values: values.into(),
        }
    }
}

impl TrialDefinition {
    /// [`first_only`](Self::first_only) with the mean of every trial's offset: what Syncopy's
    /// time-frequency routines write for a trial average.
    pub fn first_only_mean_offset(&self, len: usize) -> TrialDefinition {
        if self.is_empty() {
            return self.first_only(len);
        }
        let sum: f64 = (0..self.len()).map(|t| self.offset(t)).sum();
        self.first_only_with_offset(len, sum / self.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_trials_outside_data() {
        let err = TrialDefinition::from_rows(vec![0., 10., 0., 5., 20., 0.], 3, 15).unwrap_err();
        assert!(
            err.contains("trial 1") && err.contains("past the end"),
            "{err}"
        );
    }

    #[test]
    fn rejects_start_after_stop_and_empty() {
        let err = TrialDefinition::from_rows(vec![5., 2., 0.], 3, 15).unwrap_err();
        assert!(err.contains("after stop"), "{err}");
        assert!(TrialDefinition::from_rows(vec![], 3, 15).is_err());
    }

    #[test]
    fn restacking_keeps_offsets_and_trialinfo() {
        let def =
            TrialDefinition::from_rows(vec![10., 20., -3., 7., 30., 35., 2., 8.], 4, 40).unwrap();
        let out = def.restacked(&[1, 1]);
        assert_eq!(out.values(), &[0., 1., -3., 7., 1., 2., 2., 8.]);
    }
}
