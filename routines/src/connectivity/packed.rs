//! The packed per-trial contribution of `csd`, `coh` and Granger: a trial's taper-averaged
//! cross-spectra and auto-spectra for the pairs, written straight from its spectra into the
//! block the engine folds ([`Packing`] says where each value goes).
//!
//! The cross-spectral products are the quadratic part of the work (channels² / 2 pairs per
//! frequency and taper), so [`dyadic_product_packed`] runs them on a split real/imaginary
//! copy of the frequency's spectra (a few kB, in caller-owned scratch): each sender's row
//! of pairs summed over tapers in a split accumulator, and each value stored once.

use ndarray::{ArrayView2, ArrayView3};
use num_complex::Complex64 as C64;

use super::{ChannelPairs, CsdBlock};
use crate::smoothing::Simd;

/// How a trial's cross-spectra are packed into one complex contribution, per frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// A `(senders + 1) x (receivers + 1)` row-major plane: the cross-spectra in the first
    /// `receivers` columns of the first `senders` rows, the senders' auto-spectra in the
    /// last column, the receivers' in the last row, 0 in the corner.
    Rect,
    /// Senders and receivers the same channels (every channel, say): the upper triangle
    /// row by row (`S_ab`, `b >= a`, `n (n + 1) / 2` values), then the `n` auto-spectra.
    /// The lower triangle is the conjugate of the upper one, so summing it over trials is
    /// not needed: half the values to fold, checkpoint and copy.
    Triangle,
}

impl Packing {
    /// The packing of a trial's contribution for `pairs`.
    pub fn of(pairs: &ChannelPairs) -> Packing {
        if pairs.senders == pairs.receivers {
            Packing::Triangle
        } else {
            Packing::Rect
        }
    }

    /// Complex values per frequency.
    pub fn len(self, pairs: &ChannelPairs) -> usize {
        let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
        match self {
            Packing::Rect => (ni + 1) * (nj + 1),
            Packing::Triangle => ni * (ni + 1) / 2 + ni,
        }
    }

    /// Where row `a` of the cross-spectra starts (at column `a` for a triangle).
    fn row(self, a: usize, ni: usize, nj: usize) -> usize {
        match self {
            Packing::Rect => a * (nj + 1),
            // a rows of lengths ni, ni - 1, ... before it
            Packing::Triangle => a * ni - a * a.saturating_sub(1) / 2,
        }
    }

    /// The cross-spectrum of senders' `a` and receivers' `b` in one frequency's `plane`,
    /// as [`unpack`](Self::unpack) gives it (a triangle's lower half conjugated).
    pub fn cross(self, plane: &[C64], a: usize, b: usize, ni: usize, nj: usize) -> C64 {
        match self {
            Packing::Rect => plane[self.row(a, ni, nj) + b],
            Packing::Triangle if b >= a => plane[self.row(a, ni, nj) + b - a],
            Packing::Triangle => plane[self.row(b, ni, nj) + a - b].conj(),
        }
    }

    /// The auto-spectra of sender `a` and of receiver `b` in one frequency's `plane`, as
    /// [`unpack`](Self::unpack) gives them.
    pub fn autos(self, plane: &[C64], a: usize, b: usize, ni: usize, nj: usize) -> (f64, f64) {
        match self {
            Packing::Rect => (plane[a * (nj + 1) + nj].re, plane[ni * (nj + 1) + b].re),
            Packing::Triangle => {
                let autos = ni * (ni + 1) / 2;
                (plane[autos + a].re, plane[autos + b].re)
            }
        }
    }

    /// Unpacks a sum of contributions, `(freq, len)`, into the cross-spectra and
    /// auto-spectra (a triangle's lower half as the conjugate of its upper half).
    pub fn unpack(self, sum: ArrayView2<'_, C64>, pairs: &ChannelPairs) -> CsdBlock {
        let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
        let mut block = CsdBlock::zeros(sum.nrows(), pairs);
        for (f, plane) in sum.outer_iter().enumerate() {
            for a in 0..ni {
                let first = if self == Packing::Triangle { a } else { 0 };
                let start = self.row(a, ni, nj);
                for b in first..nj {
                    let v = plane[start + b - first];
                    block.cross[[f, a, b]] = v;
                    if self == Packing::Triangle && b > a {
                        block.cross[[f, b, a]] = v.conj();
                    }
                }
            }
            match self {
                Packing::Rect => {
                    for a in 0..ni {
                        block.auto_i[[f, a]] = plane[a * (nj + 1) + nj].re;
                    }
                    for b in 0..nj {
                        block.auto_j[[f, b]] = plane[ni * (nj + 1) + b].re;
                    }
                }
                Packing::Triangle => {
                    let autos = ni * (ni + 1) / 2;
                    for a in 0..ni {
                        block.auto_i[[f, a]] = plane[autos + a].re;
                        block.auto_j[[f, a]] = plane[autos + a].re;
                    }
                }
            }
        }
        block
    }
}

/// The staging scratch (f64 values) [`dyadic_product_packed`] needs for `n_tapers` tapers.
pub fn packed_stage_len(n_tapers: usize, pairs: &ChannelPairs) -> usize {
    // The staged spectra (padded receiver rows), then a row's sums (real and imaginary).
    let w = Staged::padded(pairs.receivers.len());
    2 * n_tapers * (pairs.senders.len() + w) + 2 * w
}

/// [`dyadic_product_into`](super::dyadic_product_into) written straight into a packed
/// contribution (`packing`, with [`Packing::len`] values per frequency). `spectra` must be
/// in standard layout (`CsdPlan::spectra` writes it so); `stage` holds at least
/// [`packed_stage_len`] values.
///
/// The same IEEE operations in the same order as `dyadic_product_into` (`0 + p_0 + p_1 +
/// ...` over tapers, then `/ k`), so the same bits: `x * conj(y)` is exactly
/// `(xr yr + xi yi, xi yr - xr yi)`, since negation is exact and addition commutes. Only
/// the layout differs: the frequency's spectra are first copied into split real and
/// imaginary rows (senders and receivers in pair order, so any `channelcmb` runs
/// contiguous), then each sender's row of pairs sums over tapers in a split accumulator
/// and is stored once, with no read-modify-write of the plane and no shuffles in the
/// inner loop.
///
/// Compiled for the baseline target and, chosen at run time, for AVX2 and AVX-512 (the
/// same IEEE operations, only wider: the same bits on every path).
pub fn dyadic_product_packed(
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    packing: Packing,
    out: &mut [C64],
    stage: &mut [f64],
) {
    packed_on(Simd::detect(), spectra, pairs, packing, out, stage)
}

/// [`dyadic_product_packed`] on a given path (tests compare every path).
fn packed_on(
    simd: Simd,
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    packing: Packing,
    out: &mut [C64],
    stage: &mut [f64],
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 if simd.available() => {
            // SAFETY: `packed_avx512` only requires a CPU with AVX-512F, which
            // `available` found by run-time detection; inside it every slice access is
            // bounds-checked as in safe code.
            unsafe { packed_avx512(spectra, pairs, packing, out, stage) }
        }
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 if simd.available() => {
            // SAFETY: as above, for AVX2.
            unsafe { packed_avx2(spectra, pairs, packing, out, stage) }
        }
        _ => packed_any(spectra, pairs, packing, out, stage),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn packed_avx2(
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    packing: Packing,
    out: &mut [C64],
    stage: &mut [f64],
) {
    packed_any(spectra, pairs, packing, out, stage);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn packed_avx512(
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    packing: Packing,
    out: &mut [C64],
    stage: &mut [f64],
) {
    packed_any(spectra, pairs, packing, out, stage);
}

/// Pairs per step of the product loop: one AVX-512 register of f64, two of AVX2.
const LANES: usize = 8;

/// One frequency's spectra in split layout: per taper, the senders' real parts and their
/// imaginary parts, then the same for the receivers, each receiver row padded by [`LANES`]
/// zeros (so a row's last step of `LANES` pairs reads no further than its row).
struct Staged<'a> {
    x: &'a [f64],
    y: &'a [f64],
    ni: usize,
    nj: usize,
}

impl Staged<'_> {
    /// The length of a padded receiver row.
    fn padded(nj: usize) -> usize {
        nj + LANES
    }

    /// Sender `a`'s spectrum at taper `t`, (re, im).
    #[inline(always)]
    fn sender(&self, t: usize, a: usize) -> (f64, f64) {
        let row = &self.x[2 * t * self.ni..][..2 * self.ni];
        (row[a], row[self.ni + a])
    }

    /// Receivers `b..b + LANES` at taper `t` (padding past the last), (re, im).
    #[inline(always)]
    fn receivers(&self, t: usize, b: usize) -> (&[f64; LANES], &[f64; LANES]) {
        let w = Self::padded(self.nj);
        let row = &self.y[2 * t * w..][..2 * w];
        let re = row[b..b + LANES].try_into().expect("LANES values");
        let im = row[w + b..w + b + LANES].try_into().expect("LANES values");
        (re, im)
    }
}

#[inline(always)]
fn packed_any(
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    packing: Packing,
    out: &mut [C64],
    stage: &mut [f64],
) {
    let (k, n_freqs, channels) = spectra.dim();
    let data = spectra.as_slice().expect("spectra are in standard layout");
    let kf = k as f64;
    let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
    let len = packing.len(pairs);
    assert_eq!(out.len(), n_freqs * len, "a packed contribution");
    let square = pairs.senders == pairs.receivers;
    let triangle = packing == Packing::Triangle;
    assert!(
        square || !triangle,
        "a triangle needs the same senders and receivers"
    );
    let w = Staged::padded(nj);
    let (x, rest) = stage.split_at_mut(2 * k * ni);
    let (y, rest) = rest.split_at_mut(2 * k * w);
    let acc = &mut rest[..2 * w];
    y.fill(0.0);
    let row = |t: usize, f: usize| &data[(t * n_freqs + f) * channels..][..channels];
    let first = |a: usize| if square { a } else { 0 };
    // Row a's computed values: columns first(a)..nj, from `start`.
    let span = |a: usize| {
        let start = packing.row(a, ni, nj) + if triangle { 0 } else { first(a) };
        start..start + nj - first(a)
    };
    for (f, plane) in out.chunks_exact_mut(len).enumerate() {
        for t in 0..k {
            let row = row(t, f);
            let (xr, xi) = x[2 * t * ni..2 * (t + 1) * ni].split_at_mut(ni);
            for ((r, i), &c) in xr.iter_mut().zip(xi.iter_mut()).zip(&pairs.senders) {
                (*r, *i) = (row[c].re, row[c].im);
            }
            let (yr, yi) = y[2 * t * w..2 * (t + 1) * w].split_at_mut(w);
            for ((r, i), &c) in yr.iter_mut().zip(yi.iter_mut()).zip(&pairs.receivers) {
                (*r, *i) = (row[c].re, row[c].im);
            }
        }
        let staged = Staged { x, y, ni, nj };
        for a in 0..ni {
            products(&staged, k, kf, a, first(a), &mut plane[span(a)], acc);
        }
        if square && !triangle {
            for a in 0..ni {
                for b in a + 1..nj {
                    plane[b * (nj + 1) + a] = plane[a * (nj + 1) + b].conj();
                }
            }
        }
        let auto = |i: usize| (0..k).map(|t| row(t, f)[i].norm_sqr()).sum::<f64>() / kf;
        if triangle {
            let autos = ni * (ni + 1) / 2;
            for (a, &i) in pairs.senders.iter().enumerate() {
                plane[autos + a] = C64::new(auto(i), 0.0);
            }
        } else {
            for (a, &i) in pairs.senders.iter().enumerate() {
                plane[a * (nj + 1) + nj] = C64::new(auto(i), 0.0);
            }
            for (b, &j) in pairs.receivers.iter().enumerate() {
                plane[ni * (nj + 1) + b] = C64::new(auto(j), 0.0);
            }
            plane[ni * (nj + 1) + nj] = C64::default();
        }
    }
}

/// Sender `a` with receivers `b0..`: `dst[b - b0] = (0 + Σ_t x_ta conj(y_tb)) / k`, the
/// operations of `C64`'s `+=` and `*` written out on the split parts. [`LANES`] pairs at a
/// time sum over the tapers in registers (the receivers' rows are padded, so there is no
/// scalar tail; the padding's lanes are dropped) into the split `acc`; one pass then
/// divides, interleaves and stores.
#[inline(always)]
fn products(
    s: &Staged<'_>,
    k: usize,
    kf: f64,
    a: usize,
    b0: usize,
    dst: &mut [C64],
    acc: &mut [f64],
) {
    let n = dst.len();
    let wide = n.div_ceil(LANES) * LANES;
    let (re, rest) = acc.split_at_mut(wide);
    let im = &mut rest[..wide];
    for (c, (re, im)) in re
        .chunks_exact_mut(LANES)
        .zip(im.chunks_exact_mut(LANES))
        .enumerate()
    {
        let b = b0 + c * LANES;
        let (mut r, mut i) = ([0.0f64; LANES], [0.0f64; LANES]);
        for t in 0..k {
            let (xr, xi) = s.sender(t, a);
            let (yr, yi) = s.receivers(t, b);
            for l in 0..LANES {
                r[l] += xr * yr[l] + xi * yi[l];
                i[l] += xi * yr[l] - xr * yi[l];
            }
        }
        re.copy_from_slice(&r);
        im.copy_from_slice(&i);
    }
    for ((p, &r), &i) in dst.iter_mut().zip(&*re).zip(&*im) {
        *p = C64::new(r / kf, i / kf);
    }
}

/// Packs a trial's cross-spectra and auto-spectra (as [`dyadic_product_into`] writes them)
/// into `out` as [`dyadic_product_packed`] would have.
pub fn pack(
    cross: ArrayView3<'_, C64>,
    auto_i: ArrayView2<'_, f64>,
    auto_j: ArrayView2<'_, f64>,
    packing: Packing,
    out: &mut [C64],
) {
    let (nf, ni, nj) = cross.dim();
    let len = out.len() / nf.max(1);
    for (f, plane) in out.chunks_exact_mut(len).enumerate() {
        for a in 0..ni {
            let first = if packing == Packing::Triangle { a } else { 0 };
            let start = packing.row(a, ni, nj);
            for b in first..nj {
                plane[start + b - first] = cross[[f, a, b]];
            }
        }
        match packing {
            Packing::Rect => {
                for a in 0..ni {
                    plane[a * (nj + 1) + nj] = C64::new(auto_i[[f, a]], 0.0);
                }
                for b in 0..nj {
                    plane[ni * (nj + 1) + b] = C64::new(auto_j[[f, b]], 0.0);
                }
                plane[ni * (nj + 1) + nj] = C64::default();
            }
            Packing::Triangle => {
                let autos = ni * (ni + 1) / 2;
                for a in 0..ni {
                    plane[autos + a] = C64::new(auto_i[[f, a]], 0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array3};

    use super::super::dyadic_product;
    use super::*;

    #[test]
    fn the_packed_product_has_the_bits_of_the_block() {
        // 21 channels: vector rows and tails of every length in a triangle.
        let spectra = Array3::from_shape_fn((3, 5, 21), |(k, f, c)| {
            C64::new(
                (0.9 * k as f64 + 0.3 * f as f64 - c as f64).sin(),
                (1.7 * k as f64 + 0.5 * f as f64 + 0.6 * c as f64).cos(),
            )
        });
        let cases = [
            ChannelPairs::all(4),
            ChannelPairs::all(21),
            ChannelPairs {
                senders: (0..12).rev().collect(),
                receivers: (2..21).map(|c| (c * 7) % 21).collect(),
                full: false,
            },
            ChannelPairs {
                senders: vec![2, 0, 3],
                receivers: vec![2, 0, 3],
                full: false,
            },
            ChannelPairs {
                senders: vec![2, 0],
                receivers: vec![1, 3, 0],
                full: false,
            },
            ChannelPairs {
                senders: vec![1],
                receivers: vec![0, 1, 2],
                full: false,
            },
        ];
        let bits = |v: C64| (v.re.to_bits(), v.im.to_bits());
        for pairs in &cases {
            let mut block = CsdBlock::zeros(5, pairs);
            dyadic_product(spectra.view(), pairs, &mut block);
            for packing in [Packing::Rect, Packing::of(pairs)] {
                let len = packing.len(pairs);
                let mut stage = vec![f64::NAN; packed_stage_len(3, pairs)];
                let mut packed = vec![C64::new(f64::NAN, f64::NAN); 5 * len];
                dyadic_product_packed(spectra.view(), pairs, packing, &mut packed, &mut stage);
                for simd in Simd::ALL.into_iter().filter(|s| s.available()) {
                    let mut on = vec![C64::new(f64::NAN, f64::NAN); 5 * len];
                    packed_on(simd, spectra.view(), pairs, packing, &mut on, &mut stage);
                    for (e, (&p, &o)) in packed.iter().zip(&on).enumerate() {
                        assert_eq!(bits(p), bits(o), "{pairs:?} {packing:?} {simd:?} value {e}");
                    }
                }
                let mut copied = vec![C64::new(f64::NAN, f64::NAN); 5 * len];
                pack(
                    block.cross.view(),
                    block.auto_i.view(),
                    block.auto_j.view(),
                    packing,
                    &mut copied,
                );
                for (e, (&p, &c)) in packed.iter().zip(&copied).enumerate() {
                    assert_eq!(bits(p), bits(c), "{pairs:?} {packing:?} value {e}");
                }
                let packed = Array2::from_shape_vec((5, len), packed).unwrap();
                let back = packing.unpack(packed.view(), pairs);
                for ((f, a, b), &v) in back.cross.indexed_iter() {
                    assert_eq!(
                        bits(v),
                        bits(block.cross[[f, a, b]]),
                        "{pairs:?} [{f},{a},{b}]"
                    );
                }
                assert_eq!(back.auto_i, block.auto_i);
                assert_eq!(back.auto_j, block.auto_j);
            }
        }
    }
}
