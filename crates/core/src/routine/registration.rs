//! How a routine becomes nameable from a pipeline: the [`Registrable`] trait, the
//! documentation `trialflow routines` prints, and the registry entry built from both.
//!
//! The registry itself (a set of entries, `Registry::builtin().with::<MyRoutine>()`) lives in
//! the pipeline library crate; this module holds what a routine crate implements, so routine
//! crates do not depend on the front ends.

use serde::de::DeserializeOwned;

use crate::error::RoutineError;
use crate::model::DataKind;

use super::ComputationalRoutine;

/// Documentation of one routine parameter, shown by `trialflow routines NAME`.
///
/// The registry tests check every `ParamDoc` against the routine's parameter type: each
/// documented name is accepted, and writing its `default` gives the same routine as leaving
/// it out. So the printed docs cannot drift from what `check()` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDoc {
    pub name: &'static str,
    /// The type as a user writes it in YAML (`number`, `"linear" | "constant"`, ...).
    pub kind: &'static str,
    /// The default, as YAML; `required` for parameters without one.
    pub default: &'static str,
    pub doc: &'static str,
}

/// What `trialflow routines NAME` shows.
#[derive(Debug, Clone, Copy)]
pub struct RoutineDoc {
    pub name: &'static str,
    pub summary: &'static str,
    /// The SciPy or Syncopy call whose numbers this routine reproduces.
    pub matches: &'static str,
    pub input: DataKind,
    pub output: DataKind,
    pub params: &'static [ParamDoc],
    /// A pipeline step using the routine, as YAML.
    pub example: &'static str,
}

/// A routine that pipelines can name: its unchecked parameters (what a pipeline step
/// deserialises into, and what the typed builder fills), the check that turns them into the
/// routine, and its documentation. Implement it for a custom routine and hand the routine to
/// `Registry::with::<R>()`: every front end (the CLI, YAML pipelines, Python) then knows it.
pub trait Registrable: ComputationalRoutine + Sized + 'static {
    /// The unchecked parameters. Deserialised from the keys beside `routine:`; every field
    /// must be optional (defaults apply) so a step may leave any of them out.
    type Params: DeserializeOwned;

    /// Name, summary, parameters and an example step. `doc().name` is the registry name and
    /// must equal [`ComputationalRoutine::name`].
    fn doc() -> RoutineDoc;

    /// Validates the parameters into the routine (the only way to build one from YAML).
    fn from_params(params: Self::Params) -> Result<Self, RoutineError>;
}

/// Builds a validated routine from the parameters written beside `routine:`.
pub type Constructor = fn(
    serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn ComputationalRoutine>, BuildError>;

/// One registered routine: its documentation and its constructor.
#[derive(Debug, Clone, Copy)]
pub struct RoutineEntry {
    pub doc: RoutineDoc,
    pub build: Constructor,
}

impl RoutineEntry {
    /// The entry of a [`Registrable`] routine.
    pub fn of<R: Registrable>() -> RoutineEntry {
        RoutineEntry {
            doc: R::doc(),
            build: build_boxed::<R>,
        }
    }
}

fn build_boxed<R: Registrable>(
    params: serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn ComputationalRoutine>, BuildError> {
    let params: R::Params = parse_params(params)?;
    Ok(Box::new(R::from_params(params)?))
}

/// Why a routine could not be built from the parameters a user wrote.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown routine '{name}'{hint}")]
    UnknownRoutine { name: String, hint: String },
    #[error("{0}")]
    Params(String),
    #[error(transparent)]
    Invalid(#[from] RoutineError),
}

/// Deserialises unchecked parameters from the map beside `routine:` in a pipeline step,
/// turning serde's message into one that names the offending key.
///
/// serde's own message for a wrongly typed value does not say which key held it, so on
/// failure each key is tried alone (parameter structs have only optional fields) to find
/// the culprit.
pub fn parse_params<P: DeserializeOwned>(
    params: serde_json::Map<String, serde_json::Value>,
) -> Result<P, BuildError> {
    let error = match serde_json::from_value(serde_json::Value::Object(params.clone())) {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e,
    };
    for (key, value) in &params {
        let mut single = serde_json::Map::new();
        single.insert(key.clone(), value.clone());
        if let Err(e) = serde_json::from_value::<P>(serde_json::Value::Object(single)) {
            let message = e.to_string();
            if message.starts_with("unknown field") {
                return Err(BuildError::Params(message));
            }
            return Err(BuildError::Params(format!("parameter `{key}`: {message}")));
        }
    }
    Err(BuildError::Params(error.to_string()))
}
