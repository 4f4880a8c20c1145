use trialflow_core::RoutineError;

/// What can be wrong with wavelet or superlet parameters, or with a trial they meet.
///
/// Every message names the parameter (and the trial, when one trial is the problem) and fits
/// on one line, so the CLI can print it as the whole diagnosis (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum WaveletError {
    #[error("{param} must be {expected}, got {got}")]
    OutOfRange {
        param: &'static str,
        expected: String,
        got: String,
    },
    #[error("give either foi or foilim, not both (as Syncopy)")]
    FoiAndFoilim,
    #[error("{param} {got} Hz is above the Nyquist frequency {nyquist} Hz (samplerate / 2)")]
    AboveNyquist {
        param: &'static str,
        got: f64,
        nyquist: f64,
    },
    #[error("toi: trial {trial} has no sample at {time} s: its time axis runs from {first} s to {last} s")]
    ToiOutsideTrial {
        trial: usize,
        time: f64,
        first: f64,
        last: f64,
    },
    #[error("trial {trial} has {samples} samples; {what}")]
    Trial {
        trial: usize,
        samples: usize,
        what: String,
    },
}

impl WaveletError {
    pub(crate) fn range(
        param: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        WaveletError::OutOfRange {
            param,
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}

impl From<WaveletError> for RoutineError {
    fn from(e: WaveletError) -> Self {
        RoutineError::invalid(e)
    }
}
