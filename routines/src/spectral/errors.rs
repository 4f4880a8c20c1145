use trialflow_core::RoutineError;

/// What can be wrong with spectral parameters, or with a trial they are applied to.
///
/// Every message names the parameter (or the trial) and fits on one line.
#[derive(Debug, thiserror::Error)]
pub enum SpectralError {
    #[error("{param} must be {expected}, got {got}")]
    OutOfRange {
        param: &'static str,
        expected: String,
        got: String,
    },
    #[error("{param}: unknown window '{got}'; known windows: {known}")]
    UnknownWindow {
        param: &'static str,
        got: String,
        known: String,
    },
    #[error("{param}: {message}")]
    Window {
        param: &'static str,
        message: String,
    },
    #[error("give either foi or foilim, not both (as Syncopy)")]
    FoiAndFoilim,
    #[error("foi/foilim selects no frequency of the {n_freqs}-bin axis 0..{max_freq} Hz")]
    EmptyFrequencySelection { n_freqs: usize, max_freq: f64 },
    #[error("tapsmofrq (multitapering with dpss) needs taper to stay 'hann' (the default), got '{0}'; Syncopy replaces it by dpss")]
    TaperWithTapsmofrq(String),
    #[error(
        "taper_opt does not apply with tapsmofrq: dpss tapers are set by tapsmofrq and n_taper"
    )]
    TaperOptWithTapsmofrq,
    #[error("with tapsmofrq and keeptapers: false only output 'pow' can be averaged over tapers (as Syncopy); got output '{0}'; set keeptapers: true or output: pow")]
    TaperAverage(String),
    #[error("pad {pad} s gives {samples} samples, fewer than the longest trial (trial {trial}, {longest} samples); pad must be at least {min_seconds} s")]
    PadTooShort {
        pad: f64,
        samples: usize,
        trial: usize,
        longest: usize,
        min_seconds: f64,
    },
    #[error("trial {trial} has {samples} samples; {what}")]
    Trial {
        trial: usize,
        samples: usize,
        what: String,
    },
}

impl SpectralError {
    pub(crate) fn range(
        param: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        SpectralError::OutOfRange {
            param,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    pub(crate) fn window(param: &'static str, message: impl Into<String>) -> Self {
        SpectralError::Window {
            param,
            message: message.into(),
        }
    }
}

impl From<SpectralError> for RoutineError {
    fn from(e: SpectralError) -> Self {
        RoutineError::invalid(e)
    }
}
