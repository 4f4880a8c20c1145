//! Spectral Granger-Geweke causality (Dhamala et al. 2008, Eq. 8), as Syncopy's `granger`
//! after `wilson_sf`, with Syncopy's fixed settings: regularisation to a condition number
//! below 1e4 (ε up to 1e-1), at most 100 iterations, tolerance 5e-6.

use ndarray::Array3;
use num_complex::Complex64 as C64;
use trialflow_core::Planner;

use super::wilson::{regularize, wilson_sf};
use super::{ChannelPairs, ConnectivityError, CsdBlock};

/// Syncopy's `GrangerCausality(rtol=5e-6, nIter=100, cond_max=1e4)`.
pub const RTOL: f64 = 5e-6;
pub const N_ITER: usize = 100;
pub const COND_MAX: f64 = 1e4;
pub const EPS_MAX: f64 = 1e-1;

/// What Syncopy records in the result's `.info`. With `channelcmb` (one factorisation per
/// pair) the flags of all pairs are combined: converged if every pair did, the largest
/// error, regularisation factor and initial condition number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrangerInfo {
    pub converged: bool,
    pub max_rel_err: f64,
    /// 0: no regularisation needed; -1: even the largest ε did not reach the condition.
    pub reg_factor: f64,
    pub initial_cond: f64,
}

/// Causality `i -> j` at every frequency from the cross-spectra `csd` (`(freq, n, n)`,
/// regularised) and their factorisation: `G[f, i, j] = ln(S_jj / (S_jj - (Σ_ii - Σ_ji² /
/// Σ_jj) |H_ji|²))`.
pub fn causality(csd: &[C64], h: &[C64], sigma: &[f64], n: usize, out: &mut [f64]) {
    let nn = n * n;
    for (k, plane) in out.chunks_exact_mut(nn).enumerate() {
        for i in 0..n {
            for j in 0..n {
                let s_jj = csd[k * nn + j * n + j].norm();
                let h_ji = h[k * nn + j * n + i].norm_sqr();
                let sig_ji = sigma[j * n + i].abs();
                let (sig_ii, sig_jj) = (sigma[i * n + i].abs(), sigma[j * n + j].abs());
                let denom = s_jj - (sig_ii - sig_ji * sig_ji / sig_jj) * h_ji;
                plane[i * n + j] = (s_jj / denom).ln();
            }
        }
    }
}

/// The finish step of `granger`: from the summed cross-spectra of `n_trials` trials (every
/// frequency 0..Nyquist, in `freqs`), regularise, factorise and apply the Granger formula,
/// for the whole matrix at once, or (with `channelcmb`) for each sender/receiver pair on its
/// own 2 x 2 matrix, as Syncopy.
pub fn finish(
    sum: &CsdBlock,
    n_trials: usize,
    pairs: &ChannelPairs,
    freqs: &[f64],
    planner: &mut Planner,
) -> Result<(Array3<f64>, GrangerInfo), ConnectivityError> {
    let mean = sum.mean(n_trials);
    let n_freq = mean.cross.dim().0;
    let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
    let not_pd = |k: usize| ConnectivityError::NotPositiveDefinite { freq: freqs[k] };
    if pairs.full {
        let n = ni;
        let mut csd: Vec<C64> = mean.cross.iter().copied().collect();
        let (reg_factor, initial_cond) = regularize(&mut csd, n, COND_MAX, EPS_MAX);
        let fac = wilson_sf(&csd, n, N_ITER, RTOL, planner).map_err(not_pd)?;
        let mut out = vec![0.0; n_freq * n * n];
        causality(&csd, &fac.h, &fac.sigma, n, &mut out);
        let info = GrangerInfo {
            converged: fac.converged,
            max_rel_err: fac.max_rel_err,
            reg_factor,
            initial_cond,
        };
        let out = Array3::from_shape_vec((n_freq, n, n), out).expect("n_freq x n x n values");
        return Ok((out, info));
    }
    let mut out = Array3::zeros((n_freq, ni, nj));
    let mut info = GrangerInfo {
        converged: true,
        max_rel_err: 0.0,
        reg_factor: 0.0,
        initial_cond: 0.0,
    };
    let mut csd = vec![C64::default(); n_freq * 4];
    let mut g = vec![0.0; n_freq * 4];
    for (a, &s) in pairs.senders.iter().enumerate() {
        for (b, &r) in pairs.receivers.iter().enumerate() {
            if s == r {
                return Err(ConnectivityError::SelfPair(format!("channel {s}")));
            }
            for k in 0..n_freq {
                let sr = mean.cross[[k, a, b]];
                csd[k * 4..k * 4 + 4].copy_from_slice(&[
                    C64::new(mean.auto_i[[k, a]], 0.0),
                    sr,
                    sr.conj(),
                    C64::new(mean.auto_j[[k, b]], 0.0),
                ]);
            }
            let (reg, cond) = regularize(&mut csd, 2, COND_MAX, EPS_MAX);
            let fac = wilson_sf(&csd, 2, N_ITER, RTOL, planner).map_err(not_pd)?;
            causality(&csd, &fac.h, &fac.sigma, 2, &mut g);
            for k in 0..n_freq {
                out[[k, a, b]] = g[k * 4 + 1];
            }
            info.converged &= fac.converged;
            info.max_rel_err = info.max_rel_err.max(fac.max_rel_err);
            info.reg_factor = if reg < 0.0 || info.reg_factor < 0.0 {
                -1.0
            } else {
                info.reg_factor.max(reg)
            };
            info.initial_cond = info.initial_cond.max(cond);
        }
    }
    Ok((out, info))
}
