//! How the statistics routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{ParamDoc, Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{
    Itc, ItcParams, Mean, MeanName, Median, MedianName, Psth, PsthParams, Std, StdName, Summary,
    SummaryName, SummaryParams, Timelock, TimelockParams, Var, VarName,
};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![
        RoutineEntry::of::<Itc>(),
        RoutineEntry::of::<Mean>(),
        RoutineEntry::of::<Var>(),
        RoutineEntry::of::<Std>(),
        RoutineEntry::of::<Median>(),
        RoutineEntry::of::<Timelock>(),
        RoutineEntry::of::<Psth>(),
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

const LATENCY: ParamDoc = ParamDoc {
    name: "latency",
    kind: "[t0, t1] | \"maxperiod\" | \"minperiod\" | \"prestim\" | \"poststim\"",
    default: "\"maxperiod\"",
    doc: "The analysis window in seconds (closed); trials that do not cover all of it are left out, and the log names them. A window outside every trial is refused.",
};

const COVARIANCE: ParamDoc = ParamDoc {
    name: "covariance",
    kind: "bool",
    default: "false",
    doc:
        "Also the channel covariance (np.cov per trial over the window), stored as the cov dataset.",
};

const DDOF: ParamDoc = ParamDoc {
    name: "ddof",
    kind: "integer >= 0",
    default: "1",
    doc: "Delta degrees of freedom of the covariance (NumPy's np.cov: divides by samples - ddof).",
};

const KEEPTRIALS: ParamDoc = ParamDoc {
    name: "keeptrials",
    kind: "bool",
    default: "false",
    doc: "false: cov is the mean over trials of the per-trial matrices (channel, channel); true: one matrix per kept trial (trial, channel, channel).",
};

impl Registrable for Timelock {
    type Params = TimelockParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "timelock",
            summary: "Evoked response: the trials covering the latency window, cut to it (data), their average and variance (ddof 0), and optionally the channel covariance; TimeLockData with avg, var and cov datasets.",
            matches: "syncopy.timelockanalysis(data, latency, covariance, ddof, keeptrials)",
            input: DataKind::Analog,
            output: DataKind::TimeLock,
            params: &[LATENCY, COVARIANCE, DDOF, KEEPTRIALS],
            example: "- routine: timelock\n  latency: [-0.1, 0.5]\n  covariance: true",
        }
    }

    fn from_params(params: TimelockParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}

const BINSIZE: ParamDoc = ParamDoc {
    name: "binsize",
    kind: "seconds | \"rice\" | \"sqrt\"",
    default: "\"rice\"",
    doc: "Bin width in seconds (at most the window), or Syncopy's rule on the average trial length in samples: rice int(2 n^(1/3)) edges, sqrt ceil(sqrt(n)) edges.",
};

const PSTH_OUTPUT: ParamDoc = ParamDoc {
    name: "output",
    kind: "\"rate\" | \"spikecount\" | \"proportion\"",
    default: "\"rate\"",
    doc: "Spikes per second, spikes per bin, or each column divided by its sum.",
};

const PSTH_LATENCY: ParamDoc = ParamDoc {
    name: "latency",
    kind: "[t0, t1] | \"maxperiod\" | \"minperiod\" | \"prestim\" | \"poststim\"",
    default: "\"maxperiod\"",
    doc: "The window the bins span, in seconds.",
};

const VARTRIALLEN: ParamDoc = ParamDoc {
    name: "vartriallen",
    kind: "bool",
    default: "true",
    doc: "true: every trial counts, NaN in the bins it does not reach; false: only the trials covering the whole window.",
};

const PSTH_KEEPTRIALS: ParamDoc = ParamDoc {
    name: "keeptrials",
    kind: "bool",
    default: "true",
    doc: "true (as Syncopy): data holds each counted trial's histogram; false: data holds their average alone. avg and var are the trial average and variance either way.",
};

impl Registrable for Psth {
    type Params = PsthParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "psth",
            summary: "Peri-stimulus time histogram of SpikeData events per channel and unit, per trial, averaged over trials with its variance; TimeLockData with avg and var.",
            matches: "syncopy.spike_psth(spikes, binsize, output, latency, vartriallen, keeptrials)",
            input: DataKind::Spike,
            output: DataKind::TimeLock,
            params: &[BINSIZE, PSTH_OUTPUT, PSTH_LATENCY, VARTRIALLEN, PSTH_KEEPTRIALS],
            example: "- routine: psth\n  binsize: 0.05\n  output: rate",
        }
    }

    fn from_params(params: PsthParams) -> Result<Self, RoutineError> {
        Ok(params.check()?)
    }
}
