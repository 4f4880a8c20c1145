//! Routine names to constructors and documentation. The CLI builds pipeline steps through
//! it, and `trialflow routines` prints it; library users can register their own routines.

use serde_json::{Map, Value};
use trialflow_core::{ComputationalRoutine, DataKind};

use crate::params::{parse_params, BuildError, ParamDoc};
use crate::preprocessing::{DetrendParams, RectifyParams, ZScoreParams};

pub use trialflow_core::routine::{Constructor, RoutineDoc, RoutineEntry};

/// The routines a pipeline can name.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<RoutineEntry>,
}

impl Registry {
    /// Every built-in routine.
    pub fn builtin() -> Registry {
        // Each routine family contributes its entries; keep one line per family.
        let mut entries = vec![detrend_entry(), zscore_entry(), rectify_entry()];
        entries.extend(crate::smoothing::registry_entries());
        entries.extend(crate::peaks::registry_entries());
        entries.extend(crate::spectral::registry_entries());
        entries.extend(crate::filters::registry_entries());
        entries.sort_by_key(|e| e.doc.name);
        Registry { entries }
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

fn detrend_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "detrend",
            summary: "Remove the least-squares line (or the mean) from each trial and channel.",
            matches: "scipy.signal.detrend(x, axis=0, type=...)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[ParamDoc {
                name: "type",
                kind: "\"linear\" | \"constant\"",
                default: "linear",
                doc: "linear removes the least-squares line; constant removes the mean",
            }],
            example: "- routine: detrend\n  type: linear",
        },
        build: |params| {
            let p: DetrendParams = parse_params(params)?;
            Ok(Box::new(
                p.check().map_err(trialflow_core::RoutineError::from)?,
            ))
        },
    }
}

fn zscore_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "zscore",
            summary: "Standardise each trial and channel: (x - mean) / std, with ddof 0.",
            matches: "Syncopy preprocessing(zscore=True); (x - x.mean(0)) / x.std(0)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[],
            example: "- routine: zscore",
        },
        build: |params| {
            let p: ZScoreParams = parse_params(params)?;
            Ok(Box::new(
                p.check().map_err(trialflow_core::RoutineError::from)?,
            ))
        },
    }
}

fn rectify_entry() -> RoutineEntry {
    RoutineEntry {
        doc: RoutineDoc {
            name: "rectify",
            summary: "Absolute value of every sample.",
            matches: "Syncopy preprocessing(rectify=True); numpy.abs(x)",
            input: DataKind::Analog,
            output: DataKind::Analog,
            params: &[],
            example: "- routine: rectify",
        },
        build: |params| {
            let p: RectifyParams = parse_params(params)?;
            Ok(Box::new(
                p.check().map_err(trialflow_core::RoutineError::from)?,
            ))
        },
    }
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
