//! Wilson's spectral matrix factorisation (Wilson 1972), as Syncopy's `wilson_sf` (after
//! Dhamala & Rangarajan's Matlab code), and Syncopy's `regularize_csd`.

use num_complex::Complex64 as C64;
use trialflow_core::Planner;

use rayon::prelude::*;

use super::linalg::{cholesky, hermitian_eigenvalues, inverse, matmul};
use super::wilson_steps::{cholesky_run, g_run, h_run, psi_run, Scratch};
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
    // Jacobi's sweeps cost O(n³) per frequency, a few times an iteration of Wilson's: the
    // frequencies run in parallel (a maximum, so the same whatever the split).
    csd.par_chunks_exact(n * n)
        .map_init(
            || (vec![C64::default(); n * n], vec![0.0; n]),
            |(work, ev), m| {
                hermitian_eigenvalues(m, work, n, ev);
                let (lo, hi) = ev.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                    (lo.min(v.abs()), hi.max(v.abs()))
                });
                hi / lo
            },
        )
        .reduce(|| 0.0, f64::max)
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

/// Frequencies per unit of parallel work: small enough to balance two to a few dozen
/// threads over ~1000 frequencies, large enough that handing out runs costs nothing.
const FREQ_RUN: usize = 8;
/// Matrix elements per unit of work of the `[ ]+` step (one inverse and one forward real
/// FFT each).
const ELEMENT_RUN: usize = 16;

/// Factorises the one-sided cross-spectral matrices `csd` (`(freq, n, n)`, every rfft bin
/// from 0 to Nyquist) with at most `n_iter` iterations and tolerance `rtol`. `Err(f)` names
/// the first frequency bin whose matrix is not positive definite.
///
/// As Syncopy, the iterations run on the two-sided spectrum (`M = 2F - 2` frequencies, the
/// negative ones the conjugates of the positive ones); that spectrum is Hermitian in
/// frequency, and so, exactly, are `U`, `g` and `ψ` (a conjugated input gives the
/// conjugated result, operation for operation), so only the `F` one-sided frequencies are
/// computed, and the `[ ]+` step's transforms of these Hermitian sequences are real FFTs.
///
/// The per-frequency steps (O(n³) each, most of a Granger run) run on the current rayon
/// pool (the engine's workers, in a run) in runs of [`FREQ_RUN`] frequencies, and the
/// `[ ]+` step in runs of matrix elements; every frequency and element is computed alike
/// wherever it runs and the error is a maximum, so the bits do not depend on the number of
/// threads.
pub fn wilson_sf(
    csd: &[C64],
    n: usize,
    n_iter: usize,
    rtol: f64,
    planner: &mut Planner,
) -> Result<Factorisation, usize> {
    let simd = Simd::detect();
    let nn = n * n;
    let n_freq = csd.len() / nn;
    assert!(
        n_freq >= 2,
        "Wilson's factorisation needs at least 2 frequencies"
    );
    let m = 2 * n_freq - 2;
    let run = FREQ_RUN * nn;
    // psi0: the Cholesky factor of the first Fourier coefficient (the sum over all M
    // frequencies, the negative ones conjugated), made symmetric and real, transposed
    // (`_psi0_initial`).
    let mut gamma0 = vec![C64::default(); nn];
    for k in 0..m {
        let (src, conj) = if k < n_freq {
            (k, false)
        } else {
            (m - k, true)
        };
        for (g, &v) in gamma0.iter_mut().zip(&csd[src * nn..(src + 1) * nn]) {
            *g += if conj { v.conj() } else { v };
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
    let mut psi: Vec<C64> = (0..n_freq)
        .flat_map(|_| psi0.iter().map(|&v| C64::new(v, 0.0)))
        .collect();
    let mut u = vec![C64::default(); n_freq * nn];
    first_failure(
        csd.par_chunks(run)
            .zip(u.par_chunks_mut(run))
            .enumerate()
            .map(|(r, (s, u))| cholesky_run(simd, s, u, n).map_err(|k| r * FREQ_RUN + k)),
    )?;
    let c2r = planner.real_fft_inverse(m);
    let r2c = planner.real_fft_forward(m);
    let mut g = vec![C64::default(); n_freq * nn];
    // g₊ element-major: gt[e * n_freq + k].
    let mut gt = vec![C64::default(); n_freq * nn];
    let mut g0 = vec![0.0f64; nn];
    let mut step = vec![C64::default(); nn];
    let n_lag = m / 2;
    // |S|² of the error's denominator, the same every iteration.
    let s_norm: Vec<f64> = csd.iter().map(|a| a.norm_sqr()).collect();
    let mut converged = false;
    let mut err = f64::INFINITY;
    for _ in 0..n_iter {
        first_failure(
            psi.par_chunks(run)
                .zip(u.par_chunks(run))
                .zip(g.par_chunks_mut(run))
                .enumerate()
                .map_init(
                    || Scratch::new(n),
                    |sc, (r, ((p, u), g))| {
                        g_run(simd, p, u, g, n, sc).map_err(|k| r * FREQ_RUN + k)
                    },
                ),
        )?;
        // The [ ]+ operator: causal part by inverse FFT, halving lag 0 and the Nyquist lag.
        gt.par_chunks_mut(ELEMENT_RUN * n_freq)
            .zip(g0.par_chunks_mut(ELEMENT_RUN))
            .enumerate()
            .for_each_init(
                || {
                    let scratch = c2r.get_scratch_len().max(r2c.get_scratch_len());
                    (
                        vec![C64::default(); n_freq],
                        vec![0.0f64; m],
                        vec![C64::default(); scratch],
                    )
                },
                |(column, lags, scratch), (r, (gt, g0))| {
                    for (j, (out, g0)) in gt.chunks_exact_mut(n_freq).zip(g0).enumerate() {
                        let e = r * ELEMENT_RUN + j;
                        for (k, c) in column.iter_mut().enumerate() {
                            *c = g[k * nn + e];
                        }
                        // Real at 0 and Nyquist (a Hermitian sequence): as `ifft(..).real`.
                        column[0].im = 0.0;
                        column[n_freq - 1].im = 0.0;
                        c2r.process_with_scratch(column, lags, scratch)
                            .expect("sized by the plan");
                        for (k, x) in lags.iter_mut().enumerate() {
                            let mut beta = *x / m as f64;
                            if k == 0 || k == n_lag {
                                beta *= 0.5;
                            }
                            if k > n_lag {
                                beta = 0.0;
                            }
                            *x = beta;
                        }
                        *g0 = lags[0];
                        r2c.process_with_scratch(lags, out, scratch)
                            .expect("sized by the plan");
                    }
                },
            );
        // S = triu(g0) - triu(g0)ᵀ, so S + Sᴴ = 0
        for i in 0..n {
            for j in 0..n {
                let upper = |a: usize, b: usize| if b >= a { g0[a * n + b] } else { 0.0 };
                let sv = upper(i, j) - upper(j, i);
                step[i * n + j] = C64::new(sv, 0.0);
            }
        }
        err = psi
            .par_chunks_mut(run)
            .zip(csd.par_chunks(run).zip(s_norm.par_chunks(run)))
            .enumerate()
            .map_init(
                || Scratch::new(n),
                |sc, (r, (p, (s, s_norm)))| {
                    let k0 = r * FREQ_RUN;
                    psi_run(simd, p, &gt, k0, n_freq, &step, s, s_norm, n, sc)
                },
            )
            .reduce(|| 0.0, f64::max)
            .sqrt();
        let psi0_c: Vec<C64> = psi0.iter().map(|&v| C64::new(v, 0.0)).collect();
        let t: Vec<C64> = (0..nn).map(|e| C64::new(g0[e], 0.0) + step[e]).collect();
        let mut product = vec![C64::default(); nn];
        matmul(&psi0_c, &t, &mut product, n);
        for e in 0..nn {
            psi0[e] = product[e].re;
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
    let (mut inv0, mut work) = (vec![C64::default(); nn], vec![C64::default(); nn]);
    if inverse(&psi0_c, &mut inv0, &mut work, n).is_none() {
        return Err(0);
    }
    let mut h = vec![C64::default(); n_freq * nn];
    psi.par_chunks(run)
        .zip(h.par_chunks_mut(run))
        .for_each(|(p, h)| h_run(simd, p, &inv0, h, n));
    Ok(Factorisation {
        h,
        sigma,
        converged,
        max_rel_err: err,
    })
}

/// The first (lowest) failing frequency of runs computed in parallel, whichever finished
/// first.
fn first_failure(runs: impl ParallelIterator<Item = Result<(), usize>>) -> Result<(), usize> {
    match runs.filter_map(|r| r.err()).min() {
        Some(k) => Err(k),
        None => Ok(()),
    }
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

    /// The spectrum of `x = (I + A z + B z²) e` with unit noise, n channels, `n_freq` bins.
    fn ma2_spectrum(n: usize, n_freq: usize, seed: u64) -> Vec<C64> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.4
        };
        let (a, b): (Vec<f64>, Vec<f64>) = (0..n * n).map(|_| (next(), next())).unzip();
        let m = 2 * n_freq - 2;
        let nn = n * n;
        let mut s = vec![C64::default(); n_freq * nn];
        let mut h = vec![C64::default(); nn];
        for f in 0..n_freq {
            let z = C64::from_polar(1.0, -2.0 * std::f64::consts::PI * f as f64 / m as f64);
            for e in 0..nn {
                let eye = if e / n == e % n { 1.0 } else { 0.0 };
                h[e] = z * a[e] + z * z * b[e] + eye;
            }
            for i in 0..n {
                for j in 0..n {
                    s[f * nn + i * n + j] =
                        (0..n).map(|k| h[i * n + k] * h[j * n + k].conj()).sum();
                }
            }
        }
        s
    }

    /// Frequencies and matrix elements are split over threads in runs: the factorisation
    /// must have the same bits whatever the number of threads (runs that do not divide the
    /// 65 frequencies or 25 elements evenly included).
    #[test]
    fn the_factorisation_has_the_same_bits_on_any_number_of_threads() {
        let (n, n_freq) = (5, 65);
        let s = ma2_spectrum(n, n_freq, 3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| wilson_sf(&s, n, 100, 1e-12, &mut Planner::new()).unwrap())
        };
        let one = run(1);
        assert!(one.max_rel_err < 1e-6, "{}", one.max_rel_err);
        let bits = |f: &Factorisation| -> Vec<u64> {
            let h = f.h.iter().flat_map(|c| [c.re.to_bits(), c.im.to_bits()]);
            let sigma = f.sigma.iter().map(|v| v.to_bits());
            h.chain(sigma).chain([f.max_rel_err.to_bits()]).collect()
        };
        for threads in [2, 3, 7] {
            let other = run(threads);
            assert_eq!(other.converged, one.converged);
            assert!(
                bits(&other) == bits(&one),
                "{threads} threads differ from one"
            );
        }
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
