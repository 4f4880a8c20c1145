use serde::de::DeserializeOwned;

/// Documentation of one routine parameter, shown by `trialflow routines NAME`.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    /// The type as a user writes it in YAML (`number`, `"linear" | "constant"`, ...).
    pub kind: &'static str,
    /// The default, as YAML; `required` for parameters without one.
    pub default: &'static str,
    pub doc: &'static str,
}

/// Why a routine could not be built from the parameters a user wrote.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown routine '{name}'{hint}")]
    UnknownRoutine { name: String, hint: String },
    #[error("{0}")]
    Params(String),
    #[error(transparent)]
    Invalid(#[from] trialflow_core::RoutineError),
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
