//! (being written: see issue 4)

use crate::registry::RoutineEntry;

/// This family's routines, for [`crate::Registry::builtin`].
pub fn registry_entries() -> Vec<RoutineEntry> {
    Vec::new()
}
