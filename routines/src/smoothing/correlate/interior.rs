//! The interior of a correlation: output values whose taps all fall inside the trial.
//!
//! Each group of [`LANES`] consecutive outputs (rows x channels, row-major) is summed over
//! every tap in registers and stored once, instead of one pass over the whole block per
//! tap: the output is no longer loaded and stored once per tap, which was most of the
//! memory traffic. Every value still sees `NI_Correlate1D`'s operations in its order (no fused
//! multiply-add, no reassociation), so the results are bitwise those of the row-by-row path.
//!
//! The loops are written once and compiled three times on x86-64: for the baseline target
//! and, chosen at run time, for AVX2 and AVX-512. All give the same bits (the same IEEE
//! operations, only wider), so results do not depend on the machine; the wider vectors just
//! do four or eight values per instruction instead of two.

use super::Symmetry;

/// Outputs summed together in registers: four AVX-512 (eight AVX2) vectors of f64.
const LANES: usize = 32;

/// The instruction sets the interior is compiled for. [`Simd::detect`] picks the widest this
/// CPU has; forcing another one ([`Gaussian::force_simd`](crate::smoothing::Gaussian::force_simd))
/// exists so tests and benchmarks can run every path on one machine and compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Simd {
    /// The baseline target (SSE2 on x86-64), no run-time feature needed.
    Scalar,
    /// AVX2 (x86-64 only).
    Avx2,
    /// AVX-512F (x86-64 only).
    Avx512,
}

impl Simd {
    /// Every path, narrowest first.
    pub const ALL: [Simd; 3] = [Simd::Scalar, Simd::Avx2, Simd::Avx512];

    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        match self {
            Simd::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Simd::Avx2 | Simd::Avx512 => false,
        }
    }

    /// The widest path this CPU can run (what routines use unless forced).
    pub fn detect() -> Simd {
        if Simd::Avx512.available() {
            Simd::Avx512
        } else if Simd::Avx2.available() {
            Simd::Avx2
        } else {
            Simd::Scalar
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Simd::Scalar => "scalar",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }
}

/// `dst[e] = sum_k taps[k] * x[k * ch + e]` in `NI_Correlate1D`'s order for `symmetry`;
/// `x` holds `dst.len() / ch + taps.len() - 1` rows of `ch` values. Runs the `simd` path.
///
/// # Panics
/// If the CPU cannot run `simd` (callers take it from [`Simd::detect`] or check
/// [`Simd::available`] first).
pub(super) fn correlate(
    simd: Simd,
    x: &[f64],
    ch: usize,
    taps: &[f64],
    symmetry: Symmetry,
    dst: &mut [f64],
) {
    assert!(x.len() >= dst.len() + (taps.len() - 1) * ch);
    assert!(
        simd.available(),
        "this CPU cannot run the {} path",
        simd.name()
    );
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => {
            // SAFETY: `correlate_avx512` only requires a CPU with AVX-512F, which
            // `simd.available()` asserted above by run-time detection; inside it every slice
            // access is bounds-checked as in safe code.
            unsafe { correlate_avx512(x, ch, taps, symmetry, dst) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => {
            // SAFETY: `correlate_avx2` only requires a CPU with AVX2, which
            // `simd.available()` asserted above by run-time detection; inside it every slice
            // access is bounds-checked as in safe code.
            unsafe { correlate_avx2(x, ch, taps, symmetry, dst) }
        }
        _ => correlate_any(x, ch, taps, symmetry, dst),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn correlate_avx2(x: &[f64], ch: usize, taps: &[f64], symmetry: Symmetry, dst: &mut [f64]) {
    correlate_any(x, ch, taps, symmetry, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn correlate_avx512(x: &[f64], ch: usize, taps: &[f64], symmetry: Symmetry, dst: &mut [f64]) {
    correlate_any(x, ch, taps, symmetry, dst);
}

#[inline(always)]
fn correlate_any(x: &[f64], ch: usize, taps: &[f64], symmetry: Symmetry, dst: &mut [f64]) {
    match symmetry {
        Symmetry::Symmetric => paired::<false>(x, ch, taps, dst),
        Symmetry::Antisymmetric => paired::<true>(x, ch, taps, dst),
        Symmetry::General => general(x, ch, taps, dst),
    }
}

/// `LANES` values of `x` from `at`.
#[inline(always)]
fn lanes(x: &[f64], at: usize) -> &[f64; LANES] {
    x[at..at + LANES].try_into().expect("LANES values")
}

/// Odd symmetric (`ANTI = false`) or antisymmetric kernels: the centre tap times its sample,
/// then `(x[-j] +- x[j]) * w[-j]` from the outermost pair inwards.
#[inline(always)]
fn paired<const ANTI: bool>(x: &[f64], ch: usize, w: &[f64], dst: &mut [f64]) {
    let s1 = w.len() / 2;
    let (wc, outer) = (w[s1], &w[..s1]);
    let pair = |a: f64, b: f64| if ANTI { a - b } else { a + b };
    let full = dst.len() - dst.len() % LANES;
    let (body, tail) = dst.split_at_mut(full);
    for (g, out) in body.chunks_exact_mut(LANES).enumerate() {
        let e = g * LANES;
        let mut acc = *lanes(x, s1 * ch + e);
        for a in &mut acc {
            *a *= wc;
        }
        for (k, &wk) in outer.iter().enumerate() {
            let (l, r) = (lanes(x, k * ch + e), lanes(x, (2 * s1 - k) * ch + e));
            for i in 0..LANES {
                acc[i] += pair(l[i], r[i]) * wk;
            }
        }
        out.copy_from_slice(&acc);
    }
    for (i, d) in tail.iter_mut().enumerate() {
        let e = full + i;
        let mut acc = x[s1 * ch + e] * wc;
        for (k, &wk) in outer.iter().enumerate() {
            acc += pair(x[k * ch + e], x[(2 * s1 - k) * ch + e]) * wk;
        }
        *d = acc;
    }
}

/// Any other kernel: the last tap first, then the others from the first on.
#[inline(always)]
fn general(x: &[f64], ch: usize, w: &[f64], dst: &mut [f64]) {
    let last = w.len() - 1;
    let (wl, rest) = (w[last], &w[..last]);
    let full = dst.len() - dst.len() % LANES;
    let (body, tail) = dst.split_at_mut(full);
    for (g, out) in body.chunks_exact_mut(LANES).enumerate() {
        let e = g * LANES;
        let mut acc = *lanes(x, last * ch + e);
        for a in &mut acc {
            *a *= wl;
        }
        for (k, &wk) in rest.iter().enumerate() {
            let v = lanes(x, k * ch + e);
            for i in 0..LANES {
                acc[i] += v[i] * wk;
            }
        }
        out.copy_from_slice(&acc);
    }
    for (i, d) in tail.iter_mut().enumerate() {
        let e = full + i;
        let mut acc = x[last * ch + e] * wl;
        for (k, &wk) in rest.iter().enumerate() {
            acc += x[k * ch + e] * wk;
        }
        *d = acc;
    }
}
