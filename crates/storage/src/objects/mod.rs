//! Read-only access to any object a Syncopy container holds (AnalogData, SpectralData,
//! SpikeData), for consumers that look at results rather than compute over them (plots,
//! and later pipelines that take these kinds as input). [`crate::SpyReader`] stays the
//! engine's AnalogData trial source; these readers only describe an object and read the
//! part of one trial that a caller asks for, so nothing unselected is read.

mod dense;
mod events;
mod header;
mod locate;

pub use dense::DenseObject;
pub use events::{EventObject, EventRow};
pub use header::{object_class, ObjectHeader};
pub use locate::locate_object;
