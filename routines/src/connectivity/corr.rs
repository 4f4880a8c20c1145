//! Cross-correlation in the time domain, as Syncopy's `corr`: per trial the cross-covariance
//! at positive lags (`cross_covariance_cF`), averaged over trials and normalised by the
//! zero-lag auto-covariances (`normalize_ccov_cF`).

use std::sync::Arc;

use ndarray::{Array3, ArrayView2, ArrayViewMut3};
use num_complex::Complex64 as C64;
use realfft::{ComplexToReal, RealToComplex};
use trialflow_core::{Planner, RoutineError};

use crate::spectral::trend::Trend;
use crate::spectral::PolyRemoval;

/// Cross-covariances of trials of `n` samples.
///
/// Lag `τ = 0 .. ⌈n/2⌉ - 1` (seconds: `τ / samplerate`). For channels `i > j` Syncopy takes
/// `cc = fftconvolve(x_i, x_j[::-1], 'same')`, so `C[τ, i, j] = R_ij(τ) / (n - τ)` with
/// `R_ij(L) = Σ_m x_i[m] x_j[m - L]`, and the mirrored half `C[τ, j, i] = cc[::-1][n//2 + τ]
/// / (n - τ)`, which is `R_ij(-τ)` for odd `n` but `R_ij(-τ - 1)` for even `n` (the
/// 'same' window is off centre by one there). We reproduce that. The sums are computed by
/// one zero-padded real FFT per channel and one inverse per channel pair.
pub struct CorrPlan {
    n: usize,
    trend: Trend,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

/// Caller-owned buffers for [`CorrPlan::trial`].
pub struct CorrScratch {
    real: Vec<f64>,
    complex: Vec<C64>,
}

impl CorrPlan {
    /// Trials of `n` samples, detrended as `polyremoval` says before correlating.
    pub fn new(n: usize, polyremoval: PolyRemoval, planner: &mut Planner) -> CorrPlan {
        // At least 2n - 1 points, so no circular wrap reaches a lag we read.
        let p = 2 * n;
        CorrPlan {
            n,
            trend: Trend::from(polyremoval),
            forward: planner.real_fft_forward(p),
            inverse: planner.real_fft_inverse(p),
        }
    }

    /// Lags per trial: `n - n // 2`.
    pub fn n_lags(&self) -> usize {
        self.n - self.n / 2
    }

    pub fn scratch(&self, channels: usize) -> CorrScratch {
        let (real, complex) = self.scratch_len(channels);
        CorrScratch {
            real: vec![0.0; real],
            complex: vec![C64::default(); complex],
        }
    }

    /// The (real, complex) values [`trial_into`](Self::trial_into) borrows for `channels`
    /// channels.
    pub fn scratch_len(&self, channels: usize) -> (usize, usize) {
        let p = self.forward.len();
        let fft = self
            .forward
            .get_scratch_len()
            .max(self.inverse.get_scratch_len());
        (2 * p + 2 * channels, (channels + 1) * (p / 2 + 1) + fft)
    }

    /// One trial's contribution: `out[τ, i, j]` (shape `(n_lags, channels, channels)`).
    pub fn trial(
        &self,
        x: ArrayView2<'_, f64>,
        out: &mut Array3<f64>,
        scratch: &mut CorrScratch,
    ) -> Result<(), RoutineError> {
        self.trial_into(x, out.view_mut(), &mut scratch.real, &mut scratch.complex)
    }

    /// [`trial`](Self::trial) into a caller-owned view, with buffers split from caller-owned
    /// storage (at least [`scratch_len`](Self::scratch_len)).
    pub fn trial_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut3<'_, f64>,
        real: &mut [f64],
        complex: &mut [C64],
    ) -> Result<(), RoutineError> {
        let (n, channels) = x.dim();
        assert_eq!(n, self.n, "a CorrPlan is for trials of {} samples", self.n);
        let p = self.forward.len();
        let h = p / 2 + 1;
        let (buf, rest) = real.split_at_mut(p);
        let (lags_buf, rest) = rest.split_at_mut(p);
        let (mean, rest) = rest.split_at_mut(channels);
        let (slope, _) = rest.split_at_mut(channels);
        let (spectra, rest) = complex.split_at_mut(channels * h);
        let (product, fft) = rest.split_at_mut(h);
        let fft_err = |e: realfft::FftError| RoutineError::failed(format!("FFT: {e}"));
        self.trend.fit(&x, 0, n, mean, slope);
        for c in 0..channels {
            self.trend.remove_block(&x, c, 1, 0, n, mean, slope, buf, p);
            buf[n..].fill(0.0);
            self.forward
                .process_with_scratch(buf, &mut spectra[c * h..(c + 1) * h], fft)
                .map_err(fft_err)?;
        }
        let lags = self.n_lags();
        let shift = usize::from(n % 2 == 0);
        for i in 0..channels {
            for j in 0..=i {
                let (xi, xj) = (&spectra[i * h..(i + 1) * h], &spectra[j * h..(j + 1) * h]);
                for ((o, &a), &b) in product.iter_mut().zip(xi).zip(xj) {
                    *o = a * b.conj();
                }
                // Both ends are real for real signals; rounding must not say otherwise.
                product[0].im = 0.0;
                product[h - 1].im = 0.0;
                self.inverse
                    .process_with_scratch(product, lags_buf, fft)
                    .map_err(fft_err)?;
                let pf = p as f64;
                for tau in 0..lags {
                    let norm = (n - tau) as f64;
                    out[[tau, i, j]] = lags_buf[tau] / pf / norm;
                    if i != j {
                        out[[tau, j, i]] = lags_buf[(p - tau - shift) % p] / pf / norm;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The finish step: the trial average of the summed cross-covariances, divided by
/// `√(C_ii(0) C_jj(0))`.
pub fn finish(sum: &Array3<f64>, n_trials: usize) -> Array3<f64> {
    let nt = n_trials as f64;
    let mean = sum.mapv(|v| v / nt);
    let channels = mean.dim().1;
    let diag: Vec<f64> = (0..channels).map(|c| mean[[0, c, c]]).collect();
    let mut out = mean;
    for mut plane in out.outer_iter_mut() {
        for i in 0..channels {
            for j in 0..channels {
                plane[[i, j]] /= (diag[i] * diag[j]).sqrt();
            }
        }
    }
    out
}
