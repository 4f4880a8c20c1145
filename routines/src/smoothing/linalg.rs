//! A small Householder QR for the least-squares problems of `savgol` (a few columns, up to
//! `MAX_TAPS` rows), in f64. QR keeps the conditioning of the (scaled) Vandermonde matrix
//! instead of squaring it as the normal equations would.

/// Thin QR of an `m x k` matrix (`m >= k`): `A = Q1 R` with `Q1` (`m x k`) orthonormal
/// columns and `R` (`k x k`) upper triangular.
#[derive(Debug, Clone)]
pub(crate) struct ThinQr {
    m: usize,
    k: usize,
    /// `Q1`, column-major: column `j` is `q[j * m..(j + 1) * m]`.
    q: Vec<f64>,
    /// `R`, row-major.
    r: Vec<f64>,
}

impl ThinQr {
    /// Factorises the matrix whose `j`-th column is `columns[j]` (all of length `m`).
    pub fn new(columns: &[Vec<f64>]) -> ThinQr {
        let k = columns.len();
        let m = columns.first().map_or(0, Vec::len);
        assert!(m >= k, "thin QR needs at least as many rows as columns");
        let mut a: Vec<Vec<f64>> = columns.to_vec();
        let mut reflectors: Vec<Vec<f64>> = Vec::with_capacity(k);
        for j in 0..k {
            // v = x - alpha e1 with alpha = -sign(x0) |x|, so no cancellation in v0.
            let x = &a[j][j..];
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            let mut v = x.to_vec();
            if norm == 0.0 {
                reflectors.push(Vec::new());
                continue;
            }
            let alpha = if v[0] >= 0.0 { -norm } else { norm };
            v[0] -= alpha;
            let vv: f64 = v.iter().map(|t| t * t).sum();
            for col in a.iter_mut().skip(j) {
                let tail = &mut col[j..];
                let dot: f64 = tail.iter().zip(&v).map(|(t, w)| t * w).sum();
                let f = 2.0 * dot / vv;
                for (t, w) in tail.iter_mut().zip(&v) {
                    *t -= f * w;
                }
            }
            reflectors.push(v);
        }
        let mut r = vec![0.0; k * k];
        for i in 0..k {
            for j in i..k {
                r[i * k + j] = a[j][i];
            }
        }
        // Q1 = H0 H1 ... H(k-1) applied to the first k columns of the identity.
        let mut q = vec![0.0; m * k];
        for j in 0..k {
            q[j * m + j] = 1.0;
        }
        for (j, v) in reflectors.iter().enumerate().rev() {
            if v.is_empty() {
                continue;
            }
            let vv: f64 = v.iter().map(|t| t * t).sum();
            for c in 0..k {
                let tail = &mut q[c * m + j..(c + 1) * m];
                let dot: f64 = tail.iter().zip(v).map(|(t, w)| t * w).sum();
                let f = 2.0 * dot / vv;
                for (t, w) in tail.iter_mut().zip(v) {
                    *t -= f * w;
                }
            }
        }
        ThinQr { m, k, q, r }
    }

    fn r(&self, i: usize, j: usize) -> f64 {
        self.r[i * self.k + j]
    }

    /// Minimum-norm solution `c` (length `m`) of the underdetermined `A^T c = y` (`k`
    /// equations): `c = Q1 R^-T y`, what `lstsq` returns for a full-rank system.
    pub fn min_norm_transposed(&self, y: &[f64]) -> Vec<f64> {
        let k = self.k;
        let mut z = vec![0.0; k];
        for i in 0..k {
            let mut s = y[i];
            for (j, zj) in z.iter().enumerate().take(i) {
                s -= self.r(j, i) * zj;
            }
            z[i] = s / self.r(i, i);
        }
        let mut c = vec![0.0; self.m];
        for (j, zj) in z.iter().enumerate() {
            for (ci, qi) in c.iter_mut().zip(&self.q[j * self.m..(j + 1) * self.m]) {
                *ci += qi * zj;
            }
        }
        c
    }

    /// The pseudo-inverse `R^-1 Q1^T` (`k x m`, row-major): row `i` holds the weights that
    /// give the `i`-th least-squares coefficient from the `m` data values.
    pub fn pinv(&self) -> Vec<f64> {
        let (m, k) = (self.m, self.k);
        let mut p = vec![0.0; k * m];
        let mut col = vec![0.0; k];
        for s in 0..m {
            // Solve R col = (row s of Q1).
            for i in (0..k).rev() {
                let mut v = self.q[i * m + s];
                for (j, cj) in col.iter().enumerate().skip(i + 1) {
                    v -= self.r(i, j) * cj;
                }
                col[i] = v / self.r(i, i);
            }
            for i in 0..k {
                p[i * m + s] = col[i];
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_line() {
        // Fit a + b t to t = 0..4, y = 1 + 2 t exactly.
        let t: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let qr = ThinQr::new(&[vec![1.0; 5], t.clone()]);
        let p = qr.pinv();
        let y: Vec<f64> = t.iter().map(|t| 1.0 + 2.0 * t).collect();
        let a: f64 = (0..5).map(|s| p[s] * y[s]).sum();
        let b: f64 = (0..5).map(|s| p[5 + s] * y[s]).sum();
        assert!(
            (a - 1.0).abs() < 1e-14 && (b - 2.0).abs() < 1e-14,
            "{a} {b}"
        );
    }

    #[test]
    fn minimum_norm_solution() {
        // x1 + x2 + x3 = 3: the minimum-norm solution is (1, 1, 1).
        let qr = ThinQr::new(&[vec![1.0, 1.0, 1.0]]);
        let c = qr.min_norm_transposed(&[3.0]);
        for v in c {
            assert!((v - 1.0).abs() < 1e-15);
        }
    }
}
