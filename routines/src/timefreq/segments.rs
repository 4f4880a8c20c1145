//! One analysis window of a block of channels: gathered from the time-major trial with
//! zeros beyond its edges (Syncopy's STFT pads each trial with `nperseg // 2` zeros on both
//! sides and at the end), then detrended as `scipy.signal.detrend` detrends each segment,
//! the zeros included.

use ndarray::ArrayView2;

use crate::spectral::Trend;

/// Copies rows `start..start + len` (`start` may be negative; rows outside `0..n` are
/// zero) of channels `c0..c0 + width` into `dst`, channel after channel (`dst[j * len + t]`).
pub(crate) fn gather(
    x: &ArrayView2<'_, f64>,
    start: isize,
    len: usize,
    c0: usize,
    width: usize,
    dst: &mut [f64],
) {
    let (n, channels) = x.dim();
    let lo = start.max(0) as usize;
    let hi = ((start + len as isize).max(0) as usize).min(n);
    let lines = &mut dst[..width * len];
    if hi <= lo {
        lines.fill(0.0);
        return;
    }
    let (first, last) = (
        (lo as isize - start) as usize,
        (hi as isize - start) as usize,
    );
    for line in lines.chunks_exact_mut(len) {
        line[..first].fill(0.0);
        line[last..].fill(0.0);
    }
    match x.as_slice() {
        // Rows are `channels` apart: read `width` neighbours per row, one line each.
        Some(all) => {
            for (t, row) in all[lo * channels..hi * channels]
                .chunks_exact(channels)
                .enumerate()
            {
                let values = &row[c0..c0 + width];
                for (j, &v) in values.iter().enumerate() {
                    lines[j * len + first + t] = v;
                }
            }
        }
        None => {
            for t in lo..hi {
                let row = x.row(t);
                for j in 0..width {
                    lines[j * len + first + t - lo] = row[c0 + j];
                }
            }
        }
    }
}

/// Removes `trend` from one segment in place: its mean, or its least-squares line.
pub(crate) fn detrend(trend: Trend, line: &mut [f64]) {
    let n = line.len() as f64;
    match trend {
        Trend::None => {}
        Trend::Constant => {
            let mean = line.iter().sum::<f64>() / n;
            line.iter_mut().for_each(|v| *v -= mean);
        }
        Trend::Linear => {
            let centre = (n - 1.0) / 2.0;
            let mean = line.iter().sum::<f64>() / n;
            let sxy: f64 = line
                .iter()
                .enumerate()
                .map(|(t, v)| (t as f64 - centre) * v)
                .sum();
            // Σ (t - centre)² = n (n² - 1) / 12; a single sample has no slope.
            let stt = n * (n * n - 1.0) / 12.0;
            let slope = if stt > 0.0 { sxy / stt } else { 0.0 };
            line.iter_mut()
                .enumerate()
                .for_each(|(t, v)| *v -= mean + slope * (t as f64 - centre));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn windows_past_the_edges_read_zeros() {
        // 5 samples x 3 channels, value 10 t + c
        let x = Array2::from_shape_fn((5, 3), |(t, c)| (10 * t + c) as f64);
        let mut dst = vec![f64::NAN; 2 * 4];
        gather(&x.view(), -2, 4, 1, 2, &mut dst);
        assert_eq!(dst, vec![0.0, 0.0, 1.0, 11.0, 0.0, 0.0, 2.0, 12.0]);
        gather(&x.view(), 3, 4, 0, 1, &mut dst);
        assert_eq!(&dst[..4], &[30.0, 40.0, 0.0, 0.0]);
        gather(&x.view(), 7, 4, 0, 1, &mut dst);
        assert_eq!(&dst[..4], &[0.0; 4]);
        // a transposed (not standard-layout) view reads the same
        let xt = x.t().to_owned();
        let mut other = vec![f64::NAN; 2 * 4];
        gather(&xt.t(), -2, 4, 1, 2, &mut other);
        gather(&x.view(), -2, 4, 1, 2, &mut dst);
        assert_eq!(dst, other);
    }

    #[test]
    fn detrending_removes_lines() {
        let mut line: Vec<f64> = (0..6).map(|t| 3.0 + 0.5 * t as f64).collect();
        detrend(Trend::Linear, &mut line);
        assert!(line.iter().all(|v| v.abs() < 1e-12), "{line:?}");
        let mut line = vec![1.0, 2.0, 3.0, 6.0];
        detrend(Trend::Constant, &mut line);
        assert_eq!(line, vec![-2.0, -1.0, 0.0, 3.0]);
    }
}
