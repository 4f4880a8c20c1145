use std::any::Any;

use num_complex::Complex64;

/// How much scratch space a kernel needs for one task, in elements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScratchSize {
    pub real: usize,
    pub complex: usize,
}

impl ScratchSize {
    pub fn max(self, other: ScratchSize) -> ScratchSize {
        ScratchSize {
            real: self.real.max(other.real),
            complex: self.complex.max(other.complex),
        }
    }

    pub fn bytes(self) -> usize {
        self.real * 8 + self.complex * 16
    }
}

/// What a routine precomputes once per task shape and shares, read-only, across workers:
/// filter coefficients, FFT plans, tapers, and how much scratch the kernel needs.
///
/// The state is type-erased so routines of every kind fit in one pipeline; a routine reads
/// its own state back with [`Plan::state`].
pub struct Plan {
    state: Box<dyn Any + Send + Sync>,
    scratch: ScratchSize,
}

impl Plan {
    /// A plan with no state and no scratch, for kernels that need neither.
    pub fn empty() -> Plan {
        Plan {
            state: Box::new(()),
            scratch: ScratchSize::default(),
        }
    }

    pub fn new<T: Any + Send + Sync>(state: T, scratch: ScratchSize) -> Plan {
        Plan {
            state: Box::new(state),
            scratch,
        }
    }

    pub fn scratch_size(&self) -> ScratchSize {
        self.scratch
    }

    /// The routine's own plan state.
    ///
    /// # Panics
    /// If `T` is not the type the routine stored: a programming error in the routine, not
    /// something input can cause.
    pub fn state<T: Any>(&self) -> &T {
        self.state
            .downcast_ref::<T>()
            .expect("a routine read its plan as a different type than it planned")
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("scratch", &self.scratch)
            .finish()
    }
}

/// Caller-owned scratch buffers handed to a kernel. Each worker owns one per step and sizes
/// it once for the largest plan, so kernels never allocate per task.
///
/// It also carries the task's warnings: what SciPy would report with `warnings.warn` (a peak
/// with zero prominence, say) a kernel reports with [`Scratch::warn`]; the engine adds the
/// step, trial and channels and writes them into the result's `_log`.
#[derive(Debug, Default)]
pub struct Scratch {
    pub real: Vec<f64>,
    pub complex: Vec<Complex64>,
    warnings: Vec<String>,
}

impl Scratch {
    /// Records a warning about the current task (not an error: the task's result stands).
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// Takes the warnings recorded since the last call.
    pub(crate) fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Grows the buffers to at least `size` (never shrinks).
    pub fn reserve(&mut self, size: ScratchSize) {
        if self.real.len() < size.real {
            self.real.resize(size.real, 0.0);
        }
        if self.complex.len() < size.complex {
            self.complex.resize(size.complex, Complex64::new(0.0, 0.0));
        }
    }
}
