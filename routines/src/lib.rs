//! Built-in routines, one folder per family, and the [`registry`] that maps routine names to
//! constructors and documentation (it drives `trialflow routines` and pipeline parsing).
//!
//! Every routine follows the same shape: an unchecked `...Params` struct that YAML
//! deserialises into, a `check()` that validates it into the routine itself, and a
//! per-family error enum.

pub mod filters;
pub mod peaks;
pub mod preprocessing;
pub mod registry;
pub mod smoothing;
pub mod spectral;

mod params;

pub use params::{BuildError, ParamDoc};
pub use registry::{Registry, RoutineDoc, RoutineEntry};

/// Every built-in routine's registry entry, sorted by name.
pub fn builtin_entries() -> Vec<RoutineEntry> {
    registry::Registry::builtin().entries().to_vec()
}
