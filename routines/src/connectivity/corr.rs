//! Cross-correlation in the time domain, as Syncopy's `corr`: per trial the cross-covariance
//! at positive lags (`cross_covariance_cF`), averaged over trials and normalised by the
//! zero-lag auto-covariances (`normalize_ccov_cF`).

use std::sync::Arc;

use ndarray::{Array3, ArrayView2};
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
    buf: Vec<f64>,
    spectra: Vec<C64>,
    product: Vec<C64>,
    lags: Vec<f64>,
    fft: Vec<C64>,
    mean: Vec<f64>,
    slope: Vec<f64>,
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
        let p = self.forward.len();
        let scratch = self
            .forward
            .get_scratch_len()
            .max(self.inverse.get_scratch_len());
        CorrScratch {
            buf: vec![0.0; p],
            spectra: vec![C64::default(); channels * (p / 2 + 1)],
            product: vec![C64::default(); p / 2 + 1],
            lags: vec![0.0; p],
            fft: vec![C64::default(); scratch],
            mean: vec![0.0; channels],
            slope: vec![0.0; channels],
        }
    }

    /// One trial's contribution: `out[τ, i, j]` (shape `(n_lags, channels, channels)`).
    pub fn trial(
        &self,
        x: ArrayView2<'_, f64>,
        out: &mut Array3<f64>,
        scratch: &mut CorrScratch,
    ) -> Result<(), RoutineError> {
        let (n, channels) = x.dim();
        assert_eq!(n, self.n, "a CorrPlan is for trials of {} samples", self.n);
        let s = scratch;
        let p = self.forward.len();
        let h = p / 2 + 1;
        let fft_err = |e: realfft::FftError| RoutineError::failed(format!("FFT: {e}"));
        self.trend.fit(&x, 0, n, &mut s.mean, &mut s.slope);
        for c in 0..channels {
            self.trend
                .remove_block(&x, c, 1, 0, n, &s.mean, &s.slope, &mut s.buf, p);
            s.buf[n..].fill(0.0);
            self.forward
                .process_with_scratch(&mut s.buf, &mut s.spectra[c * h..(c + 1) * h], &mut s.fft)
                .map_err(fft_err)?;
        }
        let lags = self.n_lags();
        let shift = usize::from(n % 2 == 0);
        for i in 0..channels {
            for j in 0..=i {
                let (xi, xj) = (
                    &s.spectra[i * h..(i + 1) * h],
                    &s.spectra[j * h..(j + 1) * h],
                );
                for ((o, &a), &b) in s.product.iter_mut().zip(xi).zip(xj) {
                    *o = a * b.conj();
                }
                // Both ends are real for real signals; rounding must not say otherwise.
                s.product[0].im = 0.0;
                s.product[h - 1].im = 0.0;
                self.inverse
                    .process_with_scratch(&mut s.product, &mut s.lags, &mut s.fft)
                    .map_err(fft_err)?;
                let pf = p as f64;
                for tau in 0..lags {
                    let norm = (n - tau) as f64;
                    out[[tau, i, j]] = s.lags[tau] / pf / norm;
                    if i != j {
                        out[[tau, j, i]] = s.lags[(p - tau - shift) % p] / pf / norm;
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
