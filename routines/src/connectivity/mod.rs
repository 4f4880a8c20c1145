//! Connectivity numerics (Syncopy 2023.9's `connectivityanalysis`): cross-spectra,
//! coherence, pairwise phase consistency, cross-correlation and spectral Granger causality.
//!
//! Every method reduces over trials, so each is written as the three steps a cross-trial
//! reduction runs, and nothing else:
//!
//! | method | per-trial contribution | sum over trials (trial order) | `finish(sum, n_trials)` |
//! |---|---|---|---|
//! | `csd` | [`CsdPlan::trial`] / [`dyadic_product`] → [`CsdBlock`] | [`CsdBlock::add`] | [`CsdBlock::mean`] |
//! | `coh` | the same | the same | [`coherence`] / [`coherency`] ([`coherence_packed`] from the fold's packed sum) |
//! | `granger` | the same (with `demean_taper`, every frequency) | the same | [`granger::finish`] |
//! | `ppc` | [`ppc::contribution`] of the trial's `CsdBlock::cross` | `+=` | [`ppc::finish`] |
//! | `corr` | [`CorrPlan::trial`] | `+=` | [`corr::finish`] |
//!
//! Plans (FFTs, tapers) are built once per trial length from a `Planner`; the per-trial
//! functions take caller-owned scratch and write into caller-owned blocks, so a worker
//! allocates nothing per trial. `routine.rs` drives them as the `connectivity` routine.

mod coherence;
pub mod corr;
mod errors;
pub mod granger;
mod kernels;
mod linalg;
mod method;
mod packed;
mod pairs;
pub mod ppc;
mod registration;
mod routine;
mod spectra;
pub mod wilson;
mod wilson_steps;

pub use coherence::{coherence, coherence_packed, coherency, CoherenceOutput};
pub use corr::{CorrPlan, CorrScratch};
pub use errors::ConnectivityError;
pub use granger::GrangerInfo;
pub use method::Method;
pub use packed::{dyadic_product_packed, pack, packed_stage_len, Packing};
pub use pairs::{ChannelCmb, ChannelPairs, ChannelRef};
pub use registration::registry_entries;
pub use routine::{Connectivity, ConnectivityParams};
pub use spectra::{
    dyadic_product, dyadic_product_into, CrossSpectra, CrossSpectraParams, CsdBlock, CsdBuffers,
    CsdPlan, CsdScratch,
};
