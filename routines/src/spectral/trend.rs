//! Per-channel trend removal before a transform: Syncopy's `polyremoval` (0: mean, 1: line)
//! and `scipy.signal.detrend`'s `constant`/`linear`, as used by `welch` per segment.
//!
//! The fit runs row by row with channels contiguous (vectorised across channels); the
//! transform then subtracts the fitted trend while it gathers one channel.

use ndarray::ArrayView2;

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
    pub fn fit(
        self,
        x: &ArrayView2<'_, f64>,
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
                        *m += v;
                    }
                    if self == Trend::Linear {
                        for (s, &v) in slope.iter_mut().zip(values) {
                            *s += dt * v;
                        }
                    }
                }
                None => {
                    for (c, &v) in row.iter().enumerate() {
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

    /// Copies channel `c` of rows `start..start + dst.len()` into `dst` minus its fitted trend.
    pub fn remove(
        self,
        x: &ArrayView2<'_, f64>,
        c: usize,
        start: usize,
        mean: f64,
        slope: f64,
        dst: &mut [f64],
    ) {
        let column = x.column(c);
        let column = column.slice(ndarray::s![start..start + dst.len()]);
        match self {
            Trend::None => dst.iter_mut().zip(column).for_each(|(d, &v)| *d = v),
            Trend::Constant => dst.iter_mut().zip(column).for_each(|(d, &v)| *d = v - mean),
            Trend::Linear => {
                let centre = (dst.len() as f64 - 1.0) / 2.0;
                for (t, (d, &v)) in dst.iter_mut().zip(column).enumerate() {
                    *d = v - (mean + slope * (t as f64 - centre));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn removes_lines_and_means() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 8.0], [7.0, 6.0]];
        let (mut m, mut s) = ([0.0; 2], [0.0; 2]);
        Trend::Linear.fit(&x.view(), 0, 4, &mut m, &mut s);
        let mut d = [0.0; 4];
        Trend::Linear.remove(&x.view(), 0, 0, m[0], s[0], &mut d);
        assert!(d.iter().all(|v| v.abs() < 1e-15), "{d:?}");
        Trend::Constant.fit(&x.view(), 0, 3, &mut m, &mut s);
        Trend::Constant.remove(&x.view(), 1, 0, m[1], s[1], &mut d[..3]);
        assert_eq!(&d[..3], &[-1.0, -1.0, 2.0]);
    }
}
