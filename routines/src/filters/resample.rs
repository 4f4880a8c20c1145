//! Syncopy's `resampledata`: `downsample` (every k-th sample, optionally after a zero-phase
//! FIR low-pass) and `resample` (`scipy.signal.resample_poly` with Syncopy's windowed-sinc
//! anti-alias kernel). Both change the samplerate and the trial lengths; the trial
//! definition follows Syncopy's `_resampling_trl_definition`.

use std::sync::Arc;

use serde::Deserialize;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TrialDefinition, TrialInput,
};

use super::fir::{design_wsinc, FirConvolver, FirWindow};
use super::firws::default_fir_order;
use super::{load_rows, FilterError, FilterType};
use crate::params::setters;

/// The highest anti-alias filter order accepted.
pub const MAX_AA_ORDER: i64 = 100_000;

fn check_order(order: Option<i64>) -> Result<Option<usize>, FilterError> {
    match order {
        None => Ok(None),
        Some(o) if (1..=MAX_AA_ORDER).contains(&o) => Ok(Some(o as usize)),
        Some(o) => Err(FilterError::range(
            "order",
            format!("an integer from 1 to {MAX_AA_ORDER}"),
            o,
        )),
    }
}

fn check_lpfreq(lpfreq: Option<f64>) -> Result<Option<f64>, FilterError> {
    match lpfreq {
        Some(f) if !(f.is_finite() && f > 0.0) => {
            Err(FilterError::range("lpfreq", "a finite frequency > 0 Hz", f))
        }
        other => Ok(other),
    }
}

/// The new lengths and Syncopy's offsets: `ceil(offset * factor)` with
/// `factor = new / old`; trials are stacked back to back with their actual new lengths.
fn resampled_trialdefinition(
    input: &TrialDefinition,
    lengths: &[usize],
    factor: f64,
) -> TrialDefinition {
    let mut start = 0;
    let mut trials = Vec::with_capacity(lengths.len());
    let mut info = Vec::with_capacity(lengths.len());
    for (t, &len) in lengths.iter().enumerate() {
        trials.push((start, start + len, (input.offset(t) * factor).ceil()));
        info.push(input.trialinfo(t).to_vec());
        start += len;
    }
    TrialDefinition::from_trials(&trials, &info)
}

fn resampled_schema(input: &DataSchema, output: &OutputShape, new_samplerate: f64) -> DataSchema {
    let mut schema = input.clone();
    schema.trial_shapes = output.trial_shapes.clone();
    let lengths: Vec<usize> = output.trial_shapes.iter().map(|s| s[0]).collect();
    schema.trialdefinition = resampled_trialdefinition(
        &input.trialdefinition,
        &lengths,
        new_samplerate / input.samplerate,
    );
    schema.samplerate = new_samplerate;
    schema
}

/// Unchecked parameters of `downsample`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownsampleParams {
    pub resamplefs: Option<f64>,
    pub factor: Option<i64>,
    pub lpfreq: Option<f64>,
    pub order: Option<i64>,
}

setters!(DownsampleParams {
    resamplefs: f64,
    factor: i64,
    lpfreq: f64,
    order: i64,
});

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rate {
    NewSamplerate(f64),
    Factor(usize),
}

impl DownsampleParams {
    pub fn check(self) -> Result<Downsample, FilterError> {
        let rate = match (self.resamplefs, self.factor) {
            (Some(_), Some(_)) => {
                return Err(FilterError::Other(
                    "give either resamplefs (the new samplerate in Hz) or factor (keep every factor-th sample), not both".into(),
                ))
            }
            (None, None) => {
                return Err(FilterError::Other(
                    "parameter `resamplefs` (the new samplerate in Hz) or `factor` (keep every factor-th sample) is required".into(),
                ))
            }
            (Some(fs), None) => {
                if !(fs.is_finite() && fs >= 1.0) {
                    return Err(FilterError::range("resamplefs", "a finite samplerate >= 1 Hz", fs));
                }
                Rate::NewSamplerate(fs)
            }
            (None, Some(k)) => {
                if k < 1 {
                    return Err(FilterError::range("factor", "an integer >= 1", k));
                }
                Rate::Factor(k as usize)
            }
        };
        Ok(Downsample {
            rate,
            lpfreq: check_lpfreq(self.lpfreq)?,
            order: check_order(self.order)?,
        })
    }
}

/// Syncopy's `resampledata(method='downsample')`: `x[::k]` with `k = samplerate //
/// resamplefs`, after a `firws` low-pass (hamming, twopass) at `lpfreq` when one is given.
#[derive(Debug, Clone)]
pub struct Downsample {
    rate: Rate,
    lpfreq: Option<f64>,
    order: Option<usize>,
}

/// Every `step`-th sample, after the zero-phase low-pass (for trials of one length) if any.
struct DownsampleKernel {
    step: usize,
    filter: Option<FirConvolver>,
}

impl Downsample {
    /// The new samplerate and the step, refusing a samplerate that is not an integer division.
    fn step(&self, samplerate: f64) -> Result<(f64, usize), FilterError> {
        match self.rate {
            Rate::Factor(k) => Ok((samplerate / k as f64, k)),
            Rate::NewSamplerate(fs) => {
                if fs > samplerate {
                    return Err(FilterError::range(
                        "resamplefs",
                        format!("at most the input samplerate, {samplerate} Hz"),
                        fs,
                    ));
                }
                if samplerate % fs != 0.0 {
                    return Err(FilterError::range(
                        "resamplefs",
                        format!("an integer division of the input samplerate {samplerate} Hz (as Syncopy's method='downsample'; use the resample routine otherwise)"),
                        fs,
                    ));
                }
                Ok((fs, (samplerate / fs).floor() as usize))
            }
        }
    }

    fn kernel(&self, input: &DataSchema, lpfreq: f64) -> Arc<Vec<f64>> {
        let order = self.order.unwrap_or_else(|| default_fir_order(input));
        Arc::new(design_wsinc(
            FirWindow::Hamming,
            order,
            &[lpfreq / input.samplerate],
            FilterType::Lowpass,
        ))
    }
}

impl ComputationalRoutine for Downsample {
    fn name(&self) -> &str {
        "downsample"
    }

    fn cfg(&self) -> serde_json::Value {
        let (resamplefs, factor) = match self.rate {
            Rate::NewSamplerate(fs) => (Some(fs), None),
            Rate::Factor(k) => (None, Some(k)),
        };
        serde_json::json!({
            "resamplefs": resamplefs,
            "factor": factor,
            "lpfreq": self.lpfreq,
            "order": self.order,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let (new_fs, step) = self.step(input.samplerate)?;
        if let Some(f) = self.lpfreq {
            if f > new_fs / 2.0 {
                return Err(FilterError::range(
                    "lpfreq",
                    format!("at most the new Nyquist frequency, {} Hz", new_fs / 2.0),
                    f,
                )
                .into());
            }
            if let Some(trial) = input.trial_shapes.iter().position(|s| s[0] == 0) {
                return Err(FilterError::EmptyTrial {
                    trial,
                    routine: "downsample with lpfreq",
                }
                .into());
            }
        }
        let shapes = input
            .trial_shapes
            .iter()
            .map(|s| vec![s[0].div_ceil(step), s[1]])
            .collect();
        Ok(OutputShape::dense(input.kind, shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let (new_fs, _) = self.step(input.samplerate)?;
        Ok(resampled_schema(input, output, new_fs))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let (_, step) = self.step(input.samplerate)?;
        let n = task_shape[0];
        let filter = self
            .lpfreq
            .map(|f| FirConvolver::new(self.kernel(input, f), n, planner));
        Ok(Arc::new(DownsampleKernel { step, filter }))
    }
}

impl Kernel for DownsampleKernel {
    fn state_bytes(&self) -> usize {
        self.filter.as_ref().map_or(0, FirConvolver::state_bytes)
    }

    fn scratch_size(&self) -> ScratchSize {
        match &self.filter {
            Some(conv) => {
                let (real, complex) = conv.scratch_len();
                ScratchSize {
                    real: real + conv.samples(),
                    complex,
                    ..ScratchSize::default()
                }
            }
            None => ScratchSize::default(),
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let plan = self;
        let x = input.samples();
        let (n, ch) = x.dim();
        let mut out = output.samples_mut();
        let step = plan.step;
        match &plan.filter {
            None => {
                for (i, mut row) in out.rows_mut().into_iter().enumerate() {
                    row.assign(&x.row(i * step));
                }
            }
            Some(conv) => {
                let (real, complex) = conv.scratch_len();
                scratch.reserve(ScratchSize {
                    real: real + n,
                    complex,
                    ..ScratchSize::default()
                });
                let (column, real) = scratch.real.split_at_mut(n);
                for c in 0..ch {
                    column
                        .iter_mut()
                        .zip(x.column(c))
                        .for_each(|(d, &v)| *d = v);
                    conv.apply(column, real, &mut scratch.complex);
                    conv.apply(column, real, &mut scratch.complex);
                    out.column_mut(c)
                        .iter_mut()
                        .zip(column.iter().step_by(step))
                        .for_each(|(d, &v)| *d = v);
                }
            }
        }
        Ok(())
    }
}

/// Unchecked parameters of `resample`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResampleParams {
    pub resamplefs: Option<f64>,
    pub lpfreq: Option<f64>,
    pub order: Option<i64>,
}

setters!(ResampleParams {
    resamplefs: f64,
    lpfreq: f64,
    order: i64,
});

impl ResampleParams {
    pub fn check(self) -> Result<Resample, FilterError> {
        let resamplefs = self.resamplefs.ok_or(FilterError::Missing("resamplefs"))?;
        if !(resamplefs.is_finite() && resamplefs >= 1.0) {
            return Err(FilterError::range(
                "resamplefs",
                "a finite samplerate >= 1 Hz",
                resamplefs,
            ));
        }
        Ok(Resample {
            resamplefs,
            lpfreq: check_lpfreq(self.lpfreq)?,
            order: check_order(self.order)?,
        })
    }
}

/// Syncopy's `resampledata(method='resample')`: `scipy.signal.resample_poly(x, up, down,
/// window=h)` with `up / down` the rational approximation of `resamplefs / samplerate`
/// (`Fraction.limit_denominator()`) and `h` Syncopy's hamming windowed sinc at the new
/// Nyquist frequency (or `lpfreq`), designed for the upsampled rate.
#[derive(Debug, Clone)]
pub struct Resample {
    resamplefs: f64,
    lpfreq: Option<f64>,
    order: Option<usize>,
}

/// The polyphase filter for one trial length, as `resample_poly` pads it.
/// `resample_poly`'s polyphase sum for trials of one length and channel count.
struct ResampleKernel {
    channels: usize,
    samples: usize,
    up: usize,
    down: usize,
    /// `up * h`, with `resample_poly`'s zero padding before and after.
    taps: Vec<f64>,
    /// Output samples of the full `upfirdn` result dropped at the start.
    pre_remove: usize,
}

impl Resample {
    fn check_rate(&self, samplerate: f64) -> Result<(usize, usize), FilterError> {
        if self.resamplefs > samplerate {
            return Err(FilterError::range(
                "resamplefs",
                format!("at most the input samplerate, {samplerate} Hz"),
                self.resamplefs,
            ));
        }
        if let Some(f) = self.lpfreq {
            if f > self.resamplefs / 2.0 {
                return Err(FilterError::range(
                    "lpfreq",
                    format!(
                        "at most the new Nyquist frequency, {} Hz",
                        self.resamplefs / 2.0
                    ),
                    f,
                ));
            }
        }
        let (up, down) =
            limit_denominator(self.resamplefs / samplerate, 1_000_000).ok_or_else(|| {
                FilterError::range(
                    "resamplefs",
                    format!("a rate whose ratio to {samplerate} Hz is representable"),
                    self.resamplefs,
                )
            })?;
        Ok((up as usize, down as usize))
    }

    /// Output length of `resample_poly`: `ceil(n up / down)`.
    fn out_len(n: usize, up: usize, down: usize) -> usize {
        (n * up).div_ceil(down)
    }

    fn kernel(&self, input: &DataSchema, up: usize) -> Vec<f64> {
        let order = self.order.unwrap_or_else(|| default_fir_order(input));
        let f_c = match self.lpfreq {
            Some(f) => f / input.samplerate,
            None => 0.5 * (self.resamplefs / input.samplerate),
        };
        design_wsinc(
            FirWindow::Hamming,
            order,
            &[f_c / up as f64],
            FilterType::Lowpass,
        )
    }
}

/// `upfirdn`'s full output length.
fn upfirdn_len(h_len: usize, n_in: usize, up: usize, down: usize) -> usize {
    ((n_in - 1) * up + h_len - 1) / down + 1
}

/// Python's `Fraction.from_float(x).limit_denominator(max_den)` for `0 < x <= 1`.
pub fn limit_denominator(x: f64, max_den: u128) -> Option<(u128, u128)> {
    if !(x > 0.0 && x.is_finite()) {
        return None;
    }
    // x = mantissa * 2^exp exactly.
    let bits = x.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut mant, mut exp) = if exp_bits == 0 {
        (frac as u128, -1074)
    } else {
        ((frac | (1u64 << 52)) as u128, exp_bits - 1075)
    };
    while mant % 2 == 0 && exp < 0 {
        mant /= 2;
        exp += 1;
    }
    let (num, den) = if exp >= 0 {
        (mant.checked_shl(exp as u32)?, 1u128)
    } else if -exp < 127 {
        (mant, 1u128 << (-exp))
    } else {
        return None;
    };
    if den <= max_den {
        return Some((num, den));
    }
    let (mut p0, mut q0, mut p1, mut q1) = (0u128, 1u128, 1u128, 0u128);
    let (mut n, mut d) = (num, den);
    loop {
        let a = n / d;
        let q2 = q0 + a * q1;
        if q2 > max_den {
            break;
        }
        let p2 = p0 + a * p1;
        p0 = p1;
        q0 = q1;
        p1 = p2;
        q1 = q2;
        let r = n - a * d;
        n = d;
        d = r;
    }
    let k = (max_den - q0) / q1;
    // Python 3.12: the bound p1/q1 wins when 2 d (q0 + k q1) <= den.
    let (p, q) = if 2 * d * (q0 + k * q1) <= den {
        (p1, q1)
    } else {
        (p0 + k * p1, q0 + k * q1)
    };
    let g = gcd(p, q);
    Some((p / g, q / g))
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl ComputationalRoutine for Resample {
    fn name(&self) -> &str {
        "resample"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "resamplefs": self.resamplefs,
            "lpfreq": self.lpfreq,
            "order": self.order,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let (up, down) = self.check_rate(input.samplerate)?;
        if let Some(trial) = input.trial_shapes.iter().position(|s| s[0] == 0) {
            return Err(FilterError::EmptyTrial {
                trial,
                routine: "resample",
            }
            .into());
        }
        let shapes = input
            .trial_shapes
            .iter()
            .map(|s| vec![Self::out_len(s[0], up, down), s[1]])
            .collect();
        Ok(OutputShape::dense(input.kind, shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        Ok(resampled_schema(input, output, self.resamplefs))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let (up, down) = self.check_rate(input.samplerate)?;
        let (n, ch) = (task_shape[0], task_shape[1]);
        if up == 1 && down == 1 {
            // resample_poly returns a copy: no filter at all.
            return Ok(Arc::new(ResampleKernel {
                channels: ch,
                samples: n,
                up,
                down,
                taps: vec![1.0],
                pre_remove: 0,
            }));
        }
        let h: Vec<f64> = self
            .kernel(input, up)
            .iter()
            .map(|v| v * up as f64)
            .collect();
        let half_len = (h.len() - 1) / 2;
        let pre_pad = down - half_len % down;
        let pre_remove = (half_len + pre_pad) / down;
        let n_out = Self::out_len(n, up, down);
        let mut post_pad = 0;
        while upfirdn_len(h.len() + pre_pad + post_pad, n, up, down) < n_out + pre_remove {
            post_pad += 1;
        }
        let mut taps = vec![0.0; pre_pad];
        taps.extend_from_slice(&h);
        taps.extend(std::iter::repeat_n(0.0, post_pad));
        Ok(Arc::new(ResampleKernel {
            channels: ch,
            samples: n,
            up,
            down,
            taps,
            pre_remove,
        }))
    }
}

impl Kernel for ResampleKernel {
    fn state_bytes(&self) -> usize {
        self.taps.len() * std::mem::size_of::<f64>()
    }

    fn scratch_size(&self) -> ScratchSize {
        ScratchSize {
            real: self.samples * self.channels + self.channels,
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let plan = self;
        let x = input.samples();
        let (n, ch) = x.dim();
        scratch.reserve(ScratchSize {
            real: n * ch + ch,
            ..ScratchSize::default()
        });
        let (data, acc) = scratch.real.split_at_mut(n * ch);
        let acc = &mut acc[..ch];
        load_rows(&x, data);
        let (up, down, taps) = (plan.up, plan.down, &plan.taps);
        let mut out = output.samples_mut();
        for (k, mut row) in out.rows_mut().into_iter().enumerate() {
            // Full upfirdn output i = k + pre_remove: sum over input samples j with
            // 0 <= i down - j up < len(taps), oldest first, as upfirdn sums.
            let t = (k + plan.pre_remove) * down;
            let j_lo = (t + 1).saturating_sub(taps.len()).div_ceil(up);
            let j_hi = (t / up).min(n - 1);
            acc.fill(0.0);
            for j in j_lo..=j_hi {
                let w = taps[t - j * up];
                let xr = &data[j * ch..(j + 1) * ch];
                acc.iter_mut().zip(xr).for_each(|(a, &v)| *a += v * w);
            }
            match row.as_slice_mut() {
                Some(d) => d.copy_from_slice(acc),
                None => row.iter_mut().zip(acc.iter()).for_each(|(d, &v)| *d = v),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rational_approximation_matches_python_fractions() {
        // Fraction.from_float(r).limit_denominator() in Python 3.12.
        assert_eq!(limit_denominator(300.0 / 1000.0, 1_000_000), Some((3, 10)));
        assert_eq!(limit_denominator(1.0, 1_000_000), Some((1, 1)));
        assert_eq!(
            limit_denominator(256.0 / 1000.0, 1_000_000),
            Some((32, 125))
        );
        assert_eq!(limit_denominator(1.0 / 3.0, 1_000_000), Some((1, 3)));
        assert_eq!(
            limit_denominator(std::f64::consts::PI / 4.0, 1_000_000),
            Some((286602, 364913))
        );
    }
}
