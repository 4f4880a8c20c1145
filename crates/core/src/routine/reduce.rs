//! What a trial-reducing routine declares, and what its finishing function receives.
//!
//! A routine that reduces across trials (inter-trial coherence, trial averages, averaged
//! cross-spectra) splits its work in two. Its kernel turns each trial into a *contribution*
//! on the compute workers, like any other task; the engine folds the contributions by
//! elementwise addition in a fixed order that depends only on trial indices (see
//! `engine/fold.rs`), so the folded state is the same bits in every execution mode; and
//! [`ComputationalRoutine::finish_reduction`](super::ComputationalRoutine::finish_reduction)
//! turns the folded state and the trial count into the one result. Only the contributions'
//! sum is ever kept, never the trials, so the memory a reduction needs does not grow with
//! the number of trials.

use ndarray::ArrayViewD;
use num_complex::Complex64;

/// A step's declaration that it reduces across trials: the shape of one trial's
/// contribution, the same for every trial. The last axis is the channel axis, so the
/// contributions of a trial's channel groups (`chan_per_worker`) fill disjoint slices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialReduction {
    contribution: Vec<usize>,
    complex: bool,
}

impl TrialReduction {
    /// Real contributions of `shape` (channel axis last).
    pub fn real(shape: Vec<usize>) -> TrialReduction {
        TrialReduction {
            contribution: shape,
            complex: false,
        }
    }

    /// Complex contributions of `shape` (channel axis last): the kernel writes them through
    /// [`OutputBlock::complex_mut`](super::OutputBlock::complex_mut).
    pub fn complex(shape: Vec<usize>) -> TrialReduction {
        TrialReduction {
            contribution: shape,
            complex: true,
        }
    }

    /// The shape of one trial's contribution (channel axis last).
    pub fn shape(&self) -> &[usize] {
        &self.contribution
    }

    pub fn is_complex(&self) -> bool {
        self.complex
    }

    /// Values in one contribution (complex values count twice): the length of the folded
    /// state the engine keeps per node of its reduction tree.
    pub fn state_len(&self) -> usize {
        self.contribution.iter().product::<usize>() * if self.complex { 2 } else { 1 }
    }
}

/// The folded contributions of every trial, as the finishing function sees them: the sum
/// over trials of what the kernel wrote, in the declared contribution shape.
#[derive(Debug)]
pub enum ReducedState<'a> {
    Real(ArrayViewD<'a, f64>),
    Complex(ArrayViewD<'a, Complex64>),
}

impl<'a> ReducedState<'a> {
    /// The real state.
    ///
    /// # Panics
    /// If the routine declared complex contributions.
    pub fn real(&self) -> ArrayViewD<'_, f64> {
        match self {
            ReducedState::Real(a) => a.view(),
            ReducedState::Complex(_) => panic!("the reduction declared complex contributions"),
        }
    }

    /// The complex state.
    ///
    /// # Panics
    /// If the routine declared real contributions.
    pub fn complex(&self) -> ArrayViewD<'_, Complex64> {
        match self {
            ReducedState::Complex(a) => a.view(),
            ReducedState::Real(_) => panic!("the reduction declared real contributions"),
        }
    }
}

/// Which input values a routine takes: the engine refuses a step whose input does not fit
/// before anything runs, naming it and the step that produces that input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueKind {
    /// Real values only (every routine that reads samples).
    #[default]
    Real,
    /// Complex values only (`output: fourier` spectra, analytic signals).
    Complex,
    /// Either.
    Any,
}

impl ValueKind {
    pub fn accepts(self, complex: bool) -> bool {
        match self {
            ValueKind::Real => !complex,
            ValueKind::Complex => complex,
            ValueKind::Any => true,
        }
    }
}
