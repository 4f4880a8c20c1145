//! Built-in routines, one folder per family, and the [`registry`] that maps routine names to
//! constructors and documentation (it drives `trialflow routines` and pipeline parsing).
//!
//! Every routine follows the same shape: a `...Params` struct that is both what YAML
//! deserialises into and the typed builder code fills (`GaussianParams::new().sigma(2.0)`),
//! a `check()` that validates it into the routine itself (whose fields are private), and a
//! per-family error enum. Each family's `registration.rs` documents its routines and
//! implements [`trialflow_core::routine::Registrable`] for them.

pub mod filters;
pub mod peaks;
pub mod preprocessing;
pub mod registry;
pub mod smoothing;
pub mod spectral;

mod params;

pub use params::{BuildError, Keyword, Numbers, ParamDoc};
pub use registry::{Registry, RoutineDoc, RoutineEntry};

/// Every built-in routine's registry entry, sorted by name.
pub fn builtin_entries() -> Vec<RoutineEntry> {
    // Each routine family contributes its entries; keep one line per family.
    let mut entries = preprocessing::registry_entries();
    entries.extend(smoothing::registry_entries());
    entries.extend(peaks::registry_entries());
    entries.extend(spectral::registry_entries());
    entries.extend(filters::registry_entries());
    entries.sort_by_key(|e| e.doc.name);
    entries
}
