//! `avg`, `var` and `cov` of a TimeLockData object's stored trials, in one pass over them.
//!
//! The trials are read in groups of consecutive trials (about `GROUP_BYTES`, one read per
//! group), the next group while the current one is worked on. A trial's rows are cut into
//! fixed blocks of `BLOCK_ROWS`, and each block is one job on the worker pool: for its rows,
//! over the group's trials in trial order, it adds to the sums behind `avg` and `var` and
//! computes each trial's partial covariance products. The partials are then combined in
//! block order. Every sum therefore has one fixed order that depends on the trial
//! definition alone, so the statistics have the same bits whatever the number of threads
//! (and in every execution mode, which all store the same trials).
//!
//! The numbers:
//! - `avg` = sum / n;
//! - `var` (ddof 0 over trials) from the sums of `x - x₀` and its squares, `x₀` the first
//!   trial's value at the same sample and channel: shifting by one of the values keeps the
//!   difference `E[d²] - E[d]²` well conditioned (the textbook shifted-data algorithm) without
//!   a second read of every trial;
//! - each trial's covariance (`np.cov(trial, ddof, rowvar=False)`) from the products of
//!   `y = x - (the trial's first row)`: `(Σ y yᵀ - s sᵀ / T) / (T - ddof)` with `s = Σ y`,
//!   the same shift within the trial, so neither needs the trial's mean first.

use std::fs::File;
use std::ops::Range;

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};
use trialflow_core::TrialDefinition;

use crate::raw_io::{raw_offset, read_at, PlainBytes};

/// About this many bytes of stored trials are read at once (and one more group is in
/// flight): memory stays two groups whatever the number of trials.
const GROUP_BYTES: usize = 4 << 20;

/// Rows of a trial per job, the unit of the fixed summation order of the covariance.
const BLOCK_ROWS: usize = 256;

/// The stored trials of `data` (back to back, every trial of `def` the same length), read
/// with `pread` when `data` is plain contiguous storage in the object file, else (part
/// files behind a virtual dataset) through HDF5.
pub(super) struct StoredTrials<'a> {
    pub def: &'a TrialDefinition,
    pub channels: usize,
    data: &'a hdf5::Dataset,
    /// The object file and `data`'s byte offset in it, when readable as plain bytes.
    raw: Option<(File, u64)>,
}

impl<'a> StoredTrials<'a> {
    pub fn new<T: PlainBytes>(
        path: &std::path::Path,
        data: &'a hdf5::Dataset,
        def: &'a TrialDefinition,
    ) -> hdf5::Result<Self> {
        let raw = match raw_offset::<T>(data) {
            Some(offset) => Some((File::open(path).map_err(io_error)?, offset)),
            None => None,
        };
        Ok(StoredTrials {
            def,
            channels: data.shape().get(1).copied().unwrap_or(0),
            data,
            raw,
        })
    }

    /// Trials `trials` (consecutive) into `out`, as stored.
    fn read<T: PlainBytes + Default>(
        &self,
        trials: Range<usize>,
        out: &mut Vec<T>,
    ) -> hdf5::Result<()> {
        let (start, stop) = (self.def.start(trials.start), self.def.stop(trials.end - 1));
        out.resize((stop - start) * self.channels, T::default());
        match &self.raw {
            Some((file, offset)) => {
                let at = offset + (start * self.channels * std::mem::size_of::<T>()) as u64;
                read_at(file, at, out).map_err(io_error)
            }
            None => {
                let block = self.data.read_slice_2d::<T, _>(s![start..stop, ..])?;
                let block = block.as_standard_layout();
                out.copy_from_slice(block.as_slice().expect("standard layout"));
                Ok(())
            }
        }
    }
}

fn io_error(e: std::io::Error) -> hdf5::Error {
    hdf5::Error::from(format!("reading the stored trials: {e}"))
}

/// What one pass gives: `avg`, `var`, and the trials' covariances handed to `each_cov` in
/// trial order.
pub(super) struct Moments {
    pub avg: Array2<f64>,
    pub var: Array2<f64>,
}

/// One block of rows of every trial: its share of the sums, and (with covariance) the
/// current group's partial products.
struct Block {
    rows: Range<usize>,
    sum: Vec<f64>,
    /// Sums of `x - x₀` and of its square (`x₀` the first trial's values).
    shifted: Vec<f64>,
    squares: Vec<f64>,
    shift: Vec<f64>,
    /// `y = x - (the trial's first row)` of one trial's rows.
    dev: Vec<f64>,
    /// Per trial of the group: `Σ y yᵀ` (`C x C`) then `Σ y` (`C`).
    partial: Vec<f64>,
}

impl Block {
    /// Adds trials `first..first + group` (their values in `values`, `T x C` each) to the
    /// block's sums, and with `covariance` computes their partial products.
    fn accumulate<T: PlainBytes + Into<f64>>(
        &mut self,
        values: &[T],
        first: usize,
        (t, c): (usize, usize),
        covariance: bool,
    ) {
        let per_trial = c * c + c;
        for (g, trial) in values.chunks_exact(t * c).enumerate() {
            let x = &trial[self.rows.start * c..self.rows.end * c];
            if first + g == 0 {
                for (s, &v) in self.shift.iter_mut().zip(x) {
                    *s = v.into();
                }
            }
            for ((((sum, shifted), squares), &shift), &v) in self
                .sum
                .iter_mut()
                .zip(self.shifted.iter_mut())
                .zip(self.squares.iter_mut())
                .zip(&self.shift)
                .zip(x)
            {
                let v: f64 = v.into();
                let d = v - shift;
                *sum += v;
                *shifted += d;
                *squares += d * d;
            }
            if !covariance {
                continue;
            }
            let row0 = &trial[..c];
            let partial = &mut self.partial[g * per_trial..(g + 1) * per_trial];
            let (products, sums) = partial.split_at_mut(c * c);
            sums.fill(0.0);
            for (dev, x) in self.dev.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
                for (((d, &v), &v0), s) in dev.iter_mut().zip(x).zip(row0).zip(sums.iter_mut()) {
                    *d = v.into() - v0.into();
                    *s += *d;
                }
            }
            let dev = ArrayView2::from_shape((self.rows.len(), c), &self.dev[..]).expect("sized");
            let products = ArrayViewMut2::from_shape((c, c), products).expect("sized");
            upper_products(dev, products);
        }
    }
}

/// Channels per panel of the covariance products: only panels on and above the diagonal
/// are multiplied (3/4 of the work at 64 channels, about half at many).
const PANEL: usize = 32;

/// `devᵀ dev` on and above the diagonal, as one matrix product (ndarray's
/// `general_mat_mul`, blocked and vectorised) per pair of channel panels `a <= b`; the
/// panels below are left as they are (never read).
fn upper_products(dev: ArrayView2<'_, f64>, mut products: ArrayViewMut2<'_, f64>) {
    let c = dev.ncols();
    for a in (0..c).step_by(PANEL) {
        let left = dev.slice(s![.., a..(a + PANEL).min(c)]);
        let right = dev.slice(s![.., a..]);
        let mut out = products.slice_mut(s![a..(a + PANEL).min(c), a..]);
        general_mat_mul(1.0, &left.t(), &right, 0.0, &mut out);
    }
}

/// `avg` and `var` of the stored trials, and with `covariance = Some(ddof)` each trial's
/// covariance matrix passed to `each_cov(trial, matrix)` in trial order.
pub(super) fn moments<T: PlainBytes + Default + Into<f64> + Send + Sync>(
    trials: &StoredTrials<'_>,
    covariance: Option<usize>,
    mut each_cov: impl FnMut(usize, &Array2<f64>) -> hdf5::Result<()>,
) -> hdf5::Result<Moments> {
    let def = trials.def;
    let (k, t, c) = (def.len(), def.trial_len(0), trials.channels);
    let trial_bytes = (t * c * std::mem::size_of::<T>()).max(1);
    let group = (GROUP_BYTES / trial_bytes).clamp(1, k.max(1));
    let per_trial = c * c + c;
    let cov_on = covariance.is_some();
    let mut blocks: Vec<Block> = (0..t.div_ceil(BLOCK_ROWS))
        .map(|b| {
            let rows = b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(t);
            let n = rows.len() * c;
            Block {
                rows,
                sum: vec![0.0; n],
                shifted: vec![0.0; n],
                squares: vec![0.0; n],
                shift: vec![0.0; n],
                dev: if cov_on { vec![0.0; n] } else { Vec::new() },
                partial: if cov_on {
                    vec![0.0; group * per_trial]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = trialflow_core::engine::worker_pool(threads)
        .map_err(|e| hdf5::Error::from(format!("starting the worker pool: {e}")))?;
    let mut current: Vec<T> = Vec::new();
    let mut next: Vec<T> = Vec::new();
    let mut cov = Array2::<f64>::zeros((c, c));
    let mut sums = vec![0.0; c];
    if k > 0 {
        trials.read(0..group.min(k), &mut current)?;
    }
    let mut first = 0;
    while first < k {
        let last = (first + group).min(k);
        let mut read_next = Ok(());
        pool.scope(|scope| {
            if last < k {
                let (next, read_next) = (&mut next, &mut read_next);
                scope.spawn(move |_| *read_next = trials.read(last..(last + group).min(k), next));
            }
            let current = &current;
            for block in blocks.iter_mut() {
                scope.spawn(move |_| block.accumulate(current, first, (t, c), cov_on));
            }
        });
        read_next?;
        if let Some(ddof) = covariance {
            for g in 0..last - first {
                trial_covariance(&blocks, g, (t, c), ddof, &mut cov, &mut sums);
                each_cov(first + g, &cov)?;
            }
        }
        std::mem::swap(&mut current, &mut next);
        first = last;
    }
    let n = k as f64;
    let mut avg = Array2::<f64>::zeros((t, c));
    let mut var = Array2::<f64>::zeros((t, c));
    for block in &blocks {
        let rows = block.rows.clone();
        let avg = avg.slice_mut(s![rows.clone(), ..]);
        let var = var.slice_mut(s![rows, ..]);
        for ((a, v), ((&sum, &shifted), &squares)) in avg
            .into_iter()
            .zip(var)
            .zip(block.sum.iter().zip(&block.shifted).zip(&block.squares))
        {
            *a = sum / n;
            let mean = shifted / n;
            let value = squares / n - mean * mean;
            // Only rounding makes it negative; `max` would also turn NaN into 0.
            *v = if value < 0.0 { 0.0 } else { value };
        }
    }
    Ok(Moments { avg, var })
}

/// Trial `g` of the current group's covariance from its blocks' partial products (their
/// upper triangles), summed in block order, made exactly symmetric.
fn trial_covariance(
    blocks: &[Block],
    g: usize,
    (t, c): (usize, usize),
    ddof: usize,
    cov: &mut Array2<f64>,
    sums: &mut [f64],
) {
    let per_trial = c * c + c;
    cov.fill(0.0);
    sums.fill(0.0);
    for block in blocks {
        let partial = &block.partial[g * per_trial..(g + 1) * per_trial];
        let (products, block_sums) = partial.split_at(c * c);
        for (acc, &p) in cov.iter_mut().zip(products) {
            *acc += p;
        }
        for (acc, &s) in sums.iter_mut().zip(block_sums) {
            *acc += s;
        }
    }
    let (len, denominator) = (t as f64, (t - ddof) as f64);
    for i in 0..c {
        for j in i..c {
            let value = (cov[[i, j]] - sums[i] * sums[j] / len) / denominator;
            cov[[i, j]] = value;
            cov[[j, i]] = value;
        }
    }
}
