//! Discrete prolate spheroidal (Slepian) sequences as `scipy.signal.windows.dpss` computes
//! them: the eigenvectors of Percival and Walden's symmetric tridiagonal matrix for the
//! largest eigenvalues, with SciPy's sign and normalisation rules.
//!
//! SciPy calls LAPACK (`eigh_tridiagonal(select='i')`); here the eigenvalues come from
//! Sturm-sequence bisection and the eigenvectors from inverse iteration with a pivoted
//! tridiagonal LU (the `dstebz` + `dstein` pair), O(K·M) per taper after O(60·M) per
//! eigenvalue. The top eigenvalues of this matrix are well separated, so a few iterations
//! give the eigenvectors to rounding.

/// How `dpss` scales its tapers (`norm=` in SciPy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpssNorm {
    /// Unit energy (`norm=2`, SciPy's default when `Kmax` is given, and Syncopy's case).
    UnitEnergy,
    /// Peak 1, times `M²/(M²+NW)` for even `M` (`'approximate'`, the default for one taper
    /// and what `get_window(('dpss', NW), M)` uses).
    Approximate,
}

/// `scipy.signal.windows.dpss(m, nw, kmax, sym, norm)`: `kmax` tapers of `m` samples.
///
/// The caller validates `0 < kmax <= m` and `0 < nw < m / 2` (SciPy raises otherwise).
pub fn dpss(m: usize, nw: f64, kmax: usize, sym: bool, norm: DpssNorm) -> Vec<Vec<f64>> {
    if m <= 1 {
        return vec![vec![1.0; m]; kmax.max(1)];
    }
    let len = if sym { m } else { m + 1 };
    let lf = len as f64;
    let w = nw / lf;
    let cos = (2.0 * std::f64::consts::PI * w).cos();
    let diag: Vec<f64> = (0..len)
        .map(|t| ((lf - 1.0 - 2.0 * t as f64) / 2.0).powi(2) * cos)
        .collect();
    let off: Vec<f64> = (1..len).map(|t| t as f64 * (lf - t as f64) / 2.0).collect();
    let tri = Tridiagonal::new(diag, off);
    let mut tapers: Vec<Vec<f64>> = Vec::with_capacity(kmax);
    for k in 0..kmax {
        let lambda = tri.eigenvalue(len - 1 - k);
        let v = tri.eigenvector(lambda, &tapers);
        tapers.push(v);
    }
    // Percival and Walden's sign convention, as SciPy applies it.
    let thresh = f64::max(1e-7, 1.0 / lf);
    for (k, t) in tapers.iter_mut().enumerate() {
        let flip = if k % 2 == 0 {
            t.iter().sum::<f64>() < 0.0
        } else {
            t.iter()
                .find(|v| *v * *v > thresh)
                .is_some_and(|v| *v < 0.0)
        };
        if flip {
            t.iter_mut().for_each(|v| *v = -*v);
        }
    }
    if norm == DpssNorm::Approximate {
        let max = tapers
            .iter()
            .flat_map(|t| t.iter())
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let correction = if len % 2 == 0 {
            lf * lf / (lf * lf + nw)
        } else {
            1.0
        };
        for t in &mut tapers {
            for v in t.iter_mut() {
                *v /= max;
                *v *= correction;
            }
        }
    }
    for t in &mut tapers {
        t.truncate(m);
    }
    tapers
}

/// A symmetric tridiagonal matrix.
struct Tridiagonal {
    diag: Vec<f64>,
    off: Vec<f64>,
    off2: Vec<f64>,
    /// Gershgorin bounds of the spectrum.
    lo: f64,
    hi: f64,
    /// The smallest pivot magnitude allowed in Sturm counts (LAPACK's `pivmin`).
    pivmin: f64,
}

impl Tridiagonal {
    fn new(diag: Vec<f64>, off: Vec<f64>) -> Tridiagonal {
        let n = diag.len();
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for i in 0..n {
            let r = if i > 0 { off[i - 1].abs() } else { 0.0 }
                + if i + 1 < n { off[i].abs() } else { 0.0 };
            lo = lo.min(diag[i] - r);
            hi = hi.max(diag[i] + r);
        }
        let off2: Vec<f64> = off.iter().map(|e| e * e).collect();
        let max_off2 = off2.iter().fold(1.0f64, |a, &b| a.max(b));
        let span = hi - lo;
        lo -= 2.0 * f64::EPSILON * span + f64::MIN_POSITIVE;
        hi += 2.0 * f64::EPSILON * span + f64::MIN_POSITIVE;
        Tridiagonal {
            diag,
            off,
            off2,
            lo,
            hi,
            pivmin: f64::MIN_POSITIVE * max_off2,
        }
    }

    /// How many eigenvalues are below `x` (the Sturm count of the LDLᵀ pivots).
    fn count_below(&self, x: f64) -> usize {
        let mut count = 0;
        let mut q = self.diag[0] - x;
        for i in 0..self.diag.len() {
            if i > 0 {
                q = self.diag[i] - x - self.off2[i - 1] / q;
            }
            if q.abs() < self.pivmin {
                q = -self.pivmin;
            }
            if q < 0.0 {
                count += 1;
            }
        }
        count
    }

    /// The eigenvalue of (0-based, ascending) index `j`, by bisection to rounding.
    fn eigenvalue(&self, j: usize) -> f64 {
        let (mut lo, mut hi) = (self.lo, self.hi);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.count_below(mid) > j {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// The unit eigenvector for `lambda`, by inverse iteration, kept orthogonal to `others`.
    fn eigenvector(&self, lambda: f64, others: &[Vec<f64>]) -> Vec<f64> {
        let n = self.diag.len();
        let lu = ShiftedLu::new(&self.diag, &self.off, lambda, self.hi - self.lo);
        // A start vector with components in every direction (as dstein's random one).
        let mut v: Vec<f64> = (0..n)
            .map(|i| 1.0 + 0.5 * ((i as f64 * 0.7548776662466927).fract() - 0.5))
            .collect();
        for _ in 0..5 {
            lu.solve(&mut v);
            for o in others {
                let dot: f64 = v.iter().zip(o).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(o).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter_mut().for_each(|a| *a /= norm);
        }
        v
    }
}

/// LU factorisation with partial pivoting of `T - lambda I` (LAPACK's `dgttrf`), with zero
/// pivots replaced by a tiny value so the near-singular solve of inverse iteration works.
struct ShiftedLu {
    dl: Vec<f64>,
    d: Vec<f64>,
    du: Vec<f64>,
    du2: Vec<f64>,
    swapped: Vec<bool>,
}

impl ShiftedLu {
    fn new(diag: &[f64], off: &[f64], lambda: f64, scale: f64) -> ShiftedLu {
        let n = diag.len();
        let mut d: Vec<f64> = diag.iter().map(|v| v - lambda).collect();
        let mut dl = off.to_vec();
        let mut du = off.to_vec();
        let mut du2 = vec![0.0; n.saturating_sub(2)];
        let mut swapped = vec![false; n.saturating_sub(1)];
        let tiny = f64::EPSILON * scale.max(f64::MIN_POSITIVE);
        for i in 0..n.saturating_sub(1) {
            if d[i].abs() >= dl[i].abs() {
                if d[i] == 0.0 {
                    d[i] = tiny;
                }
                let fact = dl[i] / d[i];
                dl[i] = fact;
                d[i + 1] -= fact * du[i];
            } else {
                let fact = d[i] / dl[i];
                d[i] = dl[i];
                dl[i] = fact;
                let temp = du[i];
                du[i] = d[i + 1];
                d[i + 1] = temp - fact * d[i + 1];
                if i + 2 < n {
                    du2[i] = du[i + 1];
                    du[i + 1] *= -fact;
                }
                swapped[i] = true;
            }
        }
        if d[n - 1] == 0.0 {
            d[n - 1] = tiny;
        }
        ShiftedLu {
            dl,
            d,
            du,
            du2,
            swapped,
        }
    }

    fn solve(&self, b: &mut [f64]) {
        let n = b.len();
        for i in 0..n - 1 {
            if self.swapped[i] {
                let temp = b[i];
                b[i] = b[i + 1];
                b[i + 1] = temp - self.dl[i] * b[i];
            } else {
                b[i + 1] -= self.dl[i] * b[i];
            }
        }
        b[n - 1] /= self.d[n - 1];
        if n > 1 {
            b[n - 2] = (b[n - 2] - self.du[n - 2] * b[n - 1]) / self.d[n - 2];
        }
        for i in (0..n.saturating_sub(2)).rev() {
            b[i] = (b[i] - self.du[i] * b[i + 1] - self.du2[i] * b[i + 2]) / self.d[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapers_are_orthonormal_and_follow_the_sign_rules() {
        let tapers = dpss(64, 3.0, 5, true, DpssNorm::UnitEnergy);
        for (i, a) in tapers.iter().enumerate() {
            for (j, b) in tapers.iter().enumerate() {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "{i} {j}: {dot}");
            }
            if i % 2 == 0 {
                assert!(a.iter().sum::<f64>() > 0.0);
                // even tapers are symmetric
                assert!((a[3] - a[60]).abs() < 1e-12);
            } else {
                assert!((a[3] + a[60]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn approximate_norm_peaks_at_one() {
        use crate::reference::{float, floats, get, index};
        let case = get("dpss_approximate");
        let (m, nw) = (index(&case["m"]), float(&case["nw"]));
        let w = dpss(m, nw, 1, true, DpssNorm::Approximate).pop().unwrap();
        let max = w.iter().fold(0.0f64, |a, &b| a.max(b));
        assert!((max - 1.0).abs() < 1e-15);
        // scipy.signal.windows.dpss(51, 2.5), every sample.
        let scipy = floats(&case["window"]);
        assert_eq!(w.len(), scipy.len());
        for (i, (g, s)) in w.iter().zip(&scipy).enumerate() {
            assert!((g - s).abs() < 1e-12, "sample {i}: {g} vs {s}");
        }
    }
}
