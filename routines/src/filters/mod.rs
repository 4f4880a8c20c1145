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
mod resample;
mod sos;

pub use butter_design::{butter_sos, Section};
pub use butterworth::{Butterworth, ButterworthParams, IirDirection, MAX_BUTTER_ORDER};
pub use errors::FilterError;
pub use fir::{design_wsinc, minimum_phase, FirConvolver, FirWindow};
pub use firws::{FirDirection, Firws, FirwsParams, MAX_FIR_ORDER, MAX_MINPHASE_ORDER};
pub use hilbert::{Hilbert, HilbertOutput, HilbertParams};
pub use resample::{
    limit_denominator, Downsample, DownsampleParams, Resample, ResampleParams, MAX_AA_ORDER,
};
pub use sos::SosCascade;

use ndarray::{ArrayView2, ArrayViewMut2};
use serde_json::Value;
use trialflow_core::{DataKind, RoutineError};

use crate::params::{parse_params, ParamDoc};
use crate::registry::{RoutineDoc, RoutineEntry};

/// The band a filter keeps or removes (Syncopy's `filter_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterType {
    Lowpass,
    Highpass,
    Bandpass,
    Bandstop,
}

impl FilterType {
    fn from_param(value: Option<&str>) -> Result<FilterType, FilterError> {
        Ok(
            match parse_choice(
                "filter_type",
                value,
                "lp",
                &["lp", "hp", "bp", "bs"],
                "'lp', 'hp', 'bp' or 'bs'",
            )? {
                "lp" => FilterType::Lowpass,
                "hp" => FilterType::Highpass,
                "bp" => FilterType::Bandpass,
                _ => FilterType::Bandstop,
            },
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilterType::Lowpass => "lp",
            FilterType::Highpass => "hp",
            FilterType::Bandpass => "bp",
            FilterType::Bandstop => "bs",
        }
    }

    fn is_band(self) -> bool {
        matches!(self, FilterType::Bandpass | FilterType::Bandstop)
    }
}

/// One of `allowed`, or `default` when absent; the message lists `allowed_text`.
fn parse_choice<'a>(
    param: &'static str,
    value: Option<&str>,
    default: &'a str,
    allowed: &[&'a str],
    allowed_text: &'static str,
) -> Result<&'a str, FilterError> {
    let value = value.unwrap_or(default);
    allowed
        .iter()
        .find(|&&a| a == value)
        .copied()
        .ok_or_else(|| FilterError::Choice {
            param,
            allowed: allowed_text,
            got: value.to_string(),
        })
}

/// `freq`: one positive frequency for lp/hp, two different ones for bp/bs (sorted, as
/// Syncopy sorts them). The Nyquist limit is checked in `initialize`, where the samplerate
/// is known.
fn parse_freq(value: Option<&Value>, filter_type: FilterType) -> Result<Vec<f64>, FilterError> {
    let value = value.ok_or(FilterError::Missing("freq"))?;
    let numbers: Option<Vec<f64>> = match value {
        Value::Number(n) => n.as_f64().map(|f| vec![f]),
        Value::Array(items) => items.iter().map(Value::as_f64).collect(),
        _ => None,
    };
    let shape_error = |expected| FilterError::FreqShape {
        filter_type: filter_type.as_str(),
        expected,
        got: value.to_string(),
    };
    let mut freq = match numbers {
        Some(f) if filter_type.is_band() && f.len() == 2 => f,
        Some(f) if !filter_type.is_band() && f.len() == 1 => f,
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
fn load_rows(x: &ArrayView2<'_, f64>, dst: &mut [f64]) {
    let ch = x.ncols();
    for (row, d) in x.rows().into_iter().zip(dst.chunks_exact_mut(ch)) {
        match row.as_slice() {
            Some(s) => d.copy_from_slice(s),
            None => d.iter_mut().zip(row.iter()).for_each(|(d, &v)| *d = v),
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

/// This family's routines, for [`crate::Registry::builtin`].
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        butterworth_entry(),
        firws_entry(),
        hilbert_entry(),
        downsample_entry(),
        resample_entry(),
    ]
}

const FILTER_TYPE_DOC: ParamDoc = ParamDoc {
    name: "filter_type",
    kind: "\"lp\" | \"hp\" | \"bp\" | \"bs\"",
    default: "lp",
    doc: "low-pass, high-pass, band-pass or band-stop",
};

const FREQ_DOC: ParamDoc = ParamDoc {
    name: "freq",
    kind: "number | [number, number]",
    default: "required",
    doc: "cut-off in Hz for lp/hp; [low, high] in Hz for bp/bs; below samplerate / 2",
};

fn butterworth_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "butterworth",
            summary: "Butterworth IIR filter along time (second-order sections), zero-phase by default.",
            matches: "Syncopy preprocessing(filter_class='but', filter_type, freq, order, direction); scipy.signal.sosfiltfilt(butter(order, freq, filter_type, fs=samplerate, output='sos'), x, axis=0) (twopass) or sosfilt (onepass)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                FILTER_TYPE_DOC,
                FREQ_DOC,
                ParamDoc {
                    name: "order",
                    kind: "integer 1..=100",
                    default: "4",
                    doc: "Butterworth order (bp/bs filters have twice as many poles, as in SciPy)",
                },
                ParamDoc {
                    name: "direction",
                    kind: "\"twopass\" | \"onepass\"",
                    default: "twopass",
                    doc: "twopass = sosfiltfilt with odd padding of 3 x ntaps samples (trials must be longer); onepass = sosfilt from rest",
                },
            ],
            example: "- routine: butterworth\n  filter_type: lp\n  freq: 40\n  order: 4\n  direction: twopass",
        },
        build: |params| {
            let p: ButterworthParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn firws_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "firws",
            summary: "Windowed-sinc FIR filter along time (Syncopy's firws), zero-phase by default.",
            matches: "Syncopy preprocessing(filter_class='firws', filter_type, freq, order, window, direction); scipy.signal.convolve(x, design_wsinc(window, order, freq / samplerate, filter_type)[:, None], mode='same')",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                FILTER_TYPE_DOC,
                ParamDoc {
                    name: "freq",
                    kind: "number | [number, number]",
                    default: "required",
                    doc: "cut-off in Hz for lp/hp; [low, high] in Hz for bp/bs; at most samplerate / 2",
                },
                ParamDoc {
                    name: "order",
                    kind: "integer >= 1 | null",
                    default: "null",
                    doc: "kernel length - 1 (odd orders are rounded up to even); null = the shortest trial, at most 1000",
                },
                ParamDoc {
                    name: "window",
                    kind: "\"hamming\" | \"hann\" | \"blackman\"",
                    default: "hamming",
                    doc: "taper of the sinc (scipy.signal.windows, symmetric)",
                },
                ParamDoc {
                    name: "direction",
                    kind: "\"twopass\" | \"onepass\" | \"onepass-minphase\"",
                    default: "twopass",
                    doc: "twopass convolves twice; onepass once (zero phase, the kernel is centred); onepass-minphase once with the minimum-phase kernel (order at most 4000)",
                },
            ],
            example: "- routine: firws\n  filter_type: bp\n  freq: [8, 12]\n  order: 500\n  direction: onepass",
        },
        build: |params| {
            let p: FirwsParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn hilbert_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "hilbert",
            summary: "Analytic signal per trial and channel (FFT of the trial length), reduced to envelope, phase or parts.",
            matches: "Syncopy preprocessing(hilbert=output); scipy.signal.hilbert(x, axis=0), then numpy abs/real/imag/angle",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[ParamDoc {
                name: "output",
                kind: "\"abs\" | \"complex\" | \"real\" | \"imag\" | \"absreal\" | \"absimag\" | \"angle\"",
                default: "abs",
                doc: "abs = envelope |z|; angle = phase in (-pi, pi]; real/imag and their absolute values; complex = z itself",
            }],
            example: "- routine: hilbert\n  output: abs",
        },
        build: |params| {
            let p: HilbertParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

const ORDER_AA_DOC: ParamDoc = ParamDoc {
    name: "order",
    kind: "integer >= 1 | null",
    default: "null",
    doc: "order of the hamming windowed-sinc anti-alias filter; null = the shortest trial, at most 1000",
};

fn downsample_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "downsample",
            summary: "Keep every k-th sample (new samplerate and trial definition as Syncopy), optionally after a FIR low-pass.",
            matches: "Syncopy resampledata(method='downsample', resamplefs, lpfreq, order): x[::samplerate // resamplefs], after preprocessing(filter_class='firws', filter_type='lp', freq=lpfreq, direction='twopass') when lpfreq is set",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "resamplefs",
                    kind: "number >= 1",
                    default: "required unless factor",
                    doc: "new samplerate in Hz; must divide the input samplerate",
                },
                ParamDoc {
                    name: "factor",
                    kind: "integer >= 1",
                    default: "required unless resamplefs",
                    doc: "keep every factor-th sample (new samplerate = samplerate / factor)",
                },
                ParamDoc {
                    name: "lpfreq",
                    kind: "number > 0 | null",
                    default: "null",
                    doc: "anti-alias low-pass cut-off in Hz (at most the new Nyquist frequency); null = no filter, as in Syncopy",
                },
                ORDER_AA_DOC,
            ],
            example: "- routine: downsample\n  resamplefs: 250\n  lpfreq: 100",
        },
        build: |params| {
            let p: DownsampleParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}

fn resample_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "resample",
            summary: "Polyphase resampling to any rational samplerate, with Syncopy's windowed-sinc anti-alias filter.",
            matches: "Syncopy resampledata(method='resample', resamplefs, lpfreq, order); scipy.signal.resample_poly(x, up, down, axis=0, window=design_wsinc('hamming', order, f_c / up))",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "resamplefs",
                    kind: "number >= 1",
                    default: "required",
                    doc: "new samplerate in Hz, at most the input samplerate; up/down = Fraction(resamplefs / samplerate).limit_denominator()",
                },
                ParamDoc {
                    name: "lpfreq",
                    kind: "number > 0 | null",
                    default: "null",
                    doc: "anti-alias cut-off in Hz (at most resamplefs / 2); null = the new Nyquist frequency",
                },
                ORDER_AA_DOC,
            ],
            example: "- routine: resample\n  resamplefs: 300",
        },
        build: |params| {
            let p: ResampleParams = parse_params(params)?;
            Ok(Box::new(p.check().map_err(RoutineError::from)?))
        },
    }
}
