//! Second-order-section cascades run across channels: SciPy's `sosfilt` (transposed direct
//! form II, section by section for each sample) and `sosfiltfilt` (odd extension, initial
//! conditions from `sosfilt_zi`, a forward and a backward pass).
//!
//! Data is a row-major block, samples x channels, so one row holds every channel of a sample.
//! Each section's state is two rows of per-channel values, and the inner loop runs over
//! channels: independent lanes the compiler vectorises. Every channel sees exactly the same
//! operations in the same order whatever the block's width, so channel groups give the same
//! bits as whole trials.
//!
//! The row loop is compiled for the baseline target and, chosen at run time, for AVX2 and
//! AVX-512 (as the smoothing interior is, [`Simd`]): the same IEEE operations in the same
//! order (no fused multiply-add), only wider, so every path gives the same bits.

use super::butter_design::Section;
use crate::smoothing::Simd;
use trialflow_core::Sample;

/// Channels filtered together per inner loop (they stay in vector registers across the
/// sections).
const LANES: usize = 8;

/// A designed cascade with what `sosfiltfilt` derives from it.
#[derive(Debug, Clone)]
pub struct SosCascade {
    sections: Vec<Section>,
    /// `sosfilt_zi(sos)`: the steady state of a unit step, per section.
    zi: Vec<[f64; 2]>,
    /// `sosfiltfilt`'s default padding, `3 * ntaps`.
    padlen: usize,
    ntaps: usize,
    /// The instruction set the row loop runs on ([`Simd::detect`] unless forced).
    simd: Simd,
}

impl SosCascade {
    pub fn new(sections: Vec<Section>) -> SosCascade {
        let zi = sosfilt_zi(&sections);
        let zero_b2 = sections.iter().filter(|s| s[2] == 0.0).count();
        let zero_a2 = sections.iter().filter(|s| s[5] == 0.0).count();
        let ntaps = 2 * sections.len() + 1 - zero_b2.min(zero_a2);
        SosCascade {
            sections,
            zi,
            padlen: 3 * ntaps,
            ntaps,
            simd: Simd::detect(),
        }
    }

    /// The same cascade on another instruction set, or `None` if this CPU lacks it (for
    /// tests and benchmarks comparing the paths on one machine).
    pub fn force_simd(mut self, simd: Simd) -> Option<SosCascade> {
        simd.available().then(|| {
            self.simd = simd;
            self
        })
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    pub fn padlen(&self) -> usize {
        self.padlen
    }

    pub fn ntaps(&self) -> usize {
        self.ntaps
    }

    /// Values of state per channel (two per section).
    pub fn state_len(&self, channels: usize) -> usize {
        2 * self.sections.len() * channels
    }

    /// Sets the state to `zi * row` (SciPy's `zi * x_0`), or to zero without a row.
    pub fn init_state(&self, state: &mut [f64], row: Option<&[f64]>) {
        let ch = state.len() / (2 * self.sections.len());
        for (s, zi) in self.zi.iter().enumerate() {
            for k in 0..2 {
                let dst = &mut state[(2 * s + k) * ch..(2 * s + k + 1) * ch];
                match row {
                    Some(x) => dst.iter_mut().zip(x).for_each(|(d, &x)| *d = zi[k] * x),
                    None => dst.fill(0.0),
                }
            }
        }
    }

    /// Filters `rows` rows of `data` (channels contiguous) in place, first row to last, or
    /// last to first with `reverse`, carrying `state` along.
    pub fn run(&self, data: &mut [f64], channels: usize, state: &mut [f64], reverse: bool) {
        self.run_from(None::<&[f64]>, data, channels, state, reverse);
    }

    /// [`run`](Self::run) reading the rows from `src` (same shape as `data`) instead of
    /// from `data` itself: the filtered rows are written to `data` without a copy first.
    /// `src` may be float32 as stored, widened as each value is read (the same bits as
    /// reading its f64 widening).
    pub fn run_from<T: Sample>(
        &self,
        src: Option<&[T]>,
        data: &mut [f64],
        channels: usize,
        state: &mut [f64],
        reverse: bool,
    ) {
        if let Some(src) = src {
            assert_eq!(src.len(), data.len(), "source and destination rows differ");
        }
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => {
                // SAFETY: `simd` is only Avx512 when run-time detection found AVX-512F
                // (`new` and `force_simd` check `available()`); the body is safe code.
                unsafe { self.run_avx512(src, data, channels, state, reverse) }
            }
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => {
                // SAFETY: as above, for AVX2.
                unsafe { self.run_avx2(src, data, channels, state, reverse) }
            }
            _ => self.run_any(src, data, channels, state, reverse),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn run_avx512<T: Sample>(
        &self,
        src: Option<&[T]>,
        data: &mut [f64],
        channels: usize,
        state: &mut [f64],
        reverse: bool,
    ) {
        self.run_any(src, data, channels, state, reverse);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2<T: Sample>(
        &self,
        src: Option<&[T]>,
        data: &mut [f64],
        channels: usize,
        state: &mut [f64],
        reverse: bool,
    ) {
        self.run_any(src, data, channels, state, reverse);
    }

    #[inline(always)]
    fn run_any<T: Sample>(
        &self,
        src: Option<&[T]>,
        data: &mut [f64],
        channels: usize,
        state: &mut [f64],
        reverse: bool,
    ) {
        let rows = data.len() / channels.max(1);
        for i in 0..rows {
            let r = if reverse { rows - 1 - i } else { i };
            let span = r * channels..(r + 1) * channels;
            self.run_row(src.map(|s| &s[span.clone()]), &mut data[span], state);
        }
    }

    /// One sample of every channel through every section, from `src` (or `row` itself)
    /// into `row`. Channels go in lanes of [`LANES`], each lane through all sections while
    /// it sits in registers; the remainder runs the same operations one channel at a time,
    /// so every channel gets the same bits whatever its position or the block's width.
    #[inline(always)]
    fn run_row<T: Sample>(&self, src: Option<&[T]>, row: &mut [f64], state: &mut [f64]) {
        let ch = row.len();
        let full = ch - ch % LANES;
        for c0 in (0..full).step_by(LANES) {
            let mut x = [0.0; LANES];
            match src {
                Some(src) => {
                    for (x, &v) in x.iter_mut().zip(&src[c0..c0 + LANES]) {
                        *x = v.into();
                    }
                }
                None => x.copy_from_slice(&row[c0..c0 + LANES]),
            }
            for (s, sec) in self.sections.iter().enumerate() {
                let [b0, b1, b2, _, a1, a2] = *sec;
                let (z0, z1) = state[2 * s * ch..(2 * s + 2) * ch].split_at_mut(ch);
                let z0: &mut [f64; LANES] = (&mut z0[c0..c0 + LANES]).try_into().unwrap();
                let z1: &mut [f64; LANES] = (&mut z1[c0..c0 + LANES]).try_into().unwrap();
                // SciPy's _sosfilt, operation for operation, one statement at a time over
                // the lanes (so each becomes whole vector instructions).
                let mut x_new = [0.0; LANES];
                for l in 0..LANES {
                    x_new[l] = b0 * x[l] + z0[l];
                }
                for l in 0..LANES {
                    z0[l] = b1 * x[l] - a1 * x_new[l] + z1[l];
                }
                for l in 0..LANES {
                    z1[l] = b2 * x[l] - a2 * x_new[l];
                }
                x = x_new;
            }
            row[c0..c0 + LANES].copy_from_slice(&x);
        }
        for c in full..ch {
            let mut x_cur = src.map_or(row[c], |src| src[c].into());
            for (s, sec) in self.sections.iter().enumerate() {
                let [b0, b1, b2, _, a1, a2] = *sec;
                let base = 2 * s * ch;
                let x_new = b0 * x_cur + state[base + c];
                state[base + c] = b1 * x_cur - a1 * x_new + state[base + ch + c];
                state[base + ch + c] = b2 * x_cur - a2 * x_new;
                x_cur = x_new;
            }
            row[c] = x_cur;
        }
    }

    /// `sosfiltfilt` on a block that already holds `padlen` free rows before and after the
    /// `n` data rows: writes the odd extension into them, runs both passes in place, and
    /// leaves the result in the middle `n` rows.
    pub fn filtfilt(&self, ext: &mut [f64], n: usize, channels: usize, state: &mut [f64]) {
        let (p, ch) = (self.padlen, channels);
        let (pre, rest) = ext.split_at_mut(p * ch);
        let (body, post) = rest.split_at_mut(n * ch);
        odd_ext(body, ch, pre, &mut post[..p * ch]);
        self.init_state(state, Some(&ext[..ch]));
        self.run(ext, ch, state, false);
        let total = n + 2 * p;
        self.init_state(state, Some(&ext[(total - 1) * ch..total * ch]));
        self.run(ext, ch, state, true);
    }

    /// [`filtfilt`](Self::filtfilt) of the rows of `x` into `out` (same shape), with only
    /// the two extensions in scratch (`pads`: at least `2 * padlen * channels` values): the
    /// forward pass reads `x` and writes `out`, the backward pass runs over `out` in place,
    /// so the trial is not copied in and out of a padded buffer. Every kept value sees the
    /// same operations in the same order as in [`filtfilt`](Self::filtfilt); the backward
    /// pass just stops before the leading extension, whose values are discarded anyway.
    pub fn filtfilt_into<T: Sample>(
        &self,
        x: &[T],
        out: &mut [f64],
        channels: usize,
        pads: &mut [f64],
        state: &mut [f64],
    ) {
        let (p, ch) = (self.padlen, channels);
        let (pre, post) = pads[..2 * p * ch].split_at_mut(p * ch);
        odd_ext(x, ch, pre, post);
        self.init_state(state, Some(&pre[..ch]));
        self.run(pre, ch, state, false);
        self.run_from(Some(x), out, ch, state, false);
        self.run(post, ch, state, false);
        self.init_state(state, Some(&post[(p - 1) * ch..p * ch]));
        self.run(post, ch, state, true);
        self.run(out, ch, state, true);
    }
}

/// `odd_ext` of the rows of `x` (channels contiguous): `pre[i] = 2 x[0] - x[p - i]` and
/// `post[j] = 2 x[n-1] - x[n-2-j]` for `i, j < p` (`p` rows each; `x` has more than `p`).
fn odd_ext<T: Sample>(x: &[T], ch: usize, pre: &mut [f64], post: &mut [f64]) {
    let n = x.len() / ch;
    let p = pre.len() / ch;
    let first = &x[..ch];
    for (i, d) in pre.chunks_exact_mut(ch).enumerate() {
        let mirrored = &x[(p - i) * ch..(p - i + 1) * ch];
        for ((d, &x0), &xm) in d.iter_mut().zip(first).zip(mirrored) {
            *d = 2.0 * x0.into() - xm.into();
        }
    }
    let last = &x[(n - 1) * ch..n * ch];
    for (j, d) in post.chunks_exact_mut(ch).enumerate() {
        let mirrored = &x[(n - 2 - j) * ch..(n - 1 - j) * ch];
        for ((d, &xl), &xm) in d.iter_mut().zip(last).zip(mirrored) {
            *d = 2.0 * xl.into() - xm.into();
        }
    }
}

/// `scipy.signal.sosfilt_zi`, with SciPy 1.18's closed-form `lfilter_zi` per section.
fn sosfilt_zi(sections: &[Section]) -> Vec<[f64; 2]> {
    let mut scale = 1.0;
    sections
        .iter()
        .map(|s| {
            let (b, a) = (&s[..3], &s[3..]);
            let sum = |v: &[f64]| v.iter().fold(0.0, |acc, &x| acc + x);
            let y_inf = sum(b) / sum(a);
            let c: Vec<f64> = b.iter().zip(a).map(|(&b, &a)| b - y_inf * a).collect();
            let zi = [scale * (c[2] + c[1]), scale * c[2]];
            scale *= sum(b) / sum(a);
            zi
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step filtered from `sosfilt_zi * x[0]` stays at its steady state: the cascade of a
    /// lowpass with unit DC gain passes a constant unchanged (to rounding).
    #[test]
    fn steady_state_initial_conditions_pass_constants() {
        let sos = super::super::butter_design::butter_sos(
            4,
            &[40.0],
            super::super::FilterType::Lowpass,
            1000.0,
        );
        let c = SosCascade::new(sos);
        assert_eq!(c.padlen(), 15);
        let mut data = vec![3.5; 50];
        let mut state = vec![0.0; c.state_len(1)];
        c.init_state(&mut state, Some(&[3.5]));
        c.run(&mut data, 1, &mut state, false);
        for v in data {
            assert!((v - 3.5).abs() < 1e-12, "{v}");
        }
    }

    /// Channels filtered in vector lanes and the remainder filtered one by one get the same
    /// bits: eleven copies of one signal stay identical through filtfilt.
    #[test]
    fn lanes_and_remainder_agree_bitwise() {
        let sos = super::super::butter_design::butter_sos(
            5,
            &[30.0, 80.0],
            super::super::FilterType::Bandpass,
            1000.0,
        );
        let c = SosCascade::new(sos);
        let (n, ch) = (200, 11);
        let p = c.padlen();
        let mut ext = vec![0.0; (n + 2 * p) * ch];
        for i in 0..n {
            let v = (i as f64 * 0.37).sin() + (i as f64 * 0.011).cos();
            ext[(p + i) * ch..(p + i + 1) * ch].fill(v);
        }
        let mut state = vec![0.0; c.state_len(ch)];
        c.filtfilt(&mut ext, n, ch, &mut state);
        for row in ext.chunks_exact(ch) {
            assert!(
                row.iter().all(|v| v.to_bits() == row[0].to_bits()),
                "{row:?}"
            );
        }
    }

    /// A test signal of `n` rows x `ch` channels, different in every channel.
    fn signal(n: usize, ch: usize) -> Vec<f64> {
        (0..n * ch)
            .map(|i| ((i * 37 % 101) as f64 / 7.0).sin() * 10f64.powi((i % 5) as i32 - 2))
            .collect()
    }

    /// Every SIMD path this CPU has gives the baseline path's bits, in place and into
    /// another buffer, for channel counts with and without a remainder; `filtfilt_into`
    /// gives `filtfilt`'s bits.
    #[test]
    fn every_path_and_filtfilt_into_match_bitwise() {
        let sos = super::super::butter_design::butter_sos(
            4,
            &[8.0, 30.0],
            super::super::FilterType::Bandpass,
            1000.0,
        );
        let mut compared = 0;
        for ch in [1, 7, 8, 64, 67] {
            let n = 150;
            let x = signal(n, ch);
            let reference = SosCascade::new(sos.clone())
                .force_simd(Simd::Scalar)
                .unwrap();
            let p = reference.padlen();
            let mut want = vec![0.0; (n + 2 * p) * ch];
            want[p * ch..(p + n) * ch].copy_from_slice(&x);
            let mut state = vec![0.0; reference.state_len(ch)];
            reference.filtfilt(&mut want, n, ch, &mut state);
            let want = &want[p * ch..(p + n) * ch];
            let mut onepass = x.clone();
            reference.init_state(&mut state, None);
            reference.run(&mut onepass, ch, &mut state, false);
            for simd in Simd::ALL {
                let Some(c) = SosCascade::new(sos.clone()).force_simd(simd) else {
                    eprintln!("skipped: this CPU cannot run the {} path", simd.name());
                    continue;
                };
                let mut out = vec![f64::NAN; n * ch];
                let mut pads = vec![f64::NAN; 2 * p * ch];
                c.filtfilt_into(&x, &mut out, ch, &mut pads, &mut state);
                let same = |a: &[f64], b: &[f64]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
                };
                assert!(same(&out, want), "{} ch={ch} twopass", simd.name());
                c.init_state(&mut state, None);
                c.run_from(Some(&x), &mut out, ch, &mut state, false);
                assert!(same(&out, &onepass), "{} ch={ch} onepass", simd.name());
                compared += usize::from(simd != Simd::Scalar);
            }
        }
        assert!(compared > 0, "no SIMD path besides scalar on this CPU");
    }
}
