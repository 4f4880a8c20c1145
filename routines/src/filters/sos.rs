//! Second-order-section cascades run across channels: SciPy's `sosfilt` (transposed direct
//! form II, section by section for each sample) and `sosfiltfilt` (odd extension, initial
//! conditions from `sosfilt_zi`, a forward and a backward pass).
//!
//! Data is a row-major block, samples x channels, so one row holds every channel of a sample.
//! Each section's state is two rows of per-channel values, and the inner loop runs over
//! channels: independent lanes the compiler vectorises. Every channel sees exactly the same
//! operations in the same order whatever the block's width, so channel groups give the same
//! bits as whole trials.

use super::butter_design::Section;

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
        }
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
        let rows = data.len() / channels.max(1);
        for i in 0..rows {
            let r = if reverse { rows - 1 - i } else { i };
            let row = &mut data[r * channels..(r + 1) * channels];
            self.run_row(row, state);
        }
    }

    /// One sample of every channel through every section. Channels go in lanes of
    /// [`LANES`], each lane through all sections while it sits in registers; the remainder
    /// runs the same operations one channel at a time, so every channel gets the same bits
    /// whatever its position or the block's width.
    #[inline]
    fn run_row(&self, row: &mut [f64], state: &mut [f64]) {
        let ch = row.len();
        let full = ch - ch % LANES;
        for c0 in (0..full).step_by(LANES) {
            let mut x = [0.0; LANES];
            x.copy_from_slice(&row[c0..c0 + LANES]);
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
            let mut x_cur = row[c];
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
        // odd_ext: 2 x[0] - x[p - i] before, 2 x[n-1] - x[n-2-j] after.
        for i in 0..p {
            let (head, tail) = ext.split_at_mut(p * ch);
            let first = &tail[..ch];
            let mirrored = &tail[(p - i) * ch..(p - i + 1) * ch];
            for ((d, &x0), &xm) in head[i * ch..(i + 1) * ch]
                .iter_mut()
                .zip(first)
                .zip(mirrored)
            {
                *d = 2.0 * x0 - xm;
            }
        }
        for j in 0..p {
            let (body, after) = ext.split_at_mut((p + n) * ch);
            let last = &body[(p + n - 1) * ch..(p + n) * ch];
            let mirrored = &body[(p + n - 2 - j) * ch..(p + n - 1 - j) * ch];
            for ((d, &xl), &xm) in after[j * ch..(j + 1) * ch]
                .iter_mut()
                .zip(last)
                .zip(mirrored)
            {
                *d = 2.0 * xl - xm;
            }
        }
        self.init_state(state, Some(&ext[..ch]));
        self.run(ext, ch, state, false);
        let total = n + 2 * p;
        self.init_state(state, Some(&ext[(total - 1) * ch..total * ch]));
        self.run(ext, ch, state, true);
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
}
