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
/// flight): memory stays two groups whatever the number of trials. Small, because the two
/// buffers are fresh pages the kernel faults in and zeroes: at 4 MiB that was a third of
/// a 16-channel psth run's page faults, while more, smaller groups cost no measurable time.
const GROUP_BYTES: usize = 1 << 20;

/// At most this many rows of a trial per job (the trial is cut into equal blocks): the unit
/// of the fixed summation order of the covariance, and large enough for an efficient
/// matrix product.
const BLOCK_ROWS: usize = 512;

/// The stored trials of `data` (back to back, every trial of `def` the same length), read
/// with `pread` when `data` is plain contiguous storage in the object file or in stacked
/// part files, else through HDF5 (a virtual dataset's reads go through HDF5's lock, a
/// fresh array and a copy per read: most of a 16-channel psth finalize).
pub(super) struct StoredTrials<'a> {
    pub def: &'a TrialDefinition,
    pub channels: usize,
    data: &'a hdf5::Dataset,
    /// Where `data`'s rows lie as plain bytes, when they all do.
    raw: Option<RawRows>,
}

/// Runs of `data`'s rows stored as plain bytes: `(first row, rows, file, byte offset)`,
/// sorted by row, covering every row.
pub(super) struct RawRows {
    pub files: Vec<File>,
    pub runs: Vec<(usize, usize, usize, u64)>,
}

impl RawRows {
    /// One run: all of `data` at `offset` in `file`.
    pub fn whole(file: File, offset: u64, rows: usize) -> RawRows {
        RawRows {
            files: vec![file],
            runs: vec![(0, rows, 0, offset)],
        }
    }
}

impl<'a> StoredTrials<'a> {
    /// `raw`: the part files' runs (else the object file is tried).
    pub fn new<T: PlainBytes>(
        path: &std::path::Path,
        data: &'a hdf5::Dataset,
        def: &'a TrialDefinition,
        raw: Option<RawRows>,
    ) -> hdf5::Result<Self> {
        let rows = data.shape().first().copied().unwrap_or(0);
        let raw = match (raw, raw_offset::<T>(data)) {
            (Some(raw), _) => Some(raw),
            (None, Some(offset)) => Some(RawRows::whole(
                File::open(path).map_err(io_error)?,
                offset,
                rows,
            )),
            (None, None) => None,
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
        let c = self.channels;
        out.resize((stop - start) * c, T::default());
        let Some(raw) = &self.raw else {
            let block = self.data.read_slice_2d::<T, _>(s![start..stop, ..])?;
            let block = block.as_standard_layout();
            out.copy_from_slice(block.as_slice().expect("standard layout"));
            return Ok(());
        };
        let mut row = start;
        let mut run = raw.runs.partition_point(|r| r.0 + r.1 <= start);
        while row < stop {
            let Some(&(first, rows, file, offset)) = raw.runs.get(run).filter(|r| r.0 <= row)
            else {
                return Err(hdf5::Error::from(format!(
                    "row {row} of the stored trials is in no part file"
                )));
            };
            let end = (first + rows).min(stop);
            let size = std::mem::size_of::<T>();
            let at = offset + ((row - first) * c * size) as u64;
            let piece = &mut out[(row - start) * c..(end - start) * c];
            read_at(&raw.files[file], at, piece).map_err(io_error)?;
            row = end;
            run += 1;
        }
        Ok(())
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
/// covariance matrix passed to `each_cov(trial, matrix)` in trial order, on `threads`
/// threads (the run's workers; the bits do not depend on them).
pub(super) fn moments<T: PlainBytes + Default + Into<f64> + Send + Sync>(
    trials: &StoredTrials<'_>,
    threads: usize,
    covariance: Option<usize>,
    mut each_cov: impl FnMut(usize, &Array2<f64>) -> hdf5::Result<()>,
) -> hdf5::Result<Moments> {
    let def = trials.def;
    let (k, t, c) = (def.len(), def.trial_len(0), trials.channels);
    let trial_bytes = (t * c * std::mem::size_of::<T>()).max(1);
    let group = (GROUP_BYTES / trial_bytes).clamp(1, k.max(1));
    let per_trial = c * c + c;
    let cov_on = covariance.is_some();
    let block_rows = t.div_ceil(t.div_ceil(BLOCK_ROWS).max(1)).max(1);
    let mut blocks: Vec<Block> = (0..t.div_ceil(block_rows))
        .map(|b| {
            let rows = b * block_rows..((b + 1) * block_rows).min(t);
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
    let pool = trialflow_core::engine::worker_pool(threads.max(1))
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
    let acc = cov.as_slice_mut().expect("standard layout");
    acc.fill(0.0);
    sums.fill(0.0);
    for block in blocks {
        let partial = &block.partial[g * per_trial..(g + 1) * per_trial];
        let (products, block_sums) = partial.split_at(c * c);
        for (acc, &p) in acc.iter_mut().zip(products) {
            *acc += p;
        }
        for (acc, &s) in sums.iter_mut().zip(block_sums) {
            *acc += s;
        }
    }
    let (len, denominator) = (t as f64, (t - ddof) as f64);
    for i in 0..c {
        let si = sums[i] / len;
        for j in i..c {
            let value = (acc[i * c + j] - si * sums[j]) / denominator;
            acc[i * c + j] = value;
            acc[j * c + i] = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5_util::create_file;

    /// Trials far from zero (an offset 10⁴ times their spread, where `E[x²] - E[x]²` would
    /// lose every digit), three groups of trials and three blocks of rows, read both as
    /// plain bytes and through HDF5: avg, var and every trial's covariance agree with the
    /// textbook two-pass formulas to 1e-9 of the variance, and the two reads give the same
    /// bits.
    #[test]
    fn one_pass_moments_match_the_two_pass_formulas() {
        let dir = std::env::temp_dir().join(format!("trialflow-moments-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (k, t, c) = (400, 1100, 3);
        let mut state = 12345u64;
        let mut noise = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x: Vec<f64> = (0..k * t * c)
            .map(|i| 1e4 + (i % c) as f64 + noise() + 0.3 * ((i / c) % t) as f64 / t as f64)
            .collect();
        let path = dir.join("m.h5");
        let file = create_file(&path).unwrap();
        let data = file
            .new_dataset::<f64>()
            .shape((k * t, c))
            .create("data")
            .unwrap();
        data.write_raw(&x).unwrap();
        file.flush().unwrap();
        let rows: Vec<f64> = (0..k)
            .flat_map(|i| [(i * t) as f64, ((i + 1) * t) as f64, 0.0])
            .collect();
        let def = TrialDefinition::from_rows(rows, 3, k * t).unwrap();
        let at = |i: usize, s: usize, ch: usize| x[(i * t + s) * c + ch];
        let mut covs = Vec::new();
        let raw = StoredTrials::new::<f64>(&path, &data, &def, None).unwrap();
        assert!(raw.raw.is_some());
        let got = moments::<f64>(&raw, 1, Some(1), |_, m| {
            covs.push(m.clone());
            Ok(())
        })
        .unwrap();
        let mut through_hdf5 = StoredTrials::new::<f64>(&path, &data, &def, None).unwrap();
        through_hdf5.raw = None;
        let mut covs_hdf5 = Vec::new();
        // Another read path on another number of threads: the same bits.
        let again = moments::<f64>(&through_hdf5, 3, Some(1), |_, m| {
            covs_hdf5.push(m.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(got.avg, again.avg);
        assert_eq!(got.var, again.var);
        assert_eq!(covs, covs_hdf5);
        assert_eq!(covs.len(), k);
        for s in 0..t {
            for ch in 0..c {
                let mean = (0..k).map(|i| at(i, s, ch)).sum::<f64>() / k as f64;
                let var = (0..k).map(|i| (at(i, s, ch) - mean).powi(2)).sum::<f64>() / k as f64;
                assert!((got.avg[[s, ch]] - mean).abs() <= 1e-12 * mean.abs());
                assert!(
                    (got.var[[s, ch]] - var).abs() <= 1e-9 * var,
                    "var[{s}, {ch}]"
                );
            }
        }
        for (i, cov) in covs.iter().enumerate() {
            let means: Vec<f64> = (0..c)
                .map(|ch| (0..t).map(|s| at(i, s, ch)).sum::<f64>() / t as f64)
                .collect();
            for a in 0..c {
                for b in 0..c {
                    let want = (0..t)
                        .map(|s| (at(i, s, a) - means[a]) * (at(i, s, b) - means[b]))
                        .sum::<f64>()
                        / (t - 1) as f64;
                    let scale = (cov[[a, a]] * cov[[b, b]]).sqrt();
                    assert!(
                        (cov[[a, b]] - want).abs() <= 1e-9 * scale,
                        "trial {i} cov[{a}, {b}]"
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
