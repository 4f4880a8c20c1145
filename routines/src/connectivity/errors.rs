use trialflow_core::RoutineError;

use crate::spectral::SpectralError;

/// What can be wrong with connectivity parameters, with the input they are applied to, or
/// with a factorisation that cannot run on the data.
///
/// Every message names the parameter, channel or trial and fits on one line.
#[derive(Debug, thiserror::Error)]
pub enum ConnectivityError {
    /// A spectral parameter (`taper`, `tapsmofrq`, `pad`, `foi`, ...), checked as `mtmfft`
    /// checks it.
    #[error(transparent)]
    Spectral(#[from] SpectralError),
    #[error("channelcmb: {side} names channel {channel}, which the input does not have (channels: {known})")]
    UnknownChannel {
        side: &'static str,
        channel: String,
        known: String,
    },
    #[error("channelcmb must be [senders, receivers] with at least one channel each, got {0}")]
    ChannelCmbShape(String),
    #[error(
        "channelcmb: Granger causality pairs {0} with itself; a channel has no causality to itself"
    )]
    SelfPair(String),
    #[error("method {method} needs at least {needed} channels, the input has {got}")]
    TooFewChannels {
        method: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("method {method} averages over trials and needs at least {needed} trials, the input has {got}")]
    TooFewTrials {
        method: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("method granger needs every frequency from 0 to Nyquist for the factorisation; remove foi/foilim (as Syncopy)")]
    GrangerFrequencies,
    #[error("method corr needs equal-length trials (it averages lag by lag): trial {trial} has {samples} samples, trial 0 has {first}")]
    UnequalTrials {
        trial: usize,
        samples: usize,
        first: usize,
    },
    #[error(
        "method corr computes its lags from the trials, so pad must stay 'maxperlen' (as Syncopy)"
    )]
    PadWithCorr,
    #[error("output must be one of abs, pow, complex, fisher_z, angle, imag, real, got '{0}'")]
    UnknownOutput(String),
    #[error("connectivity needs method: coh, csd, ppc, granger or corr")]
    NoMethod,
    #[error("method must be one of coh, csd, ppc, granger, corr, got '{0}'")]
    UnknownMethod(String),
    #[error("output applies to method coh only, not {0}")]
    OutputWithout(&'static str),
    #[error("keeptrials: true applies to method csd only (single-trial cross-spectra), not {0}")]
    KeeptrialsWithout(&'static str),
    #[error(
        "{0} shapes spectra; method corr correlates the samples and takes only pad and polyremoval"
    )]
    SpectralKeyWithCorr(&'static str),
    #[error("channelcmb applies to the spectral methods; method corr gives every channel pair")]
    ChannelCmbWithCorr,
    #[error("Granger causality: the trial-averaged cross-spectral matrix at {freq} Hz is not positive definite (Wilson's factorisation needs it; more trials than channels help)")]
    NotPositiveDefinite { freq: f64 },
}

impl From<ConnectivityError> for RoutineError {
    fn from(e: ConnectivityError) -> Self {
        // The only error that depends on the values rather than the request.
        if matches!(e, ConnectivityError::NotPositiveDefinite { .. }) {
            RoutineError::failed(e)
        } else {
            RoutineError::invalid(e)
        }
    }
}
