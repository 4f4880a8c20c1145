//! Per-channel trend removal before a transform: Syncopy's `polyremoval` (0: mean, 1: line)
//! and `scipy.signal.detrend`'s `constant`/`linear`, as used by `welch` per segment.
//!
//! The fit runs row by row with channels contiguous (vectorised across channels); the
//! transform then subtracts the fitted trends while it gathers a block of channels.
//!
//! Both read f64 or float32 input as stored (`trialflow_core::Sample`), converting each value where it is
//! read: the conversion is exact, so f32 input gives the bits of its f64 widening.

use ndarray::ArrayView2;
use trialflow_core::Sample;

/// Rows per tile of the channel-block gather (8 f64: one cache line per destination line).
const TILE: usize = 8;

/// Which trend to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    None,
    /// The mean (`polyremoval: 0`, `detrend: constant`).
    Constant,
    /// The least-squares line (`polyremoval: 1`, `detrend: linear`).
    Linear,
}

impl Trend {
    /// Fits the trend of rows `start..start + n` of `x` for every channel: `mean[c]` and
    /// `slope[c]` (per sample, about the segment's centre). Both slices are channels long.
    pub fn fit<T: Sample>(
        self,
        x: &ArrayView2<'_, T>,
        start: usize,
        n: usize,
        mean: &mut [f64],
        slope: &mut [f64],
    ) {
        mean.fill(0.0);
        slope.fill(0.0);
        if self == Trend::None || n == 0 {
            return;
        }
        let centre = (n as f64 - 1.0) / 2.0;
        for t in 0..n {
            let row = x.row(start + t);
            let dt = t as f64 - centre;
            match row.as_slice() {
                Some(values) => {
                    for (m, &v) in mean.iter_mut().zip(values) {
                        *m += v.into();
                    }
                    if self == Trend::Linear {
                        for (s, &v) in slope.iter_mut().zip(values) {
                            *s += dt * v.into();
                        }
                    }
                }
                None => {
                    for (c, &v) in row.iter().enumerate() {
                        let v: f64 = v.into();
                        mean[c] += v;
                        slope[c] += dt * v;
                    }
                }
            }
        }
        let nf = n as f64;
        mean.iter_mut().for_each(|m| *m /= nf);
        // Σ (t - centre)² = n (n² - 1) / 12; a single sample has no slope.
        let stt = nf * (nf * nf - 1.0) / 12.0;
        if self == Trend::Linear && stt > 0.0 {
            slope.iter_mut().for_each(|s| *s /= stt);
        } else {
            slope.fill(0.0);
        }
    }

    /// Copies channels `c0..c0 + width` of rows `start..start + n` into `dst`, channel after
    /// channel (`dst[j * stride + t]`, `stride >= n`), minus their fitted trends (`mean`, `slope` are indexed by
    /// absolute channel). Reads the rows once, `width` contiguous values at a time, so a
    /// block of channels costs one pass over the trial's cache lines.
    #[allow(clippy::too_many_arguments)]
    pub fn remove_block<T: Sample>(
        self,
        x: &ArrayView2<'_, T>,
        c0: usize,
        width: usize,
        start: usize,
        n: usize,
        mean: &[f64],
        slope: &[f64],
        dst: &mut [f64],
        stride: usize,
    ) {
        self.gather(x, c0, width, start, n, mean, slope, None, dst, stride);
    }

    /// [`remove_block`](Self::remove_block) with each detrended value multiplied by
    /// `taper[t]` on the way (`taper` is `n` long): `(v - trend) * w`, the same operations
    /// as detrending and then tapering in place, in one pass instead of two.
    #[allow(clippy::too_many_arguments)]
    pub fn remove_block_tapered<T: Sample>(
        self,
        x: &ArrayView2<'_, T>,
        c0: usize,
        width: usize,
        start: usize,
        n: usize,
        mean: &[f64],
        slope: &[f64],
        taper: &[f64],
        dst: &mut [f64],
        stride: usize,
    ) {
        assert_eq!(taper.len(), n, "one taper value per sample");
        self.gather(
            x,
            c0,
            width,
            start,
            n,
            mean,
            slope,
            Some(taper),
            dst,
            stride,
        );
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn gather<T: Sample>(
        self,
        x: &ArrayView2<'_, T>,
        c0: usize,
        width: usize,
        start: usize,
        n: usize,
        mean: &[f64],
        slope: &[f64],
        taper: Option<&[f64]>,
        dst: &mut [f64],
        stride: usize,
    ) {
        let centre = (n as f64 - 1.0) / 2.0;
        let (mean, slope) = (&mean[c0..c0 + width], &slope[c0..c0 + width]);
        let taper = taper.map(|w| &w[..n]);
        let channels = x.ncols();
        // Rows of a standard-layout view are `channels` apart in one slice: read `width`
        // values per row from it and write them to `width` destination lines.
        let contiguous = x
            .as_slice()
            .map(|all| &all[start * channels..(start + n) * channels]);
        let (lines, _) = dst.split_at_mut(width * stride);
        // One loop per trend kind, so the match is not inside the loop.
        macro_rules! gather {
            ($value:expr) => {{
                match contiguous {
                    Some(rows) if width == TILE && n > 0 => {
                        // A full block: each row's TILE values (one cache line) are read
                        // as one array and go to the TILE lines at position t, so the
                        // trend (and taper) arithmetic runs as vector operations with no
                        // index checks inside the row.
                        let mut dst: [&mut [f64]; TILE] = {
                            let mut it = lines.chunks_exact_mut(stride).map(|l| &mut l[..n]);
                            std::array::from_fn(|_| it.next().expect("TILE lines"))
                        };
                        for (t, row) in rows.chunks_exact(channels).enumerate() {
                            let v: &[T; TILE] = row[c0..c0 + TILE].try_into().expect("TILE values");
                            let dt = t as f64 - centre;
                            let mut out = [0.0; TILE];
                            for j in 0..TILE {
                                out[j] = $value(v[j].into(), j, t, dt);
                            }
                            for (line, o) in dst.iter_mut().zip(out) {
                                line[t] = o;
                            }
                        }
                    }
                    Some(rows) => {
                        // Tiles of TILE rows x width channels: each destination line gets
                        // TILE consecutive values (one cache line) per tile.
                        for (tile, block) in rows.chunks(TILE * channels).enumerate() {
                            let t0 = tile * TILE;
                            for (j, line) in lines.chunks_exact_mut(stride).enumerate() {
                                let line = &mut line[t0..t0 + block.len() / channels];
                                for (dt, (o, row)) in line
                                    .iter_mut()
                                    .zip(block.chunks_exact(channels))
                                    .enumerate()
                                {
                                    let t = t0 + dt;
                                    *o = $value(row[c0 + j].into(), j, t, t as f64 - centre);
                                }
                            }
                        }
                    }
                    None => {
                        for t in 0..n {
                            let row = x.row(start + t);
                            let dt = t as f64 - centre;
                            for (j, line) in lines.chunks_exact_mut(stride).enumerate() {
                                line[t] = $value(row[c0 + j].into(), j, t, dt);
                            }
                        }
                    }
                }
            }};
        }
        match (self, taper) {
            (Trend::None, None) => gather!(|v: f64, _j: usize, _t: usize, _dt: f64| v),
            (Trend::Constant, None) => {
                gather!(|v: f64, j: usize, _t: usize, _dt: f64| v - mean[j])
            }
            (Trend::Linear, None) => {
                gather!(|v: f64, j: usize, _t: usize, dt: f64| v - (mean[j] + slope[j] * dt))
            }
            (Trend::None, Some(w)) => gather!(|v: f64, _j: usize, t: usize, _dt: f64| v * w[t]),
            (Trend::Constant, Some(w)) => {
                gather!(|v: f64, j: usize, t: usize, _dt: f64| (v - mean[j]) * w[t])
            }
            (Trend::Linear, Some(w)) => gather!(|v: f64, j: usize, t: usize, dt: f64| (v
                - (mean[j] + slope[j] * dt))
                * w[t]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn full_blocks_give_the_formula_bits() {
        // Whole and partial tiles through the full-block path (8 channels of a
        // standard-layout view), against each value's formula, bit for bit.
        let channels = 11;
        for n in [1, 7, 8, 13, 40] {
            let x = ndarray::Array2::from_shape_fn((n, channels), |(t, c)| {
                ((t * 7 + c * 3) % 13) as f64 * 0.37 - (c as f64).sqrt()
            });
            let taper: Vec<f64> = (0..n).map(|t| 0.5 + (t as f64 * 0.3).sin() / 3.0).collect();
            let (mut m, mut s) = (vec![0.0; channels], vec![0.0; channels]);
            let stride = n + 3;
            for trend in [Trend::None, Trend::Constant, Trend::Linear] {
                trend.fit(&x.view(), 0, n, &mut m, &mut s);
                let mut d = vec![0.0; 8 * stride];
                let c0 = 2;
                trend.remove_block_tapered(&x.view(), c0, 8, 0, n, &m, &s, &taper, &mut d, stride);
                let centre = (n as f64 - 1.0) / 2.0;
                for j in 0..8 {
                    for t in 0..n {
                        let (v, c) = (x[[t, c0 + j]], c0 + j);
                        let detrended = match trend {
                            Trend::None => v,
                            Trend::Constant => v - m[c],
                            Trend::Linear => v - (m[c] + s[c] * (t as f64 - centre)),
                        };
                        let want = detrended * taper[t];
                        assert_eq!(
                            d[j * stride + t].to_bits(),
                            want.to_bits(),
                            "{trend:?} n {n}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn removes_lines_and_means() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 8.0], [7.0, 6.0]];
        let (mut m, mut s) = ([0.0; 2], [0.0; 2]);
        Trend::Linear.fit(&x.view(), 0, 4, &mut m, &mut s);
        let mut d = [0.0; 8];
        Trend::Linear.remove_block(&x.view(), 0, 1, 0, 4, &m, &s, &mut d[..4], 4);
        assert!(d[..4].iter().all(|v| v.abs() < 1e-15), "{d:?}");
        Trend::Constant.fit(&x.view(), 0, 3, &mut m, &mut s);
        Trend::Constant.remove_block(&x.view(), 0, 2, 0, 3, &m, &s, &mut d[..6], 3);
        assert_eq!(&d[..6], &[-2.0, 0.0, 2.0, -1.0, -1.0, 2.0]);
    }
}
