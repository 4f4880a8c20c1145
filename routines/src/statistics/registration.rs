//! How the statistics routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{
    Itc, ItcParams, Mean, MeanName, Median, MedianName, Std, StdName, Summary, SummaryName,
    SummaryParams, Var, VarName,
};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Itc>(),
        RoutineEntry::of::<Mean>(),
        RoutineEntry::of::<Var>(),
        RoutineEntry::of::<Std>(),
        RoutineEntry::of::<Median>(),
    ]
}

impl Registrable for Itc {
    type Params = ItcParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "itc",
            summary: "Inter-trial phase coherence |mean over trials of X/|X||, averaged over tapers, of a complex spectrum (mtmfft or a time-frequency routine with output: fourier); one result for all trials.",
            matches: "syncopy.itc(syncopy.freqanalysis(data, output='fourier', ...))",
            input: DataKind::Spectral,
            output: DataKind::Spectral,
            params: &[],
            example: "- routine: itc",
        }
    }

    fn from_params(params: ItcParams) -> Result<Self, RoutineError> {
        Ok(params.check())
    }
}

const DIM: ParamDoc = ParamDoc {
    name: "dim",
    kind: "\"trials\" | \"time\"",
    default: "required",
    doc: "trials: one result from every trial (all of one shape); time: per trial and channel, one value (NaN left out, as NumPy's nan-functions). channel is refused for now.",
};

/// What differs between the three summary statistics' documentation.
trait SummaryDoc: SummaryName {
    const SUMMARY: &'static str;
    const MATCHES: &'static str;
    const EXAMPLE: &'static str;
}

impl SummaryDoc for MeanName {
    const SUMMARY: &'static str = "The mean over trials (one result for all trials, every trial the same shape), or over time per trial.";
    const MATCHES: &'static str = "syncopy.mean(data, dim)";
    const EXAMPLE: &'static str = "- routine: mean\n  dim: trials";
}

impl SummaryDoc for VarName {
    const SUMMARY: &'static str = "The variance (ddof 0, as Syncopy) over trials (one result for all trials, every trial the same shape), or over time per trial.";
    const MATCHES: &'static str = "syncopy.var(data, dim)";
    const EXAMPLE: &'static str = "- routine: var\n  dim: trials";
}

impl SummaryDoc for StdName {
    const SUMMARY: &'static str = "The standard deviation (ddof 0, as Syncopy) over trials (one result for all trials, every trial the same shape), or over time per trial.";
    const MATCHES: &'static str = "syncopy.std(data, dim)";
    const EXAMPLE: &'static str = "- routine: std\n  dim: trials";
}

impl SummaryDoc for MedianName {
    const SUMMARY: &'static str = "The median over time per trial (NaN left out); not over trials. The running-median filter is median_filter.";
    const MATCHES: &'static str = "syncopy.median(data, dim)";
    const EXAMPLE: &'static str = "- routine: median\n  dim: time";
}

impl<S: SummaryDoc> Registrable for Summary<S> {
    type Params = SummaryParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: S::NAME,
            summary: S::SUMMARY,
            matches: S::MATCHES,
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[DIM],
            example: S::EXAMPLE,
        }
    }

    fn from_params(params: SummaryParams) -> Result<Self, RoutineError> {
        Ok(params.check::<S>()?)
    }
}
