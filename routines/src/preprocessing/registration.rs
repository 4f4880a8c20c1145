//! How the preprocessing routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{Detrend, DetrendParams, Rectify, RectifyParams, ZScore, ZScoreParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Detrend>(),
        RoutineEntry::of::<ZScore>(),
        RoutineEntry::of::<Rectify>(),
    ]
}

impl Registrable for Detrend {
    type Params = DetrendParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "detrend",
            summary: "Remove the least-squares line (or the mean) from each trial and channel.",
            matches: "scipy.signal.detrend(x, axis=0, type=...)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[ParamDoc {
                name: "type",
                kind: "\"linear\" | \"constant\"",
                default: "linear",
                doc: "linear removes the least-squares line; constant removes the mean",
            }],
            example: "- routine: detrend\n  type: linear",
        }
    }

    fn from_params(params: DetrendParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for ZScore {
    type Params = ZScoreParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "zscore",
            summary: "Standardise each trial and channel: (x - mean) / std, with ddof 0.",
            matches: "Syncopy preprocessing(zscore=True); (x - x.mean(0)) / x.std(0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[],
            example: "- routine: zscore",
        }
    }

    fn from_params(params: ZScoreParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

impl Registrable for Rectify {
    type Params = RectifyParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "rectify",
            summary: "Absolute value of every sample.",
            matches: "Syncopy preprocessing(rectify=True); numpy.abs(x)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[],
            example: "- routine: rectify",
        }
    }

    fn from_params(params: RectifyParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
