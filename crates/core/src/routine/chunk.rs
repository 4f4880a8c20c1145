//! How far in time a routine's output reaches back and forward into its input: what the
//! engine needs to cut a trial longer than memory into time chunks (`engine/chunks.rs`).

/// A routine's reach along time, declared by
/// [`ComputationalRoutine::time_support`](super::ComputationalRoutine::time_support).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSupport {
    /// Each output needs the whole trial (an FFT over it, a z-score, a forward and a
    /// backward pass): a trial is never cut for it, and a trial too long for memory is
    /// refused, naming the routine.
    WholeTrial,
    /// Output sample `i` (same length as the input, same sample positions) depends only on
    /// input samples `i - margin ..= i + margin`, and on the trial's edges only where that
    /// window reaches them. The engine then computes a chunk from its samples plus `margin`
    /// on each side, and keeps the middle, which is bitwise what the whole trial gives. An
    /// event-emitting routine reports the events of its block; the engine keeps those
    /// whose sample the chunk owns.
    Margin(usize),
    /// A recursive filter: output sample `i` depends on every input sample up to `i`, through
    /// a state carried from sample to sample. The engine feeds chunks in time order, each
    /// exactly once, and hands the kernel the state the previous chunk left
    /// ([`ChunkContext::state`], through [`Kernel::compute_chunk`](super::Kernel::compute_chunk)).
    Carried,
}

impl TimeSupport {
    /// Samples each side a chunk's block must hold beyond the samples it produces.
    pub fn margin(self) -> usize {
        match self {
            TimeSupport::Margin(m) => m,
            TimeSupport::WholeTrial | TimeSupport::Carried => 0,
        }
    }
}

/// Where a kernel's block sits when the engine computes a trial in time chunks, and the
/// state a [`TimeSupport::Carried`] routine carries from one chunk to the next.
#[derive(Debug, Clone)]
pub struct ChunkContext {
    /// The block's first sample within the trial: event positions are reported relative to
    /// the trial (add it), so they are the same numbers a whole-trial run computes.
    pub first_sample: usize,
    /// Whether the block starts at the trial's first sample (a real edge) or inside it.
    pub at_trial_start: bool,
    /// Whether the block ends at the trial's last sample.
    pub at_trial_end: bool,
    /// The trial samples whose output the engine keeps from this block (the rest is
    /// margin, computed only to be dropped): an event-emitting kernel may skip the others.
    pub keep: std::ops::Range<usize>,
    /// A carried routine's state: empty at the start of each trial (and channel group),
    /// then whatever the kernel left in it.
    pub state: Vec<f64>,
}

impl Default for ChunkContext {
    fn default() -> ChunkContext {
        ChunkContext::whole()
    }
}

impl ChunkContext {
    /// The context of a block that is a whole trial.
    pub fn whole() -> ChunkContext {
        ChunkContext {
            first_sample: 0,
            at_trial_start: true,
            at_trial_end: true,
            keep: 0..usize::MAX,
            state: Vec::new(),
        }
    }
}
