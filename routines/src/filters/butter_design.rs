//! `scipy.signal.butter(N, Wn, btype, fs=fs, output='sos')`, step by step as SciPy computes
//! it: the analog prototype (`buttap`), pre-warping, the lowpass-to-X transform
//! (`lp2lp_zpk` ...), `bilinear_zpk`, and `zpk2sos` with its "nearest" pole-zero pairing.
//! Following SciPy's steps (rather than a textbook biquad design) is what puts the sections
//! in SciPy's order with SciPy's gains, so the cascade's rounding matches `sosfilt`'s.

use std::f64::consts::PI;

use num_complex::Complex64;

use super::FilterType;

/// One second-order section `[b0, b1, b2, 1, a1, a2]`, as a row of SciPy's `sos`.
pub type Section = [f64; 6];

/// The sections of `butter(order, freq, filter_type, fs=samplerate, output='sos')`. `freq`
/// holds one frequency for lp/hp and two (ascending) for bp/bs; the caller has checked that
/// they lie strictly between 0 and the Nyquist frequency.
pub fn butter_sos(
    order: usize,
    freq: &[f64],
    filter_type: FilterType,
    samplerate: f64,
) -> Vec<Section> {
    // iirfilter: Wn relative to Nyquist, pre-warped for the bilinear transform with fs = 2.
    let warped: Vec<f64> = freq
        .iter()
        .map(|&f| {
            let wn = f / (samplerate / 2.0);
            2.0 * 2.0 * (PI * wn / 2.0).tan()
        })
        .collect();
    let (z, p) = (Vec::new(), buttap(order));
    let (z, p, k) = match filter_type {
        FilterType::Lowpass => lp2lp(z, p, 1.0, warped[0]),
        FilterType::Highpass => lp2hp(z, p, 1.0, warped[0]),
        FilterType::Bandpass | FilterType::Bandstop => {
            let bw = warped[1] - warped[0];
            let wo = (warped[0] * warped[1]).sqrt();
            if filter_type == FilterType::Bandpass {
                lp2bp(z, p, 1.0, wo, bw)
            } else {
                lp2bs(z, p, 1.0, wo, bw)
            }
        }
    };
    let (z, p, k) = bilinear(z, p, k, 2.0);
    zpk2sos(z, p, k)
}

/// Analog Butterworth prototype poles: `-exp(i pi m / (2N))`, `m = -N+1, -N+3, ..., N-1`.
fn buttap(order: usize) -> Vec<Complex64> {
    let n = order as i64;
    (0..order as i64)
        .map(|i| {
            let m = (-n + 1 + 2 * i) as f64;
            let theta = PI * m / (2.0 * order as f64);
            -Complex64::new(theta.cos(), theta.sin())
        })
        .collect()
}

type Zpk = (Vec<Complex64>, Vec<Complex64>, f64);

fn prod(v: &[Complex64]) -> Complex64 {
    v.iter().fold(Complex64::new(1.0, 0.0), |acc, &x| acc * x)
}

fn lp2lp(z: Vec<Complex64>, p: Vec<Complex64>, k: f64, wo: f64) -> Zpk {
    let degree = p.len() - z.len();
    let z = z.iter().map(|&x| x * wo).collect();
    let p = p.iter().map(|&x| x * wo).collect();
    (z, p, k * wo.powi(degree as i32))
}

fn lp2hp(z: Vec<Complex64>, p: Vec<Complex64>, k: f64, wo: f64) -> Zpk {
    let degree = p.len() - z.len();
    let neg_z: Vec<Complex64> = z.iter().map(|&x| -x).collect();
    let neg_p: Vec<Complex64> = p.iter().map(|&x| -x).collect();
    let k = k * (prod(&neg_z) / prod(&neg_p)).re;
    let wo_c = Complex64::new(wo, 0.0);
    let mut z_hp: Vec<Complex64> = z.iter().map(|&x| wo_c / x).collect();
    z_hp.extend(std::iter::repeat_n(Complex64::new(0.0, 0.0), degree));
    let p_hp = p.iter().map(|&x| wo_c / x).collect();
    (z_hp, p_hp, k)
}

/// Both roots of `s^2 - 2 s x + wo^2` around a baseband point `x`: `x ± sqrt(x^2 - wo^2)`.
fn shift_pair(points: &[Complex64], wo: f64) -> Vec<Complex64> {
    let roots: Vec<Complex64> = points.iter().map(|&x| (x * x - wo * wo).sqrt()).collect();
    let plus = points.iter().zip(&roots).map(|(&x, &r)| x + r);
    let minus = points.iter().zip(&roots).map(|(&x, &r)| x - r);
    plus.chain(minus).collect()
}

fn lp2bp(z: Vec<Complex64>, p: Vec<Complex64>, k: f64, wo: f64, bw: f64) -> Zpk {
    let degree = p.len() - z.len();
    let z_lp: Vec<Complex64> = z.iter().map(|&x| x * bw / 2.0).collect();
    let p_lp: Vec<Complex64> = p.iter().map(|&x| x * bw / 2.0).collect();
    let mut z_bp = shift_pair(&z_lp, wo);
    z_bp.extend(std::iter::repeat_n(Complex64::new(0.0, 0.0), degree));
    (z_bp, shift_pair(&p_lp, wo), k * bw.powi(degree as i32))
}

fn lp2bs(z: Vec<Complex64>, p: Vec<Complex64>, k: f64, wo: f64, bw: f64) -> Zpk {
    let degree = p.len() - z.len();
    let half = Complex64::new(bw / 2.0, 0.0);
    let z_hp: Vec<Complex64> = z.iter().map(|&x| half / x).collect();
    let p_hp: Vec<Complex64> = p.iter().map(|&x| half / x).collect();
    let mut z_bs = shift_pair(&z_hp, wo);
    z_bs.extend(std::iter::repeat_n(Complex64::new(0.0, wo), degree));
    z_bs.extend(std::iter::repeat_n(Complex64::new(0.0, -wo), degree));
    let neg_z: Vec<Complex64> = z.iter().map(|&x| -x).collect();
    let neg_p: Vec<Complex64> = p.iter().map(|&x| -x).collect();
    (
        z_bs,
        shift_pair(&p_hp, wo),
        k * (prod(&neg_z) / prod(&neg_p)).re,
    )
}

fn bilinear(z: Vec<Complex64>, p: Vec<Complex64>, k: f64, fs: f64) -> Zpk {
    let degree = p.len() - z.len();
    let fs2 = Complex64::new(2.0 * fs, 0.0);
    let mut z_z: Vec<Complex64> = z.iter().map(|&x| (fs2 + x) / (fs2 - x)).collect();
    let p_z = p.iter().map(|&x| (fs2 + x) / (fs2 - x)).collect();
    z_z.extend(std::iter::repeat_n(Complex64::new(-1.0, 0.0), degree));
    let dz: Vec<Complex64> = z.iter().map(|&x| fs2 - x).collect();
    let dp: Vec<Complex64> = p.iter().map(|&x| fs2 - x).collect();
    (z_z, p_z, k * (prod(&dz) / prod(&dp)).re)
}

/// SciPy's `_cplxreal`: one member of each conjugate pair (positive imaginary part, the pair
/// averaged) followed by the real values, in SciPy's order.
fn cplxreal(z: &[Complex64]) -> Vec<Complex64> {
    let tol = 100.0 * f64::EPSILON;
    let mut z = z.to_vec();
    // lexsort((|imag|, real)): by real part, then by |imag|; stable.
    z.sort_by(|a, b| {
        a.re.partial_cmp(&b.re)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(
                a.im.abs()
                    .partial_cmp(&b.im.abs())
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
    });
    let is_real = |x: &Complex64| x.im.abs() <= tol * x.norm();
    let reals: Vec<Complex64> = z
        .iter()
        .filter(|x| is_real(x))
        .map(|x| Complex64::new(x.re, 0.0))
        .collect();
    let rest: Vec<Complex64> = z.iter().filter(|x| !is_real(x)).copied().collect();
    let mut zp: Vec<Complex64> = rest.iter().filter(|x| x.im > 0.0).copied().collect();
    let mut zn: Vec<Complex64> = rest.iter().filter(|x| x.im < 0.0).copied().collect();
    // Runs of (nearly) equal real part are sorted by |imag|.
    let mut start = 0;
    while start < zp.len() {
        let mut stop = start + 1;
        while stop < zp.len() && zp[stop].re - zp[stop - 1].re <= tol * zp[stop - 1].norm() {
            stop += 1;
        }
        let zn_stop = stop.min(zn.len());
        for chunk in [&mut zp[start..stop], &mut zn[start..zn_stop]] {
            chunk.sort_by(|a, b| {
                a.im.abs()
                    .partial_cmp(&b.im.abs())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        start = stop;
    }
    let mut out: Vec<Complex64> = zp
        .iter()
        .zip(&zn)
        .map(|(&a, &b)| (a + b.conj()) / 2.0)
        .collect();
    out.extend(reals);
    out
}

fn is_real(x: Complex64) -> bool {
    x.im == 0.0
}

/// numpy's `argmin`: the first index of the smallest key.
fn argmin(v: &[Complex64], key: impl Fn(Complex64) -> f64) -> usize {
    let mut best = 0;
    for i in 1..v.len() {
        if key(v[i]) < key(v[best]) {
            best = i;
        }
    }
    best
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Real,
    Complex,
    Any,
}

/// SciPy's `_nearest_real_complex_idx`: the nearest element of `fro` to `to` (of the kind
/// asked for).
fn nearest(fro: &[Complex64], to: Complex64, which: Which) -> usize {
    let mut order: Vec<usize> = (0..fro.len()).collect();
    order.sort_by(|&a, &b| {
        (fro[a] - to)
            .norm()
            .partial_cmp(&(fro[b] - to).norm())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    *order
        .iter()
        .find(|&&i| match which {
            Which::Any => true,
            Which::Real => is_real(fro[i]),
            Which::Complex => !is_real(fro[i]),
        })
        .expect("zpk2sos pairing finds a zero of the kind it needs")
}

/// `numpy.poly` of up to two roots, real part (roots come as conjugate or real pairs).
fn poly(roots: &[Complex64]) -> Vec<f64> {
    let mut a = vec![Complex64::new(1.0, 0.0)];
    for &r in roots {
        let mut next = vec![Complex64::new(0.0, 0.0); a.len() + 1];
        for (i, &ai) in a.iter().enumerate() {
            next[i] += ai;
            next[i + 1] += ai * -r;
        }
        a = next;
    }
    a.iter().map(|c| c.re).collect()
}

fn single_section(z: &[Complex64], p: &[Complex64]) -> Section {
    let mut sos = [0.0; 6];
    let b = poly(z);
    let a = poly(p);
    sos[3 - b.len()..3].copy_from_slice(&b);
    sos[6 - a.len()..6].copy_from_slice(&a);
    sos
}

/// `scipy.signal.zpk2sos(z, p, k, pairing='nearest')` for a digital filter.
fn zpk2sos(z: Vec<Complex64>, p: Vec<Complex64>, k: f64) -> Vec<Section> {
    let zero = Complex64::new(0.0, 0.0);
    if z.is_empty() && p.is_empty() {
        return vec![[k, 0.0, 0.0, 1.0, 0.0, 0.0]];
    }
    let (mut z, mut p) = (z, p);
    let len = z.len().max(p.len());
    z.resize(len, zero);
    p.resize(len, zero);
    let n_sections = len.div_ceil(2);
    if p.len() % 2 == 1 {
        p.push(zero);
        z.push(zero);
    }
    let mut z = cplxreal(&z);
    let mut p = cplxreal(&p);
    let worst = |v: &[Complex64]| argmin(v, |x| (1.0 - x.norm()).abs());
    let mut sos = vec![[0.0; 6]; n_sections];
    for si in (0..n_sections).rev() {
        let p1 = p.remove(worst(&p));
        let reals_left = p.iter().filter(|&&x| is_real(x)).count();
        if is_real(p1) && reals_left == 0 {
            let z1 = z.remove(nearest(&z, p1, Which::Real));
            sos[si] = single_section(&[z1, zero], &[p1, zero]);
        } else if p.len() + 1 == z.len()
            && !is_real(p1)
            && reals_left == 1
            && z.iter().filter(|&&x| is_real(x)).count() == 1
        {
            let z1 = z.remove(nearest(&z, p1, Which::Complex));
            sos[si] = single_section(&[z1, z1.conj()], &[p1, p1.conj()]);
        } else {
            let p2 = if is_real(p1) {
                let real_idx: Vec<usize> = (0..p.len()).filter(|&i| is_real(p[i])).collect();
                let reals: Vec<Complex64> = real_idx.iter().map(|&i| p[i]).collect();
                p.remove(real_idx[worst(&reals)])
            } else {
                p1.conj()
            };
            if z.is_empty() {
                sos[si] = single_section(&[], &[p1, p2]);
            } else {
                let z1 = z.remove(nearest(&z, p1, Which::Any));
                if !is_real(z1) {
                    sos[si] = single_section(&[z1, z1.conj()], &[p1, p2]);
                } else if !z.is_empty() {
                    let z2 = z.remove(nearest(&z, p1, Which::Real));
                    sos[si] = single_section(&[z1, z2], &[p1, p2]);
                } else {
                    sos[si] = single_section(&[z1], &[p1, p2]);
                }
            }
        }
    }
    for b in &mut sos[0][..3] {
        *b *= k;
    }
    sos
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.signal.butter(4, 40, 'lp', fs=1000, output='sos')`, from the kernel fixture.
    #[test]
    fn lowpass_sections_match_scipy() {
        use crate::reference::{float, floats, get};
        let case = get("butter_sos");
        let order = case["order"].as_u64().unwrap() as usize;
        let freq = floats(&case["freq"]);
        let sos = butter_sos(order, &freq, FilterType::Lowpass, float(&case["fs"]));
        let scipy: Vec<Vec<f64>> = case["sos"].as_array().unwrap().iter().map(floats).collect();
        assert_eq!(sos.len(), scipy.len());
        for (got, want) in sos.iter().zip(&scipy) {
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 1e-13 * w.abs().max(1e-3),
                    "{got:?} vs {want:?}"
                );
            }
        }
    }
}
