//! Per-trial statistics over one axis of AnalogData (`dim: time` or `dim: channel`) or over
//! time of SpectralData and CrossSpectralData, as
//! Syncopy 2023.9's `NumpyStatDim`: NumPy's `nanmean`, `nanvar`, `nanstd` (ddof 0) and
//! `nanmedian` with `keepdims=True`, so NaN values are left out and an all-NaN line is NaN.

use ndarray::{ArrayView1, ArrayViewMut1, Axis};
use trialflow_core::{Kernel, OutputBlock, RoutineError, Scratch, ScratchSize, TrialInput};

use super::Statistic;

/// The two axes of AnalogData a per-trial statistic can reduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataAxis {
    Time,
    Channel,
}

impl DataAxis {
    pub fn index(self) -> usize {
        match self {
            DataAxis::Time => 0,
            DataAxis::Channel => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DataAxis::Time => "time",
            DataAxis::Channel => "channel",
        }
    }
}

/// Reduces each line of a trial along `axis` to one value.
pub struct AxisKernel {
    pub statistic: Statistic,
    pub axis: DataAxis,
    /// The longest line: what the median sorts in scratch.
    pub line: usize,
}

impl Kernel for AxisKernel {
    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            real: if self.statistic == Statistic::Median {
                self.line
            } else {
                0
            },
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        // AnalogData is (time, channel); the N-d kinds (SpectralData, CrossSpectralData) are
        // reduced over time only, as (time, every other axis flattened): the engine hands N-d
        // input over contiguous, and output blocks are always contiguous.
        let x = if input.data.ndim() == 2 {
            input.samples()
        } else {
            let rows = input.data.shape()[0].max(1);
            input
                .data
                .view()
                .into_shape_with_order((rows, input.data.len() / rows))
                .expect("N-d input arrives contiguous")
        };
        let mut out = if output.dense_mut().ndim() == 2 {
            output.samples_mut()
        } else {
            let block = output.dense_mut();
            let n = block.len();
            block
                .into_shape_with_order((1, n))
                .expect("output blocks are contiguous")
        };
        let axis = Axis(self.axis.index());
        // The other axis indexes the lines; each line gives one value.
        let other = Axis(1 - self.axis.index());
        let mut out = out.index_axis_mut(axis, 0);
        for (line, o) in x.axis_iter(other).zip(out.iter_mut()) {
            *o = self.reduce(line, &mut scratch.real);
        }
        Ok(())
    }
}

impl AxisKernel {
    fn reduce(&self, line: ArrayView1<'_, f64>, sort: &mut [f64]) -> f64 {
        match self.statistic {
            Statistic::Mean => nan_mean(line),
            Statistic::Var => nan_var(line),
            Statistic::Std => nan_var(line).sqrt(),
            Statistic::Median => nan_median(line, ArrayViewMut1::from(&mut sort[..line.len()])),
        }
    }
}

/// `np.nanmean`: the mean of the values that are not NaN; NaN when there are none.
pub fn nan_mean(line: ArrayView1<'_, f64>) -> f64 {
    let (sum, count) = line
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), &v| (s + v, n + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// `np.nanvar(ddof=0)`: two passes over the values that are not NaN, as NumPy.
pub fn nan_var(line: ArrayView1<'_, f64>) -> f64 {
    let mean = nan_mean(line);
    if mean.is_nan() {
        return f64::NAN;
    }
    let (sum, count) = line
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), &v| {
            (s + (v - mean) * (v - mean), n + 1)
        });
    sum / count as f64
}

/// `np.nanmedian`: the middle of the sorted values that are not NaN (the mean of the two
/// middle ones for an even count); NaN when there are none. `sort` is scratch of the line's
/// length.
pub fn nan_median(line: ArrayView1<'_, f64>, mut sort: ArrayViewMut1<'_, f64>) -> f64 {
    let mut n = 0;
    for &v in line.iter().filter(|v| !v.is_nan()) {
        sort[n] = v;
        n += 1;
    }
    if n == 0 {
        return f64::NAN;
    }
    let values = &mut sort.as_slice_mut().expect("scratch is contiguous")[..n];
    let mid = n / 2;
    let (_, &mut upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    // The lower middle is the largest value left of `mid` after the selection.
    let lower = values[..mid]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    // NumPy averages the two middle values with `np.mean`: their sum over 2.
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array1};

    fn median(values: &[f64]) -> f64 {
        let mut sort = Array1::zeros(values.len());
        nan_median(arr1(values).view(), sort.view_mut())
    }

    #[test]
    fn the_nan_statistics_leave_nan_out_as_numpy() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 4.0, 1.0, 3.0]), 3.0);
        assert!(median(&[f64::NAN, f64::NAN]).is_nan());
        assert_eq!(median(&[5.0]), 5.0);
        assert!(median(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        let line = arr1(&[1.0, f64::NAN, 3.0]);
        assert_eq!(nan_mean(line.view()), 2.0);
        assert_eq!(nan_var(line.view()), 1.0);
        assert!(nan_mean(arr1(&[f64::NAN]).view()).is_nan());
        assert!(nan_var(arr1(&[f64::NAN]).view()).is_nan());
    }
}
