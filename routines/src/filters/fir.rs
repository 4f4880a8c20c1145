//! Syncopy's windowed-sinc FIR design (`syncopy/preproc/firws.py`) and the convolution
//! Syncopy applies it with, `scipy.signal.convolve(x, h, mode='same')`: through an FFT, or
//! directly when the data holds NaN (an FFT would spread one NaN over the whole trial).

use std::f64::consts::PI;
use std::sync::Arc;
use trialflow_core::routine::fft_plan_bytes;

use num_complex::Complex64;
use realfft::{ComplexToReal, RealToComplex};
use rustfft::FftPlanner;
use trialflow_core::Planner;

use super::FilterType;
use crate::params::{keyword_serde, Keyword};
use crate::smoothing::pairwise_sum;

/// The taper of the sinc (`scipy.signal.windows.<name>(order + 1)`, symmetric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirWindow {
    #[default]
    Hamming,
    Hann,
    Blackman,
}

impl Keyword for FirWindow {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("hamming", FirWindow::Hamming),
        ("hann", FirWindow::Hann),
        ("blackman", FirWindow::Blackman),
    ];
    const EXPECTED: &'static str = "one of 'hamming', 'hann' or 'blackman'";
}
keyword_serde!(FirWindow);

impl FirWindow {
    /// `scipy.signal.windows.general_cosine(m, a, sym=True)`: `sum_k a_k cos(k fac)` with
    /// `fac = linspace(-pi, pi, m)`.
    pub fn values(self, m: usize) -> Vec<f64> {
        let a: &[f64] = match self {
            FirWindow::Hamming => &[0.54, 1.0 - 0.54],
            FirWindow::Hann => &[0.5, 1.0 - 0.5],
            FirWindow::Blackman => &[0.42, 0.50, 0.08],
        };
        if m == 1 {
            return vec![1.0];
        }
        let step = 2.0 * PI / (m - 1) as f64;
        (0..m)
            .map(|i| {
                let fac = if i == m - 1 { PI } else { i as f64 * step - PI };
                let mut w = 0.0;
                for (k, &ak) in a.iter().enumerate() {
                    w += ak * (k as f64 * fac).cos();
                }
                w
            })
            .collect()
    }
}

/// `windowed_sinc(window, order, f_c)`: `sin(2 pi f_c m) / m` on `m = -order/2..=order/2`
/// (`2 pi f_c` at 0), tapered and normalised to unit DC gain. `order` is even.
fn windowed_sinc(window: FirWindow, order: usize, f_c: f64) -> Vec<f64> {
    let omega_c = 2.0 * PI * f_c;
    let half: Vec<f64> = (1..=order / 2)
        .map(|m| {
            let m = m as f64;
            (omega_c * m).sin() / m
        })
        .collect();
    let mut kernel: Vec<f64> = half.iter().rev().copied().collect();
    kernel.push(omega_c);
    kernel.extend_from_slice(&half);
    for (k, w) in kernel.iter_mut().zip(window.values(order + 1)) {
        *k *= w;
    }
    let sum = pairwise_sum(&kernel);
    kernel.iter_mut().for_each(|k| *k /= sum);
    kernel
}

/// `delta - kernel`: the high-pass complement of a low-pass kernel.
fn invert(mut kernel: Vec<f64>) -> Vec<f64> {
    kernel.iter_mut().for_each(|k| *k = -*k);
    let mid = kernel.len() / 2;
    kernel[mid] += 1.0;
    kernel
}

/// `design_wsinc(window, order, freq / samplerate, filter_type)`: `order + 1` taps, an odd
/// order rounded up to even.
pub fn design_wsinc(
    window: FirWindow,
    order: usize,
    f_c: &[f64],
    filter_type: FilterType,
) -> Vec<f64> {
    let order = order + order % 2;
    match filter_type {
        FilterType::Lowpass => windowed_sinc(window, order, f_c[0]),
        FilterType::Highpass => invert(windowed_sinc(window, order, f_c[0])),
        FilterType::Bandpass | FilterType::Bandstop => {
            // bp: low-pass at the upper edge plus high-pass at the lower one, minus the
            // doubled DC; bs: low-pass at the lower edge plus high-pass at the upper one.
            let (f_lp, f_hp) = if filter_type == FilterType::Bandpass {
                (f_c[1], f_c[0])
            } else {
                (f_c[0], f_c[1])
            };
            let lp = windowed_sinc(window, order, f_lp);
            let hp = invert(windowed_sinc(window, order, f_hp));
            let mut kernel: Vec<f64> = lp.iter().zip(&hp).map(|(a, b)| a + b).collect();
            if filter_type == FilterType::Bandpass {
                let mid = kernel.len() / 2;
                kernel[mid] -= 1.0;
            }
            kernel
        }
    }
}

/// `minphaserceps(kernel)`: the minimum-phase kernel with the same magnitude response, by
/// the real cepstrum on an FFT of `2^ceil(log2(1000 len))` points (as FieldTrip and
/// Syncopy; the long FFT limits time aliasing).
pub fn minimum_phase(kernel: &[f64]) -> Vec<f64> {
    let n = kernel.len();
    let nfft = 1usize << ((n as f64 * 1e3).log2().ceil() as u32);
    let mut planner = FftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(nfft);
    let inverse = planner.plan_fft_inverse(nfft);
    let mut spec: Vec<Complex64> = (0..nfft)
        .map(|i| Complex64::new(kernel.get(i).copied().unwrap_or(0.0), 0.0))
        .collect();
    forward.process(&mut spec);
    // Clip the magnitude at -160 dB, then the real cepstrum: real(ifft(log |H|)).
    for s in spec.iter_mut() {
        let mag = s.norm();
        *s = Complex64::new(if mag < 1e-8 { 1e-8 } else { mag }.ln(), 0.0);
    }
    inverse.process(&mut spec);
    let ceps: Vec<f64> = spec.iter().map(|c| c.re / nfft as f64).collect();
    // Fold the cepstrum onto its causal part: c[0], c[i] + c[nfft - i] for 1 <= i < nfft/2,
    // c[nfft/2] alone, then zeros; nfft - 1 values, as Syncopy's hstack builds them.
    let half = nfft / 2;
    let m = nfft - 1;
    let mut folded = vec![Complex64::new(0.0, 0.0); m];
    folded[0].re = ceps[0];
    for i in 0..half {
        let head = if i + 1 < half { ceps[1 + i] } else { 0.0 };
        folded[1 + i].re = head + ceps[nfft - 1 - i];
    }
    let forward_m = planner.plan_fft_forward(m);
    let inverse_m = planner.plan_fft_inverse(m);
    forward_m.process(&mut folded);
    for c in folded.iter_mut() {
        *c = c.exp();
    }
    inverse_m.process(&mut folded);
    folded[..n].iter().map(|c| c.re / m as f64).collect()
}

/// `convolve(x, kernel, mode='same')` for columns of `n` samples: the kernel's spectrum for
/// an FFT length of at least `n + len - 1`, scaled by `1 / len` so the inverse needs no
/// pass of its own.
pub struct FirConvolver {
    kernel: Arc<Vec<f64>>,
    n: usize,
    fft_len: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    spectrum: Vec<Complex64>,
}

impl FirConvolver {
    /// Bytes the convolver keeps: the taps, the kernel's spectrum and two FFT plans.
    pub fn state_bytes(&self) -> usize {
        self.kernel.len() * std::mem::size_of::<f64>()
            + self.spectrum.len() * std::mem::size_of::<Complex64>()
            + 2 * fft_plan_bytes(self.fft_len)
    }
}

impl std::fmt::Debug for FirConvolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirConvolver")
            .field("taps", &self.kernel.len())
            .field("n", &self.n)
            .field("fft_len", &self.fft_len)
            .finish()
    }
}

/// The smallest 2^a 3^b 5^c at or above `n`: lengths RustFFT handles fastest.
fn fast_len(n: usize) -> usize {
    let mut best = n.next_power_of_two();
    let mut p5 = 1;
    while p5 < best {
        let mut p35 = p5;
        while p35 < best {
            let mut v = p35;
            while v < n {
                v *= 2;
            }
            best = best.min(v);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best
}

impl FirConvolver {
    pub fn new(kernel: Arc<Vec<f64>>, n: usize, planner: &mut Planner) -> FirConvolver {
        let fft_len = fast_len((n + kernel.len()).saturating_sub(1).max(2));
        let forward = planner.real_fft_forward(fft_len);
        let inverse = planner.real_fft_inverse(fft_len);
        let mut padded = vec![0.0; fft_len];
        padded[..kernel.len()].copy_from_slice(&kernel);
        let mut spectrum = forward.make_output_vec();
        forward
            .process(&mut padded, &mut spectrum)
            .expect("buffer lengths come from the plan");
        let scale = 1.0 / fft_len as f64;
        spectrum.iter_mut().for_each(|c| *c *= scale);
        FirConvolver {
            kernel,
            n,
            fft_len,
            forward,
            inverse,
            spectrum,
        }
    }

    /// The column length this convolver was planned for.
    pub fn samples(&self) -> usize {
        self.n
    }

    /// Scratch for [`FirConvolver::apply`]: (real, complex) values.
    pub fn scratch_len(&self) -> (usize, usize) {
        let complex = self.spectrum.len()
            + self
                .forward
                .get_scratch_len()
                .max(self.inverse.get_scratch_len());
        (self.fft_len + self.n, complex)
    }

    /// Convolves `column` (n samples) in place, 'same' mode. `real` and `complex` are
    /// scratch of [`FirConvolver::scratch_len`]. A column holding NaN is convolved directly,
    /// as SciPy's `convolve` is when Syncopy finds NaN.
    pub fn apply(&self, column: &mut [f64], real: &mut [f64], complex: &mut [Complex64]) {
        let n = self.n;
        let (buf, direct_out) = real.split_at_mut(self.fft_len);
        if column.iter().any(|v| v.is_nan()) {
            self.direct(column, &mut direct_out[..n]);
            column.copy_from_slice(&direct_out[..n]);
            return;
        }
        buf[..n].copy_from_slice(column);
        buf[n..].fill(0.0);
        let (spec, fft_scratch) = complex.split_at_mut(self.spectrum.len());
        self.forward
            .process_with_scratch(buf, spec, fft_scratch)
            .expect("buffer lengths come from the plan");
        for (s, k) in spec.iter_mut().zip(&self.spectrum) {
            *s *= k;
        }
        // Real input: DC (and Nyquist, for even lengths) are real; keep rounding from
        // making realfft refuse them.
        spec[0].im = 0.0;
        if self.fft_len.is_multiple_of(2) {
            let last = spec.len() - 1;
            spec[last].im = 0.0;
        }
        self.inverse
            .process_with_scratch(spec, buf, fft_scratch)
            .expect("buffer lengths come from the plan");
        let start = (self.kernel.len() - 1) / 2;
        column.copy_from_slice(&buf[start..start + n]);
    }

    /// `y[i] = sum_j h[j] x[i + (len - 1) / 2 - j]` with zeros outside the column.
    fn direct(&self, x: &[f64], y: &mut [f64]) {
        let h = &self.kernel;
        let shift = (h.len() - 1) / 2;
        for (i, yi) in y.iter_mut().enumerate() {
            let centre = i + shift;
            // j such that 0 <= centre - j < n.
            let j_lo = (centre + 1).saturating_sub(x.len());
            let j_hi = centre.min(h.len() - 1);
            let mut acc = 0.0;
            for j in j_lo..=j_hi {
                acc += h[j] * x[centre - j];
            }
            *yi = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_lengths_are_smooth_and_minimal() {
        assert_eq!(fast_len(1000), 1000);
        assert_eq!(fast_len(1001), 1024);
        assert_eq!(fast_len(3000), 3000);
        assert_eq!(fast_len(3001), 3072);
        assert_eq!(fast_len(7), 8);
    }

    #[test]
    fn fft_and_direct_convolution_agree() {
        let kernel = Arc::new(design_wsinc(
            FirWindow::Hamming,
            20,
            &[0.1],
            FilterType::Lowpass,
        ));
        let conv = FirConvolver::new(kernel, 37, &mut Planner::new());
        let (r, c) = conv.scratch_len();
        let (mut real, mut complex) = (vec![0.0; r], vec![Complex64::new(0.0, 0.0); c]);
        let x: Vec<f64> = (0..37).map(|i| ((i * 7 % 11) as f64).sin()).collect();
        let mut fft = x.clone();
        conv.apply(&mut fft, &mut real, &mut complex);
        let mut direct = vec![0.0; 37];
        conv.direct(&x, &mut direct);
        for (a, b) in fft.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
    }
}
