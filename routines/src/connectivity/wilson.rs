//! Wilson's spectral matrix factorisation (Wilson 1972), as Syncopy's `wilson_sf` (after
//! Dhamala & Rangarajan's Matlab code), and Syncopy's `regularize_csd`.

use num_complex::Complex64 as C64;
use trialflow_core::Planner;

use super::linalg::{cholesky, gram, hermitian_eigenvalues, inverse, matmul};
use crate::smoothing::Simd;

/// What the factorisation gives: `S(f) = H(f) Σ H(f)ᴴ`.
#[derive(Debug, Clone)]
pub struct Factorisation {
    /// The transfer function, `(freq, n, n)` row-major, one-sided frequencies.
    pub h: Vec<C64>,
    /// The noise covariance, `n x n`.
    pub sigma: Vec<f64>,
    /// Whether the relative error fell below `rtol` within the iterations.
    pub converged: bool,
    /// The final maximum relative error `max |S - ψψᴴ| / |S|`.
    pub max_rel_err: f64,
}

/// `numpy.linalg.cond` (2-norm) of every frequency's matrix, the largest: for Hermitian
/// matrices the ratio of the largest to the smallest |eigenvalue|.
pub fn max_condition(csd: &[C64], n: usize) -> f64 {
    let mut work = vec![C64::default(); n * n];
    let mut ev = vec![0.0; n];
    csd.chunks_exact(n * n)
        .map(|m| {
            hermitian_eigenvalues(m, &mut work, n, &mut ev);
            let (lo, hi) = ev.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v.abs()), hi.max(v.abs()))
            });
            hi / lo
        })
        .fold(0.0, f64::max)
}

/// Syncopy's `regularize_csd(csd, cond_max, eps_max, nSteps=15)`: when the largest
/// condition number reaches `cond_max`, adds `ε I` for `ε` on the log grid from 1e-10 to
/// `eps_max` until it does not. Returns the factor used (0: none needed, -1: the last
/// factor did not suffice, as Syncopy) and the initial condition number; `csd` is changed
/// in place.
pub fn regularize(csd: &mut [C64], n: usize, cond_max: f64, eps_max: f64) -> (f64, f64) {
    const STEPS: usize = 15;
    let initial = max_condition(csd, n);
    if initial < cond_max {
        return (0.0, initial);
    }
    let original = csd.to_vec();
    let (lo, hi) = (-10.0f64, eps_max.log10());
    for step in 0..STEPS {
        // numpy.logspace: 10 ** linspace(lo, hi, STEPS), the last point exactly hi
        let exponent = if step == STEPS - 1 {
            hi
        } else {
            lo + step as f64 * ((hi - lo) / (STEPS - 1) as f64)
        };
        let eps = 10f64.powf(exponent);
        csd.copy_from_slice(&original);
        for m in csd.chunks_exact_mut(n * n) {
            for i in 0..n {
                m[i * n + i] += eps;
            }
        }
        if max_condition(csd, n) < cond_max {
            return (eps, initial);
        }
    }
    (-1.0, initial)
}

/// Factorises the one-sided cross-spectral matrices `csd` (`(freq, n, n)`, every rfft bin
/// from 0 to Nyquist) with at most `n_iter` iterations and tolerance `rtol`. `Err(f)` names
/// the first frequency bin whose matrix is not positive definite.
///
/// The iterations' dense complex algebra (O(n³) per frequency) is most of a Granger run;
/// it is compiled for the baseline target and, chosen at run time, for AVX2 and AVX-512
/// (as the smoothing kernels: the same IEEE operations in the same order, only wider, so
/// the same bits on every path).
pub fn wilson_sf(
    csd: &[C64],
    n: usize,
    n_iter: usize,
    rtol: f64,
    planner: &mut Planner,
) -> Result<Factorisation, usize> {
    match Simd::detect() {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            // SAFETY: `wilson_avx512` only requires a CPU with AVX-512F, which
            // `Simd::detect` found by run-time detection; inside it every slice access is
            // bounds-checked as in safe code.
            unsafe { wilson_avx512(csd, n, n_iter, rtol, planner) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            // SAFETY: as above, for AVX2.
            unsafe { wilson_avx2(csd, n, n_iter, rtol, planner) }
        }
        _ => wilson_any(csd, n, n_iter, rtol, planner),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn wilson_avx2(
    csd: &[C64],
    n: usize,
    n_iter: usize,
    rtol: f64,
    planner: &mut Planner,
) -> Result<Factorisation, usize> {
    wilson_any(csd, n, n_iter, rtol, planner)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn wilson_avx512(
    csd: &[C64],
    n: usize,
    n_iter: usize,
    rtol: f64,
    planner: &mut Planner,
) -> Result<Factorisation, usize> {
    wilson_any(csd, n, n_iter, rtol, planner)
}

#[inline(always)]
fn wilson_any(
    csd: &[C64],
    n: usize,
    n_iter: usize,
    rtol: f64,
    planner: &mut Planner,
) -> Result<Factorisation, usize> {
    let nn = n * n;
    let n_freq = csd.len() / nn;
    // Syncopy attaches the negative frequencies: S[F-2], ..., S[1], conjugated.
    let m = 2 * n_freq - 2;
    let mut s = vec![C64::default(); m * nn];
    s[..n_freq * nn].copy_from_slice(csd);
    for k in n_freq..m {
        let src = m - k;
        for e in 0..nn {
            s[k * nn + e] = csd[src * nn + e].conj();
        }
    }
    // psi0: the Cholesky factor of the first Fourier coefficient, made symmetric and real,
    // transposed (`_psi0_initial`).
    let mut gamma0 = vec![C64::default(); nn];
    for k in 0..m {
        for e in 0..nn {
            gamma0[e] += s[k * nn + e];
        }
    }
    let mut sym = vec![C64::default(); nn];
    for i in 0..n {
        for j in 0..n {
            let v = (gamma0[i * n + j] + gamma0[j * n + i].conj()) / 2.0;
            sym[i * n + j] = C64::new(v.re, 0.0);
        }
    }
    let mut l = vec![C64::default(); nn];
    cholesky(&sym, &mut l, n).ok_or(0usize)?;
    let mut psi0 = vec![0.0f64; nn];
    for i in 0..n {
        for j in 0..n {
            psi0[i * n + j] = l[j * n + i].re;
        }
    }
    let mut psi = vec![C64::default(); m * nn];
    for k in 0..m {
        for e in 0..nn {
            psi[k * nn + e] = C64::new(psi0[e], 0.0);
        }
    }
    let mut u = vec![C64::default(); m * nn];
    for k in 0..m {
        cholesky(&s[k * nn..(k + 1) * nn], &mut u[k * nn..(k + 1) * nn], n)
            .ok_or(if k < n_freq { k } else { m - k })?;
    }
    let forward = planner.fft_forward(m);
    let backward = planner.fft_inverse(m);
    let mut fft_scratch = vec![
        C64::default();
        forward
            .get_inplace_scratch_len()
            .max(backward.get_inplace_scratch_len())
    ];
    let mut g = vec![C64::default(); m * nn];
    let (mut inv, mut work, mut t) = (
        vec![C64::default(); nn],
        vec![C64::default(); nn],
        vec![C64::default(); nn],
    );
    let mut column = vec![C64::default(); m];
    let mut g0 = vec![0.0f64; nn];
    let mut step = vec![C64::default(); nn];
    let mut product = vec![C64::default(); nn];
    let n_lag = m / 2;
    // |S| of the error's denominator, the same every iteration.
    let s_norm: Vec<f64> = s.iter().map(|a| a.norm()).collect();
    let mut converged = false;
    let mut err = f64::INFINITY;
    for _ in 0..n_iter {
        for k in 0..m {
            let blk = k * nn..(k + 1) * nn;
            // An inverse of a product of invertible factors; singular only with NaN.
            if inverse(&psi[blk.clone()], &mut inv, &mut work, n).is_none() {
                return Err(if k < n_freq { k } else { m - k });
            }
            matmul(&inv, &u[blk.clone()], &mut t, n);
            gram(&t, &mut g[blk], n);
            for i in 0..n {
                g[k * nn + i * n + i] += 1.0;
            }
        }
        // The [ ]+ operator: causal part by inverse FFT, halving lag 0 and the Nyquist lag.
        for e in 0..nn {
            for k in 0..m {
                column[k] = g[k * nn + e];
            }
            backward.process_with_scratch(&mut column, &mut fft_scratch);
            for (k, c) in column.iter_mut().enumerate() {
                let mut beta = c.re / m as f64;
                if k == 0 || k == n_lag {
                    beta *= 0.5;
                }
                if k > n_lag {
                    beta = 0.0;
                }
                *c = C64::new(beta, 0.0);
            }
            g0[e] = column[0].re;
            forward.process_with_scratch(&mut column, &mut fft_scratch);
            for k in 0..m {
                g[k * nn + e] = column[k];
            }
        }
        // S = triu(g0) - triu(g0)ᵀ, so S + Sᴴ = 0
        for i in 0..n {
            for j in 0..n {
                let upper = |a: usize, b: usize| if b >= a { g0[a * n + b] } else { 0.0 };
                let sv = upper(i, j) - upper(j, i);
                step[i * n + j] = C64::new(sv, 0.0);
            }
        }
        for k in 0..m {
            let blk = k * nn..(k + 1) * nn;
            for e in 0..nn {
                t[e] = g[k * nn + e] + step[e];
            }
            matmul(&psi[blk.clone()], &t, &mut product, n);
            psi[blk].copy_from_slice(&product);
        }
        let psi0_c: Vec<C64> = psi0.iter().map(|&v| C64::new(v, 0.0)).collect();
        for e in 0..nn {
            t[e] = C64::new(g0[e], 0.0) + step[e];
        }
        matmul(&psi0_c, &t, &mut product, n);
        for e in 0..nn {
            psi0[e] = product[e].re;
        }
        err = 0.0;
        for k in 0..m {
            gram(&psi[k * nn..(k + 1) * nn], &mut product, n);
            for e in 0..nn {
                let a = s[k * nn + e];
                err = err.max((a - product[e]).norm() / s_norm[k * nn + e]);
            }
        }
        if err < rtol {
            converged = true;
            break;
        }
    }
    let mut sigma = vec![0.0; nn];
    for i in 0..n {
        for j in 0..n {
            sigma[i * n + j] = (0..n).map(|k| psi0[i * n + k] * psi0[j * n + k]).sum();
        }
    }
    let psi0_c: Vec<C64> = psi0.iter().map(|&v| C64::new(v, 0.0)).collect();
    if inverse(&psi0_c, &mut inv, &mut work, n).is_none() {
        return Err(0);
    }
    let mut h = vec![C64::default(); n_freq * nn];
    for k in 0..n_freq {
        matmul(
            &psi[k * nn..(k + 1) * nn],
            &inv,
            &mut h[k * nn..(k + 1) * nn],
            n,
        );
    }
    Ok(Factorisation {
        h,
        sigma,
        converged,
        max_rel_err: err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectivity::granger::causality;

    /// A moving-average system x = (I + A z) e with noise covariance Σ: its spectrum is
    /// `H Σ Hᴴ` with `H(f) = I + A e^{-2πi f / M}` (minimum phase: A's eigenvalues are
    /// inside the unit circle), and the factorisation must give back H and Σ.
    #[test]
    fn recovers_a_known_minimum_phase_factor() {
        let n = 2;
        let a = [0.5, 0.0, 0.4, 0.3];
        let sigma = [1.0, 0.2, 0.2, 0.8];
        let n_freq = 65;
        let m = 2 * n_freq - 2;
        let mut h = vec![C64::default(); n_freq * 4];
        let mut s = vec![C64::default(); n_freq * 4];
        for f in 0..n_freq {
            let z = C64::from_polar(1.0, -2.0 * std::f64::consts::PI * f as f64 / m as f64);
            let hf = &mut h[f * 4..f * 4 + 4];
            for i in 0..2 {
                for j in 0..2 {
                    hf[i * 2 + j] = z * a[i * 2 + j] + if i == j { 1.0 } else { 0.0 };
                }
            }
            for i in 0..2 {
                for j in 0..2 {
                    let mut v = C64::default();
                    for k in 0..2 {
                        for l in 0..2 {
                            v += hf[i * 2 + k] * sigma[k * 2 + l] * hf[j * 2 + l].conj();
                        }
                    }
                    s[f * 4 + i * 2 + j] = v;
                }
            }
        }
        let mut planner = Planner::new();
        let fac = wilson_sf(&s, n, 100, 1e-10, &mut planner).unwrap();
        assert!(fac.converged, "{}", fac.max_rel_err);
        let h_err = fac
            .h
            .iter()
            .zip(&h)
            .map(|(x, y)| (x - y).norm())
            .fold(0.0, f64::max);
        assert!(h_err < 1e-8, "H off by {h_err}");
        for (x, y) in fac.sigma.iter().zip(&sigma) {
            assert!((x - y).abs() < 1e-8, "Σ {:?}", fac.sigma);
        }
        // Channel 0 drives channel 1 (A[1][0]); nothing drives channel 0.
        let mut g = vec![0.0; n_freq * 4];
        causality(&s, &fac.h, &fac.sigma, n, &mut g);
        for f in 0..n_freq {
            assert!(g[f * 4 + 1] > 0.01, "0 -> 1 at bin {f}: {}", g[f * 4 + 1]);
            assert!(
                g[f * 4 + 2].abs() < 1e-8,
                "1 -> 0 at bin {f}: {}",
                g[f * 4 + 2]
            );
            assert!(g[f * 4].abs() < 1e-12 && g[f * 4 + 3].abs() < 1e-12);
        }
        // Regularisation leaves a well-conditioned matrix alone and reports its condition.
        let (factor, cond) = regularize(&mut s.clone(), n, 1e4, 1e-1);
        assert_eq!(factor, 0.0);
        assert!(cond > 1.0 && cond < 1e4);
    }

    #[test]
    fn regularisation_adds_the_first_sufficient_epsilon() {
        // diag(1, 1e-6): condition 1e6; ε I with ε >= ~1e-4 brings it below 1e4.
        let mut s = vec![
            C64::new(1.0, 0.0),
            C64::default(),
            C64::default(),
            C64::new(1e-6, 0.0),
        ];
        let (factor, cond) = regularize(&mut s, 2, 1e4, 1e-1);
        assert!((cond - 1e6).abs() < 1e-3);
        // Syncopy's grid: 10^(-10 + 9k/14); the first with (1 + ε) / (1e-6 + ε) < 1e4
        let grid: Vec<f64> = (0..15)
            .map(|k| 10f64.powf(-10.0 + 9.0 * k as f64 / 14.0))
            .collect();
        let want = *grid
            .iter()
            .find(|&&e| (1.0 + e) / (1e-6 + e) < 1e4)
            .unwrap();
        assert!((factor - want).abs() < 1e-12 * want, "{factor} vs {want}");
        assert!((s[3].re - (1e-6 + factor)).abs() < 1e-18);
    }
}
