//! The encoding of values that cross process boundaries (MPI ranks). postcard: compact,
//! maintained, pure Rust, and bit-exact for floats (NaN payloads included).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that can be sent between processes: any serde type. The collectives and
/// in-memory results require it on every executor, so code that runs on threads runs
/// unchanged under MPI.
pub trait Wire: Serialize + DeserializeOwned + Send {}

impl<T: Serialize + DeserializeOwned + Send> Wire for T {}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serde types encode to postcard infallibly")
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    postcard::from_bytes(bytes)
        .expect("bytes decoded by the same build that encoded them (all ranks run one binary)")
}
