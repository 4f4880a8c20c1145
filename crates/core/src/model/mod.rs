//! What recordings and results look like: data kinds, dtypes, trial definitions and the
//! schema a routine declares for its output before anything runs.

mod dtype;
mod events;
mod kind;
mod schema;
mod shapes;
mod trialdef;

pub use dtype::DType;
pub use events::{EventBlock, EventColumn, EventColumnKind, EventSortScratch};
pub use kind::DataKind;
pub use schema::{DataSchema, OutputShape};
pub use shapes::TrialShapes;
pub use trialdef::TrialDefinition;
