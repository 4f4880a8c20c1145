//! How the statistics routines are named from a pipeline: their documentation, their
//! [`Registrable`] implementations and the family's registry entries.

use trialflow_core::routine::{Registrable, RoutineDoc, RoutineEntry};
use trialflow_core::{DataKind, RoutineError};

use super::{Itc, ItcParams};

/// This family's registry entries.
pub fn registry_entries() -> Vec<RoutineEntry> {
    vec![RoutineEntry::of::<Itc>()]
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
