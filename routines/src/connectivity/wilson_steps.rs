//! The per-frequency steps of Wilson's iterations ([`super::wilson::wilson_sf`]), each over a
//! run of consecutive frequencies so that the driver can hand runs to threads. Every
//! frequency's arithmetic is the same whichever run and thread it falls in, so the result
//! does not depend on how the frequencies are split.
//!
//! Each step is compiled for the baseline target and, chosen at run time, for AVX2 and
//! AVX-512 (as the smoothing kernels: the same IEEE operations in the same order, only
//! wider, so the same bits on every path).

use num_complex::Complex64 as C64;

use super::linalg::{cholesky, gram_hermitian, matmul, solve};
use crate::smoothing::Simd;

/// One thread's scratch: three n x n matrices.
pub(super) struct Scratch {
    work: Vec<C64>,
    t: Vec<C64>,
    product: Vec<C64>,
}

impl Scratch {
    pub(super) fn new(n: usize) -> Scratch {
        let zeros = || vec![C64::default(); n * n];
        Scratch {
            work: zeros(),
            t: zeros(),
            product: zeros(),
        }
    }
}

/// Defines `pub(super) fn $name(simd, args..)` running `$body` compiled for `simd`.
macro_rules! simd_step {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments, clippy::unused_unit)]
        pub(super) fn $name(simd: Simd, $($arg: $ty),*) -> $ret {
            #[inline(always)]
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            fn any($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            fn avx2($($arg: $ty),*) -> $ret {
                any($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            fn avx512($($arg: $ty),*) -> $ret {
                any($($arg),*)
            }
            match simd {
                // SAFETY: `simd` comes from `Simd::detect`, which found the feature by
                // run-time detection; inside, every slice access is bounds-checked.
                #[cfg(target_arch = "x86_64")]
                Simd::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above, for AVX2.
                #[cfg(target_arch = "x86_64")]
                Simd::Avx2 => unsafe { avx2($($arg),*) },
                _ => any($($arg),*),
            }
        }
    };
}

simd_step! {
    /// The Cholesky factors `u` of the spectra `s` (a run of frequencies); `Err(k)` names
    /// the first frequency of the run (0-based in the run) that is not positive definite.
    fn cholesky_run(s: &[C64], u: &mut [C64], n: usize) -> Result<(), usize> {
        let nn = n * n;
        for (k, (sk, uk)) in s.chunks_exact(nn).zip(u.chunks_exact_mut(nn)).enumerate() {
            cholesky(sk, uk, n).ok_or(k)?;
        }
        Ok(())
    }
}

simd_step! {
    /// `g = ψ⁻¹ U (ψ⁻¹ U)ᴴ + I` for a run of frequencies (`ψ⁻¹ U` by elimination); `Err(k)`
    /// names the first frequency of the run whose ψ is singular (only with NaN).
    fn g_run(
        psi: &[C64],
        u: &[C64],
        g: &mut [C64],
        n: usize,
        sc: &mut Scratch,
    ) -> Result<(), usize> {
        let nn = n * n;
        let runs = psi.chunks_exact(nn).zip(u.chunks_exact(nn)).zip(g.chunks_exact_mut(nn));
        for (k, ((pk, uk), gk)) in runs.enumerate() {
            solve(pk, uk, &mut sc.t, &mut sc.work, n).ok_or(k)?;
            gram_hermitian(&sc.t, &mut sc.work, gk, n);
            for i in 0..n {
                gk[i * n + i] += 1.0;
            }
        }
        Ok(())
    }
}

simd_step! {
    /// `ψ ← ψ (g₊ + S)` for the run of frequencies from `k0` (`g₊` element-major:
    /// `gt[e * n_freq + k]`), and the run's largest squared relative error
    /// `|s - ψψᴴ|² / |s|²` (`s_norm`: `|s|²`; squares, as `hypot` was a tenth of a run).
    fn psi_run(
        psi: &mut [C64],
        gt: &[C64],
        k0: usize,
        n_freq: usize,
        step: &[C64],
        s: &[C64],
        s_norm: &[f64],
        n: usize,
        sc: &mut Scratch,
    ) -> f64 {
        let nn = n * n;
        let mut err = 0.0f64;
        for (k, pk) in psi.chunks_exact_mut(nn).enumerate() {
            for (e, t) in sc.t.iter_mut().enumerate() {
                *t = gt[e * n_freq + k0 + k] + step[e];
            }
            matmul(pk, &sc.t, &mut sc.product, n);
            pk.copy_from_slice(&sc.product);
            gram_hermitian(pk, &mut sc.work, &mut sc.product, n);
            let (sk, nk) = (&s[k * nn..(k + 1) * nn], &s_norm[k * nn..(k + 1) * nn]);
            for ((a, b), d) in sk.iter().zip(&sc.product).zip(nk) {
                err = err.max((a - b).norm_sqr() / d);
            }
        }
        err
    }
}

simd_step! {
    /// `H = ψ ψ₀⁻¹` for a run of frequencies (`inv0`: ψ₀⁻¹).
    fn h_run(psi: &[C64], inv0: &[C64], h: &mut [C64], n: usize) -> () {
        let nn = n * n;
        for (pk, hk) in psi.chunks_exact(nn).zip(h.chunks_exact_mut(nn)) {
            matmul(pk, inv0, hk, n);
        }
    }
}
