//! Built-in routines, one folder per family, and [`builtin_entries`]: their names,
//! constructors and documentation, which the pipeline crate's `Registry` starts from (it
//! drives `trialflow routines` and pipeline parsing).
//!
//! Every routine follows the same shape: a `...Params` struct that is both what YAML
//! deserialises into and the typed builder code fills (`GaussianParams::new().sigma(2.0)`),
//! a `check()` that validates it into the routine itself (whose fields are private), and a
//! per-family error enum. Each family's `registration.rs` documents its routines and
//! implements [`trialflow_core::routine::Registrable`] for them.

pub mod connectivity;
pub mod filters;
pub mod peaks;
pub mod preprocessing;
pub mod smoothing;
pub mod spectral;
pub mod statistics;
pub mod timefreq;
pub mod wavelets;

mod params;
#[cfg(test)]
mod reference;

pub use params::{BuildError, Keyword, Numbers, ParamDoc};
pub use trialflow_core::routine::{RoutineDoc, RoutineEntry};

/// Every built-in routine's registry entry, sorted by name.
pub fn builtin_entries() -> Vec<RoutineEntry> {
    // Each routine family contributes its entries; keep one line per family.
    let mut entries = preprocessing::registry_entries();
    entries.extend(smoothing::registry_entries());
    entries.extend(peaks::registry_entries());
    entries.extend(spectral::registry_entries());
    entries.extend(filters::registry_entries());
    entries.extend(timefreq::registry_entries());
    entries.extend(statistics::registry_entries());
    entries.extend(wavelets::registry_entries());
    entries.extend(connectivity::registry_entries());
    entries.sort_by_key(|e| e.doc.name);
    entries
}

/// Builds a built-in routine by name, for unit tests of the families.
#[cfg(test)]
pub(crate) fn build_builtin(
    name: &str,
    params: serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn trialflow_core::ComputationalRoutine>, BuildError> {
    let entry = builtin_entries()
        .into_iter()
        .find(|e| e.doc.name == name)
        .unwrap_or_else(|| panic!("{name} is a built-in routine"));
    (entry.build)(params)
}

/// The entry of a built-in routine, for unit tests of the families.
#[cfg(test)]
pub(crate) fn builtin_entry(name: &str) -> Option<RoutineEntry> {
    builtin_entries().into_iter().find(|e| e.doc.name == name)
}
