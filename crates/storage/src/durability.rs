//! What `execution.durable` promises, and how a resume keeps the promise when it is off.
//!
//! A durable run (the default) syncs each part file, event sidecar and sums file before the
//! journal line that claims it, and syncs that line: after a power loss or a kernel crash,
//! `--resume` finds every task the journal names on disk. The syncs make the run wait for
//! the disk to take every byte; on a 102 MB run that is about a quarter of the wall time.
//!
//! A run with `durable: false` writes the same files in the same order but never syncs:
//! the kernel writes the page cache back in its own time. A crash of the *process* (a kill,
//! an out-of-memory, a SLURM time limit) loses nothing, since the page cache outlives it.
//! Only a crash of the machine can lose bytes the journal already names. So each of its
//! journal lines records the machine's boot id, and a resume on a machine booted since
//! refuses to trust them: the work is redone rather than silently taken from files that
//! may hold zeros. Shards and MPI ranks hand their parts to another process, possibly on
//! another node whose boot id says nothing of theirs, so they are always durable.

/// This boot of this machine, as Linux names it; `None` where there is no such name
/// (then a non-durable journal can never be resumed).
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Why a journal whose unsynced lines were written during `recorded` boots cannot be
/// resumed now, if it cannot.
pub(crate) fn unsynced_since_restart(recorded: &[Option<String>]) -> Option<String> {
    if recorded.is_empty() {
        return None;
    }
    let now = boot_id();
    let lost = recorded.iter().any(|boot| boot.is_none() || *boot != now);
    lost.then(|| {
        "it ran with `execution.durable: false` and the machine has restarted since (or its \
         boot id cannot be read), so its completed work may not have reached the disk"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_from_this_boot_resumes_and_one_from_another_does_not() {
        assert_eq!(unsynced_since_restart(&[]), None);
        match boot_id() {
            Some(now) => {
                assert_eq!(unsynced_since_restart(&[Some(now.clone())]), None);
                assert!(unsynced_since_restart(&[Some(now), Some("other".into())]).is_some());
            }
            None => assert!(unsynced_since_restart(&[None]).is_some()),
        }
        assert!(unsynced_since_restart(&[None]).is_some());
    }
}
