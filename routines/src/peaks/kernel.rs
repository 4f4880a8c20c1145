//! `scipy.signal.find_peaks` on one contiguous 1-D signal, working in caller-owned scratch.
//!
//! The steps follow SciPy 1.18's `_peak_finding.py` and `_peak_finding_utils.pyx` exactly,
//! comparison by comparison, so NaN behaves as it does there (every comparison with NaN is
//! false): local maxima, then the filters in SciPy's fixed order `plateau_size -> height ->
//! threshold -> distance -> prominence -> width`. The first three only look at one peak each,
//! so they are applied while the maxima are found (the surviving set is the same).
//!
//! The peak table is column-major in scratch: sample indices in the index scratch, values
//! (prominences, widths, interpolated positions) in the f64 scratch.

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
    /// The signal's first sample within its trial (a time chunk's block starts inside it):
    /// interpolated positions are computed from trial positions, so they round as a
    /// whole-trial run's do.
    pub origin: usize,
}

impl Conditions {
    /// Whether prominences (and bases) are computed: SciPy needs them for either condition.
    pub fn needs_prominence(&self) -> bool {
        self.prominence.is_some() || self.width.is_some()
    }
}

/// Index columns of the peak table (sample positions and row numbers, as `usize`).
pub(crate) mod ix {
    pub const PEAK: usize = 0;
    pub const LEFT_EDGE: usize = 1;
    pub const RIGHT_EDGE: usize = 2;
    pub const LEFT_BASE: usize = 3;
    pub const RIGHT_BASE: usize = 4;
    /// Peak order by priority (distance filter).
    pub const ORDER: usize = 5;
    /// The peak's index among all local maxima (see [`Maxima`](super::Maxima)).
    pub const MAXIMUM: usize = 6;
    pub const COUNT: usize = 7;
}

/// Value columns of the peak table (`f64`).
pub(crate) mod val {
    pub const PROMINENCE: usize = 0;
    pub const WIDTH: usize = 1;
    pub const WIDTH_HEIGHT: usize = 2;
    pub const LEFT_IP: usize = 3;
    pub const RIGHT_IP: usize = 4;
    /// Keep flags (1 = keep) while filtering.
    pub const FLAG: usize = 5;
    pub const COUNT: usize = 6;
}

/// Most local maxima a signal of `n` samples can have (SciPy allocates `n // 2`).
pub(crate) fn max_peaks(n: usize) -> usize {
    n / 2
}

/// Value scratch (f64) that [`find_peaks`] needs for a signal of `n` samples, beside the
/// signal.
pub(crate) fn work_len(n: usize) -> usize {
    val::COUNT * max_peaks(n) + Maxima::work_len(n) + prominence::work_len(n)
}

/// Index scratch (usize) that [`find_peaks`] needs for a signal of `n` samples.
pub(crate) fn index_len(n: usize) -> usize {
    ix::COUNT * max_peaks(n) + Maxima::index_len(n) + prominence::index_len(n)
}

/// `count` columns of `capacity` rows from the front of `work`.
fn columns<T, const COUNT: usize>(work: &mut [T], capacity: usize) -> [&mut [T]; COUNT] {
    let (head, _) = work.split_at_mut(COUNT * capacity);
    let mut chunks = head.chunks_exact_mut(capacity.max(1));
    std::array::from_fn(|_| {
        if capacity == 0 {
            <&mut [T]>::default()
        } else {
            chunks.next().expect("work sized by work_len and index_len")
        }
    })
}

/// The surviving peaks of one signal and their properties, in ascending sample order.
#[derive(Debug)]
pub(crate) struct PeakTable<'a> {
    pub(crate) ix: [&'a mut [usize]; ix::COUNT],
    pub(crate) val: [&'a mut [f64]; val::COUNT],
    len: usize,
    /// Peaks whose prominence was 0 when prominences were computed (SciPy warns
    /// "some peaks have a prominence of 0"), counted before the prominence filter.
    pub zero_prominences: usize,
    /// Peaks whose width was 0 (SciPy warns "some peaks have a width of 0"), counted before
    /// the width filter.
    pub zero_widths: usize,
}

impl<'a> PeakTable<'a> {
    pub(crate) fn new(work: &'a mut [f64], index: &'a mut [usize], capacity: usize) -> Self {
        PeakTable {
            ix: columns(index, capacity),
            val: columns(work, capacity),
            len: 0,
            zero_prominences: 0,
            zero_widths: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Index column `c` (see [`ix`]) of peak `i`.
    #[inline]
    pub fn index(&self, c: usize, i: usize) -> usize {
        self.ix[c][i]
    }

    /// Value column `c` (see [`val`]) of peak `i`.
    #[inline]
    pub fn value(&self, c: usize, i: usize) -> f64 {
        self.val[c][i]
    }

    #[inline]
    pub fn peak(&self, i: usize) -> usize {
        self.ix[ix::PEAK][i]
    }

    pub(crate) fn push_maximum(&mut self, mid: usize, left: usize, right: usize, maximum: usize) {
        let i = self.len;
        self.ix[ix::MAXIMUM][i] = maximum;
        self.ix[ix::PEAK][i] = mid;
        self.ix[ix::LEFT_EDGE][i] = left;
        self.ix[ix::RIGHT_EDGE][i] = right;
        self.len += 1;
    }

    /// Keeps the rows whose FLAG is 1, in order, in the columns `keep`.
    fn retain_flagged(&mut self, keep: &Columns) {
        let mut kept = 0;
        for i in 0..self.len {
            if self.val[val::FLAG][i] != 0.0 {
                for &c in keep.ix {
                    self.ix[c][kept] = self.ix[c][i];
                }
                for &c in keep.val {
                    self.val[c][kept] = self.val[c][i];
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
            self.val[val::FLAG][i] = if k { 1.0 } else { 0.0 };
        }
    }
}

/// The columns that hold data at a stage of the filtering (the others are scratch).
struct Columns {
    ix: &'static [usize],
    val: &'static [usize],
}

const FOUND: Columns = Columns {
    ix: &[ix::PEAK, ix::LEFT_EDGE, ix::RIGHT_EDGE, ix::MAXIMUM],
    val: &[],
};
const WITH_BASES: Columns = Columns {
    ix: &[
        ix::PEAK,
        ix::LEFT_EDGE,
        ix::RIGHT_EDGE,
        ix::LEFT_BASE,
        ix::RIGHT_BASE,
    ],
    val: &[val::PROMINENCE],
};
const WITH_WIDTHS: Columns = Columns {
    ix: WITH_BASES.ix,
    val: &[
        val::PROMINENCE,
        val::WIDTH,
        val::WIDTH_HEIGHT,
        val::LEFT_IP,
        val::RIGHT_IP,
    ],
};

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

/// Runs `find_peaks` on `x`; `work` must hold at least [`work_len`]`(x.len())` values and
/// `index` at least [`index_len`]`(x.len())`.
pub(crate) fn find_peaks<'a>(
    x: &[f64],
    cond: &Conditions,
    work: &'a mut [f64],
    index: &'a mut [usize],
) -> PeakTable<'a> {
    let n = x.len();
    let (work, rest) = work.split_at_mut(val::COUNT * max_peaks(n));
    let (maxima_work, stack) = rest.split_at_mut(Maxima::work_len(n));
    let (index, index_rest) = index.split_at_mut(ix::COUNT * max_peaks(n));
    let (maxima_index, stack_index) = index_rest.split_at_mut(Maxima::index_len(n));
    let mut table = PeakTable::new(work, index, max_peaks(n));
    let mut maxima = Maxima::new(maxima_work, maxima_index, n);
    local_maxima(x, cond, &mut table, &mut maxima);
    if let Some(distance) = cond.distance {
        select_by_distance(x, distance, &mut table);
    }
    if cond.needs_prominence() {
        let stack = &mut stack[..prominence::work_len(n)];
        let stack_index = &mut stack_index[..prominence::index_len(n)];
        prominence::prominences(x, cond.wlen_half, &maxima, stack, stack_index, &mut table);
        if let Some(p) = cond.prominence {
            table.flag(|t, i| p.contains(t.value(val::PROMINENCE, i)));
            table.retain_flagged(&WITH_BASES);
        }
    }
    if let Some(w) = cond.width {
        widths(x, cond.rel_height, cond.origin, &mut table);
        table.flag(|t, i| w.contains(t.value(val::WIDTH, i)));
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
    table.val[val::FLAG][..k].fill(1.0);
    let mut removed = false;
    let mut start = 0;
    while start < k {
        let peaks = &table.ix[ix::PEAK];
        let mut end = start + 1;
        // Peaks ascend; gaps are far below 2^53, so exact as f64.
        while end < k && ((peaks[end] - peaks[end - 1]) as f64) < distance {
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
        let (head, tail) = table.ix.split_at_mut(ix::ORDER);
        // The prominence column is free until after this filter: it holds the heights, so
        // the comparisons below read them directly.
        let heights = &mut table.val[val::PROMINENCE][..end];
        for (h, &p) in heights[start..].iter_mut().zip(&head[ix::PEAK][start..end]) {
            *h = x[p];
        }
        let order = &mut tail[0][start..end];
        for (i, o) in order.iter_mut().enumerate() {
            *o = start + i;
        }
        // Ties broken by position makes the (allocation-free) unstable sort stable.
        let heights = &*heights;
        let cmp = |a: &usize, b: &usize| {
            let (ha, hb) = (heights[*a], heights[*b]);
            ha.partial_cmp(&hb)
                .unwrap_or(Ordering::Equal)
                .then(a.cmp(b))
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
    let (peaks, flags) = (&table.ix[ix::PEAK], &mut table.val[val::FLAG]);
    for r in (start..end).rev() {
        let j = table.ix[ix::ORDER][r];
        if flags[j] == 0.0 {
            continue;
        }
        let pj = peaks[j];
        let mut q = j;
        while q > start && ((pj - peaks[q - 1]) as f64) < distance {
            flags[q - 1] = 0.0;
            q -= 1;
        }
        let mut q = j + 1;
        while q < end && ((peaks[q] - pj) as f64) < distance {
            flags[q] = 0.0;
            q += 1;
        }
    }
}

/// `_peak_widths`: the evaluation height is `x[peak] - prominence * rel_height`; from the peak,
/// walk outwards (not past the bases) while the signal is above it, then interpolate linearly
/// to the crossing unless the two samples are equal.
fn widths(x: &[f64], rel_height: f64, origin: usize, table: &mut PeakTable<'_>) {
    for r in 0..table.len {
        let peak = table.peak(r);
        let left_base = table.index(ix::LEFT_BASE, r);
        let right_base = table.index(ix::RIGHT_BASE, r);
        let height = x[peak] - table.value(val::PROMINENCE, r) * rel_height;

        let mut i = peak;
        while left_base < i && height < x[i] {
            i -= 1;
        }
        let mut left_ip = (i + origin) as f64;
        if x[i] < height && x[i + 1] != x[i] {
            left_ip += (height - x[i]) / (x[i + 1] - x[i]);
        }

        let mut i = peak;
        while i < right_base && height < x[i] {
            i += 1;
        }
        let mut right_ip = (i + origin) as f64;
        if x[i] < height && x[i - 1] != x[i] {
            right_ip -= (height - x[i]) / (x[i - 1] - x[i]);
        }

        let width = right_ip - left_ip;
        if width == 0.0 {
            table.zero_widths += 1;
        }
        table.val[val::WIDTH][r] = width;
        table.val[val::WIDTH_HEIGHT][r] = height;
        table.val[val::LEFT_IP][r] = left_ip;
        table.val[val::RIGHT_IP][r] = right_ip;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(x: &[f64], cond: Conditions) -> Vec<usize> {
        let mut work = vec![f64::NAN; work_len(x.len())];
        let mut index = vec![usize::MAX; index_len(x.len())];
        let t = find_peaks(x, &cond, &mut work, &mut index);
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
