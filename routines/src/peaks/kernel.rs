//! `scipy.signal.find_peaks` on one contiguous 1-D signal, working in caller-owned scratch.
//!
//! The steps follow SciPy 1.18's `_peak_finding.py` and `_peak_finding_utils.pyx` exactly,
//! comparison by comparison, so NaN behaves as it does there (every comparison with NaN is
//! false): local maxima, then the filters in SciPy's fixed order `plateau_size -> height ->
//! threshold -> distance -> prominence -> width`. The first three only look at one peak each,
//! so they are applied while the maxima are found (the surviving set is the same).
//!
//! The peak table is column-major in scratch: indices are stored as f64 (exact below 2^53).

use std::cmp::Ordering;

use super::interval::Interval;
use super::maxima::{local_maxima, Maxima};
use super::prominence;

/// Validated conditions, as `find_peaks` evaluates them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Conditions {
    pub plateau_size: Option<Interval>,
    pub height: Option<Interval>,
    pub threshold: Option<Interval>,
    /// `ceil(distance)`, at least 1.
    pub distance: Option<f64>,
    pub prominence: Option<Interval>,
    pub width: Option<Interval>,
    /// `wlen // 2` of the window length after rounding up (`None`: the whole signal).
    pub wlen_half: Option<usize>,
    pub rel_height: f64,
}

impl Conditions {
    /// Whether prominences (and bases) are computed: SciPy needs them for either condition.
    pub fn needs_prominence(&self) -> bool {
        self.prominence.is_some() || self.width.is_some()
    }
}

/// Columns of the peak table.
pub(crate) mod col {
    pub const PEAK: usize = 0;
    pub const LEFT_EDGE: usize = 1;
    pub const RIGHT_EDGE: usize = 2;
    pub const PROMINENCE: usize = 3;
    pub const LEFT_BASE: usize = 4;
    pub const RIGHT_BASE: usize = 5;
    pub const WIDTH: usize = 6;
    pub const WIDTH_HEIGHT: usize = 7;
    pub const LEFT_IP: usize = 8;
    pub const RIGHT_IP: usize = 9;
    /// Keep flags (1 = keep) while filtering.
    pub const FLAG: usize = 10;
    /// Peak order by priority (distance filter).
    pub const ORDER: usize = 11;
    /// The peak's index among all local maxima (see [`Maxima`](super::Maxima)).
    pub const MAXIMUM: usize = 12;
    pub const COUNT: usize = 13;
}

/// Most local maxima a signal of `n` samples can have (SciPy allocates `n // 2`).
pub(crate) fn max_peaks(n: usize) -> usize {
    n / 2
}

/// Scratch (in f64) that [`find_peaks`] needs for a signal of `n` samples, beside the signal.
pub(crate) fn work_len(n: usize) -> usize {
    col::COUNT * max_peaks(n) + Maxima::work_len(n) + prominence::work_len(n)
}

/// The surviving peaks of one signal and their properties, in ascending sample order.
#[derive(Debug)]
pub(crate) struct PeakTable<'a> {
    pub(crate) cols: [&'a mut [f64]; col::COUNT],
    len: usize,
    /// Peaks whose prominence was 0 when prominences were computed (SciPy warns
    /// "some peaks have a prominence of 0"), counted before the prominence filter.
    pub zero_prominences: usize,
    /// Peaks whose width was 0 (SciPy warns "some peaks have a width of 0"), counted before
    /// the width filter.
    pub zero_widths: usize,
}

impl<'a> PeakTable<'a> {
    pub(crate) fn new(work: &'a mut [f64], capacity: usize) -> Self {
        let (head, _) = work.split_at_mut(col::COUNT * capacity);
        let mut chunks = head.chunks_exact_mut(capacity.max(1));
        let cols = std::array::from_fn(|_| {
            if capacity == 0 {
                <&mut [f64]>::default()
            } else {
                chunks.next().expect("work sized by work_len")
            }
        });
        PeakTable {
            cols,
            len: 0,
            zero_prominences: 0,
            zero_widths: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Value of column `c` (see [`col`]) for peak `i`.
    #[inline]
    pub fn get(&self, c: usize, i: usize) -> f64 {
        self.cols[c][i]
    }

    #[inline]
    pub fn peak(&self, i: usize) -> usize {
        self.cols[col::PEAK][i] as usize
    }

    pub(crate) fn push_maximum(&mut self, mid: usize, left: usize, right: usize, maximum: usize) {
        let i = self.len;
        self.cols[col::MAXIMUM][i] = maximum as f64;
        self.cols[col::PEAK][i] = mid as f64;
        self.cols[col::LEFT_EDGE][i] = left as f64;
        self.cols[col::RIGHT_EDGE][i] = right as f64;
        self.len += 1;
    }

    /// Keeps the rows whose FLAG is 1, in order, in every column in `columns`.
    fn retain_flagged(&mut self, columns: &[usize]) {
        let mut kept = 0;
        for i in 0..self.len {
            if self.cols[col::FLAG][i] != 0.0 {
                for &c in columns {
                    self.cols[c][kept] = self.cols[c][i];
                }
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Sets FLAG[i] to whether `keep(i)` holds.
    fn flag(&mut self, keep: impl Fn(&Self, usize) -> bool) {
        for i in 0..self.len {
            let k = keep(self, i);
            self.cols[col::FLAG][i] = if k { 1.0 } else { 0.0 };
        }
    }
}

const FOUND: [usize; 4] = [col::PEAK, col::LEFT_EDGE, col::RIGHT_EDGE, col::MAXIMUM];
const WITH_BASES: [usize; 6] = [
    col::PEAK,
    col::LEFT_EDGE,
    col::RIGHT_EDGE,
    col::PROMINENCE,
    col::LEFT_BASE,
    col::RIGHT_BASE,
];
const WITH_WIDTHS: [usize; 10] = [
    col::PEAK,
    col::LEFT_EDGE,
    col::RIGHT_EDGE,
    col::PROMINENCE,
    col::LEFT_BASE,
    col::RIGHT_BASE,
    col::WIDTH,
    col::WIDTH_HEIGHT,
    col::LEFT_IP,
    col::RIGHT_IP,
];

/// numpy's `min`/`max` of two values: NaN if either is NaN.
#[inline]
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[inline]
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// SciPy's threshold condition: `tmin` against the smaller neighbour drop, `tmax` against the
/// larger one (drops are taken at the neighbours of the midpoint, not of the plateau edges).
#[inline]
pub(crate) fn threshold_ok(t: &Interval, left: f64, right: f64) -> bool {
    t.min.is_none_or(|m| m <= nan_min(left, right))
        && t.max.is_none_or(|m| nan_max(left, right) <= m)
}

/// Runs `find_peaks` on `x`; `work` must hold at least [`work_len`]`(x.len())` values.
pub(crate) fn find_peaks<'a>(x: &[f64], cond: &Conditions, work: &'a mut [f64]) -> PeakTable<'a> {
    let n = x.len();
    let (work, rest) = work.split_at_mut(col::COUNT * max_peaks(n));
    let (maxima_work, stack) = rest.split_at_mut(Maxima::work_len(n));
    let mut table = PeakTable::new(work, max_peaks(n));
    let mut maxima = Maxima::new(maxima_work, n);
    local_maxima(x, cond, &mut table, &mut maxima);
    if let Some(distance) = cond.distance {
        select_by_distance(x, distance, &mut table);
    }
    if cond.needs_prominence() {
        let stack = &mut stack[..prominence::work_len(n)];
        prominence::prominences(x, cond.wlen_half, &maxima, stack, &mut table);
        if let Some(p) = cond.prominence {
            table.flag(|t, i| p.contains(t.get(col::PROMINENCE, i)));
            table.retain_flagged(&WITH_BASES);
        }
    }
    if let Some(w) = cond.width {
        widths(x, cond.rel_height, &mut table);
        table.flag(|t, i| w.contains(t.get(col::WIDTH, i)));
        table.retain_flagged(&WITH_WIDTHS);
    }
    table
}

/// `_select_by_peak_distance`: peaks are visited from the highest down; each one still kept
/// removes every neighbour closer than `distance` samples on both sides. Equal heights are
/// visited right to left (a stable ascending sort iterated in reverse), which is what numpy's
/// default sort does for up to 16 peaks; beyond that numpy's order of equal heights is
/// implementation-defined.
///
/// A peak only ever removes neighbours closer than `distance`, so runs of peaks separated by
/// gaps of at least `distance` do not interact, and each run can be resolved on its own in
/// the same order (the global order restricted to the run). Most peaks are alone in their
/// run and need no sorting at all.
fn select_by_distance(x: &[f64], distance: f64, table: &mut PeakTable<'_>) {
    let k = table.len;
    if k < 2 {
        return;
    }
    table.cols[col::FLAG][..k].fill(1.0);
    let mut removed = false;
    let mut start = 0;
    while start < k {
        let peaks = &table.cols[col::PEAK];
        let mut end = start + 1;
        while end < k && peaks[end] - peaks[end - 1] < distance {
            end += 1;
        }
        if end - start > 1 {
            select_in_run(x, distance, table, start, end);
            removed = true;
        }
        start = end;
    }
    if removed {
        table.retain_flagged(&FOUND);
    }
}

/// SciPy's selection over the peaks `start..end` of a run.
fn select_in_run(x: &[f64], distance: f64, table: &mut PeakTable<'_>, start: usize, end: usize) {
    {
        let (head, tail) = table.cols.split_at_mut(col::ORDER);
        // The prominence column is free until after this filter: it holds the heights, so
        // the comparisons below read them directly.
        let (head, heights) = head.split_at_mut(col::PROMINENCE);
        let heights = &mut heights[0][..end];
        for (h, &p) in heights[start..]
            .iter_mut()
            .zip(&head[col::PEAK][start..end])
        {
            *h = x[p as usize];
        }
        let order = &mut tail[0][start..end];
        for (i, o) in order.iter_mut().enumerate() {
            *o = (start + i) as f64;
        }
        // Ties broken by position makes the (allocation-free) unstable sort stable.
        let heights = &*heights;
        let cmp = |a: &f64, b: &f64| {
            let (ha, hb) = (heights[*a as usize], heights[*b as usize]);
            ha.partial_cmp(&hb)
                .unwrap_or(Ordering::Equal)
                .then(a.total_cmp(b))
        };
        if order.len() <= 8 {
            // Runs are mostly pairs: a plain insertion sort beats the library's setup.
            for i in 1..order.len() {
                let mut j = i;
                while j > 0 && cmp(&order[j - 1], &order[j]) == Ordering::Greater {
                    order.swap(j - 1, j);
                    j -= 1;
                }
            }
        } else {
            order.sort_unstable_by(cmp);
        }
    }
    let flags = col::FLAG;
    for r in (start..end).rev() {
        let j = table.cols[col::ORDER][r] as usize;
        if table.cols[flags][j] == 0.0 {
            continue;
        }
        let pj = table.cols[col::PEAK][j];
        let mut q = j;
        while q > start && pj - table.cols[col::PEAK][q - 1] < distance {
            table.cols[flags][q - 1] = 0.0;
            q -= 1;
        }
        let mut q = j + 1;
        while q < end && table.cols[col::PEAK][q] - pj < distance {
            table.cols[flags][q] = 0.0;
            q += 1;
        }
    }
}

/// `_peak_widths`: the evaluation height is `x[peak] - prominence * rel_height`; from the peak,
/// walk outwards (not past the bases) while the signal is above it, then interpolate linearly
/// to the crossing unless the two samples are equal.
fn widths(x: &[f64], rel_height: f64, table: &mut PeakTable<'_>) {
    for r in 0..table.len {
        let peak = table.peak(r);
        let left_base = table.get(col::LEFT_BASE, r) as usize;
        let right_base = table.get(col::RIGHT_BASE, r) as usize;
        let height = x[peak] - table.get(col::PROMINENCE, r) * rel_height;

        let mut i = peak;
        while left_base < i && height < x[i] {
            i -= 1;
        }
        let mut left_ip = i as f64;
        if x[i] < height && x[i + 1] != x[i] {
            left_ip += (height - x[i]) / (x[i + 1] - x[i]);
        }

        let mut i = peak;
        while i < right_base && height < x[i] {
            i += 1;
        }
        let mut right_ip = i as f64;
        if x[i] < height && x[i - 1] != x[i] {
            right_ip -= (height - x[i]) / (x[i - 1] - x[i]);
        }

        let width = right_ip - left_ip;
        if width == 0.0 {
            table.zero_widths += 1;
        }
        table.cols[col::WIDTH][r] = width;
        table.cols[col::WIDTH_HEIGHT][r] = height;
        table.cols[col::LEFT_IP][r] = left_ip;
        table.cols[col::RIGHT_IP][r] = right_ip;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(x: &[f64], cond: Conditions) -> Vec<usize> {
        let mut work = vec![f64::NAN; work_len(x.len())];
        let t = find_peaks(x, &cond, &mut work);
        (0..t.len()).map(|i| t.peak(i)).collect()
    }

    #[test]
    fn plateaus_midpoints_and_ends() {
        // Plateau [2, 3] -> 2 (rounded down); a plateau running into the end is no peak.
        let x = [0.0, 1.0, 2.0, 2.0, 1.0, 3.0, 3.0, 3.0];
        assert_eq!(run(&x, Conditions::default()), vec![2]);
        assert!(run(&[1.0], Conditions::default()).is_empty());
        assert!(run(&[0.0, 1.0], Conditions::default()).is_empty());
        assert!(run(&[], Conditions::default()).is_empty());
    }

    #[test]
    fn nan_breaks_candidates() {
        let x = [0.0, 2.0, f64::NAN, 1.0, 3.0, 0.0];
        assert_eq!(run(&x, Conditions::default()), vec![4]);
    }

    #[test]
    fn distance_ties_keep_the_rightmost() {
        // SciPy issue 22906: on [0,1,0,1,...,0] with distance 3, ties keep the rightmost.
        use crate::reference::{floats, get, index};
        let case = get("find_peaks_distance_ties");
        let x = floats(&case["x"]);
        let cond = Conditions {
            distance: Some(index(&case["distance"]) as f64),
            ..Default::default()
        };
        let scipy: Vec<usize> = case["peaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(index)
            .collect();
        assert_eq!(run(&x, cond), scipy);
    }
}
