use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use crate::params::{keyword_serde, setters, Keyword, Numbers};
use std::sync::Arc;

use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialInput,
};

use super::{copy_channel, PeaksError};

/// The wavelet of `find_peaks_cwt`. Only SciPy's default is supported: a pipeline cannot
/// hold a Python callable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wavelet {
    /// SciPy's `_ricker` (the Mexican hat).
    #[default]
    Ricker,
}

impl Keyword for Wavelet {
    const SPELLINGS: &'static [(&'static str, Self)] = &[("ricker", Wavelet::Ricker)];
    const EXPECTED: &'static str = "'ricker' (custom wavelets are not supported)";
}
keyword_serde!(Wavelet);

/// `max_distances`: one number for every width, or a list with at least one entry per width.
#[derive(Debug, Clone, PartialEq)]
pub enum MaxDistances {
    Every(f64),
    PerWidth(Vec<f64>),
}

impl From<f64> for MaxDistances {
    fn from(v: f64) -> Self {
        MaxDistances::Every(v)
    }
}

impl From<Vec<f64>> for MaxDistances {
    fn from(v: Vec<f64>) -> Self {
        MaxDistances::PerWidth(v)
    }
}

impl<'de> Deserialize<'de> for MaxDistances {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Numbers::deserialize(d)?.0 {
            v if v.len() == 1 => MaxDistances::Every(v[0]),
            v => MaxDistances::PerWidth(v),
        })
    }
}

/// Parameters of `find_peaks_cwt` (SciPy's names): what a pipeline step deserialises into,
/// and the typed builder (`FindPeaksCwtParams::new().widths([1.0, 2.0, 4.0])`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindPeaksCwtParams {
    /// A positive number or a list of them (required).
    pub widths: Option<Numbers>,
    pub wavelet: Option<Wavelet>,
    pub max_distances: Option<MaxDistances>,
    pub gap_thresh: Option<f64>,
    pub min_length: Option<f64>,
    pub min_snr: Option<f64>,
    pub noise_perc: Option<f64>,
    pub window_size: Option<f64>,
}

setters!(FindPeaksCwtParams {
    widths: Numbers,
    wavelet: Wavelet,
    max_distances: MaxDistances,
    gap_thresh: f64,
    min_length: f64,
    min_snr: f64,
    noise_perc: f64,
    window_size: f64,
});

fn not_nan(param: &'static str, v: f64) -> Result<f64, PeaksError> {
    if v.is_nan() {
        Err(PeaksError::NotANumber { param })
    } else {
        Ok(v)
    }
}

impl FindPeaksCwtParams {
    /// Validates the parameters and resolves SciPy's defaults: `gap_thresh = ceil(widths[0])`,
    /// `max_distances = widths / 4`, `min_length = ceil(len(widths) / 4)`. The default
    /// `window_size = ceil(n / 20)` depends on the trial length and is resolved per trial.
    pub fn check(self) -> Result<FindPeaksCwt, PeaksError> {
        let widths = match self.widths {
            Some(Numbers(w)) if !w.is_empty() => w,
            _ => return Err(PeaksError::WidthsMissing),
        };
        if let Some(&w) = widths.iter().find(|w| !(**w > 0.0 && w.is_finite())) {
            return Err(PeaksError::Width(w));
        }
        let max_distances = match self.max_distances {
            None => widths.iter().map(|w| w / 4.0).collect(),
            Some(MaxDistances::Every(d)) => vec![not_nan("max_distances", d)?; widths.len()],
            Some(MaxDistances::PerWidth(d)) => {
                if d.len() < widths.len() {
                    return Err(PeaksError::MaxDistancesLength {
                        got: d.len(),
                        need: widths.len(),
                    });
                }
                d[..widths.len()].to_vec()
            }
        };
        let noise_perc = self.noise_perc.unwrap_or(10.0);
        if !(0.0..=100.0).contains(&noise_perc) {
            return Err(PeaksError::NoisePerc(noise_perc));
        }
        let window_size = match self.window_size {
            None => None,
            Some(w) if w >= 0.0 && w.is_finite() => Some(w.trunc() as usize),
            Some(w) => return Err(PeaksError::WindowSize(w)),
        };
        Ok(FindPeaksCwt {
            gap_thresh: not_nan("gap_thresh", self.gap_thresh.unwrap_or(widths[0].ceil()))?,
            min_length: not_nan(
                "min_length",
                self.min_length
                    .unwrap_or((widths.len() as f64 / 4.0).ceil()),
            )?,
            min_snr: not_nan("min_snr", self.min_snr.unwrap_or(1.0))?,
            noise_perc,
            window_size,
            widths,
            max_distances,
        })
    }
}

/// `scipy.signal.find_peaks_cwt(x, widths, wavelet=None, max_distances, gap_thresh,
/// min_length, min_snr, noise_perc, window_size)` per trial and channel (AnalogData in,
/// SpikeData out, no properties), with SciPy 1.18's private `_cwt`/`_ricker` semantics.
///
/// * The wavelet of width `a` has `N = min(10 a, n)` points; a non-integer `N` gives
///   `ceil(N)` points that are not centred. Rows are `convolve(x, wavelet, mode='same')`,
///   computed directly (SciPy may pick an FFT for long signals; the two agree to rounding).
/// * Ridge lines are followed from the highest row that has a relative maximum down to row 0,
///   with SciPy's quirk that two maxima of one row can join the same line.
/// * A line is kept if it has at least `min_length` points and `|cwt[r0, c0] / noise[c0]| >=
///   min_snr`, where `(r0, c0)` is its lowest-row point (of two in that row, the first
///   attached) and the noise is the `noise_perc` percentile of row 0 around `c0`. Each kept
///   line gives one event at `c0`; two lines ending at one column give two events.
#[derive(Debug, Clone, PartialEq)]
pub struct FindPeaksCwt {
    widths: Vec<f64>,
    /// One per width.
    max_distances: Vec<f64>,
    gap_thresh: f64,
    min_length: f64,
    min_snr: f64,
    noise_perc: f64,
    /// `None`: `ceil(n / 20)` for a trial of `n` samples.
    window_size: Option<usize>,
}

/// Wavelets and buffer sizes for one trial length.
#[derive(Debug)]
/// `find_peaks_cwt` for trials of `samples` samples: the routine's settings and each row's
/// wavelet, which depends on the trial length.
struct CwtKernel {
    routine: FindPeaksCwt,
    samples: usize,
    /// Every row's wavelet, back to back.
    wavelets: Vec<f64>,
    /// `(start, len)` of each row's wavelet in `wavelets`.
    spans: Vec<(usize, usize)>,
    window_size: usize,
    /// Most ridge lines that can be open at once.
    line_capacity: usize,
}

/// Fields of one open ridge line in the index scratch.
const LAST_COL: usize = 0;
const GAP: usize = 1;
const POINTS: usize = 2;
const LOW_ROW: usize = 3;
const LOW_COL: usize = 4;
/// The line's last column when the current row started (SciPy's `prev_ridge_cols`).
const ROW_START_COL: usize = 5;
const LINE_FIELDS: usize = 6;
/// An `owner` entry with no line.
const NO_LINE: usize = usize::MAX;

/// SciPy's private `_ricker(points, a)` with a possibly non-integer `points`.
fn ricker(points: f64, a: f64, out: &mut Vec<f64>) {
    let amplitude = 2.0 / ((3.0 * a).sqrt() * std::f64::consts::PI.powf(0.25));
    let wsq = a * a;
    let centre = (points - 1.0) / 2.0;
    let count = points.ceil() as usize;
    for k in 0..count {
        let v = k as f64 - centre;
        let xsq = v * v;
        let modulation = 1.0 - xsq / wsq;
        let gauss = (-xsq / (2.0 * wsq)).exp();
        out.push(amplitude * modulation * gauss);
    }
}

impl FindPeaksCwt {
    fn rows(&self) -> usize {
        self.widths.len()
    }

    /// Bound on open ridge lines: every open line's last point lies in the last
    /// `floor(gap_thresh) + 1` rows, plus the lines started in the current row; and no more
    /// lines than points. A row of `n` samples has at most `(n - 1) / 2` relative maxima.
    /// A negative `gap_thresh` closes every line at the end of each row, but the lines
    /// started in the first row are still open while the next row starts its own: two rows,
    /// as for 0.
    fn line_capacity(&self, n: usize) -> usize {
        let per_row = n.saturating_sub(1) / 2;
        let rows_alive = if self.gap_thresh.is_finite() {
            (self.gap_thresh.max(0.0).floor() as usize).saturating_add(2)
        } else {
            self.rows()
        };
        rows_alive.min(self.rows()) * per_row
    }

    /// Values: signal + cwt matrix + noise window.
    fn scratch_len(&self, n: usize) -> usize {
        n + self.rows() * n + n
    }

    /// Indices: column owners + open lines.
    fn index_len(n: usize, line_capacity: usize) -> usize {
        n + LINE_FIELDS * line_capacity
    }
}

impl ComputationalRoutine for FindPeaksCwt {
    fn name(&self) -> &str {
        "find_peaks_cwt"
    }

    fn cfg(&self) -> Value {
        serde_json::json!({
            "widths": self.widths,
            "wavelet": "ricker",
            "max_distances": self.max_distances,
            "gap_thresh": self.gap_thresh,
            "min_length": self.min_length,
            "min_snr": self.min_snr,
            "noise_perc": self.noise_perc,
            "window_size": self.window_size,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::events(input.n_trials(), Vec::new()))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let n = task_shape[0];
        let mut wavelets = Vec::new();
        let mut spans = Vec::with_capacity(self.rows());
        for &a in &self.widths {
            let points = (10.0 * a).min(n as f64);
            let start = wavelets.len();
            ricker(points, a, &mut wavelets);
            spans.push((start, wavelets.len() - start));
        }
        let window_size = self
            .window_size
            .unwrap_or_else(|| (n as f64 / 20.0).ceil() as usize);
        Ok(Arc::new(CwtKernel {
            routine: self.clone(),
            samples: n,
            wavelets,
            spans,
            window_size,
            line_capacity: self.line_capacity(n),
        }))
    }
}

impl Kernel for CwtKernel {
    fn state_bytes(&self) -> usize {
        self.wavelets.len() * std::mem::size_of::<f64>()
            + self.spans.len() * std::mem::size_of::<(usize, usize)>()
    }

    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            real: self.routine.scratch_len(self.samples),
            index: FindPeaksCwt::index_len(self.samples, self.line_capacity),
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let (plan, routine) = (self, &self.routine);
        let data = input.samples();
        let n = data.nrows();
        let rows = routine.rows();
        let events = output.events_mut();
        let buf = &mut scratch.real[..routine.scratch_len(n)];
        let (x, rest) = buf.split_at_mut(n);
        let (matrix, window) = rest.split_at_mut(rows * n);
        let indices = &mut scratch.index[..FindPeaksCwt::index_len(n, plan.line_capacity)];
        let (owner, lines) = indices.split_at_mut(n);
        for (c, column) in data.columns().into_iter().enumerate() {
            let channel = (input.channels.start + c) as i64;
            copy_channel(column, x);
            for (r, &(start, len)) in plan.spans.iter().enumerate() {
                let wavelet = &plan.wavelets[start..start + len];
                convolve_same(x, wavelet, &mut matrix[r * n..(r + 1) * n]);
            }
            let filter = LineFilter {
                matrix,
                n,
                min_length: routine.min_length,
                min_snr: routine.min_snr,
                noise_perc: routine.noise_perc,
                window_size: plan.window_size,
            };
            follow_ridges(
                &filter,
                &routine.max_distances,
                routine.gap_thresh,
                owner,
                lines,
                window,
                |col| events.push(col as i64, channel, 0, &[]),
            );
        }
        Ok(())
    }
}

/// `convolve(x, wavelet[::-1], mode='same')` (real wavelet): the full convolution's samples
/// `(m - 1) // 2 ..` so `out[i] = sum_l x[i - m / 2 + l] * wavelet[l]`, zero outside `x`.
///
/// Each `out[i]` adds its terms in ascending `l` (the order of a plain dot product), but the
/// loops run `l` outside and `i` inside, over cache-sized blocks of `i`, so the inner loop
/// is a vectorisable `out += w * x` with the same result bit for bit.
fn convolve_same(x: &[f64], wavelet: &[f64], out: &mut [f64]) {
    const BLOCK: usize = 1024;
    let n = x.len();
    let shift = wavelet.len() / 2;
    out.fill(0.0);
    for b0 in (0..n).step_by(BLOCK) {
        let b1 = (b0 + BLOCK).min(n);
        for (l, &w) in wavelet.iter().enumerate() {
            // i ranges over 0 <= i + l - shift < n, within the block.
            let lo = b0.max(shift.saturating_sub(l));
            let hi = b1.min((n + shift).saturating_sub(l));
            if lo >= hi {
                continue;
            }
            let xs = &x[lo + l - shift..hi + l - shift];
            for (o, &v) in out[lo..hi].iter_mut().zip(xs) {
                *o += v * w;
            }
        }
    }
}

/// `np.greater` relative maximum with mode 'clip': edge columns never qualify.
#[inline]
fn is_relmax(row: &[f64], c: usize) -> bool {
    c > 0 && c + 1 < row.len() && row[c] > row[c - 1] && row[c] > row[c + 1]
}

/// What `_filter_ridge_lines` needs to judge a finished line.
struct LineFilter<'a> {
    matrix: &'a [f64],
    n: usize,
    min_length: f64,
    min_snr: f64,
    noise_perc: f64,
    window_size: usize,
}

impl LineFilter<'_> {
    /// Whether a line of `points` points whose lowest point is `(row, col)` is kept.
    fn accept(&self, points: f64, row: usize, col: usize, window: &mut [f64]) -> bool {
        if points < self.min_length {
            return false;
        }
        let snr = (self.matrix[row * self.n + col] / self.noise(col, window)).abs();
        // SciPy rejects only if `snr < min_snr`, so a NaN ratio keeps the line.
        snr.partial_cmp(&self.min_snr) != Some(Ordering::Less)
    }

    /// `scoreatpercentile(cwt[0, col - hf : col + hf + odd], noise_perc)` with
    /// `hf, odd = divmod(window_size, 2)`, clipped to the row.
    fn noise(&self, col: usize, window: &mut [f64]) -> f64 {
        let half = self.window_size / 2;
        let odd = self.window_size % 2;
        let start = col.saturating_sub(half);
        let end = (col + half + odd).min(self.n);
        if end <= start {
            return f64::NAN;
        }
        let values = &mut window[..end - start];
        values.copy_from_slice(&self.matrix[start..end]);
        score_at_percentile(values, self.noise_perc)
    }
}

/// numpy's sort order: NaN after every number.
fn nan_last(a: &f64, b: &f64) -> Ordering {
    a.partial_cmp(b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// `scipy.stats.scoreatpercentile(values, per)` ('fraction' interpolation); reorders
/// `values`. Only the two order statistics around the percentile are selected, not a sort.
fn score_at_percentile(values: &mut [f64], per: f64) -> f64 {
    let idx = per / 100.0 * (values.len() - 1) as f64;
    let i = idx.trunc();
    let lo = i as usize;
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, nan_last);
    if i == idx {
        return below;
    }
    let next = above
        .iter()
        .copied()
        .min_by(nan_last)
        .expect("a fractional index has a next value");
    let j = i + 1.0;
    let (w0, w1) = (j - idx, idx - i);
    (below * w0 + next * w1) / (w0 + w1)
}

/// `_identify_ridge_lines` followed by `_filter_ridge_lines`: calls `keep(c0)` for every
/// accepted line (in no particular order).
///
/// `owner[c]` maps a column to the first open line (in line order) whose last column was `c`
/// when the row started (SciPy's `prev_ridge_cols`), or [`NO_LINE`]; it lets a maximum find its nearest line
/// by searching outwards at most `max_distances[row]` columns instead of scanning every line.
/// Open lines are kept in creation order, as SciPy's list, because ties in distance go to
/// the earliest line.
fn follow_ridges(
    filter: &LineFilter<'_>,
    max_distances: &[f64],
    gap_thresh: f64,
    owner: &mut [usize],
    lines: &mut [usize],
    window: &mut [f64],
    mut keep: impl FnMut(usize),
) {
    let n = filter.n;
    let row = |r: usize| &filter.matrix[r * n..(r + 1) * n];
    let rows = filter.matrix.len() / n.max(1);
    let Some(start_row) = (0..rows)
        .rev()
        .find(|&r| (0..n).any(|c| is_relmax(row(r), c)))
    else {
        return;
    };
    owner.fill(NO_LINE);
    let mut open = 0;
    for c in (0..n).filter(|&c| is_relmax(row(start_row), c)) {
        start_line(lines, &mut open, start_row, c);
    }
    for r in (0..start_row).rev() {
        let this = row(r);
        for l in lines[..open * LINE_FIELDS].chunks_exact_mut(LINE_FIELDS) {
            l[GAP] += 1;
        }
        let before = open;
        for i in (0..before).rev() {
            // Reverse order, so the earliest line wins a shared column.
            let l = &mut lines[i * LINE_FIELDS..(i + 1) * LINE_FIELDS];
            l[ROW_START_COL] = l[LAST_COL];
            owner[l[LAST_COL]] = i;
        }
        let reach = max_distances[r];
        for c in (0..n).filter(|&c| is_relmax(this, c)) {
            match nearest_line(owner, c, reach) {
                Some(i) => {
                    let l = &mut lines[i * LINE_FIELDS..(i + 1) * LINE_FIELDS];
                    l[LAST_COL] = c;
                    l[GAP] = 0;
                    l[POINTS] += 1;
                    // Rows only go down; of two points in one row the first attached stays.
                    if r < l[LOW_ROW] {
                        l[LOW_ROW] = r;
                        l[LOW_COL] = c;
                    }
                }
                None => start_line(lines, &mut open, r, c),
            }
        }
        for i in 0..before {
            owner[lines[i * LINE_FIELDS + ROW_START_COL]] = NO_LINE;
        }
        // Close lines whose gap exceeds the threshold, keeping the others in order.
        let mut kept = 0;
        for i in 0..open {
            let base = i * LINE_FIELDS;
            // Gaps count rows, far below 2^53: exact as f64.
            if lines[base + GAP] as f64 > gap_thresh {
                finish(filter, &lines[base..base + LINE_FIELDS], window, &mut keep);
            } else {
                lines.copy_within(base..base + LINE_FIELDS, kept * LINE_FIELDS);
                kept += 1;
            }
        }
        open = kept;
    }
    for i in 0..open {
        let base = i * LINE_FIELDS;
        finish(filter, &lines[base..base + LINE_FIELDS], window, &mut keep);
    }
}

fn start_line(lines: &mut [usize], open: &mut usize, row: usize, col: usize) {
    let l = &mut lines[*open * LINE_FIELDS..(*open + 1) * LINE_FIELDS];
    l[LAST_COL] = col;
    l[GAP] = 0;
    l[POINTS] = 1;
    l[LOW_ROW] = row;
    l[LOW_COL] = col;
    *open += 1;
}

fn finish(
    filter: &LineFilter<'_>,
    line: &[usize],
    window: &mut [f64],
    keep: &mut impl FnMut(usize),
) {
    let (row, col) = (line[LOW_ROW], line[LOW_COL]);
    if filter.accept(line[POINTS] as f64, row, col, window) {
        keep(col);
    }
}

/// The line SciPy's `argmin(|c - prev_ridge_cols|)` picks if its distance is within
/// `reach`: the nearest snapshot column, the earliest line on a tie.
fn nearest_line(owner: &[usize], c: usize, reach: f64) -> Option<usize> {
    if reach.is_nan() || reach < 0.0 {
        return None;
    }
    let n = owner.len();
    let reach = if reach >= n as f64 { n } else { reach as usize };
    for d in 0..=reach {
        let left = if d <= c { owner[c - d] } else { NO_LINE };
        let right = if c + d < n { owner[c + d] } else { NO_LINE };
        // NO_LINE is the largest index, so the smaller of the two is the earliest line.
        let best = left.min(right);
        if best != NO_LINE {
            return Some(best);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ricker_matches_scipy_values() {
        // scipy.signal._wavelets._ricker(10, 1.0)[4:6] and _ricker(5.5, 0.55)
        let mut w = Vec::new();
        ricker(10.0, 1.0, &mut w);
        assert_eq!(w.len(), 10);
        assert_eq!(w[4], w[5]);
        let mut w = Vec::new();
        ricker(5.5, 0.55, &mut w);
        assert_eq!(w.len(), 6, "ceil(N) points");
        assert_ne!(w[0], w[5], "a non-integer N is not centred");
    }

    #[test]
    fn blocked_convolution_equals_the_plain_dot_product_bitwise() {
        let x: Vec<f64> = (0..2500)
            .map(|i| ((i * 7919) % 1000) as f64 / 37.0 - 13.0)
            .collect();
        for m in [1usize, 2, 9, 10, 301, 2500] {
            let w: Vec<f64> = (0..m).map(|l| (l as f64 * 0.37).sin()).collect();
            let mut out = vec![f64::NAN; x.len()];
            convolve_same(&x, &w, &mut out);
            let shift = m / 2;
            for (i, &o) in out.iter().enumerate() {
                let mut acc = 0.0;
                for (l, &wl) in w.iter().enumerate() {
                    if let Some(&v) = (i + l).checked_sub(shift).and_then(|k| x.get(k)) {
                        acc += v * wl;
                    }
                }
                assert_eq!(o.to_bits(), acc.to_bits(), "m {m}, i {i}");
            }
        }
    }

    #[test]
    fn percentile_interpolates_like_scipy() {
        let mut v = [4.0, 1.0, 3.0, 2.0];
        // idx = 0.1 * 3 = 0.30000000000000004, between the sorted values 1 and 2.
        let idx: f64 = 10.0 / 100.0 * 3.0;
        let (w0, w1) = (1.0 - idx, idx - 0.0);
        let expected = (1.0 * w0 + 2.0 * w1) / (w0 + w1);
        assert_eq!(score_at_percentile(&mut v, 10.0), expected);
        let mut v = [f64::NAN, 1.0, 3.0];
        assert_eq!(score_at_percentile(&mut v, 50.0), 3.0);
        assert!(score_at_percentile(&mut v, 100.0).is_nan());
    }

    #[test]
    fn nearest_line_prefers_the_earliest_on_ties() {
        let mut owner = vec![NO_LINE; 10];
        owner[3] = 4;
        owner[7] = 2;
        assert_eq!(nearest_line(&owner, 5, 2.0), Some(2));
        assert_eq!(nearest_line(&owner, 5, 1.9), None);
        assert_eq!(nearest_line(&owner, 4, 5.0), Some(4));
        assert_eq!(nearest_line(&owner, 4, f64::NAN), None);
    }
}
