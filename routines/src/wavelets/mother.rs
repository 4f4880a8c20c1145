//! The mother wavelets, written as Syncopy 2023.9 writes them (`specest/wavelets/wavelets.py`
//! for `wavelet`, `specest/superlet.py`'s `MorletSL` for `superlet`): their time-domain
//! values, Fourier periods and scale conversions, in the same order of operations so the
//! frequency axes come out as Syncopy's to the last bit.

use std::f64::consts::PI;

use num_complex::Complex64;

/// A wavelet of the `wavelet` routine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mother {
    /// The complete Morlet wavelet with nondimensional frequency `w0` (Syncopy's `width`).
    Morlet { w0: f64 },
    /// Paul wavelet of order `m`.
    Paul { m: u32 },
    /// Derivative of Gaussian of order `m` (real valued; `m = 2` is the Mexican hat).
    Dog { m: u32 },
}

impl Mother {
    /// Whether the wavelet is real valued: its transform of real data is real, and the
    /// imaginary part is then exactly zero (as Syncopy's real convolution gives), not FFT
    /// round-off.
    pub fn is_real(self) -> bool {
        matches!(self, Mother::Dog { .. })
    }

    /// `wfun(t, s)` at one time: Syncopy's `time` method.
    pub fn time(self, t: f64, s: f64) -> Complex64 {
        let x = t / s;
        match self {
            Mother::Morlet { w0 } => {
                let wave = Complex64::new(0.0, w0 * x).exp() - (-0.5 * (w0 * w0)).exp();
                wave * ((-0.5 * (x * x)).exp() * PI.powf(-0.25))
            }
            Mother::Paul { m } => {
                // (2^m i^m m!) / sqrt(pi (2m)!) * (1 - i x)^-(m+1)
                let i_m = match m % 4 {
                    0 => Complex64::new(1.0, 0.0),
                    1 => Complex64::new(0.0, 1.0),
                    2 => Complex64::new(-1.0, 0.0),
                    _ => Complex64::new(0.0, -1.0),
                };
                let constant =
                    i_m * (2f64.powi(m as i32) * factorial(m)) / (PI * factorial(2 * m)).sqrt();
                let base = Complex64::new(1.0, -x);
                constant / base.powi(m as i32 + 1)
            }
            Mother::Dog { m } => {
                let sign = if (m + 1) % 2 == 0 { 1.0 } else { -1.0 };
                let constant = sign / gamma_half(m).sqrt();
                Complex64::new(constant * hermite_e(m, x) * (-(x * x) / 2.0).exp(), 0.0)
            }
        }
    }

    /// The equivalent Fourier period of scale `s` (the output frequency is its inverse).
    pub fn fourier_period(self, s: f64) -> f64 {
        match self {
            Mother::Morlet { w0 } => 4.0 * PI * s / (w0 + (2.0 + w0 * w0).powf(0.5)),
            Mother::Paul { m } => 4.0 * PI * s / (2.0 * m as f64 + 1.0),
            Mother::Dog { m } => 2.0 * PI * s / (m as f64 + 0.5).powf(0.5),
        }
    }

    /// The scale whose Fourier period is `period`.
    pub fn scale_from_period(self, period: f64) -> f64 {
        match self {
            Mother::Morlet { w0 } => {
                let coeff = (w0 * w0 + 2.0).sqrt();
                (period * (coeff + w0)) / (4.0 * PI)
            }
            Mother::Paul { m } => period * (2.0 * m as f64 + 1.0) / (4.0 * PI),
            Mother::Dog { m } => period * (m as f64 + 0.5).sqrt() / (2.0 * PI),
        }
    }
}

/// Moca et al.'s Morlet of a superlet: `c` cycles within a Gaussian envelope of standard
/// deviation `k_sd = 5` (Syncopy's `MorletSL`), centre frequency 1 per unit scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MorletSl {
    pub cycles: f64,
}

/// The envelope's standard deviation in Syncopy's `MorletSL`.
const K_SD: f64 = 5.0;

impl MorletSl {
    pub fn time(self, t: f64, s: f64) -> Complex64 {
        let ts = t / s;
        let b_c = K_SD / (s * self.cycles * (2.0 * PI).powf(1.5));
        let wave = Complex64::new(0.0, ts).exp() * b_c;
        let g = K_SD * ts / (2.0 * PI * self.cycles);
        wave * (-0.5 * (g * g)).exp()
    }

    /// Syncopy's `superlet.fourier_period`: the Morlet-SL's centre frequency is 1 per scale.
    pub fn fourier_period(s: f64) -> f64 {
        2.0 * PI * s
    }

    pub fn scale_from_period(period: f64) -> f64 {
        period / (2.0 * PI)
    }
}

fn factorial(n: u32) -> f64 {
    (1..=n).map(f64::from).product()
}

/// `Γ(m + 1/2)`, by `Γ(k + 1/2) = (k - 1/2) Γ(k - 1/2)` from `Γ(1/2) = √π`.
fn gamma_half(m: u32) -> f64 {
    (1..=m).fold(PI.sqrt(), |g, k| g * (k as f64 - 0.5))
}

/// The probabilists' Hermite polynomial `He_m(x)` (SciPy's `hermitenorm`), by its
/// recurrence `He_{k+1} = x He_k - k He_{k-1}`.
fn hermite_e(m: u32, x: f64) -> f64 {
    let (mut prev, mut cur) = (1.0, x);
    if m == 0 {
        return prev;
    }
    for k in 1..m {
        let next = x * cur - k as f64 * prev;
        prev = cur;
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermite_and_gamma_match_closed_forms() {
        let x = 0.7f64;
        assert!((hermite_e(2, x) - (x * x - 1.0)).abs() < 1e-15);
        assert!((hermite_e(3, x) - (x * x * x - 3.0 * x)).abs() < 1e-15);
        assert!((gamma_half(2) - 0.75 * PI.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn scale_and_period_invert_each_other() {
        for w in [
            Mother::Morlet { w0: 6.0 },
            Mother::Paul { m: 4 },
            Mother::Dog { m: 2 },
        ] {
            let s = w.scale_from_period(0.1);
            assert!((w.fourier_period(s) - 0.1).abs() < 1e-15, "{w:?}");
        }
        // The Mexican hat is DOG(2): -He_2(x) e^{-x²/2} / sqrt(Γ(2.5)), positive at 0.
        assert!(Mother::Dog { m: 2 }.time(0.0, 1.0).re > 0.0);
    }
}
