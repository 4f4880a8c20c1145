//! ndimage's boundary extension (`NI_ExtendLine` in `scipy/ndimage/src/ni_support.c`) as an
//! index map, and the row access the row-wise kernels share.

use ndarray::{ArrayView2, ArrayViewMut2};

use super::SmoothingError;
use crate::params::{keyword_serde, Keyword};

/// How ndimage extends a line beyond its ends (`mode=`).
///
/// With `n` samples `a b c d`:
///
/// | mode | left extension | right extension | period |
/// |---|---|---|---|
/// | `reflect` | `... d c b a \| a b c d` | `d c b a ...` | `2n` |
/// | `mirror` | `... d c b \| a b c d` | `c b a ...` | `2n - 2` (`nearest` when `n == 1`) |
/// | `nearest` | `a a a \| a b c d` | `d d d` | none |
/// | `constant` | `cval cval \| a b c d` | `cval cval` | none |
/// | `wrap` | `... b c d \| a b c d` | `a b c ...` | `n` |
///
/// The extension goes on periodically as far as the kernel reaches, so kernels longer than
/// the trial see the same values SciPy's line buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtendMode {
    #[default]
    Reflect,
    Mirror,
    Nearest,
    Constant,
    Wrap,
}

impl Keyword for ExtendMode {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("reflect", ExtendMode::Reflect),
        ("mirror", ExtendMode::Mirror),
        ("nearest", ExtendMode::Nearest),
        ("constant", ExtendMode::Constant),
        ("wrap", ExtendMode::Wrap),
    ];
    const EXPECTED: &'static str = "one of 'reflect', 'mirror', 'nearest', 'constant', 'wrap'";
}
keyword_serde!(ExtendMode);

impl ExtendMode {
    /// The time support of a filter reaching `margin` samples each side with this
    /// extension: `wrap` takes the far end of the trial at each edge.
    pub fn time_support(self, margin: usize) -> trialflow_core::TimeSupport {
        match self {
            ExtendMode::Wrap => trialflow_core::TimeSupport::WholeTrial,
            _ => trialflow_core::TimeSupport::Margin(margin),
        }
    }

    /// The sample that position `j` of the extended line holds, for a line of `n >= 1`
    /// samples; `None` stands for `cval`.
    #[inline]
    pub fn source(self, j: isize, n: usize) -> Option<usize> {
        debug_assert!(n >= 1);
        let ni = n as isize;
        if (0..ni).contains(&j) {
            return Some(j as usize);
        }
        let i = match self {
            ExtendMode::Constant => return None,
            ExtendMode::Nearest => {
                if j < 0 {
                    0
                } else {
                    ni - 1
                }
            }
            ExtendMode::Wrap => j.rem_euclid(ni),
            ExtendMode::Reflect => {
                let p = 2 * ni;
                let m = j.rem_euclid(p);
                if m < ni {
                    m
                } else {
                    p - 1 - m
                }
            }
            ExtendMode::Mirror => {
                if ni == 1 {
                    0
                } else {
                    let p = 2 * ni - 2;
                    let m = j.rem_euclid(p);
                    if m < ni {
                        m
                    } else {
                        p - m
                    }
                }
            }
        };
        Some(i as usize)
    }
}

/// A task's samples as contiguous rows (channels contiguous) with the extension rule, so a
/// kernel reads row `j` of the extended line as a slice whatever `j` is.
pub(crate) struct Lines<'a> {
    data: &'a [f64],
    n: usize,
    ch: usize,
    mode: ExtendMode,
    cval_row: &'a [f64],
}

impl<'a> Lines<'a> {
    /// `data` is `n` rows of `ch` values; `cval_row` holds `ch` copies of `cval`.
    pub fn new(
        data: &'a [f64],
        n: usize,
        ch: usize,
        mode: ExtendMode,
        cval_row: &'a [f64],
    ) -> Self {
        debug_assert_eq!(data.len(), n * ch);
        debug_assert_eq!(cval_row.len(), ch);
        Lines {
            data,
            n,
            ch,
            mode,
            cval_row,
        }
    }

    pub fn samples(&self) -> usize {
        self.n
    }

    pub fn channels(&self) -> usize {
        self.ch
    }

    /// Rows `j..j + count` of the input as one contiguous slice (`count * ch` values).
    #[inline]
    pub fn span(&self, j: usize, count: usize) -> &'a [f64] {
        &self.data[j * self.ch..(j + count) * self.ch]
    }

    /// Row `j` of the input (`0 <= j < n`).
    #[inline]
    pub fn row(&self, j: usize) -> &'a [f64] {
        &self.data[j * self.ch..(j + 1) * self.ch]
    }

    /// Row `j` of the extended line (any `j`).
    #[inline]
    pub fn at(&self, j: isize) -> &'a [f64] {
        if j >= 0 && (j as usize) < self.n {
            return self.row(j as usize);
        }
        match self.mode.source(j, self.n) {
            Some(r) => self.row(r),
            None => self.cval_row,
        }
    }
}

/// The input block as one contiguous row-major slice: the view itself when it already is
/// (a whole trial), else a copy into `buf` (a channel group of a wider trial, or any other
/// strided view).
pub(crate) fn contiguous<'a>(x: &ArrayView2<'a, f64>, buf: &'a mut [f64]) -> &'a [f64] {
    if let Some(s) = x.to_slice() {
        return s;
    }
    let ch = x.ncols();
    let buf = &mut buf[..x.nrows() * ch];
    for (dst, row) in buf.chunks_exact_mut(ch.max(1)).zip(x.rows()) {
        for (d, &v) in dst.iter_mut().zip(row.iter()) {
            *d = v;
        }
    }
    buf
}

/// How many output rows a kernel computes at once: about 1024 values, so a block of rows
/// (contiguous in row-major data) is a long vector even with a single channel, and stays in
/// L1 cache.
pub(crate) fn block_rows(channels: usize) -> usize {
    (1024 / channels.max(1)).max(1)
}

/// Calls `f(i0, block)` for consecutive blocks of output rows, in order; `block` holds rows
/// `i0..i0 + block.len() / ch` (channels contiguous). It is the output itself when the
/// output is contiguous, else `acc` (at least [`block_rows`] rows), copied out afterwards.
pub(crate) fn for_each_out_block(
    out: &mut ArrayViewMut2<'_, f64>,
    acc: &mut [f64],
    mut f: impl FnMut(usize, &mut [f64]),
) {
    let (n, ch) = out.dim();
    if n == 0 || ch == 0 {
        return;
    }
    let rows = block_rows(ch);
    if let Some(s) = out.as_slice_mut() {
        for (b, block) in s.chunks_mut(rows * ch).enumerate() {
            f(b * rows, block);
        }
        return;
    }
    let mut i0 = 0;
    while i0 < n {
        let count = rows.min(n - i0);
        let block = &mut acc[..count * ch];
        f(i0, block);
        for (r, src) in block.chunks_exact(ch).enumerate() {
            for (o, &v) in out.row_mut(i0 + r).iter_mut().zip(src) {
                *o = v;
            }
        }
        i0 += count;
    }
}

/// ndimage's origin rule for a window of `size`: `-(size // 2) <= origin <= (size - 1) // 2`
/// (`_invalid_origin` and the `size // 2 + origin` checks in `scipy/ndimage/_filters.py`).
pub(crate) fn check_origin(
    param: &'static str,
    size: usize,
    origin: i64,
) -> Result<isize, SmoothingError> {
    let lo = -((size / 2) as i64);
    let hi = ((size - 1) / 2) as i64;
    if origin < lo || origin > hi {
        return Err(SmoothingError::Origin {
            param,
            size,
            origin,
            lo,
            hi,
        });
    }
    Ok(origin as isize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal port of `NI_ExtendLine`'s pointer loops (`ni_support.c`): fills `size1`
    /// values before and `size2` after a line of `n` values `0..n` (as f64 indices, with -1
    /// for cval).
    #[allow(clippy::needless_range_loop)]
    /// A literal port of ndimage's NI_ExtendLine, kept close to the C for comparison.
    #[allow(clippy::explicit_counter_loop)]
    fn ni_extend_line(n: usize, size1: usize, size2: usize, mode: ExtendMode) -> Vec<f64> {
        let mut line = vec![f64::NAN; size1 + n + size2];
        for i in 0..n {
            line[size1 + i] = i as f64;
        }
        match mode {
            ExtendMode::Wrap => {
                let (nextend, rextend) = (size1 / n, size1 % n);
                let mut l1 = size1 + n - rextend;
                let mut l2 = 0;
                for _ in 0..rextend {
                    line[l2] = line[l1];
                    l2 += 1;
                    l1 += 1;
                }
                for _ in 0..nextend {
                    l1 = size1;
                    for _ in 0..n {
                        line[l2] = line[l1];
                        l2 += 1;
                        l1 += 1;
                    }
                }
                let (nextend, rextend) = (size2 / n, size2 % n);
                let mut l1 = size1;
                let mut l2 = size1 + n;
                for _ in 0..nextend {
                    let mut l3 = l1;
                    for _ in 0..n {
                        line[l2] = line[l3];
                        l2 += 1;
                        l3 += 1;
                    }
                }
                for _ in 0..rextend {
                    line[l2] = line[l1];
                    l2 += 1;
                    l1 += 1;
                }
            }
            ExtendMode::Mirror if n == 1 => {
                for i in 0..size1 {
                    line[i] = 0.0;
                }
                for i in 0..size2 {
                    line[size1 + 1 + i] = 0.0;
                }
            }
            ExtendMode::Mirror => {
                let len1 = n - 1;
                let (nextend, rextend) = (size1 / len1, size1 % len1);
                let mut l1 = (size1 + 1) as isize;
                let mut l2 = l1 - 2;
                for _ in 0..nextend {
                    let mut l3 = l1;
                    for _ in 0..len1 {
                        line[l2 as usize] = line[l3 as usize];
                        l2 -= 1;
                        l3 += 1;
                    }
                    l1 -= len1 as isize;
                }
                for _ in 0..rextend {
                    line[l2 as usize] = line[l1 as usize];
                    l2 -= 1;
                    l1 += 1;
                }
                let (nextend, rextend) = (size2 / len1, size2 % len1);
                let mut l1 = (size1 + len1) as isize - 1;
                let mut l2 = l1 + 2;
                for _ in 0..nextend {
                    let mut l3 = l1;
                    for _ in 0..len1 {
                        line[l2 as usize] = line[l3 as usize];
                        l2 += 1;
                        l3 -= 1;
                    }
                    l1 += len1 as isize;
                }
                for _ in 0..rextend {
                    line[l2 as usize] = line[l1 as usize];
                    l2 += 1;
                    l1 -= 1;
                }
            }
            ExtendMode::Reflect => {
                let (nextend, rextend) = (size1 / n, size1 % n);
                let mut l1 = size1 as isize;
                let mut l2 = l1 - 1;
                for _ in 0..nextend {
                    let mut l3 = l1;
                    for _ in 0..n {
                        line[l2 as usize] = line[l3 as usize];
                        l2 -= 1;
                        l3 += 1;
                    }
                    l1 -= n as isize;
                }
                let mut l3 = l1;
                for _ in 0..rextend {
                    line[l2 as usize] = line[l3 as usize];
                    l2 -= 1;
                    l3 += 1;
                }
                let (nextend, rextend) = (size2 / n, size2 % n);
                let mut l1 = (size1 + n) as isize - 1;
                let mut l2 = l1 + 1;
                for _ in 0..nextend {
                    let mut l3 = l1;
                    for _ in 0..n {
                        line[l2 as usize] = line[l3 as usize];
                        l2 += 1;
                        l3 -= 1;
                    }
                    l1 += n as isize;
                }
                for _ in 0..rextend {
                    line[l2 as usize] = line[l1 as usize];
                    l2 += 1;
                    l1 -= 1;
                }
            }
            ExtendMode::Nearest => {
                for i in 0..size1 {
                    line[i] = 0.0;
                }
                for i in 0..size2 {
                    line[size1 + n + i] = (n - 1) as f64;
                }
            }
            ExtendMode::Constant => {
                for i in 0..size1 {
                    line[i] = -1.0;
                }
                for i in 0..size2 {
                    line[size1 + n + i] = -1.0;
                }
            }
        }
        line
    }

    #[test]
    fn extension_matches_ni_extend_line() {
        for mode in [
            ExtendMode::Reflect,
            ExtendMode::Mirror,
            ExtendMode::Nearest,
            ExtendMode::Constant,
            ExtendMode::Wrap,
        ] {
            for n in 1..9 {
                for (size1, size2) in [(0, 0), (1, 2), (3, 3), (7, 2), (17, 30), (40, 41)] {
                    let line = ni_extend_line(n, size1, size2, mode);
                    for (k, &v) in line.iter().enumerate() {
                        let j = k as isize - size1 as isize;
                        let ours = mode.source(j, n).map_or(-1.0, |i| i as f64);
                        assert_eq!(ours, v, "{mode:?} n={n} j={j}");
                    }
                }
            }
        }
    }

    #[test]
    fn origin_limits() {
        assert!(check_origin("size", 4, -2).is_ok());
        assert!(check_origin("size", 4, 1).is_ok());
        assert!(check_origin("size", 4, 2).is_err());
        assert!(check_origin("size", 3, -2).is_err());
        assert!(check_origin("size", 1, 0).is_ok());
        let msg = check_origin("size", 3, 2).unwrap_err().to_string();
        assert!(msg.contains("-1..=1"), "{msg}");
    }
}
