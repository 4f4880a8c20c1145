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
    pub const COUNT: usize = 12;
}

/// Most local maxima a signal of `n` samples can have (SciPy allocates `n // 2`).
pub(crate) fn max_peaks(n: usize) -> usize {
    n / 2
}

/// Scratch (in f64) that [`find_peaks`] needs for a signal of `n` samples, beside the signal.
pub(crate) fn work_len(n: usize) -> usize {
    col::COUNT * max_peaks(n)
}

/// The surviving peaks of one signal and their properties, in ascending sample order.
#[derive(Debug)]
pub(crate) struct PeakTable<'a> {
    cols: [&'a mut [f64]; col::COUNT],
    len: usize,
    /// Peaks whose prominence was 0 when prominences were computed (SciPy warns
    /// "some peaks have a prominence of 0"), counted before the prominence filter.
    pub zero_prominences: usize,
    /// Peaks whose width was 0 (SciPy warns "some peaks have a width of 0"), counted before
    /// the width filter.
    pub zero_widths: usize,
}

impl<'a> PeakTable<'a> {
    fn new(work: &'a mut [f64], capacity: usize) -> Self {
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

    fn push_maximum(&mut self, mid: usize, left: usize, right: usize) {
        let i = self.len;
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

const FOUND: [usize; 3] = [col::PEAK, col::LEFT_EDGE, col::RIGHT_EDGE];
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
fn threshold_ok(t: &Interval, left: f64, right: f64) -> bool {
    t.min.is_none_or(|m| m <= nan_min(left, right))
        && t.max.is_none_or(|m| nan_max(left, right) <= m)
}

/// Runs `find_peaks` on `x`; `work` must hold at least [`work_len`]`(x.len())` values.
pub(crate) fn find_peaks<'a>(x: &[f64], cond: &Conditions, work: &'a mut [f64]) -> PeakTable<'a> {
    let mut table = PeakTable::new(work, max_peaks(x.len()));
    local_maxima(x, cond, &mut table);
    if let Some(distance) = cond.distance {
        select_by_distance(x, distance, &mut table);
    }
    if cond.needs_prominence() {
        prominences(x, cond.wlen_half, &mut table);
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

/// `_local_maxima_1d`: a peak is a sample (or a run of equal samples) whose left neighbour is
/// smaller and whose next unequal sample to the right is smaller. The look-ahead stops at the
/// last sample, so neither end sample, nor a plateau running into the end, is a peak. The
/// midpoint of a plateau is rounded down. The per-peak conditions (plateau size, height,
/// threshold) are applied on the way.
fn local_maxima(x: &[f64], cond: &Conditions, table: &mut PeakTable<'_>) {
    let n = x.len();
    if n < 3 {
        return;
    }
    let last = n - 1;
    let mut i = 1;
    while i < last {
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < last && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                let (left, right) = (i, ahead - 1);
                let mid = (left + right) / 2;
                if accept_local(x, cond, mid, left, right) {
                    table.push_maximum(mid, left, right);
                }
                i = ahead;
            }
        }
        i += 1;
    }
}

#[inline]
fn accept_local(x: &[f64], cond: &Conditions, mid: usize, left: usize, right: usize) -> bool {
    if let Some(p) = &cond.plateau_size {
        if !p.contains((right - left + 1) as f64) {
            return false;
        }
    }
    if let Some(h) = &cond.height {
        if !h.contains(x[mid]) {
            return false;
        }
    }
    if let Some(t) = &cond.threshold {
        if !threshold_ok(t, x[mid] - x[mid - 1], x[mid] - x[mid + 1]) {
            return false;
        }
    }
    true
}

/// `_select_by_peak_distance`: peaks are visited from the highest down; each one still kept
/// removes every neighbour closer than `distance` samples on both sides. Equal heights are
/// visited right to left (a stable ascending sort iterated in reverse), which is what numpy's
/// default sort does for up to 16 peaks; beyond that numpy's order of equal heights is
/// implementation-defined.
fn select_by_distance(x: &[f64], distance: f64, table: &mut PeakTable<'_>) {
    let k = table.len;
    if k < 2 {
        return;
    }
    {
        let (head, tail) = table.cols.split_at_mut(col::ORDER);
        let peak_col = &head[col::PEAK][..k];
        let order = &mut tail[0][..k];
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as f64;
        }
        // Ties broken by position makes the (allocation-free) unstable sort stable.
        order.sort_unstable_by(|&a, &b| {
            let (ha, hb) = (
                x[peak_col[a as usize] as usize],
                x[peak_col[b as usize] as usize],
            );
            ha.partial_cmp(&hb)
                .unwrap_or(Ordering::Equal)
                .then(a.total_cmp(&b))
        });
    }
    let flags = col::FLAG;
    table.cols[flags][..k].fill(1.0);
    for r in (0..k).rev() {
        let j = table.cols[col::ORDER][r] as usize;
        if table.cols[flags][j] == 0.0 {
            continue;
        }
        let pj = table.cols[col::PEAK][j];
        let mut q = j;
        while q > 0 && pj - table.cols[col::PEAK][q - 1] < distance {
            table.cols[flags][q - 1] = 0.0;
            q -= 1;
        }
        let mut q = j + 1;
        while q < k && table.cols[col::PEAK][q] - pj < distance {
            table.cols[flags][q] = 0.0;
            q += 1;
        }
    }
    table.retain_flagged(&FOUND);
}

/// `_peak_prominences`: within the window `[peak - wlen//2, peak + wlen//2]` (clipped; an even
/// `wlen` thus acts as the next odd one), scan outwards while samples are not above the peak,
/// keeping the first strict minimum on each side as the base. The prominence is the peak's
/// height above the higher of the two minima.
fn prominences(x: &[f64], wlen_half: Option<usize>, table: &mut PeakTable<'_>) {
    let Some(last) = x.len().checked_sub(1) else {
        return; // an empty signal has no peaks
    };
    for r in 0..table.len {
        let peak = table.peak(r);
        let (lo, hi) = match wlen_half {
            Some(h) => (peak.saturating_sub(h), peak.saturating_add(h).min(last)),
            None => (0, last),
        };
        let top = x[peak];
        // SciPy scans outwards while `x[i] <= x[peak]` (so NaN stops the scan), keeping the
        // first strictly smaller minimum it meets on each side.
        let (left_min, left_offset) = scan_outwards(&x[lo..=peak], top, true);
        let left_base = peak - left_offset;
        let (right_min, right_offset) = scan_outwards(&x[peak..=hi], top, false);
        let right_base = peak + right_offset;
        // Cython's max(left, right): the right value only if strictly greater.
        let base_level = if right_min > left_min {
            right_min
        } else {
            left_min
        };
        let prominence = top - base_level;
        if prominence == 0.0 {
            table.zero_prominences += 1;
        }
        table.cols[col::PROMINENCE][r] = prominence;
        table.cols[col::LEFT_BASE][r] = left_base as f64;
        table.cols[col::RIGHT_BASE][r] = right_base as f64;
    }
}

/// One side of `_peak_prominences`' scan: from the peak outwards (`side[0]` is the peak,
/// or `side[len-1]` when scanning `backwards`), while values are not above `top`, the
/// smallest value and the offset (in scan order) of its first occurrence. Blocks of 8 that
/// hold no stopping value are checked and reduced at once (the compiler vectorises those),
/// then the exact position is found inside the block, so the result is the scalar scan's,
/// value for value.
fn scan_outwards(side: &[f64], top: f64, backwards: bool) -> (f64, usize) {
    const BLOCK: usize = 8;
    let (mut min, mut at) = (top, 0);
    let clear = |c: &[f64]| c.iter().fold(true, |ok, &v| ok & (v <= top));
    let lowest = |c: &[f64]| {
        c.iter()
            .fold(f64::INFINITY, |m, &v| if v < m { v } else { m })
    };
    let mut offset = 0;
    if backwards {
        let mut blocks = side.rchunks_exact(BLOCK);
        for block in &mut blocks {
            if !clear(block) {
                return scalar_tail(block.iter().rev(), top, offset, (min, at));
            }
            let low = lowest(block);
            if low < min {
                // First in scan order is last in memory order.
                let k = block
                    .iter()
                    .rposition(|&v| v == low)
                    .expect("the block holds it");
                min = block[k];
                at = offset + (BLOCK - 1 - k);
            }
            offset += BLOCK;
        }
        scalar_tail(blocks.remainder().iter().rev(), top, offset, (min, at))
    } else {
        let mut blocks = side.chunks_exact(BLOCK);
        for block in &mut blocks {
            if !clear(block) {
                return scalar_tail(block.iter(), top, offset, (min, at));
            }
            let low = lowest(block);
            if low < min {
                let k = block
                    .iter()
                    .position(|&v| v == low)
                    .expect("the block holds it");
                min = block[k];
                at = offset + k;
            }
            offset += BLOCK;
        }
        scalar_tail(blocks.remainder().iter(), top, offset, (min, at))
    }
}

/// The plain scan over the rest of one side (values in scan order, starting at `offset`).
fn scalar_tail<'a>(
    values: impl Iterator<Item = &'a f64>,
    top: f64,
    offset: usize,
    (mut min, mut at): (f64, usize),
) -> (f64, usize) {
    for (k, &v) in values.enumerate() {
        // Stops at a value above `top`, and at NaN (SciPy's `while x[i] <= x[peak]`).
        if v.partial_cmp(&top)
            .is_none_or(|o| o == std::cmp::Ordering::Greater)
        {
            break;
        }
        if v < min {
            min = v;
            at = offset + k;
        }
    }
    (min, at)
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

    /// SciPy's scalar scan, the definition `scan_outwards` must reproduce exactly.
    fn scalar_scan(side: &[f64], top: f64) -> (f64, usize) {
        let (mut min, mut at) = (top, 0);
        for (k, &v) in side.iter().enumerate() {
            let above_or_nan = v.partial_cmp(&top).is_none_or(|o| o.is_gt());
            if above_or_nan {
                break;
            }
            if v < min {
                min = v;
                at = k;
            }
        }
        (min, at)
    }

    proptest::proptest! {
        #[test]
        fn blocked_scan_equals_the_scalar_scan(
            codes in proptest::collection::vec(0u8..12, 1..70),
            top_code in 0u8..12,
        ) {
            // Few distinct values, so ties, signed zeros, NaN and infinities are common.
            let value = |c: u8| match c {
                0 => 0.0,
                1 => -0.0,
                2 => f64::NAN,
                3 => f64::NEG_INFINITY,
                4 => f64::INFINITY,
                c => f64::from(c) - 8.0,
            };
            let side: Vec<f64> = codes.iter().map(|&c| value(c)).collect();
            let top = value(top_code);
            let (m1, a1) = scan_outwards(&side, top, false);
            let (m2, a2) = scalar_scan(&side, top);
            proptest::prop_assert_eq!(m1.to_bits(), m2.to_bits());
            proptest::prop_assert_eq!(a1, a2);
            let reversed: Vec<f64> = side.iter().rev().copied().collect();
            let (m3, a3) = scan_outwards(&side, top, true);
            let (m4, a4) = scalar_scan(&reversed, top);
            proptest::prop_assert_eq!(m3.to_bits(), m4.to_bits());
            proptest::prop_assert_eq!(a3, a4);
        }
    }

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
        // SciPy issue 22906: [0,1,0,1,...,0] with distance 3 gives [3, 7, 11].
        let x: Vec<f64> = (0..13).map(|i| (i % 2) as f64).collect();
        let cond = Conditions {
            distance: Some(3.0),
            ..Default::default()
        };
        assert_eq!(run(&x, cond), vec![3, 7, 11]);
    }
}
