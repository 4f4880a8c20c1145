//! Dense complex matrices of a few dozen channels, row-major in slices: what Wilson's
//! factorisation and the regularisation need (Cholesky, inverse, products, the eigenvalues
//! of a Hermitian matrix). Sizes are channels, so plain O(n³) loops are the right tool.

use num_complex::Complex64 as C64;

/// `out = a · b` for n x n matrices.
#[inline(always)]
pub(crate) fn matmul(a: &[C64], b: &[C64], out: &mut [C64], n: usize) {
    for i in 0..n {
        let row = &mut out[i * n..(i + 1) * n];
        row.fill(C64::new(0.0, 0.0));
        for k in 0..n {
            let aik = a[i * n + k];
            for (o, &bkj) in row.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                *o += aik * bkj;
            }
        }
    }
}

/// `out = a · aᴴ` (the reference for [`gram_hermitian`] in tests).
#[cfg(test)]
#[inline(always)]
pub(crate) fn gram(a: &[C64], out: &mut [C64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            let mut s = C64::new(0.0, 0.0);
            for k in 0..n {
                s += a[i * n + k] * a[j * n + k].conj();
            }
            out[i * n + j] = s;
        }
    }
}

/// `out = a · aᴴ`, Hermitian: the upper triangle summed row by row over `k` (contiguous,
/// so it vectorises across `j`), the lower one its conjugate. `at` is scratch (n² values)
/// for `aᴴ`.
#[inline(always)]
pub(crate) fn gram_hermitian(a: &[C64], at: &mut [C64], out: &mut [C64], n: usize) {
    for i in 0..n {
        for k in 0..n {
            at[k * n + i] = a[i * n + k].conj();
        }
    }
    for i in 0..n {
        let row = &mut out[i * n..(i + 1) * n];
        row[i..].fill(C64::new(0.0, 0.0));
        for k in 0..n {
            let aik = a[i * n + k];
            for (o, &v) in row[i..].iter_mut().zip(&at[k * n + i..(k + 1) * n]) {
                *o += aik * v;
            }
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            out[j * n + i] = out[i * n + j].conj();
        }
    }
}

/// The lower Cholesky factor `L` of a Hermitian positive definite `a` (`L Lᴴ = a`, as
/// `numpy.linalg.cholesky`), or `None` when `a` is not positive definite.
pub(crate) fn cholesky(a: &[C64], out: &mut [C64], n: usize) -> Option<()> {
    out.fill(C64::new(0.0, 0.0));
    for j in 0..n {
        let mut d = a[j * n + j].re;
        for k in 0..j {
            d -= out[j * n + k].norm_sqr();
        }
        // NaN fails too
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let ljj = d.sqrt();
        out[j * n + j] = C64::new(ljj, 0.0);
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= out[i * n + k] * out[j * n + k].conj();
            }
            out[i * n + j] = s / ljj;
        }
    }
    Some(())
}

/// The inverse of `a` by Gauss-Jordan elimination with partial pivoting; `work` holds a
/// copy of `a` (n² values). `None` when `a` is singular.
///
/// Only the columns of `work` right of the pivot are updated: the others are never read
/// again (a column is read only while it is the pivot column), so `out` is the same.
#[inline(always)]
pub(crate) fn inverse(a: &[C64], out: &mut [C64], work: &mut [C64], n: usize) -> Option<()> {
    work[..n * n].copy_from_slice(a);
    out.fill(C64::new(0.0, 0.0));
    for i in 0..n {
        out[i * n + i] = C64::new(1.0, 0.0);
    }
    for col in 0..n {
        // The last row of largest |value| (as `max_by`), each |value| taken once.
        let (mut pivot, mut largest) = (col, work[col * n + col].norm());
        for r in col + 1..n {
            let v = work[r * n + col].norm();
            if v.total_cmp(&largest).is_ge() {
                (pivot, largest) = (r, v);
            }
        }
        let p = work[pivot * n + col];
        if largest == 0.0 || !p.is_finite() {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                work.swap(pivot * n + k, col * n + k);
                out.swap(pivot * n + k, col * n + k);
            }
        }
        let inv = p.inv();
        for v in &mut work[col * n + col + 1..(col + 1) * n] {
            *v *= inv;
        }
        for v in &mut out[col * n..(col + 1) * n] {
            *v *= inv;
        }
        let (before, rest) = work.split_at_mut(col * n);
        let (pivot_row, after) = rest.split_at_mut(n);
        let (out_before, out_rest) = out.split_at_mut(col * n);
        let (out_pivot, out_after) = out_rest.split_at_mut(n);
        let rows = before
            .chunks_exact_mut(n)
            .zip(out_before.chunks_exact_mut(n))
            .chain(after.chunks_exact_mut(n).zip(out_after.chunks_exact_mut(n)));
        for (w_row, o_row) in rows.take(n - 1) {
            let f = w_row[col];
            if f == C64::new(0.0, 0.0) {
                continue;
            }
            for (x, &w) in w_row[col + 1..].iter_mut().zip(&pivot_row[col + 1..]) {
                *x -= f * w;
            }
            for (x, &o) in o_row.iter_mut().zip(out_pivot.iter()) {
                *x -= f * o;
            }
        }
    }
    Some(())
}

/// `out = a⁻¹ b` by Gaussian elimination with partial pivoting (the last row of largest
/// |value|, as [`inverse`]) and back substitution, about 4n³/3 complex products against 2n³ for
/// [`inverse`] then [`matmul`]; `work` holds the factored copy of `a` (n² values). `None`
/// when `a` is singular.
#[inline(always)]
pub(crate) fn solve(
    a: &[C64],
    b: &[C64],
    out: &mut [C64],
    work: &mut [C64],
    n: usize,
) -> Option<()> {
    let nn = n * n;
    work[..nn].copy_from_slice(a);
    out[..nn].copy_from_slice(b);
    for col in 0..n {
        // |value|² orders the rows as |value| does, without `hypot`.
        let (mut pivot, mut largest) = (col, work[col * n + col].norm_sqr());
        for r in col + 1..n {
            let v = work[r * n + col].norm_sqr();
            if v.total_cmp(&largest).is_ge() {
                (pivot, largest) = (r, v);
            }
        }
        let p = work[pivot * n + col];
        if largest == 0.0 || !p.is_finite() {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                work.swap(pivot * n + k, col * n + k);
                out.swap(pivot * n + k, col * n + k);
            }
        }
        let inv = p.inv();
        let (w_top, w_below) = work[..nn].split_at_mut((col + 1) * n);
        let (o_top, o_below) = out[..nn].split_at_mut((col + 1) * n);
        let (w_pivot, o_pivot) = (&w_top[col * n..], &o_top[col * n..]);
        for (w_row, o_row) in w_below.chunks_exact_mut(n).zip(o_below.chunks_exact_mut(n)) {
            let f = w_row[col] * inv;
            if f == C64::new(0.0, 0.0) {
                continue;
            }
            for (x, &w) in w_row[col + 1..].iter_mut().zip(&w_pivot[col + 1..]) {
                *x -= f * w;
            }
            for (x, &o) in o_row.iter_mut().zip(o_pivot) {
                *x -= f * o;
            }
        }
    }
    for row in (0..n).rev() {
        let (o_top, o_below) = out[..nn].split_at_mut((row + 1) * n);
        let o_row = &mut o_top[row * n..];
        for (k, o_k) in o_below.chunks_exact(n).enumerate() {
            let f = work[row * n + row + 1 + k];
            for (x, &o) in o_row.iter_mut().zip(o_k) {
                *x -= f * o;
            }
        }
        let inv = work[row * n + row].inv();
        for x in o_row.iter_mut() {
            *x *= inv;
        }
    }
    Some(())
}

/// The eigenvalues of a Hermitian matrix by cyclic Jacobi rotations (`work`: n² values),
/// in no particular order. Converges to machine precision in a few sweeps for the sizes here.
pub(crate) fn hermitian_eigenvalues(a: &[C64], work: &mut [C64], n: usize, out: &mut [f64]) {
    let m = &mut work[..n * n];
    m.copy_from_slice(a);
    for _sweep in 0..60 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j].norm_sqr())
            .sum();
        let diag: f64 = (0..n).map(|i| m[i * n + i].re.powi(2)).sum();
        if off <= f64::EPSILON * f64::EPSILON * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                let r = apq.norm();
                if r == 0.0 {
                    continue;
                }
                // Phase out a_pq, then a real symmetric 2x2 rotation.
                let app = m[p * n + p].re;
                let aqq = m[q * n + q].re;
                let theta = (aqq - app) / (2.0 * r);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                let phase = apq / r; // e^{iφ}
                                     // V = Φ J with Φ = diag(.., e^{-iφ} at q, ..) (making a_pq real) and the real
                                     // rotation J = [[c, s], [-s, c]] in the (p, q) plane; m <- Vᴴ m V.
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = mkp * c - mkq * s * phase.conj();
                    m[k * n + q] = mkp * s + mkq * c * phase.conj();
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = mpk * c - mqk * s * phase;
                    m[q * n + k] = mpk * s + mqk * c * phase;
                }
                m[p * n + q] = C64::new(0.0, 0.0);
                m[q * n + p] = C64::new(0.0, 0.0);
            }
        }
    }
    for i in 0..n {
        out[i] = m[i * n + i].re;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hermitian(n: usize, seed: u64) -> Vec<C64> {
        // a Bᴴ B + I from a small deterministic generator
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let b: Vec<C64> = (0..n * n).map(|_| C64::new(next(), next())).collect();
        let mut a = vec![C64::new(0.0, 0.0); n * n];
        gram(&b, &mut a, n);
        for i in 0..n {
            a[i * n + i] += 1.0;
        }
        a
    }

    #[test]
    fn cholesky_inverse_and_eigenvalues_agree() {
        for n in [1, 2, 3, 6, 16] {
            let a = hermitian(n, n as u64);
            let mut l = vec![C64::new(0.0, 0.0); n * n];
            cholesky(&a, &mut l, n).unwrap();
            let mut back = vec![C64::new(0.0, 0.0); n * n];
            gram(&l, &mut back, n);
            let err = a
                .iter()
                .zip(&back)
                .map(|(x, y)| (x - y).norm())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "cholesky n={n}: {err}");
            let (mut inv, mut work) = (vec![C64::default(); n * n], vec![C64::default(); n * n]);
            inverse(&a, &mut inv, &mut work, n).unwrap();
            matmul(&a, &inv, &mut back, n);
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((back[i * n + j] - want).norm() < 1e-12, "inverse n={n}");
                }
            }
            // The eigenvalues' sum is the trace and their product the determinant, |L|².
            let mut ev = vec![0.0; n];
            hermitian_eigenvalues(&a, &mut work, n, &mut ev);
            let trace: f64 = (0..n).map(|i| a[i * n + i].re).sum();
            assert!((ev.iter().sum::<f64>() - trace).abs() < 1e-10 * trace);
            let logdet: f64 = (0..n).map(|i| 2.0 * l[i * n + i].re.ln()).sum();
            let logprod: f64 = ev.iter().map(|v| v.ln()).sum();
            assert!(
                (logdet - logprod).abs() < 1e-10,
                "n={n}: {logdet} vs {logprod}"
            );
        }
        // Elimination and the Hermitian product agree with the general routines.
        for n in [1, 3, 16] {
            // not Hermitian: the upper triangle turned by 90 degrees
            let a: Vec<C64> = hermitian(n, 7 + n as u64)
                .iter()
                .enumerate()
                .map(|(e, v)| if e % n > e / n { v * C64::i() } else { *v })
                .collect();
            let b = hermitian(n, 11 + n as u64);
            let (mut x, mut y, mut at) = (
                vec![C64::default(); n * n],
                vec![C64::default(); n * n],
                vec![C64::default(); n * n],
            );
            // a⁻¹ b by elimination, as the inverse times b
            let mut inv = vec![C64::default(); n * n];
            inverse(&a, &mut inv, &mut at, n).unwrap();
            matmul(&inv, &b, &mut x, n);
            solve(&a, &b, &mut y, &mut at, n).unwrap();
            let err = x
                .iter()
                .zip(&y)
                .map(|(p, q)| (p - q).norm())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "solve n={n}: {err}");
            gram(&b, &mut x, n);
            gram_hermitian(&b, &mut at, &mut y, n);
            let err = x
                .iter()
                .zip(&y)
                .map(|(p, q)| (p - q).norm())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "gram_hermitian n={n}: {err}");
            for i in 0..n {
                assert_eq!(y[i * n + i].im, 0.0);
                for j in 0..n {
                    assert_eq!(y[i * n + j], y[j * n + i].conj());
                }
            }
        }
        // not positive definite
        let a = [
            C64::new(1.0, 0.0),
            C64::new(2.0, 0.0),
            C64::new(2.0, 0.0),
            C64::new(1.0, 0.0),
        ];
        let mut l = [C64::default(); 4];
        assert!(cholesky(&a, &mut l, 2).is_none());
    }
}
