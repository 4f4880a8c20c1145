//! `_local_maxima_1d`, which also notes every local maximum (filtered or not) and the
//! bottom of the valley before it, so that prominences can be found from the maxima alone.
//!
//! Without NaN, the samples between two consecutive local maxima never rise and then fall
//! (that would be another maximum), so they fall and then rise: each such valley has one
//! bottom, a run of equal samples that ends where the first rise after the maximum starts.
//! The same holds before the first maximum and after the last one. SciPy's prominence scan
//! from a peak therefore only ever takes its minimum at one of these bottoms. (With NaN the
//! bottoms are still noted, but unused: prominences then come from the scan.)

use super::interval::Interval;
use super::kernel::{threshold_ok, Conditions, PeakTable};

/// Every local maximum of a signal (its height) and the valley bottoms between them,
/// column-wise in caller scratch (heights in the f64 scratch, positions in the index
/// scratch). Valley `k` lies before maximum `k`; valley `len` follows the last maximum.
#[derive(Debug)]
pub(crate) struct Maxima<'a> {
    pub height: &'a mut [f64],
    /// First (leftmost) sample of each valley's bottom.
    pub low_first: &'a mut [usize],
    /// Last (rightmost) sample of each valley's bottom.
    pub low_last: &'a mut [usize],
    pub len: usize,
    /// Room for the rise bits of the signal.
    rises: &'a mut [f64],
}

impl<'a> Maxima<'a> {
    /// Values (f64) needed in scratch for a signal of `n` samples.
    pub fn work_len(n: usize) -> usize {
        (n / 2 + 1) + Rises::words_for(n)
    }

    /// Indices (usize) needed in scratch for a signal of `n` samples.
    pub fn index_len(n: usize) -> usize {
        2 * (n / 2 + 1)
    }

    pub fn new(work: &'a mut [f64], index: &'a mut [usize], n: usize) -> Self {
        let cap = n / 2 + 1;
        let (height, rest) = work.split_at_mut(cap);
        let (low_first, low_last) = index[..2 * cap].split_at_mut(cap);
        Maxima {
            height,
            low_first,
            low_last,
            len: 0,
            rises: &mut rest[..Rises::words_for(n)],
        }
    }

    /// The bottom of the valley before the next maximum ends at `last` and starts no
    /// earlier than `start`.
    #[inline]
    fn set_valley(&mut self, x: &[f64], start: usize, last: usize) {
        let mut first = last;
        while first > start && x[first - 1] == x[last] {
            first -= 1;
        }
        self.low_first[self.len] = first;
        self.low_last[self.len] = last;
    }
}

/// A peak is a sample (or a run of equal samples) whose left neighbour is smaller and whose
/// next unequal sample to the right is smaller. The look-ahead stops at the last sample, so
/// neither end sample, nor a plateau running into the end, is a peak. The midpoint of a
/// plateau is rounded down. The per-peak conditions (plateau size, height, threshold) are
/// applied on the way; `maxima` gets every maximum, and `table` the accepted ones with
/// their index in `maxima`.
///
/// SciPy walks every sample; here the comparisons `x[p] < x[p + 1]` are packed into bit
/// words first (vectorised), and only the samples entered by a rise and not left by one
/// are examined, with SciPy's look-ahead. That finds the same peaks: SciPy skips only the
/// plateau after a peak, and no sample there is entered by a rise.
pub(crate) fn local_maxima(
    x: &[f64],
    cond: &Conditions,
    table: &mut PeakTable<'_>,
    maxima: &mut Maxima<'_>,
) {
    maxima.len = 0;
    let n = x.len();
    if n < 3 {
        return;
    }
    let last = n - 1;
    // The rise bits live in the maxima's scratch, which this pass uses up.
    let rises = Rises::new(x, std::mem::take(&mut maxima.rises));
    // The current valley starts at `valley`.
    let mut valley = 0;
    for i in rises.candidates(last) {
        let mut ahead = i + 1;
        while ahead < last && x[ahead] == x[i] {
            ahead += 1;
        }
        if x[ahead] < x[i] {
            // The valley's bottom ends where the first rise after it starts; maximum `i` is
            // entered by a rise, so there is one.
            maxima.set_valley(x, valley, rises.first_from(valley).unwrap_or(i - 1));
            let (left, right) = (i, ahead - 1);
            let mid = (left + right) / 2;
            let k = maxima.len;
            maxima.height[k] = x[mid];
            maxima.len += 1;
            if accept_local(x, cond, mid, left, right) {
                table.push_maximum(mid, left, right, k);
            }
            valley = ahead;
        }
    }
    let bottom = rises.first_from(valley).unwrap_or(last);
    maxima.set_valley(x, valley, bottom);
}

/// Bit `p` of word `p / 64` says whether `x[p] < x[p + 1]` (a rise from `p`), for
/// `p < n - 1`; the words are stored as f64 bit patterns in scratch.
struct Rises<'a> {
    words: &'a [f64],
    n: usize,
}

impl<'a> Rises<'a> {
    fn words_for(n: usize) -> usize {
        n.div_ceil(64) + 1
    }

    fn new(x: &[f64], store: &'a mut [f64]) -> Self {
        let n = x.len();
        let store = &mut store[..Self::words_for(n)];
        store.fill(0.0);
        let pairs = n - 1;
        let full = pairs / 64;
        for (w, word) in store[..full].iter_mut().enumerate() {
            let a: &[f64; 64] = x[64 * w..64 * w + 64].try_into().expect("64 values");
            let b: &[f64; 64] = x[64 * w + 1..64 * w + 65].try_into().expect("64 values");
            let mut bits = 0u64;
            for (g, (a, b)) in a.chunks_exact(8).zip(b.chunks_exact(8)).enumerate() {
                let mut byte = 0u8;
                for j in 0..8 {
                    byte |= u8::from(a[j] < b[j]) << j;
                }
                bits |= u64::from(byte) << (8 * g);
            }
            *word = f64::from_bits(bits);
        }
        let mut bits = 0u64;
        for p in 64 * full..pairs {
            bits |= u64::from(x[p] < x[p + 1]) << (p - 64 * full);
        }
        store[full] = f64::from_bits(bits);
        Rises { words: store, n }
    }

    #[inline]
    fn word(&self, w: usize) -> u64 {
        self.words[w].to_bits()
    }

    /// The first `p >= from` with `x[p] < x[p + 1]`.
    fn first_from(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut bits = self.word(w) & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                let p = 64 * w + bits.trailing_zeros() as usize;
                return (p + 1 < self.n).then_some(p);
            }
            w += 1;
            if w >= self.words.len() {
                return None;
            }
            bits = self.word(w);
        }
    }

    /// In increasing order, every `1 <= i < last` entered by a rise (`x[i - 1] < x[i]`) and
    /// not left by one (`!(x[i] < x[i + 1])`): the only samples that can start a peak.
    fn candidates(&self, last: usize) -> impl Iterator<Item = usize> + '_ {
        let count = last.div_ceil(64);
        (0..count).flat_map(move |w| {
            let from_below = if w > 0 { self.word(w - 1) >> 63 } else { 0 };
            let mut bits = ((self.word(w) << 1) | from_below) & !self.word(w);
            if 64 * w + 64 > last {
                bits &= (1u64 << (last - 64 * w)) - 1;
            }
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let i = 64 * w + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    i
                })
            })
        })
    }
}

#[inline]
fn accept_local(x: &[f64], cond: &Conditions, mid: usize, left: usize, right: usize) -> bool {
    let within = |b: &Option<Interval>, v: f64| b.is_none_or(|b| b.contains(v));
    within(&cond.plateau_size, (right - left + 1) as f64)
        && within(&cond.height, x[mid])
        && cond
            .threshold
            .is_none_or(|t| threshold_ok(&t, x[mid] - x[mid - 1], x[mid] - x[mid + 1]))
}

#[cfg(test)]
mod tests {
    use super::super::kernel::{index_len, ix, val, work_len};
    use super::*;

    /// `_local_maxima_1d`, transcribed: (midpoint, left edge, right edge) of every peak.
    fn scipy_local_maxima(x: &[f64]) -> Vec<(usize, usize, usize)> {
        let mut peaks = Vec::new();
        if x.len() < 3 {
            return peaks;
        }
        let last = x.len() - 1;
        let mut i = 1;
        while i < last {
            if x[i - 1] < x[i] {
                let mut ahead = i + 1;
                while ahead < last && x[ahead] == x[i] {
                    ahead += 1;
                }
                if x[ahead] < x[i] {
                    peaks.push(((i + ahead - 1) / 2, i, ahead - 1));
                    i = ahead;
                }
            }
            i += 1;
        }
        peaks
    }

    fn ours(x: &[f64]) -> Vec<(usize, usize, usize)> {
        let n = x.len();
        let mut work = vec![f64::NAN; work_len(n)];
        let mut index = vec![usize::MAX; index_len(n)];
        let cap = n / 2;
        let (tw, rest) = work.split_at_mut(val::COUNT * cap);
        let (ti, index_rest) = index.split_at_mut(ix::COUNT * cap);
        let mut table = PeakTable::new(tw, ti, cap);
        let mut maxima = Maxima::new(
            &mut rest[..Maxima::work_len(n)],
            &mut index_rest[..Maxima::index_len(n)],
            n,
        );
        local_maxima(x, &Conditions::default(), &mut table, &mut maxima);
        assert_eq!(maxima.len, table.len());
        (0..table.len())
            .map(|r| {
                assert_eq!(table.index(ix::MAXIMUM, r), r);
                let edge = |c| table.index(c, r);
                (table.peak(r), edge(ix::LEFT_EDGE), edge(ix::RIGHT_EDGE))
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn the_same_peaks_as_scipys_loop(codes in proptest::collection::vec(0u8..7, 0..300)) {
            let value = |c: u8| match c {
                0 => f64::NAN,
                1 => -0.0,
                c => f64::from(c) - 3.0,
            };
            let x: Vec<f64> = codes.iter().map(|&c| value(c)).collect();
            proptest::prop_assert_eq!(ours(&x), scipy_local_maxima(&x));
        }
    }
}
