//! Routine names to constructors and documentation. The CLI builds pipeline steps through
//! it, and `trialflow routines` prints it; library users can register their own routines.

use serde_json::{Map, Value};
use trialflow_core::ComputationalRoutine;

use crate::params::BuildError;

pub use trialflow_core::routine::{Constructor, RoutineDoc, RoutineEntry};

/// The routines a pipeline can name.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<RoutineEntry>,
}

impl Registry {
    /// Every built-in routine.
    pub fn builtin() -> Registry {
        Registry {
            entries: crate::builtin_entries(),
        }
    }

    /// Adds (or replaces) a routine.
    pub fn register(&mut self, entry: RoutineEntry) {
        self.entries.retain(|e| e.doc.name != entry.doc.name);
        self.entries.push(entry);
    }

    pub fn get(&self, name: &str) -> Option<&RoutineEntry> {
        self.entries.iter().find(|e| e.doc.name == name)
    }

    pub fn entries(&self) -> &[RoutineEntry] {
        &self.entries
    }

    /// Builds a routine by name, refusing unknown names (with a suggestion) and parameters.
    pub fn build(
        &self,
        name: &str,
        params: Map<String, Value>,
    ) -> Result<Box<dyn ComputationalRoutine>, BuildError> {
        let entry = self.get(name).ok_or_else(|| BuildError::UnknownRoutine {
            name: name.to_string(),
            hint: self.suggest(name),
        })?;
        (entry.build)(params)
    }

    /// " (did you mean 'x'?)" for a near miss, else the list of known routines.
    pub fn suggest(&self, name: &str) -> String {
        let best = self
            .entries
            .iter()
            .map(|e| (edit_distance(name, e.doc.name), e.doc.name))
            .min();
        match best {
            Some((d, candidate)) if d <= 3 => format!(" (did you mean '{candidate}'?)"),
            _ => {
                let names: Vec<_> = self.entries.iter().map(|e| e.doc.name).collect();
                format!("; known routines: {}", names.join(", "))
            }
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routine_gets_a_suggestion() {
        let err = Registry::builtin().build("zscor", Map::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown routine 'zscor' (did you mean 'zscore'?)"
        );
    }

    #[test]
    fn unknown_parameter_is_named() {
        let mut params = Map::new();
        params.insert("typ".into(), Value::from("linear"));
        let err = Registry::builtin().build("detrend", params).unwrap_err();
        assert!(err.to_string().contains("unknown field `typ`"), "{err}");
    }

    #[test]
    fn invalid_value_is_refused() {
        let mut params = Map::new();
        params.insert("type".into(), Value::from("quadratic"));
        let err = Registry::builtin().build("detrend", params).unwrap_err();
        assert!(err.to_string().contains("'quadratic'"), "{err}");
    }
}
