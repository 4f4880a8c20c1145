//! How the peaks routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{FindPeaks, FindPeaksCwt, FindPeaksCwtParams, FindPeaksParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<FindPeaks>(),
        RoutineEntry::of::<FindPeaksCwt>(),
    ]
}

impl Registrable for FindPeaks {
    type Params = FindPeaksParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "find_peaks",
            summary: "Local maxima per trial and channel, filtered by SciPy's conditions; \
                      one event per peak with SciPy's peak properties.",
            matches: "scipy.signal.find_peaks(x, height, threshold, distance, prominence, \
                      width, wlen, rel_height, plateau_size)",
            input: DataKind::Analog,
            output: DataKind::Spike,
            params: &[
                ParamDoc {
                    name: "height",
                    kind: BOUND,
                    default: "null",
                    doc: "required peak height; stores peak_heights",
                },
                ParamDoc {
                    name: "threshold",
                    kind: BOUND,
                    default: "null",
                    doc: "required vertical distance to both neighbours of the peak sample \
                          (min against the smaller, max against the larger); stores \
                          left_thresholds, right_thresholds",
                },
                ParamDoc {
                    name: "distance",
                    kind: "number >= 1",
                    default: "null",
                    doc: "minimal distance in samples between peaks (rounded up); lower peaks \
                          are removed first, of equal ones the rightmost is kept",
                },
                ParamDoc {
                    name: "prominence",
                    kind: BOUND,
                    default: "null",
                    doc: "required prominence; stores prominences, left_bases, right_bases",
                },
                ParamDoc {
                    name: "width",
                    kind: BOUND,
                    default: "null",
                    doc: "required width in samples at rel_height of the prominence; stores \
                          the prominence columns and widths, width_heights, left_ips, right_ips",
                },
                ParamDoc {
                    name: "wlen",
                    kind: "number > 1",
                    default: "null",
                    doc: "window (samples, rounded up; even acts as the next odd) for \
                          prominences; null = the whole trial",
                },
                ParamDoc {
                    name: "rel_height",
                    kind: "number >= 0",
                    default: "0.5",
                    doc: "relative height, as a fraction of the prominence, at which widths \
                          are measured",
                },
                ParamDoc {
                    name: "plateau_size",
                    kind: BOUND,
                    default: "null",
                    doc: "required size of the flat top in samples; stores plateau_sizes, \
                          left_edges, right_edges",
                },
            ],
            example: "- routine: find_peaks\n  height: [0.5, null]\n  distance: 20\n  \
                      prominence: 0.2\n  width: [null, null]",
        }
    }

    fn from_params(params: FindPeaksParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for FindPeaksCwt {
    type Params = FindPeaksCwtParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "find_peaks_cwt",
            summary: "Peaks per trial and channel from ridge lines of a Ricker wavelet \
                      transform; one event per peak, no properties.",
            matches: "scipy.signal.find_peaks_cwt(x, widths, wavelet=None, max_distances, \
                      gap_thresh, min_length, min_snr, noise_perc, window_size)",
            input: DataKind::Analog,
            output: DataKind::Spike,
            params: &[
                ParamDoc {
                    name: "widths",
                    kind: "number | [number, ...] (> 0)",
                    default: "required",
                    doc: "wavelet widths in samples, one transform row each (ascending, as \
                          SciPy expects)",
                },
                ParamDoc {
                    name: "wavelet",
                    kind: "\"ricker\"",
                    default: "ricker",
                    doc: "only SciPy's default Ricker (Mexican hat) wavelet is supported",
                },
                ParamDoc {
                    name: "max_distances",
                    kind: "[number, ...] | number",
                    default: "widths / 4",
                    doc: "per row, how far (samples) a maximum may be from a ridge line to \
                          extend it; one number applies to every row",
                },
                ParamDoc {
                    name: "gap_thresh",
                    kind: "number",
                    default: "ceil(widths[0])",
                    doc: "a ridge line ends after more than this many rows without a maximum",
                },
                ParamDoc {
                    name: "min_length",
                    kind: "number",
                    default: "ceil(len(widths) / 4)",
                    doc: "minimum number of points of a ridge line",
                },
                ParamDoc {
                    name: "min_snr",
                    kind: "number",
                    default: "1",
                    doc: "minimum |cwt| / noise at the ridge line's lowest row",
                },
                ParamDoc {
                    name: "noise_perc",
                    kind: "number in [0, 100]",
                    default: "10",
                    doc: "percentile of the first transform row taken as the noise floor",
                },
                ParamDoc {
                    name: "window_size",
                    kind: "integer >= 0",
                    default: "ceil(n / 20)",
                    doc: "samples around a peak for the noise floor (n = trial length)",
                },
            ],
            example: "- routine: find_peaks_cwt\n  widths: [1, 2, 4, 8, 16]\n  min_snr: 1.5",
        }
    }

    fn from_params(params: FindPeaksCwtParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

const BOUND: &str = "number | [min, max] (null = open side)";
