//! What a task knows about itself.

/// Passed to every call of the mapped function: its 0-based index in task order and the
/// total number of tasks. Derive per-task random seeds from it ([`TaskContext::seed`]) so
/// that results do not depend on which worker ran the task or in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskContext {
    /// Position of this task in the argument list (and of its result in the output).
    pub index: usize,
    /// Number of tasks in the whole map (on every executor, not only this process).
    pub n_tasks: usize,
}

impl TaskContext {
    /// A seed for this task, derived from `base` and the task index with SplitMix64, so
    /// neighbouring tasks get unrelated streams and the same map always gets the same seeds.
    pub fn seed(&self, base: u64) -> u64 {
        let mut z = base ^ (self.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
