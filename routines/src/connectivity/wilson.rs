//! Wilson's spectral matrix factorisation (Wilson 1972), as Syncopy's `wilson_sf` (after
//! Dhamala & Rangarajan's Matlab code), and Syncopy's `regularize_csd`.

use num_complex::Complex64 as C64;
use trialflow_core::Planner;

use super::linalg::{cholesky, gram, hermitian_eigenvalues, inverse, matmul};

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
pub fn wilson_sf(
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
                err = err.max((a - product[e]).norm() / a.norm());
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
