//! How the smoothing routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{
    Gaussian, GaussianParams, MedianFilter, MedianFilterParams, MovingAverage, MovingAverageParams,
    Savgol, SavgolParams,
};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Gaussian>(),
        RoutineEntry::of::<Savgol>(),
        RoutineEntry::of::<MovingAverage>(),
        RoutineEntry::of::<MedianFilter>(),
    ]
}

impl Registrable for Gaussian {
    type Params = GaussianParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "gaussian",
            summary: "Gaussian smoothing (or Gaussian-derivative filtering) along time, per trial and channel.",
            matches: "scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, order=0, mode='reflect', cval=0.0, truncate=4.0, radius=None)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "sigma",
                    kind: "number > 0",
                    default: "required",
                    doc: "standard deviation of the Gaussian, in samples",
                },
                ParamDoc {
                    name: "order",
                    kind: "0 | 1 | 2 | 3",
                    default: "0",
                    doc: "0 smooths; k > 0 convolves with the k-th derivative of the Gaussian",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "truncate",
                    kind: "number > 0",
                    default: "4.0",
                    doc: "kernel radius in standard deviations: radius = int(truncate * sigma + 0.5)",
                },
                ParamDoc {
                    name: "radius",
                    kind: "integer >= 0 | null",
                    default: "null",
                    doc: "kernel radius in samples; overrides truncate (at most 5000000)",
                },
            ],
            example: "- routine: gaussian\n  sigma: 2.5\n  mode: reflect",
        }
    }

    fn from_params(params: GaussianParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Savgol {
    type Params = SavgolParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "savgol",
            summary: "Savitzky-Golay filter (local least-squares polynomial, or its derivative) along time, per trial and channel.",
            matches: "scipy.signal.savgol_filter(x, window_length, polyorder, deriv=0, delta=1.0, axis=0, mode='interp', cval=0.0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "window_length",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "filter length in samples; even lengths are allowed; with mode interp at most the trial length",
                },
                ParamDoc {
                    name: "polyorder",
                    kind: "integer >= 0",
                    default: "required",
                    doc: "order of the fitted polynomial; less than window_length and at most 100",
                },
                ParamDoc {
                    name: "deriv",
                    kind: "integer >= 0",
                    default: "0",
                    doc: "derivative order; deriv > polyorder gives zeros",
                },
                ParamDoc {
                    name: "delta",
                    kind: "number",
                    default: "1.0",
                    doc: "sample spacing used to scale derivatives (1 / samplerate for per-second units); nonzero when deriv > 0",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"interp\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "interp",
                    doc: "interp fits a polynomial to the first and last window_length samples for the edges; the others extend as in scipy.ndimage ('reflect' is refused, as SciPy refuses it)",
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
            ],
            example: "- routine: savgol\n  window_length: 11\n  polyorder: 3",
        }
    }

    fn from_params(params: SavgolParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for MovingAverage {
    type Params = MovingAverageParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "moving_average",
            summary: "Moving average (boxcar) along time, per trial and channel.",
            matches: "scipy.ndimage.uniform_filter1d(x, size, axis=0, mode='reflect', cval=0.0, origin=0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "size",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "window length in samples; an even window covers x[i - size/2 - origin .. i + size/2 - 1 - origin]",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "origin",
                    kind: "integer",
                    default: "0",
                    doc: "shifts the window left by origin samples; -(size // 2) <= origin <= (size - 1) // 2",
                },
            ],
            example: "- routine: moving_average\n  size: 5",
        }
    }

    fn from_params(params: MovingAverageParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for MedianFilter {
    type Params = MedianFilterParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "median_filter",
            summary: "Running median along time, per trial and channel (even sizes take the upper median).",
            matches: "scipy.ndimage.median_filter(x, size=(size, 1), mode='reflect', cval=0.0, origin=(origin, 0)) on the samples x channels trial",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[
                ParamDoc {
                    name: "size",
                    kind: "integer >= 1",
                    default: "required",
                    doc: "window length in samples; the result is the element of rank size // 2 of the sorted window",
                },
                ParamDoc {
                    name: "mode",
                    kind: "\"reflect\" | \"mirror\" | \"nearest\" | \"constant\" | \"wrap\"",
                    default: "reflect",
                    doc: MODE_DOC,
                },
                ParamDoc {
                    name: "cval",
                    kind: "number",
                    default: "0.0",
                    doc: "value beyond the edges when mode is constant",
                },
                ParamDoc {
                    name: "origin",
                    kind: "integer",
                    default: "0",
                    doc: "shifts the window left by origin samples; -(size // 2) <= origin <= (size - 1) // 2",
                },
            ],
            example: "- routine: median_filter\n  size: 5",
        }
    }

    fn from_params(params: MedianFilterParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

const MODE_DOC: &str = "boundary extension as in scipy.ndimage: reflect (d c b a | a b c d | d c b a), mirror (d c b | a b c d | c b a), nearest (a a a | a b c d | d d d), constant (cval), wrap (b c d | a b c d | a b c); it repeats periodically for kernels longer than the trial";
