//! Syncopy `.spy` containers on HDF5: [`SpyReader`] reads AnalogData written by Syncopy (or
//! by us) as a trial source; [`SpyWriter`] writes results that `spy.load` opens.
//!
//! All HDF5 calls of a run happen on two threads, the engine's reader and writer, because the
//! `hdf5` crate serialises every call process-wide.

// Every `unsafe` block says why it is sound (the workspace lints enforce it).

mod container;
mod dimord;
mod durability;
mod encoded;
mod error;
mod event_sidecar;
mod hdf5_util;
mod identity;
mod info;
mod inspect;
mod journal;
pub mod nwb;
pub mod objects;
mod parts;
mod raw_io;
mod read_ahead;
mod reader;
pub mod sources;
mod stored;
mod sums;
mod task_file;
mod typed;
mod writer;

pub use container::{resolve_input, ContainerPath};
pub use error::StorageError;
pub use hdf5_util::{
    create_file, one_line, open_read_only, open_rw, read_string_attr, write_string_attr,
};
pub use identity::file_identity;
pub use info::{file_sha1, read_info, SYNCOPY_FORMAT_VERSION};
pub use inspect::{inspect_path, ObjectSummary};
pub use journal::{journal_name, parse_shard_name, read_journal_lines, JournalFile};
pub use reader::SpyReader;
pub use stored::StoredType;
pub use task_file::{partial_path, sync_dir, sync_file, TaskFile};
pub use writer::{SpyWriter, WriteMode, WriterOptions, TIMELOCK_DATASETS};

/// Makes HDF5 quiet on errors. Call once at process start, before any other HDF5 call:
/// HDF5's own error stacks would bury our one-line messages. (File locking is turned off per
/// file, through the file access property list every open and create uses.)
pub fn init_hdf5() {
    hdf5::silence_errors(true);
}
