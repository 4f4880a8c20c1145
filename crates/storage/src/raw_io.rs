//! Reads and writes the raw values of contiguous datasets with `pread`/`pwrite`, outside
//! HDF5.
//!
//! The `hdf5` crate serialises every HDF5 call process-wide, so a reader thread and a
//! writer thread that both go through HDF5 take turns instead of overlapping; and HDF5's
//! own read path converts through a zero-filled buffer. A contiguous dataset, though, is
//! just `rows x row_bytes` at a fixed file offset. Where the stored type is exactly the
//! in-memory type (IEEE floats of this machine's byte order), moving those bytes directly is
//! what HDF5 would do, without the lock. HDF5 still creates, describes and closes every
//! dataset; anything that is not plain contiguous storage goes through HDF5 as before.

use std::fs::File;
use std::os::unix::fs::FileExt;

use hdf5::plist::dataset_create::Layout;
use num_complex::{Complex32, Complex64};

/// A type whose values are plain bytes: any bit pattern is a valid value, and there is no
/// padding. Lets a slice of values be read and written as bytes without a copy.
///
/// # Safety
/// Implement only for types with no padding and no invalid bit patterns.
pub(crate) unsafe trait PlainBytes: Copy + hdf5::H5Type {}

// SAFETY: IEEE floats accept every bit pattern; `Complex<T>` is `repr(C)` of two `T`.
unsafe impl PlainBytes for f32 {}
unsafe impl PlainBytes for f64 {}
unsafe impl PlainBytes for Complex32 {}
unsafe impl PlainBytes for Complex64 {}

pub(crate) fn as_bytes<T: PlainBytes>(values: &[T]) -> &[u8] {
    // SAFETY: `T: PlainBytes` has no padding, so every byte of the slice is initialised.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

pub(crate) fn as_bytes_mut<T: PlainBytes>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: as above, and any bytes written make valid `T` values.
    unsafe {
        std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), std::mem::size_of_val(values))
    }
}

/// Where a dataset's values lie in its file, when they can be moved as plain bytes of `T`:
/// contiguous layout in this file (no external storage, no virtual mapping), stored exactly
/// as `T` in this machine's byte order, and backed by as many bytes as the shape needs.
/// `None` means "use HDF5", never an error.
pub(crate) fn raw_offset<T: PlainBytes>(dataset: &hdf5::Dataset) -> Option<u64> {
    let dcpl = dataset.dcpl().ok()?;
    if dcpl.layout() != Layout::Contiguous || !dcpl.external().is_empty() {
        return None;
    }
    if dataset.dtype().ok()? != hdf5::Datatype::from_type::<T>().ok()? {
        return None;
    }
    let bytes = (dataset.size() * std::mem::size_of::<T>()) as u64;
    if bytes == 0 || dataset.storage_size() < bytes {
        return None;
    }
    dataset.offset()
}

/// Reads `out.len()` values starting at byte `offset`.
pub(crate) fn read_at<T: PlainBytes>(
    file: &File,
    offset: u64,
    out: &mut [T],
) -> std::io::Result<()> {
    file.read_exact_at(as_bytes_mut(out), offset)
}

/// Writes `values` starting at byte `offset`.
pub(crate) fn write_at<T: PlainBytes>(
    file: &File,
    offset: u64,
    values: &[T],
) -> std::io::Result<()> {
    file.write_all_at(as_bytes(values), offset)
}
