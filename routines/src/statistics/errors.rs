use trialflow_core::RoutineError;

/// What can be wrong with the trials a cross-trial statistic is given.
///
/// Every message names the trial (or the trial count) and fits on one line.
#[derive(Debug, thiserror::Error)]
pub enum StatisticsError {
    #[error("{routine} reduces over trials, but the input holds no trial")]
    NoTrials { routine: &'static str },
    #[error("{routine} needs dim: trials, time or channel (Syncopy's spy.{routine}(data, dim))")]
    MissingDim { routine: &'static str },
    #[error("{routine} takes dim: trials, time or channel (the dims of AnalogData), but the step asks for dim: {dim}")]
    UnknownDim { routine: &'static str, dim: String },
    #[error("median over trials is refused: a median is not a sum of per-trial parts, so it would need every trial in memory at once (Syncopy 2023.9 refuses it too); use dim: time or channel, or mean over trials")]
    MedianOverTrials,
    #[error("{routine}: dim: channel is not available yet (the engine cannot yet write an output with fewer channels than its input); use dim: time or trials")]
    ChannelDimUnavailable { routine: &'static str },
    #[error("{routine} is Syncopy's summary statistic and has no '{key}'; the running-median filter with size, mode, cval and origin is now median_filter")]
    FilterKey {
        routine: &'static str,
        key: &'static str,
    },
    #[error("{routine} compares trials, but the input holds {n_trials} trial (trial 0 only); it needs at least 2")]
    TooFewTrials {
        routine: &'static str,
        n_trials: usize,
    },
    #[error("{routine} needs every trial to have the same shape (as Syncopy), but trial 0 has {first:?} and trial {trial} has {shape:?}")]
    UnequalTrials {
        routine: &'static str,
        first: Vec<usize>,
        trial: usize,
        shape: Vec<usize>,
    },
    #[error("{routine} reads the taper axis of (time, taper, freq, channel) spectra, but trial {trial} has shape {shape:?}")]
    NotSpectral {
        routine: &'static str,
        trial: usize,
        shape: Vec<usize>,
    },
    #[error("{routine}: latency must be [t0, t1] in seconds with t0 <= t1, or maxperiod, minperiod, prestim or poststim (Syncopy's names), got {got}")]
    BadLatency { routine: &'static str, got: String },
    #[error("{routine}: latency {what} lies outside every trial (they span {start} s to {end} s)")]
    LatencyOutside {
        routine: &'static str,
        what: String,
        start: f64,
        end: f64,
    },
    #[error("{routine}: no trial covers the whole latency window [{lo}, {hi}] s (Syncopy keeps only trials that do)")]
    NoTrialCovers {
        routine: &'static str,
        lo: f64,
        hi: f64,
    },
    #[error("{routine}: the latency window [{lo}, {hi}] s holds {first} samples of trial {first_trial} but {len} of trial {trial}; choose a window on the sample grid")]
    UnequalWindows {
        routine: &'static str,
        lo: f64,
        hi: f64,
        first_trial: usize,
        first: usize,
        trial: usize,
        len: usize,
    },
    #[error("{routine}: ddof {ddof} leaves no degrees of freedom for the covariance of {samples} samples per trial (need ddof < {samples})")]
    DdofTooLarge {
        routine: &'static str,
        ddof: usize,
        samples: usize,
    },
    #[error("{routine}: binsize {binsize} s must be positive and at most the latency window's {span} s (or rice or sqrt)")]
    BadBinsize {
        routine: &'static str,
        binsize: f64,
        span: f64,
    },
    #[error("psth: {key} must be {legal}, got {got}")]
    BadPsthParam {
        key: &'static str,
        got: String,
        legal: &'static str,
    },
    #[error("{routine}: the bins give {edges} edge(s); a histogram needs at least 2 (choose a smaller binsize)")]
    TooFewBins { routine: &'static str, edges: usize },
}

impl From<StatisticsError> for RoutineError {
    fn from(e: StatisticsError) -> Self {
        RoutineError::invalid(e)
    }
}
