//! Parameter documentation and parsing live in core, beside [`trialflow_core::routine::Registrable`].

pub use trialflow_core::routine::{parse_params, BuildError, ParamDoc};
