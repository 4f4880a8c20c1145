//! `scipy.ndimage.correlate1d` (`NI_Correlate1D` in `scipy/ndimage/src/ni_filters.c`) over a
//! samples x channels block, one output row at a time with the channels as the inner loop.

use super::boundary::Lines;

mod interior;

pub use interior::Simd;

/// Which of `NI_Correlate1D`'s three summation orders a kernel gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symmetry {
    /// Odd length, `w[c + j] == w[c - j]` to within `f64::EPSILON`: sums `(x[-j] + x[j]) * w[-j]`.
    Symmetric,
    /// Odd length, `w[c + j] == -w[c - j]` to within `f64::EPSILON`: sums `(x[-j] - x[j]) * w[-j]`.
    Antisymmetric,
    /// Anything else: sums `x[j] * w[j]` from the last tap, then the first onwards.
    General,
}

/// Correlation weights with an ndimage origin, as `correlate1d(x, taps, origin=origin)`:
/// `out[i] = sum_k taps[k] * x[i + k - len/2 - origin]`, in `NI_Correlate1D`'s order of
/// summation, so results match SciPy's to the last bit or two.
#[derive(Debug, Clone)]
pub(crate) struct Correlation {
    taps: Vec<f64>,
    origin: isize,
    symmetry: Symmetry,
}

impl Correlation {
    /// Bytes of the taps (what a plan holding this correlation keeps).
    pub fn state_bytes(&self) -> usize {
        self.taps.len() * std::mem::size_of::<f64>()
    }

    pub fn new(taps: Vec<f64>, origin: isize) -> Correlation {
        assert!(!taps.is_empty(), "a correlation needs at least one tap");
        let size = taps.len();
        let s1 = size / 2;
        let mut symmetry = Symmetry::General;
        if size % 2 == 1 {
            if (1..=s1).all(|j| (taps[s1 + j] - taps[s1 - j]).abs() <= f64::EPSILON) {
                symmetry = Symmetry::Symmetric;
            } else if (1..=s1).all(|j| (taps[s1 + j] + taps[s1 - j]).abs() <= f64::EPSILON) {
                symmetry = Symmetry::Antisymmetric;
            }
        }
        Correlation {
            taps,
            origin,
            symmetry,
        }
    }

    pub fn taps(&self) -> &[f64] {
        &self.taps
    }

    #[cfg(test)]
    pub fn symmetry(&self) -> Symmetry {
        self.symmetry
    }

    /// Output rows `i0..i0 + dst.len() / channels` into `dst` (rows of channels). Rows
    /// whose taps all fall inside the trial are computed together (see [`interior`]); rows
    /// near the edges go through the extension one at a time. Every output value sees the
    /// same operations in the same order either way.
    pub fn rows(&self, lines: &Lines<'_>, i0: usize, dst: &mut [f64]) {
        self.rows_with(Simd::detect(), lines, i0, dst);
    }

    /// [`rows`](Self::rows) with the interior on the `simd` path (which the CPU must have).
    pub fn rows_with(&self, simd: Simd, lines: &Lines<'_>, i0: usize, dst: &mut [f64]) {
        let ch = lines.channels();
        let end = i0 + dst.len() / ch;
        let size = self.taps.len() as isize;
        let s1 = size / 2;
        let s2 = size - s1 - 1;
        // Output i reads x[i - origin - s1 ..= i - origin + s2]: inside for lo <= i < hi.
        let lo = (s1 + self.origin).max(0) as usize;
        let hi = (lines.samples() as isize - s2 + self.origin).max(0) as usize;
        let a = lo.clamp(i0, end);
        let b = hi.clamp(a, end);
        for i in (i0..a).chain(b..end) {
            let r = i - i0;
            self.row(lines, i, &mut dst[r * ch..(r + 1) * ch]);
        }
        if a < b {
            self.span(simd, lines, a, &mut dst[(a - i0) * ch..(b - i0) * ch]);
        }
    }

    /// Interior rows from `i0` on: every tap reads inside the trial, so the taps of output
    /// value `e` (row-major over rows x channels) sit `channels` apart in one slice.
    fn span(&self, simd: Simd, lines: &Lines<'_>, i0: usize, dst: &mut [f64]) {
        let ch = lines.channels();
        let count = dst.len() / ch;
        let s1 = self.taps.len() / 2;
        let first = i0 as isize - self.origin - s1 as isize;
        let x = lines.span(first as usize, count + self.taps.len() - 1);
        interior::correlate(simd, x, ch, &self.taps, self.symmetry, dst);
    }

    /// Output row `i` into `dst` (one value per channel), through the extension.
    #[inline]
    pub fn row(&self, lines: &Lines<'_>, i: usize, dst: &mut [f64]) {
        let w = &self.taps;
        let size = w.len() as isize;
        let s1 = size / 2;
        let s2 = size - s1 - 1;
        // x index of tap jj (relative to the centre tap) for output i.
        let c = i as isize - self.origin;
        match self.symmetry {
            Symmetry::Symmetric | Symmetry::Antisymmetric => {
                let wc = w[s1 as usize];
                for (d, &v) in dst.iter_mut().zip(lines.at(c)) {
                    *d = v * wc;
                }
                let anti = self.symmetry == Symmetry::Antisymmetric;
                for jj in -s1..0 {
                    let wj = w[(s1 + jj) as usize];
                    let a = lines.at(c + jj);
                    let b = lines.at(c - jj);
                    if anti {
                        for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                            *d += (a - b) * wj;
                        }
                    } else {
                        for ((d, &a), &b) in dst.iter_mut().zip(a).zip(b) {
                            *d += (a + b) * wj;
                        }
                    }
                }
            }
            Symmetry::General => {
                let wl = w[(s1 + s2) as usize];
                for (d, &v) in dst.iter_mut().zip(lines.at(c + s2)) {
                    *d = v * wl;
                }
                for jj in -s1..s2 {
                    let wj = w[(s1 + jj) as usize];
                    for (d, &a) in dst.iter_mut().zip(lines.at(c + jj)) {
                        *d += a * wj;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::boundary::ExtendMode;
    use super::*;

    /// Direct evaluation of the correlation sum, in natural order.
    fn naive(x: &[f64], taps: &[f64], origin: isize, mode: ExtendMode, cval: f64) -> Vec<f64> {
        let n = x.len();
        let s1 = (taps.len() / 2) as isize;
        (0..n)
            .map(|i| {
                taps.iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let j = i as isize + k as isize - s1 - origin;
                        w * mode.source(j, n).map_or(cval, |r| x[r])
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_every_symmetry() {
        let x: Vec<f64> = (0..7).map(|i| ((i * 7 % 5) as f64) - 1.5).collect();
        let kernels: [(&[f64], Symmetry); 4] = [
            (&[0.25, 0.5, 0.25], Symmetry::Symmetric),
            (&[-1.0, 0.0, 1.0], Symmetry::Antisymmetric),
            (&[1.0, 2.0, 0.5], Symmetry::General),
            (&[0.5, 0.5], Symmetry::General),
        ];
        for (taps, sym) in kernels {
            for origin in [-1isize, 0] {
                for mode in [ExtendMode::Reflect, ExtendMode::Constant, ExtendMode::Wrap] {
                    let corr = Correlation::new(taps.to_vec(), origin);
                    assert_eq!(corr.symmetry(), sym);
                    let cval = [2.5];
                    let lines = Lines::new(&x, x.len(), 1, mode, &cval);
                    let mut got = vec![0.0; x.len()];
                    for (i, g) in got.iter_mut().enumerate() {
                        corr.row(&lines, i, std::slice::from_mut(g));
                    }
                    let want = naive(&x, taps, origin, mode, 2.5);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() < 1e-12,
                            "{taps:?} {origin} {mode:?}: {got:?} vs {want:?}"
                        );
                    }
                    // Blocks of every start and length: bitwise the row-by-row result.
                    for i0 in 0..x.len() {
                        for end in i0 + 1..=x.len() {
                            let mut block = vec![f64::NAN; end - i0];
                            corr.rows(&lines, i0, &mut block);
                            for (g, w) in block.iter().zip(&got[i0..end]) {
                                assert_eq!(g.to_bits(), w.to_bits(), "{taps:?} {origin} {mode:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every SIMD path this CPU has gives the scalar path's bits for all three summation
    /// orders (the Gaussian only has symmetric and antisymmetric kernels; even-length ones
    /// take the general order). Paths the CPU lacks are printed as skipped.
    #[test]
    fn every_available_path_matches_scalar_for_every_symmetry() {
        let kernels: [&[f64]; 3] = [
            &[0.1, 0.2, 0.4, 0.2, 0.1],
            &[-0.3, -1.0, 0.0, 1.0, 0.3],
            &[1.0, 2.0, 0.5, -0.25],
        ];
        let mut compared = 0;
        for simd in Simd::ALL {
            if !simd.available() {
                eprintln!("skipped: this CPU cannot run the {} path", simd.name());
                continue;
            }
            for ch in [1, 5, 32, 47] {
                let n = 83;
                let x: Vec<f64> = (0..n * ch)
                    .map(|i| ((i * 53 % 89) as f64 / 3.0).cos() * 10f64.powi((i % 7) as i32 - 3))
                    .collect();
                let cval = vec![0.5; ch];
                let lines = Lines::new(&x, n, ch, ExtendMode::Reflect, &cval);
                for taps in kernels {
                    let corr = Correlation::new(taps.to_vec(), 0);
                    let mut scalar = vec![f64::NAN; n * ch];
                    corr.rows_with(Simd::Scalar, &lines, 0, &mut scalar);
                    let mut got = vec![f64::NAN; n * ch];
                    corr.rows_with(simd, &lines, 0, &mut got);
                    assert!(
                        got.iter()
                            .zip(&scalar)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{} {taps:?} ch={ch}",
                        simd.name()
                    );
                }
            }
            compared += usize::from(simd != Simd::Scalar);
        }
        assert!(
            compared > 0,
            "no SIMD path besides scalar on this CPU: nothing compared"
        );
    }

    /// Blocks long enough for the register-blocked interior (and its remainder) give the
    /// row-by-row bits, for several channel counts.
    #[test]
    fn long_blocks_match_rows_bitwise() {
        let kernels: [&[f64]; 3] = [
            &[0.1, 0.2, 0.4, 0.2, 0.1],
            &[-0.3, -1.0, 0.0, 1.0, 0.3],
            &[1.0, 2.0, 0.5, -0.25],
        ];
        for ch in [1, 3, 16, 17] {
            let n = 61;
            let x: Vec<f64> = (0..n * ch)
                .map(|i| ((i * 37 % 101) as f64 / 7.0).sin() * 1e3)
                .collect();
            let cval = vec![0.5; ch];
            let lines = Lines::new(&x, n, ch, ExtendMode::Mirror, &cval);
            for taps in kernels {
                let corr = Correlation::new(taps.to_vec(), 0);
                let mut rows = vec![0.0; n * ch];
                for i in 0..n {
                    corr.row(&lines, i, &mut rows[i * ch..(i + 1) * ch]);
                }
                let mut block = vec![f64::NAN; n * ch];
                corr.rows(&lines, 0, &mut block);
                assert!(
                    block
                        .iter()
                        .zip(&rows)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{taps:?} ch={ch}"
                );
            }
        }
    }
}
