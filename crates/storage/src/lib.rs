//! Syncopy `.spy` containers on HDF5: [`SpyReader`] reads AnalogData written by Syncopy (or
//! by us) as a trial source; [`SpyWriter`] writes results that `spy.load` opens.
//!
//! All HDF5 calls of a run happen on two threads, the engine's reader and writer, because the
//! `hdf5` crate serialises every call process-wide.

mod container;
mod error;
mod event_sidecar;
mod hdf5_util;
mod info;
mod inspect;
mod journal;
mod parts;
mod raw_io;
mod reader;
mod sums;
mod typed;
mod writer;

pub use container::{resolve_input, ContainerPath};
pub use error::StorageError;
pub use info::{file_sha1, read_info, SYNCOPY_FORMAT_VERSION};
pub use inspect::{inspect_path, ObjectSummary};
pub use reader::SpyReader;
pub use writer::{SpyWriter, WriteMode, WriterOptions};

/// Makes HDF5 usable for many concurrent readers and quiet on errors. Call once at process
/// start, before any other HDF5 call: file locking would make concurrent runs on one input
/// fail ("unable to lock file"), and HDF5's own error stacks would bury our one-line messages.
pub fn init_hdf5() {
    if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
        std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE");
    }
    hdf5::silence_errors(true);
}
