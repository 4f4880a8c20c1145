//! A bank of sampled wavelets held as spectra, so a trial's convolution with each is one
//! product and one inverse FFT of the trial's spectrum (computed once per channel).
//!
//! Syncopy convolves in the time domain (`scipy.signal.fftconvolve(x, h, mode="same")`
//! with the wavelet sampled on `arange((-M+1)/2, (M+1)/2) * dt`). That is a linear
//! convolution, which a circular one of length `P` reproduces exactly when the kernel's
//! lags that can reach an output sample, at most `L - 1` either way for `L` samples, do not
//! wrap onto each other: `P >= L + max(lag)`. The kernel is therefore folded onto `P`
//! points by lag, only for lags within the trial, and a wavelet longer than the trial (a
//! low frequency on a short trial) costs no more than a short one.

use std::sync::Arc;

use num_complex::Complex64;
use rustfft::Fft;
use trialflow_core::routine::fft_plan_bytes;
use trialflow_core::Planner;

/// The samples of a wavelet's support as Syncopy takes them: `M` points (a float) give
/// `numpy.arange((-M + 1) / 2, (M + 1) / 2)`, in sample units, times `dt`.
#[derive(Debug, Clone, Copy)]
pub struct Support {
    start: f64,
    delta: f64,
    pub len: usize,
}

impl Support {
    pub fn new(m: f64) -> Support {
        let start = (-m + 1.0) / 2.0;
        let stop = (m + 1.0) / 2.0;
        // numpy's length ceil((stop - start) / 1) and its fill: start + i * (x1 - x0).
        let len = (stop - start).ceil().max(1.0) as usize;
        Support {
            start,
            delta: (start + 1.0) - start,
            len,
        }
    }

    /// The time of sample `i`, in seconds.
    #[inline]
    pub fn time(&self, i: usize, dt: f64) -> f64 {
        let v = if i == 1 {
            self.start + 1.0
        } else {
            self.start + i as f64 * self.delta
        };
        v * dt
    }

    /// `mode="same"` keeps the full convolution from `(len - 1) / 2` on: the kernel sample
    /// at this index meets the output sample at lag 0.
    pub fn centre(&self) -> usize {
        (self.len - 1) / 2
    }
}

/// The spectra of several kernels for trials of at most `max_len` samples, each already
/// divided by `P` (RustFFT's inverse is unnormalised).
pub struct KernelBank {
    p: usize,
    /// The spectra back to back, each `p` complex values as (re, im) pairs: shared through
    /// the planner by every plan of the run with the same wavelets.
    spectra: Arc<[f64]>,
    /// Whether this plan computed the spectra (the others share them), so the memory
    /// estimate counts them once.
    owns_spectra: bool,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
}

impl KernelBank {
    /// The FFT length for trials of at most `max_len` samples and kernels whose longest reach
    /// to either side of lag 0 is `reach` samples.
    pub fn fft_len(max_len: usize, reach: usize) -> usize {
        smooth_at_least(max_len + reach.min(max_len.saturating_sub(1)))
    }

    /// Samples and transforms `kernels` (each a support and its value at a time) onto `p`
    /// points for trials of at most `max_len` samples (`p` from [`KernelBank::fft_len`] over
    /// the same kernels). `key` must name the kernels completely: the planner computes the
    /// spectra once per run and key, so trial lengths and channel groups share them.
    pub fn new(
        key: &str,
        p: usize,
        max_len: usize,
        kernels: &[(Support, &dyn Fn(f64) -> Complex64)],
        dt: f64,
        planner: &mut Planner,
    ) -> KernelBank {
        let forward = planner.fft_forward(p);
        let inverse = planner.fft_inverse(p);
        let computed = planner.tapers_computed();
        let spectra = planner.taper(&format!("{key}, max_len={max_len}"), p, || {
            let mut spectra = vec![Complex64::new(0.0, 0.0); kernels.len() * p];
            let mut fft_scratch = vec![Complex64::new(0.0, 0.0); forward.get_inplace_scratch_len()];
            let reach = max_len.saturating_sub(1) as isize;
            let scale = 1.0 / p as f64;
            for ((support, value), g) in kernels.iter().zip(spectra.chunks_exact_mut(p)) {
                let centre = support.centre() as isize;
                let lo = (-centre).max(-reach);
                let hi = (support.len as isize - 1 - centre).min(reach);
                for lag in lo..=hi {
                    let m = (lag + centre) as usize;
                    let slot = lag.rem_euclid(p as isize) as usize;
                    g[slot] = value(support.time(m, dt)) * scale;
                }
                forward.process_with_scratch(g, &mut fft_scratch);
            }
            spectra.iter().flat_map(|z| [z.re, z.im]).collect()
        });
        KernelBank {
            p,
            spectra,
            owns_spectra: planner.tapers_computed() > computed,
            forward,
            inverse,
        }
    }

    pub fn p(&self) -> usize {
        self.p
    }

    /// Kernel `kernel`'s spectrum as (re, im) pairs.
    fn spectrum(&self, kernel: usize) -> &[f64] {
        &self.spectra[2 * kernel * self.p..2 * (kernel + 1) * self.p]
    }

    /// Complex scratch the FFTs need.
    pub fn fft_scratch_len(&self) -> usize {
        self.forward
            .get_inplace_scratch_len()
            .max(self.inverse.get_inplace_scratch_len())
    }

    /// The spectra (counted by the plan that computed them) and the FFT plans.
    pub fn state_bytes(&self) -> usize {
        let spectra = if self.owns_spectra {
            self.spectra.len() * std::mem::size_of::<f64>()
        } else {
            0
        };
        spectra + 2 * fft_plan_bytes(self.p)
    }

    /// Replaces `buf` (the zero-padded signal) by its spectrum.
    pub fn forward(&self, buf: &mut [Complex64], scratch: &mut [Complex64]) {
        self.forward.process_with_scratch(buf, scratch);
    }

    /// `work = IFFT(signal · G_kernel)`: the signal's convolution with the kernel, sample
    /// `i` of the transformed window at `work[i]`.
    pub fn convolve(
        &self,
        signal: &[Complex64],
        kernel: usize,
        work: &mut [Complex64],
        scratch: &mut [Complex64],
    ) {
        for ((w, &x), g) in work
            .iter_mut()
            .zip(signal)
            .zip(self.spectrum(kernel).chunks_exact(2))
        {
            *w = x * Complex64::new(g[0], g[1]);
        }
        self.inverse.process_with_scratch(work, scratch);
    }
}

/// The smallest `2^a 3^b 5^c >= n` (fast for RustFFT's mixed-radix algorithms).
fn smooth_at_least(n: usize) -> usize {
    let n = n.max(1);
    let mut best = n.next_power_of_two();
    let mut p5 = 1usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_lengths() {
        assert_eq!(smooth_at_least(1), 1);
        assert_eq!(smooth_at_least(7), 8);
        assert_eq!(smooth_at_least(11), 12);
        assert_eq!(smooth_at_least(1001), 1024);
        assert_eq!(smooth_at_least(1201), 1215);
    }

    #[test]
    fn support_is_numpys_arange() {
        let s = Support::new(10.3);
        assert_eq!(s.len, 11);
        assert_eq!(s.time(0, 1.0), -4.65);
        assert_eq!(Support::new(10.0).len, 10);
    }

    /// The folded circular convolution equals a direct `mode="same"` convolution, for a
    /// kernel shorter and one longer than the signal.
    #[test]
    fn matches_direct_same_convolution() {
        let x: Vec<f64> = (0..23).map(|i| ((i * 7 % 5) as f64) - 1.3).collect();
        for m in [6.4, 9.0, 61.0] {
            let support = Support::new(m);
            let h = |t: f64| Complex64::new((t * 0.37).cos(), t.sin() * 0.5);
            let n = x.len();
            let p = KernelBank::fft_len(n, support.len);
            let mut planner = Planner::new();
            let bank = KernelBank::new("test", p, n, &[(support, &h)], 1.0, &mut planner);
            let mut scratch = vec![Complex64::new(0.0, 0.0); bank.fft_scratch_len()];
            let mut sig = vec![Complex64::new(0.0, 0.0); p];
            sig[..n]
                .iter_mut()
                .zip(&x)
                .for_each(|(s, &v)| *s = Complex64::new(v, 0.0));
            bank.forward(&mut sig, &mut scratch);
            let mut work = vec![Complex64::new(0.0, 0.0); p];
            bank.convolve(&sig, 0, &mut work, &mut scratch);
            let c = support.centre() as isize;
            for i in 0..n as isize {
                let mut want = Complex64::new(0.0, 0.0);
                for k in 0..n as isize {
                    let j = i + c - k;
                    if j >= 0 && (j as usize) < support.len {
                        want += h(support.time(j as usize, 1.0)) * x[k as usize];
                    }
                }
                assert!((work[i as usize] - want).norm() < 1e-12, "m {m} i {i}");
            }
        }
    }
}
