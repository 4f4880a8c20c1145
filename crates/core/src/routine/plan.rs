use std::sync::Arc;

use num_complex::Complex64;

use crate::error::RoutineError;

use super::{ChunkContext, OutputBlock, TrialInput};

/// How much scratch space a kernel needs for one task, in elements of each buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScratchSize {
    pub real: usize,
    pub complex: usize,
    /// Sample indices (peak positions, sort orders), kept as integers so no index ever
    /// round-trips through a float.
    pub index: usize,
}

impl ScratchSize {
    pub fn max(self, other: ScratchSize) -> ScratchSize {
        ScratchSize {
            real: self.real.max(other.real),
            complex: self.complex.max(other.complex),
            index: self.index.max(other.index),
        }
    }

    pub fn bytes(self) -> usize {
        self.real * std::mem::size_of::<f64>()
            + self.complex * std::mem::size_of::<Complex64>()
            + self.index * std::mem::size_of::<usize>()
    }
}

/// A routine's computation for one task shape, built by
/// [`ComputationalRoutine::plan`](super::ComputationalRoutine::plan) from the routine's
/// checked parameters and whatever it precomputed for that shape (filter coefficients, FFT
/// plans, tapers). Like RustFFT's `Arc<dyn Fft>`, each routine has its own concrete kernel
/// type behind the trait object, so the kernel reads its state as typed fields: there is no
/// type-erased state to downcast.
///
/// One kernel serves every worker at once (hence `Send + Sync` and `&self`); everything a
/// task writes besides its output goes into the caller's [`Scratch`].
pub trait Kernel: Send + Sync {
    /// The scratch one task needs. The engine sizes each worker's scratch once, for the
    /// largest kernel of the step, so `compute` never allocates.
    fn scratch_size(&self) -> ScratchSize {
        ScratchSize::default()
    }

    /// Bytes the kernel itself holds (coefficients, tapers, FFT tables), shared by every
    /// worker: the memory guard counts it once per plan. Kernels with only a few numbers of
    /// state leave the default.
    fn state_bytes(&self) -> usize {
        0
    }

    /// Whether the kernel reads float32 AnalogData as stored ([`TrialInput::data_f32`])
    /// instead of the engine's f64 copy. A kernel that says so must handle both (the
    /// sequential and chunked executors, and float64 files, still hand it f64 `data`), and
    /// give the same bits either way: widening f32 to f64 is exact, so converting each
    /// value where it is first read does. The default, false, keeps every other kernel on
    /// f64 input.
    fn reads_f32(&self) -> bool {
        false
    }

    /// Computes one task. `output` has the declared shape for dense output (with the channel
    /// axis narrowed) or is an empty event block.
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError>;

    /// Computes one time chunk of a trial (see
    /// [`TimeSupport`](super::TimeSupport)): `chunk` says where the block sits in its trial
    /// and carries a recursive filter's state. The default is [`compute`](Self::compute),
    /// right for a routine with a margin whose output holds no sample positions; a carried
    /// routine, or one reporting positions (events), overrides it.
    fn compute_chunk(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
        chunk: &mut ChunkContext,
    ) -> Result<(), RoutineError> {
        let _ = chunk;
        self.compute(input, output, scratch)
    }
}

/// What an FFT plan of length `n` holds (twiddle factors and its own tables), about one
/// complex value per point: what kernels report for the plans they keep.
pub fn fft_plan_bytes(n: usize) -> usize {
    n * std::mem::size_of::<Complex64>()
}

/// A planned kernel, shared read-only by every worker.
pub type Plan = Arc<dyn Kernel>;

impl std::fmt::Debug for dyn Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("scratch", &self.scratch_size())
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
    pub index: Vec<usize>,
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
        if self.index.len() < size.index {
            self.index.resize(size.index, 0);
        }
    }
}
