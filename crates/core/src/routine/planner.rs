//! What plans share: FFT plans and tapers, computed once per run rather than once per
//! routine and task shape.

use std::collections::HashMap;
use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

/// The planning context the engine hands to every [`plan`](super::ComputationalRoutine::plan)
/// call of a run (every step, every task shape). Trials of different lengths padded to one
/// FFT length, or two steps with the same taper, then share one FFT plan and one taper: the
/// RustFFT planners already cache plans by length, and tapers (DPSS especially, an
/// eigenproblem per length) are cached here by name and length.
pub struct Planner {
    real: RealFftPlanner<f64>,
    complex: FftPlanner<f64>,
    tapers: HashMap<(String, usize), Arc<[f64]>>,
}

impl Planner {
    pub fn new() -> Planner {
        Planner {
            real: RealFftPlanner::new(),
            complex: FftPlanner::new(),
            tapers: HashMap::new(),
        }
    }

    /// A forward real-to-complex FFT of `len` samples.
    pub fn real_fft_forward(&mut self, len: usize) -> Arc<dyn RealToComplex<f64>> {
        self.real.plan_fft_forward(len)
    }

    /// An inverse complex-to-real FFT of `len` samples.
    pub fn real_fft_inverse(&mut self, len: usize) -> Arc<dyn ComplexToReal<f64>> {
        self.real.plan_fft_inverse(len)
    }

    /// A forward complex FFT of `len` points.
    pub fn fft_forward(&mut self, len: usize) -> Arc<dyn Fft<f64>> {
        self.complex.plan_fft_forward(len)
    }

    /// An inverse complex FFT of `len` points (unnormalised, as rustfft's).
    pub fn fft_inverse(&mut self, len: usize) -> Arc<dyn Fft<f64>> {
        self.complex.plan_fft_inverse(len)
    }

    /// The taper (or tapers, back to back) named `name` of `len` samples, made by `make`
    /// the first time it is asked for. `name` must determine the values completely for a
    /// given `len` (window kind, every parameter, symmetry, normalisation), since a later
    /// request with the same name gets the cached values.
    pub fn taper(&mut self, name: &str, len: usize, make: impl FnOnce() -> Vec<f64>) -> Arc<[f64]> {
        if let Some(taper) = self.tapers.get(&(name.to_string(), len)) {
            return Arc::clone(taper);
        }
        let taper: Arc<[f64]> = make().into();
        self.tapers
            .insert((name.to_string(), len), Arc::clone(&taper));
        taper
    }

    /// How many distinct tapers have been computed (for tests of the cache).
    pub fn tapers_computed(&self) -> usize {
        self.tapers.len()
    }
}

impl Default for Planner {
    fn default() -> Planner {
        Planner::new()
    }
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("tapers", &self.tapers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapers_are_computed_once_per_name_and_length() {
        let mut planner = Planner::new();
        let mut made = 0;
        let a = planner.taper("hann", 8, || {
            made += 1;
            vec![1.0; 8]
        });
        let b = planner.taper("hann", 8, || {
            made += 1;
            vec![2.0; 8]
        });
        assert_eq!(made, 1);
        assert!(Arc::ptr_eq(&a, &b));
        let c = planner.taper("hann", 9, || vec![3.0; 9]);
        assert_eq!(c.len(), 9);
        assert_eq!(planner.tapers_computed(), 2);
    }

    #[test]
    fn fft_plans_are_shared_by_length() {
        let mut planner = Planner::new();
        let a = planner.real_fft_forward(64);
        let b = planner.real_fft_forward(64);
        assert!(Arc::ptr_eq(&a, &b));
    }
}
