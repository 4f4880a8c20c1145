//! The routines a pipeline can name. Any front end is handed one: `trialflow run` uses
//! [`Registry::builtin`], a user's own binary hands the CLI
//! `Registry::builtin().with::<MyRoutine>()`, and the Python bindings do the same.

use serde_json::{Map, Value};
use trialflow_core::routine::{BuildError, Registrable, RoutineEntry};
use trialflow_core::ComputationalRoutine;

/// Routine names to constructors and documentation.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<RoutineEntry>,
}

impl Registry {
    /// A registry with no routines.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Every built-in routine.
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty();
        for entry in trialflow_routines::builtin_entries() {
            registry.register(entry);
        }
        registry
    }

    /// Adds (or replaces) a routine, builder style.
    pub fn with<R: Registrable>(mut self) -> Registry {
        self.register(RoutineEntry::of::<R>());
        self
    }

    /// Adds (or replaces, by name) a routine. Entries stay sorted by name, which is the order
    /// `trialflow routines` lists them in.
    pub fn register(&mut self, entry: RoutineEntry) {
        self.entries.retain(|e| e.doc.name != entry.doc.name);
        let at = self
            .entries
            .partition_point(|e| e.doc.name < entry.doc.name);
        self.entries.insert(at, entry);
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

    #[test]
    fn entries_stay_sorted_and_replaceable() {
        let mut registry = Registry::builtin();
        let names: Vec<_> = registry.entries().iter().map(|e| e.doc.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let rectify = *registry.get("rectify").unwrap();
        registry.register(rectify);
        assert_eq!(registry.entries().len(), names.len());
    }
}
