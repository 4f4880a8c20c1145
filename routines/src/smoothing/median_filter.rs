use crate::params::{setters, Keyword};
use serde::Deserialize;
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TimeSupport, TrialInput,
};

use super::boundary::{check_origin, ExtendMode};
use super::moving_average::check_size;
use super::SmoothingError;

/// Unchecked parameters of `median_filter`, as written in a pipeline (SciPy's names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedianFilterParams {
    pub size: Option<i64>,
    pub mode: Option<ExtendMode>,
    pub cval: Option<f64>,
    pub origin: Option<i64>,
}

setters!(MedianFilterParams {
    size: i64,
    mode: ExtendMode,
    cval: f64,
    origin: i64,
});

impl MedianFilterParams {
    pub fn check(self) -> Result<MedianFilter, SmoothingError> {
        let size = check_size(self.size)?;
        let origin = check_origin("size", size, self.origin.unwrap_or(0))?;
        Ok(MedianFilter {
            size,
            mode: self.mode.unwrap_or_default(),
            cval: self.cval.unwrap_or(0.0),
            origin,
        })
    }
}

/// `scipy.ndimage.median_filter(x, size=(size, 1), mode, cval, origin=(origin, 0))` on a
/// trial's samples x channels array: per channel, the element of rank `size // 2` of the
/// sorted window `x[i - size/2 - origin ..][..size]` (so an even size takes the upper of
/// the two middle values; nothing is averaged).
///
/// Without NaN in a window the result is that order statistic, kept with a sorted sliding
/// window (O(size) per sample, memmove-fast). NaN compares false, so SciPy's result then
/// depends on its algorithm; we reproduce it exactly by running the same algorithm on that
/// window: `NI_Select`'s quickselect for `size >= 3` (SciPy's `rank_filter` path),
/// `NI_MinOrMaxFilter1D`'s maximum for `size == 2` (rank 1 of 2 is the maximum, which SciPy
/// computes with `maximum_filter1d`), and a copy for `size == 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianFilter {
    size: usize,
    mode: ExtendMode,
    cval: f64,
    origin: isize,
}

impl ComputationalRoutine for MedianFilter {
    fn name(&self) -> &str {
        "median_filter"
    }

    /// The median of a window of `size` samples shifted by `origin`.
    fn time_support(&self) -> TimeSupport {
        self.mode
            .time_support(self.size + self.origin.unsigned_abs())
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "size": self.size,
            "mode": self.mode.as_str(),
            "cval": self.cval,
            "origin": self.origin,
        })
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(MedianKernel {
            routine: *self,
            samples: task_shape[0],
        }))
    }
}

/// A sorted sliding window per channel, for trials of `samples` samples.
struct MedianKernel {
    routine: MedianFilter,
    samples: usize,
}

impl Kernel for MedianKernel {
    fn scratch_size(&self) -> ScratchSize {
        self.routine.scratch_size(self.samples)
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let routine = &self.routine;
        let x = input.samples();
        let mut out = output.samples_mut();
        let (n, ch) = x.dim();
        if n == 0 || ch == 0 {
            return Ok(());
        }
        let size = routine.size;
        if size == 1 {
            out.assign(&x);
            return Ok(());
        }
        scratch.reserve(routine.scratch_size(n));
        let (ext, rest) = scratch.real.split_at_mut(n + size - 1);
        let (sorted, rest) = rest.split_at_mut(size);
        let buf = &mut rest[..size];
        // Position t of SciPy's extended line holds x[t - (size / 2 + origin)].
        let shift = (size / 2) as isize + routine.origin;
        for c in 0..ch {
            let col = x.column(c);
            for (t, e) in ext.iter_mut().enumerate() {
                *e = match routine.mode.source(t as isize - shift, n) {
                    Some(r) => col[r],
                    None => routine.cval,
                };
            }
            let mut oc = out.column_mut(c);
            if size == 2 {
                let mut ring = [(0.0, 0); 2];
                running_max(ext, n, &mut ring, |i, v| oc[i] = v);
            } else {
                let mut window = SortedWindow::new(sorted, &ext[..size]);
                let rank = size / 2;
                for i in 0..n {
                    if i > 0 {
                        window.replace(ext[i - 1], ext[i + size - 1]);
                    }
                    oc[i] = if window.nans == 0 {
                        window.sorted[rank]
                    } else {
                        buf.copy_from_slice(&ext[i..i + size]);
                        ni_select(buf, rank)
                    };
                }
            }
        }
        Ok(())
    }
}

impl MedianFilter {
    /// The extended line, the sorted window and a copy of the window for the NaN path.
    fn scratch_size(&self, samples: usize) -> ScratchSize {
        ScratchSize {
            real: samples + 3 * self.size,
            ..ScratchSize::default()
        }
    }
}

/// The non-NaN values of a window in ascending (`total_cmp`) order, plus a count of NaNs.
struct SortedWindow<'a> {
    sorted: &'a mut [f64],
    len: usize,
    nans: usize,
}

impl<'a> SortedWindow<'a> {
    fn new(storage: &'a mut [f64], values: &[f64]) -> Self {
        let mut len = 0;
        for &v in values.iter().filter(|v| !v.is_nan()) {
            storage[len] = v;
            len += 1;
        }
        storage[..len].sort_unstable_by(f64::total_cmp);
        SortedWindow {
            sorted: storage,
            len,
            nans: values.len() - len,
        }
    }

    fn position(&self, v: f64) -> usize {
        self.sorted[..self.len].partition_point(|s| s.total_cmp(&v).is_lt())
    }

    /// Removes `old` (which is in the window) and inserts `new`, moving only the values
    /// between the two positions.
    fn replace(&mut self, old: f64, new: f64) {
        match (old.is_nan(), new.is_nan()) {
            (true, true) => {}
            (true, false) => {
                self.nans -= 1;
                let p = self.position(new);
                self.sorted.copy_within(p..self.len, p + 1);
                self.sorted[p] = new;
                self.len += 1;
            }
            (false, true) => {
                self.nans += 1;
                let p = self.position(old);
                self.sorted.copy_within(p + 1..self.len, p);
                self.len -= 1;
            }
            (false, false) => {
                let p = self.position(old);
                debug_assert_eq!(self.sorted[p].to_bits(), old.to_bits());
                if new.total_cmp(&old).is_ge() {
                    let q = p
                        + 1
                        + self.sorted[p + 1..self.len]
                            .partition_point(|s| s.total_cmp(&new).is_lt());
                    self.sorted.copy_within(p + 1..q, p);
                    self.sorted[q - 1] = new;
                } else {
                    let q = self.sorted[..p].partition_point(|s| s.total_cmp(&new).is_lt());
                    self.sorted.copy_within(q..p, q + 1);
                    self.sorted[q] = new;
                }
            }
        }
    }
}

/// `NI_Select` (`scipy/ndimage/src/ni_filters.c`): Hoare-partition quickselect with the
/// first element as pivot. With NaN in the buffer its answer depends on these exact steps
/// (NaN compares false), which is why it is reproduced rather than replaced.
// `!(a > x)` is not `a <= x` when NaN is involved: the negations are the point.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn ni_select(buf: &mut [f64], rank: usize) -> f64 {
    let (mut lo, mut hi, mut rank) = (0usize, buf.len() - 1, rank);
    loop {
        if lo == hi {
            return buf[lo];
        }
        let x = buf[lo];
        let mut ii = lo as isize - 1;
        let mut jj = hi as isize + 1;
        loop {
            loop {
                jj -= 1;
                if !(buf[jj as usize] > x) {
                    break;
                }
            }
            loop {
                ii += 1;
                if !(buf[ii as usize] < x) {
                    break;
                }
            }
            if ii < jj {
                buf.swap(ii as usize, jj as usize);
            } else {
                break;
            }
        }
        let jj = jj as usize;
        let k = jj - lo + 1;
        if rank < k {
            hi = jj;
        } else {
            lo = jj + 1;
            rank -= k;
        }
    }
}

/// `NI_MinOrMaxFilter1D`'s running maximum (Richard Harter's ascending-minima deque on a
/// ring of `ring.len()` entries) over the extended line `ext`, giving `n` outputs. Used for
/// `size == 2`, where the median of rank 1 is the maximum and SciPy calls
/// `maximum_filter1d`; with NaN its answers depend on the deque's history, so it is
/// reproduced step by step.
fn running_max(ext: &[f64], n: usize, ring: &mut [(f64, usize)], mut emit: impl FnMut(usize, f64)) {
    let size = ring.len();
    let mut head = 0;
    let mut last = 0;
    ring[0] = (ext[0], size);
    for (ll, &val) in ext.iter().enumerate().take(size + n - 1).skip(1) {
        if ring[head].1 == ll {
            head = (head + 1) % size;
        }
        if val >= ring[head].0 {
            ring[head] = (val, ll + size);
            last = head;
        } else {
            while ring[last].0 <= val {
                last = (last + size - 1) % size;
            }
            last = (last + 1) % size;
            ring[last] = (val, ll + size);
        }
        if ll >= size - 1 {
            emit(ll - (size - 1), ring[head].0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_gives_order_statistics() {
        let v = [5.0, -1.0, 3.0, 3.0, 9.0, 0.5, 2.0];
        let mut sorted = v.to_vec();
        sorted.sort_by(f64::total_cmp);
        for (rank, &expected) in sorted.iter().enumerate() {
            let mut buf = v.to_vec();
            assert_eq!(ni_select(&mut buf, rank), expected);
        }
    }

    #[test]
    fn sorted_window_slides() {
        let data = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
        let w = 4;
        let mut storage = vec![0.0; w];
        let mut window = SortedWindow::new(&mut storage, &data[..w]);
        for i in 1..=data.len() - w {
            window.replace(data[i - 1], data[i + w - 1]);
            let mut want = data[i..i + w].to_vec();
            want.sort_by(f64::total_cmp);
            assert_eq!(&window.sorted[..w], &want[..], "window {i}");
        }
    }

    #[test]
    fn running_max_is_the_maximum_without_nan() {
        let ext = [1.0, 3.0, 2.0, 2.0, -1.0, 4.0];
        let mut got = vec![0.0; 5];
        running_max(&ext, 5, &mut [(0.0, 0); 2], |i, v| got[i] = v);
        assert_eq!(got, vec![3.0, 3.0, 2.0, 2.0, 4.0]);
    }
}
