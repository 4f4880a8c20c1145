//! `_peak_prominences`: within the window `[peak - wlen//2, peak + wlen//2]` (clipped; an
//! even `wlen` thus acts as the next odd one), scan outwards while samples are not above the
//! peak, keeping the first strict minimum on each side as the base. The prominence is the
//! peak's height above the higher of the two minima.
//!
//! Scanning from every peak costs up to the whole signal per peak (a high peak's scan only
//! stops at a higher sample or an end). Without a window and without NaN the same bases come
//! from the local maxima instead: a scan crosses whole valleys and stops inside the first
//! valley slope that climbs above the peak, so its minimum is the lowest valley bottom
//! between the peak and the first higher maximum (or the end), and of equal bottoms the one
//! met first. One monotone stack per side over the maxima finds that for all of them at
//! once, in time linear in the number of maxima. The scan remains for `wlen` and for
//! signals with NaN (where NaN stops the scan and valleys need not have one bottom).

use super::kernel::{ix, val, PeakTable};
use super::maxima::Maxima;

/// Value scratch (f64) of [`prominences`] for a signal of `n` samples.
pub(crate) fn work_len(n: usize) -> usize {
    (n / 2 + 1) + Kept::work_len(n)
}

/// Index scratch (usize) of [`prominences`] for a signal of `n` samples.
pub(crate) fn index_len(n: usize) -> usize {
    (n / 2 + 1) + Kept::index_len(n)
}

/// Fills the prominence and base columns of `table`; `maxima` must come from the same
/// local-maxima pass, `work` hold [`work_len`] values and `index` [`index_len`].
pub(crate) fn prominences(
    x: &[f64],
    wlen_half: Option<usize>,
    maxima: &Maxima<'_>,
    work: &mut [f64],
    index: &mut [usize],
    table: &mut PeakTable<'_>,
) {
    if wlen_half.is_none() && !has_nan(x) {
        by_valleys(x, maxima, work, index, table);
    } else {
        by_scan(x, wlen_half, table);
    }
}

fn has_nan(x: &[f64]) -> bool {
    // Branch-free within blocks of 64, so the check vectorises.
    let mut blocks = x.chunks_exact(64);
    let found = blocks
        .by_ref()
        .any(|b| b.iter().fold(0u8, |a, v| a | u8::from(v.is_nan())) != 0);
    found || blocks.remainder().iter().any(|v| v.is_nan())
}

/// The bases from the valley bottoms between maxima. Maxima lower than every peak of the
/// table never stop a peak's scan, so they are first folded into the valleys around them
/// (see [`Kept`]). Then a stack holds, for the maxima not yet passed (higher than
/// everything after them), their height and the base position of the stretch of valleys
/// they end; a new maximum passes (pops) every one that is not higher. A farther bottom
/// replaces a nearer one only if strictly lower, as in the scan.
fn by_valleys(
    x: &[f64],
    maxima: &Maxima<'_>,
    work: &mut [f64],
    index: &mut [usize],
    table: &mut PeakTable<'_>,
) {
    let rows = table.len();
    if rows == 0 {
        return;
    }
    let floor = (0..rows)
        .map(|r| x[table.peak(r)])
        .fold(f64::INFINITY, f64::min);
    let (heights, kept_work) = work.split_at_mut(maxima.len + 1);
    let (bests, kept_index) = index.split_at_mut(maxima.len + 1);
    let kept = Kept::new(x, maxima, floor, kept_work, kept_index);
    let mut merge = |depth: &mut usize, top: f64, mut best: usize| {
        while *depth > 0 && heights[*depth - 1] <= top {
            *depth -= 1;
            let b = bests[*depth];
            if x[b] < x[best] {
                best = b;
            }
        }
        heights[*depth] = top;
        bests[*depth] = best;
        *depth += 1;
        best
    };
    // Row `r` of the table is the next accepted maximum; it is written for every kept
    // maximum and moves on only at a match (no branch to mispredict on which maxima were
    // accepted).
    let (mut depth, mut r) = (0, 0);
    for i in 0..kept.len {
        let best = merge(&mut depth, kept.height[i], kept.left_low[i]);
        if r < rows {
            table.ix[ix::LEFT_BASE][r] = best;
            r += usize::from(table.index(ix::MAXIMUM, r) == kept.maximum[i]);
        }
    }
    let (mut depth, mut r) = (0, rows);
    for i in (0..kept.len).rev() {
        let best = merge(&mut depth, kept.height[i], kept.right_low[i]);
        if r > 0 {
            table.ix[ix::RIGHT_BASE][r - 1] = best;
            r -= usize::from(table.index(ix::MAXIMUM, r - 1) == kept.maximum[i]);
        }
    }
    for r in 0..rows {
        let top = x[table.peak(r)];
        let left_min = x[table.index(ix::LEFT_BASE, r)];
        let right_min = x[table.index(ix::RIGHT_BASE, r)];
        set_prominence(table, r, top, left_min, right_min);
    }
}

/// The maxima at least as high as `floor`, each with the bottom its scan meets first among
/// the valleys up to the previous kept maximum (`left_low`) and up to the next one
/// (`right_low`): on the left the nearest (rightmost) unless a farther one is strictly
/// lower, on the right the mirror image. Built in one pass without branches on the data.
struct Kept<'a> {
    height: &'a [f64],
    left_low: &'a [usize],
    right_low: &'a [usize],
    /// Index among all maxima, to match the table's rows.
    maximum: &'a [usize],
    len: usize,
}

impl<'a> Kept<'a> {
    fn work_len(n: usize) -> usize {
        n / 2 + 1
    }

    fn index_len(n: usize) -> usize {
        3 * (n / 2 + 1)
    }

    fn new(
        x: &[f64],
        maxima: &Maxima<'_>,
        floor: f64,
        work: &'a mut [f64],
        index: &'a mut [usize],
    ) -> Self {
        let cap = maxima.len + 1;
        let height = &mut work[..cap];
        let (left_low, rest) = index.split_at_mut(cap);
        let (right_low, rest) = rest.split_at_mut(cap);
        let maximum = &mut rest[..cap];
        let (mut len, mut fresh) = (0, true);
        let (mut left, mut right) = (0, 0);
        // Valley k lies before maximum k; valley `maxima.len` after the last one.
        for k in 0..=maxima.len {
            let (last, first) = (maxima.low_last[k], maxima.low_first[k]);
            let nearer_left = if x[last] <= x[left] { last } else { left };
            let lower_right = if x[first] < x[right] { first } else { right };
            left = if fresh { last } else { nearer_left };
            right = if fresh { first } else { lower_right };
            // The valleys since the previous kept maximum are its right-hand stretch.
            if len > 0 {
                right_low[len - 1] = right;
            }
            if k == maxima.len {
                break;
            }
            height[len] = maxima.height[k];
            left_low[len] = left;
            maximum[len] = k;
            let keep = maxima.height[k] >= floor;
            len += usize::from(keep);
            fresh = keep;
        }
        Kept {
            height,
            left_low,
            right_low,
            maximum,
            len,
        }
    }
}

/// Cython's `max(left, right)` (the right value only if strictly greater) below the peak.
#[inline]
fn set_prominence(table: &mut PeakTable<'_>, r: usize, top: f64, left_min: f64, right_min: f64) {
    let base_level = if right_min > left_min {
        right_min
    } else {
        left_min
    };
    let prominence = top - base_level;
    if prominence == 0.0 {
        table.zero_prominences += 1;
    }
    table.val[val::PROMINENCE][r] = prominence;
}

/// SciPy's scan itself, from each peak (blocked, see [`scan_outwards`]).
fn by_scan(x: &[f64], wlen_half: Option<usize>, table: &mut PeakTable<'_>) {
    let Some(last) = x.len().checked_sub(1) else {
        return; // an empty signal has no peaks
    };
    for r in 0..table.len() {
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
        set_prominence(table, r, top, left_min, right_min);
        table.ix[ix::LEFT_BASE][r] = left_base;
        table.ix[ix::RIGHT_BASE][r] = right_base;
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

    /// Per peak: prominence bits, left base, right base; and the zero-prominence count.
    type Bases = (Vec<(u64, usize, usize)>, usize);

    /// Runs the local-maxima pass (every maximum a peak, or only those above `height`) and
    /// both prominence algorithms, valleys first.
    fn both(x: &[f64], height: Option<f64>) -> [Bases; 2] {
        use super::super::interval::Interval;
        use super::super::kernel::{index_len, work_len, Conditions};
        use super::super::maxima::local_maxima;
        let n = x.len();
        let cond = Conditions {
            height: height.map(|h| Interval {
                min: Some(h),
                max: None,
            }),
            ..Default::default()
        };
        [true, false].map(|valleys| {
            let mut work = vec![f64::NAN; work_len(n)];
            let mut index = vec![usize::MAX; index_len(n)];
            let cap = n / 2;
            let (tw, rest) = work.split_at_mut(val::COUNT * cap);
            let (mw, stack) = rest.split_at_mut(Maxima::work_len(n));
            let (ti, index_rest) = index.split_at_mut(ix::COUNT * cap);
            let (mi, stack_index) = index_rest.split_at_mut(Maxima::index_len(n));
            let mut table = PeakTable::new(tw, ti, cap);
            let mut maxima = Maxima::new(mw, mi, n);
            local_maxima(x, &cond, &mut table, &mut maxima);
            if valleys {
                by_valleys(
                    x,
                    &maxima,
                    &mut stack[..super::work_len(n)],
                    &mut stack_index[..super::index_len(n)],
                    &mut table,
                );
            } else {
                by_scan(x, None, &mut table);
            }
            let rows = (0..table.len())
                .map(|r| {
                    (
                        table.value(val::PROMINENCE, r).to_bits(),
                        table.index(ix::LEFT_BASE, r),
                        table.index(ix::RIGHT_BASE, r),
                    )
                })
                .collect();
            (rows, table.zero_prominences)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn valleys_give_the_scan_bases(
            codes in proptest::collection::vec(0u8..9, 0..200),
            height_code in proptest::option::of(0u8..9),
        ) {
            // Few distinct values: plateaus, equal peaks, equal bottoms, signed zeros and
            // infinities are common.
            let value = |c: u8| match c {
                0 => 0.0,
                1 => -0.0,
                2 => f64::NEG_INFINITY,
                3 => f64::INFINITY,
                c => f64::from(c) - 6.0,
            };
            let x: Vec<f64> = codes.iter().map(|&c| value(c)).collect();
            let [a, b] = both(&x, height_code.map(value));
            proptest::prop_assert_eq!(a, b);
        }

        #[test]
        fn valleys_give_the_scan_bases_on_walks(
            steps in proptest::collection::vec(-3i8..=3, 0..400),
        ) {
            let mut level = 0.0;
            let x: Vec<f64> = steps
                .iter()
                .map(|&s| {
                    level += f64::from(s) * 0.25;
                    level
                })
                .collect();
            let [a, b] = both(&x, None);
            proptest::prop_assert_eq!(a, b);
        }
    }
}
