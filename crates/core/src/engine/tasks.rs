use std::ops::Range;

/// One unit of work: a trial, or a channel group of a trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Position in task order (trial-major, then channel group).
    pub index: usize,
    pub trial: usize,
    pub channels: Range<usize>,
    /// Which channel group of the trial this is, and how many groups the trial has.
    pub group: usize,
    pub n_groups: usize,
}

/// Channel groups of `k` channels plus a remainder: `[k]*(n/k) + [n%k]`, never an empty
/// group. Without `k`, one group holds every channel.
pub fn channel_groups(n_channels: usize, k: Option<usize>) -> Vec<Range<usize>> {
    match k {
        Some(k) if k > 0 && k < n_channels => (0..n_channels)
            .step_by(k)
            .map(|start| start..(start + k).min(n_channels))
            .collect(),
        _ => std::iter::once(0..n_channels).collect(),
    }
}

/// Every task, trial-major then channel group: the order results are written in.
pub fn build_tasks(n_trials: usize, groups: &[Range<usize>]) -> Vec<Task> {
    let mut tasks = Vec::with_capacity(n_trials * groups.len());
    for trial in 0..n_trials {
        for (g, channels) in groups.iter().enumerate() {
            tasks.push(Task {
                index: tasks.len(),
                trial,
                channels: channels.clone(),
                group: g,
                n_groups: groups.len(),
            });
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_all_channels_with_remainder() {
        assert_eq!(channel_groups(5, Some(2)), vec![0..2, 2..4, 4..5]);
        assert_eq!(channel_groups(4, Some(2)), vec![0..2, 2..4]);
        assert_eq!(channel_groups(3, Some(8)), vec![0..3]);
        assert_eq!(channel_groups(3, None), vec![0..3]);
    }

    #[test]
    fn tasks_are_trial_major() {
        let tasks = build_tasks(2, &channel_groups(3, Some(2)));
        let order: Vec<_> = tasks.iter().map(|t| (t.trial, t.group)).collect();
        assert_eq!(order, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    }
}
