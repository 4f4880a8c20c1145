use trialflow_core::RoutineError;

/// What can be wrong with the trials a cross-trial statistic is given.
///
/// Every message names the trial (or the trial count) and fits on one line.
#[derive(Debug, thiserror::Error)]
pub enum StatisticsError {
    #[error("{routine} reduces over trials, but the input holds no trial")]
    NoTrials { routine: &'static str },
    #[error("{routine} reduces over dim: trials only for now (Syncopy's per-trial dims such as time or channel are not available yet), but the step asks for dim: {dim}")]
    UnsupportedDim { routine: &'static str, dim: String },
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
}

impl From<StatisticsError> for RoutineError {
    fn from(e: StatisticsError) -> Self {
        RoutineError::invalid(e)
    }
}
