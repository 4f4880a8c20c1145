//! How the filters routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{
    Butterworth, ButterworthParams, Downsample, DownsampleParams, Firws, FirwsParams, Hilbert,
    HilbertParams, Resample, ResampleParams,
};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Butterworth>(),
        RoutineEntry::of::<Firws>(),
        RoutineEntry::of::<Hilbert>(),
        RoutineEntry::of::<Downsample>(),
        RoutineEntry::of::<Resample>(),
    ]
}

impl Registrable for Butterworth {
    type Params = ButterworthParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
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
        }
    }

    fn from_params(params: ButterworthParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Firws {
    type Params = FirwsParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
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
        }
    }

    fn from_params(params: FirwsParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Hilbert {
    type Params = HilbertParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
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
        }
    }

    fn from_params(params: HilbertParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Downsample {
    type Params = DownsampleParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
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
        }
    }

    fn from_params(params: DownsampleParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Resample {
    type Params = ResampleParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
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
        }
    }

    fn from_params(params: ResampleParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
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

const ORDER_AA_DOC: ParamDoc = ParamDoc {
    name: "order",
    kind: "integer >= 1 | null",
    default: "null",
    doc: "order of the hamming windowed-sinc anti-alias filter; null = the shortest trial, at most 1000",
};
