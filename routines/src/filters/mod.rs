//! Filters and transforms along time, AnalogData in, AnalogData out, with Syncopy's
//! parameter names and SciPy's numbers: `butterworth` (Syncopy's `filter_class='but'`:
//! `scipy.signal.butter(..., output='sos')` with `sosfiltfilt` or `sosfilt`), `firws`
//! (Syncopy's windowed-sinc FIR filter), `hilbert` (`scipy.signal.hilbert` per trial),
//! `downsample` and `resample` (Syncopy's `resampledata`).
//!
//! Coefficients, kernels and FFT plans are built once per task shape in `plan`; kernels work
//! in caller-owned scratch. The IIR cascade runs row by row across channels (channels are
//! contiguous); the FFT-based routines work channel by channel on a gathered column. Either
//! way a channel's arithmetic never depends on which other channels share its task.

mod butter_design;
mod butterworth;
mod errors;
mod fir;
mod firws;
mod hilbert;
mod registration;
mod resample;
mod sos;

pub use butter_design::{butter_sos, Section};
pub use butterworth::{Butterworth, ButterworthParams, IirDirection, MAX_BUTTER_ORDER};
pub use errors::FilterError;
pub use fir::{design_wsinc, minimum_phase, FirConvolver, FirWindow};
pub use firws::{FirDirection, Firws, FirwsParams, MAX_FIR_ORDER, MAX_MINPHASE_ORDER};
pub use hilbert::{Hilbert, HilbertOutput, HilbertParams};
pub use registration::registry_entries;
pub use resample::{
    limit_denominator, Downsample, DownsampleParams, Resample, ResampleParams, MAX_AA_ORDER,
};
pub use sos::SosCascade;

use ndarray::{ArrayView2, ArrayViewMut2};
use serde_json::Value;
use trialflow_core::Sample;

use crate::params::{keyword_serde, Keyword, Numbers};

/// The band a filter keeps or removes (Syncopy's `filter_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterType {
    #[default]
    Lowpass,
    Highpass,
    Bandpass,
    Bandstop,
}

impl Keyword for FilterType {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("lp", FilterType::Lowpass),
        ("hp", FilterType::Highpass),
        ("bp", FilterType::Bandpass),
        ("bs", FilterType::Bandstop),
    ];
    const EXPECTED: &'static str = "one of 'lp', 'hp', 'bp' or 'bs'";
}
keyword_serde!(FilterType);

impl FilterType {
    fn is_band(self) -> bool {
        matches!(self, FilterType::Bandpass | FilterType::Bandstop)
    }
}

/// `freq`: one positive frequency for lp/hp, two different ones for bp/bs (sorted, as
/// Syncopy sorts them). The Nyquist limit is checked in `initialize`, where the samplerate
/// is known.
fn check_freq(value: Option<Numbers>, filter_type: FilterType) -> Result<Vec<f64>, FilterError> {
    let Numbers(numbers) = value.ok_or(FilterError::Missing("freq"))?;
    let value = freq_json(&numbers);
    let shape_error = |expected| FilterError::FreqShape {
        filter_type: filter_type.as_str(),
        expected,
        got: value.to_string(),
    };
    let mut freq = match numbers {
        f if filter_type.is_band() && f.len() == 2 => f,
        f if !filter_type.is_band() && f.len() == 1 => f,
        _ if filter_type.is_band() => {
            return Err(shape_error("a pair of frequencies in Hz, [low, high]"))
        }
        _ => return Err(shape_error("one frequency in Hz")),
    };
    for &f in &freq {
        if !(f.is_finite() && f > 0.0) {
            return Err(FilterError::range("freq", "finite and > 0 Hz", f));
        }
    }
    if filter_type.is_band() {
        if freq[0] == freq[1] {
            return Err(FilterError::range(
                "freq",
                "two different frequencies",
                value,
            ));
        }
        freq.sort_by(f64::total_cmp);
    }
    Ok(freq)
}

/// `freq` as a user writes it: a number for lp/hp, a pair for bp/bs.
fn freq_json(freq: &[f64]) -> Value {
    match freq {
        [f] => serde_json::json!(f),
        f => serde_json::json!(f),
    }
}

/// Refuses frequencies at or above the Nyquist frequency (at it, with `allow_nyquist`, is
/// accepted).
fn check_below_nyquist(
    freq: &[f64],
    samplerate: f64,
    allow_nyquist: bool,
    what: &'static str,
) -> Result<(), FilterError> {
    let nyquist = samplerate / 2.0;
    for &f in freq {
        let above = if allow_nyquist {
            f > nyquist
        } else {
            f >= nyquist
        };
        if above {
            return Err(FilterError::FreqAboveNyquist {
                freq: f,
                nyquist,
                samplerate,
                what,
            });
        }
    }
    Ok(())
}

/// Copies a samples x channels view into a contiguous row-major buffer.
fn load_rows<T: Sample>(x: &ArrayView2<'_, T>, dst: &mut [f64]) {
    let ch = x.ncols();
    for (row, d) in x.rows().into_iter().zip(dst.chunks_exact_mut(ch)) {
        match row.as_slice() {
            Some(s) => d.iter_mut().zip(s).for_each(|(d, &v)| *d = v.into()),
            None => d
                .iter_mut()
                .zip(row.iter())
                .for_each(|(d, &v)| *d = v.into()),
        }
    }
}

/// Copies a contiguous row-major buffer into a samples x channels view.
fn store_rows(src: &[f64], out: &mut ArrayViewMut2<'_, f64>) {
    let ch = out.ncols();
    for (mut row, s) in out.rows_mut().into_iter().zip(src.chunks_exact(ch)) {
        match row.as_slice_mut() {
            Some(d) => d.copy_from_slice(s),
            None => row.iter_mut().zip(s).for_each(|(d, &v)| *d = v),
        }
    }
}
