//! The numbers of Syncopy 2023.9's `spike_psth` (`statistics/spike_psth.py` and the backend
//! `statistics/psth.py`) as pure functions: the bin edges (`binsize` as seconds or Syncopy's
//! `rice` / `sqrt` rules), one trial's histogram per channel-unit combination (NaN where the
//! trial does not reach, normalised as `output` says), and the result's time axis. The
//! trial average and variance are `timelock`'s finish (`timelock_kernel.rs`).
//!
//! The `psth` routine (`spike_psth.rs`) runs these on each trial's events; they are also
//! tested against Syncopy directly (`tests/psth_numerics.rs`, `fixtures/reference/make_psth.py`).
//!
//! One difference from Syncopy, on purpose: Syncopy's backend bins a trial's channel
//! *numbers* on the edges `0..K` (K the number of distinct channels in that trial) and then
//! maps histogram column `j` to the `j`-th distinct channel, which is only right when the
//! trial's channels are exactly `0..K-1`; otherwise spikes of higher channels are dropped
//! or counted on the wrong channel. Here each spike counts for its own (channel, unit)
//! column. The fixtures use trials in which every channel fires, where both agree.

use super::StatisticsError;

/// What `binsize` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinSize {
    /// Bin width in seconds.
    Seconds(f64),
    /// `int(2 * n^(1/3))` edges for `n` the average trial length in samples.
    Rice,
    /// `ceil(sqrt(n))` edges.
    Sqrt,
}

/// What one trial's histogram holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsthOutput {
    /// Spikes per second (counts divided by the first bin's width).
    Rate,
    /// Spikes per bin.
    SpikeCount,
    /// Each column's counts divided by their (NaN-skipping) sum, 0 sums left as they are.
    Proportion,
}

impl PsthOutput {
    pub fn parse(text: &str) -> Option<PsthOutput> {
        match text {
            "rate" => Some(PsthOutput::Rate),
            "spikecount" => Some(PsthOutput::SpikeCount),
            "proportion" => Some(PsthOutput::Proportion),
            _ => None,
        }
    }
}

const NAME: &str = "psth";

/// The bin edges over the analysis window, as Syncopy's `spike_psth`: with a rule,
/// `np.linspace(lo, hi, n)` with `n` the rule's count of the average trial length in
/// samples (so `n - 1` bins); with a width `b` (`0 < b <= hi - lo`), `np.arange(lo, hi + b,
/// b)`, whose last edge may pass `hi`.
pub fn bin_edges(
    binsize: BinSize,
    (lo, hi): (f64, f64),
    average_trial_samples: f64,
) -> Result<Vec<f64>, StatisticsError> {
    let edges: Vec<f64> = match binsize {
        BinSize::Seconds(b) => {
            if !(b > 0.0 && b <= hi - lo) {
                return Err(StatisticsError::BadBinsize {
                    routine: NAME,
                    binsize: b,
                    span: hi - lo,
                });
            }
            // NumPy's arange: ceil((stop - start) / step) values; the second is start + step,
            // the others start + i * delta with delta the difference of the first two.
            let n = ((hi + b - lo) / b).ceil() as usize;
            let delta = (lo + b) - lo;
            (0..n)
                .map(|i| match i {
                    0 => lo,
                    1 => lo + b,
                    _ => lo + i as f64 * delta,
                })
                .collect()
        }
        BinSize::Rice | BinSize::Sqrt => {
            let n = match binsize {
                BinSize::Rice => (2.0 * average_trial_samples.powf(1.0 / 3.0)) as usize,
                _ => average_trial_samples.sqrt().ceil() as usize,
            };
            linspace(lo, hi, n)
        }
    };
    if edges.len() < 2 {
        return Err(StatisticsError::TooFewBins {
            routine: NAME,
            edges: edges.len(),
        });
    }
    Ok(edges)
}

/// NumPy's `linspace(lo, hi, n)` (endpoint included): `lo + i * step` with the last value
/// exactly `hi`.
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => {
            let step = (hi - lo) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| lo + i as f64 * step).collect();
            v[n - 1] = hi;
            v
        }
    }
}

/// The bin of `t` under NumPy's histogram rule: `[e_i, e_{i+1})`, the last bin closed;
/// `None` outside.
fn bin_of(edges: &[f64], t: f64) -> Option<usize> {
    let last = *edges.last()?;
    if !(t >= edges[0] && t <= last) {
        return None;
    }
    if t == last {
        return Some(edges.len() - 2);
    }
    // The first edge greater than t, minus one.
    Some(edges.partition_point(|&e| e <= t) - 1)
}

/// One trial, as Syncopy's trial definition row gives it: `start` and `stop` (samples of the
/// recording, stop exclusive) and `offset` (the sample of t = 0 relative to start).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialSpan {
    pub start: f64,
    pub stop: f64,
    pub offset: f64,
}

/// One trial's PSTH into `out` (bins x combinations, row-major): spikes as (sample in the
/// trial's sample space, column: the index of their (channel, unit) among all
/// combinations), binned by time relative to the trigger, NaN in the bins
/// before the first edge at or after the trial's start and from the first edge after its
/// end on (Syncopy's masking), then normalised as `output` says.
pub fn trial_histogram(
    events: impl IntoIterator<Item = (i64, usize)>,
    trial: TrialSpan,
    edges: &[f64],
    output: PsthOutput,
    samplerate: f64,
    out: &mut [f64],
) {
    let bins = edges.len() - 1;
    let columns = out.len() / bins;
    out.fill(0.0);
    for (s, c) in events {
        let t = (s as f64 - trial.start + trial.offset) / samplerate;
        if let Some(b) = bin_of(edges, t) {
            out[b * columns + c] += 1.0;
        }
    }
    let start = trial.offset / samplerate;
    let end = (trial.stop - trial.start + trial.offset) / samplerate;
    let first_in = edges.iter().position(|&e| e >= start).unwrap_or(bins);
    let after = if edges.iter().all(|&e| e > end) {
        Some(0)
    } else {
        edges.iter().position(|&e| e > end)
    };
    let masked_before = if edges.iter().all(|&e| e > end) {
        bins
    } else {
        first_in
    };
    for b in 0..masked_before.min(bins) {
        out[b * columns..(b + 1) * columns].fill(f64::NAN);
    }
    if let Some(a) = after.filter(|&a| a != 0) {
        for b in a.min(bins)..bins {
            out[b * columns..(b + 1) * columns].fill(f64::NAN);
        }
    }
    match output {
        PsthOutput::SpikeCount => {}
        PsthOutput::Rate => {
            let scale = 1.0 / (edges[1] - edges[0]);
            out.iter_mut().for_each(|v| *v *= scale);
        }
        PsthOutput::Proportion => {
            for c in 0..columns {
                let norm: f64 = (0..bins)
                    .map(|b| out[b * columns + c])
                    .filter(|v| !v.is_nan())
                    .sum();
                let norm = if norm == 0.0 { 1.0 } else { norm };
                for b in 0..bins {
                    out[b * columns + c] /= norm;
                }
            }
        }
    }
}

/// Syncopy's PSTH time axis: the samplerate `1 / mean(diff(bin midpoints))` and the offset
/// `rint(first midpoint * samplerate)` of its trial definition.
pub fn time_axis(edges: &[f64]) -> (f64, f64) {
    let mids: Vec<f64> = edges.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let rate = if mids.len() > 1 {
        let steps: Vec<f64> = mids.windows(2).map(|w| w[1] - w[0]).collect();
        // NumPy's mean sums pairwise; the offset is a rint that can sit on a .5, so the
        // summation order decides it.
        1.0 / (numpy_sum(&steps) / steps.len() as f64)
    } else {
        1.0 / (edges[1] - edges[0])
    };
    (rate, (mids[0] * rate).round_ties_even())
}

/// NumPy's `add.reduce` of a contiguous float64 array (`pairwise_sum`): sequential below 8
/// values, eight interleaved partial sums up to 128, halves above.
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(-0.0, |s, &v| s + v);
    }
    if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            res += v;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    numpy_sum(&a[..half]) + numpy_sum(&a[half..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_numpy_arange_and_linspace() {
        assert_eq!(
            bin_edges(BinSize::Seconds(0.25), (0.0, 1.0), 0.0).unwrap(),
            [0.0, 0.25, 0.5, 0.75, 1.0]
        );
        // int(2 * 1000^(1/3)) = 19 edges (18 bins); ceil(sqrt(1000)) = 32.
        assert_eq!(
            bin_edges(BinSize::Rice, (-0.5, 1.0), 1000.0).unwrap().len(),
            19
        );
        assert_eq!(
            bin_edges(BinSize::Sqrt, (-0.5, 1.0), 1000.0).unwrap().len(),
            32
        );
        let text = bin_edges(BinSize::Seconds(2.0), (0.0, 1.0), 0.0)
            .unwrap_err()
            .to_string();
        assert!(text.contains("binsize 2"), "{text}");
    }

    #[test]
    fn a_hand_counted_trial() {
        // 10 Hz; trial of samples 100..120 with t = 0 at its 5th sample: -0.5 s to 1.4 s.
        let trial = TrialSpan {
            start: 100.0,
            stop: 120.0,
            offset: -5.0,
        };
        let edges = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0];
        // Spikes at t = -0.5, 0.0, 0.1, 0.5 (column 0) and 0.2, 1.4 (column 1).
        let samples = [100, 105, 106, 110, 107, 119];
        let combination = [0, 0, 0, 0, 1, 1];
        let mut out = vec![0.0; 12];
        trial_histogram(
            samples.iter().copied().zip(combination),
            trial,
            &edges,
            PsthOutput::SpikeCount,
            10.0,
            &mut out,
        );
        let n = f64::NAN;
        // Bin 0 ends before the trial starts (NaN); the trial ends at 1.5 s, the last edge
        // after it is 2.0, so no bin is cut at the end.
        let want = [n, n, 1.0, 0.0, 2.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        for (i, (g, w)) in out.iter().zip(want).enumerate() {
            assert!((g.is_nan() && w.is_nan()) || g == &w, "{i}: {g} vs {w}");
        }
        trial_histogram(
            samples.iter().copied().zip(combination),
            trial,
            &edges,
            PsthOutput::Rate,
            10.0,
            &mut out,
        );
        assert_eq!(out[4], 4.0);
        trial_histogram(
            samples.iter().copied().zip(combination),
            trial,
            &edges,
            PsthOutput::Proportion,
            10.0,
            &mut out,
        );
        assert_eq!((out[4], out[5]), (0.5, 0.5));
    }
}
