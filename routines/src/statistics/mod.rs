//! Statistics across trials: `itc` (Syncopy's inter-trial phase coherence, SpectralData in)
//! and the summary statistics `mean`, `var` and `std` over trials.
//!
//! These are the first routines that reduce across trials: each declares a
//! [`TrialReduction`](trialflow_core::routine::TrialReduction) in the dry run, its kernel
//! turns a trial into a contribution on the compute workers, the engine folds the
//! contributions in its fixed tree order (bitwise the same in every execution mode), and
//! `finish_reduction` makes the one result.

mod errors;
mod itc;
mod registration;
mod summary;

pub use errors::StatisticsError;
pub use itc::{Itc, ItcParams};
pub use registration::registry_entries;
pub use summary::{
    Mean, MeanName, Statistic, Std, StdName, SummaryName, SummaryParams, TrialSummary, Var, VarName,
};
