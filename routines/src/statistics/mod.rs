//! Statistics across trials: `itc` (Syncopy's inter-trial phase coherence, SpectralData in),
//! Syncopy's summary statistics `mean`, `var`, `std` and `median` (over trials, or over
//! time or channels per trial) and `timelock` (Syncopy's `timelockanalysis`, TimeLockData
//! out; the latency window it shares with Syncopy in `latency.rs`).
//!
//! These are the first routines that reduce across trials: each declares a
//! [`TrialReduction`](trialflow_core::routine::TrialReduction) in the dry run, its kernel
//! turns a trial into a contribution on the compute workers, the engine folds the
//! contributions in its fixed tree order (bitwise the same in every execution mode), and
//! `finish_reduction` makes the one result.

mod errors;
mod itc;
mod latency;
mod over_axis;
mod over_trials;
pub mod psth;
mod registration;
mod spike_psth;
mod summary;
mod timelock;
mod timelock_kernel;

pub use errors::StatisticsError;
pub use itc::{Itc, ItcParams};
pub use latency::{covers, Latency, LatencyParam};
pub use over_axis::DataAxis;
pub use registration::registry_entries;
pub use spike_psth::{BinSizeParam, Psth, PsthParams};
pub use summary::{
    Dim, Mean, MeanName, Median, MedianName, Statistic, Std, StdName, Summary, SummaryName,
    SummaryParams, Var, VarName,
};
pub use timelock::{Timelock, TimelockParams};
