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

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hdf5::plist::dataset_create::Layout;
use num_complex::{Complex32, Complex64};
use trialflow_core::engine::{BlockSpot, DenseBlock, DirectBlockWriter, TaskPlacement};
use trialflow_core::{DType, Error};

use crate::error::StorageError;

/// A type whose values are plain bytes: any bit pattern is a valid value, and there is no
/// padding. Lets a slice of values be read and written as bytes without a copy.
///
/// # Safety
/// Implement only for types with no padding and no invalid bit patterns.
pub(crate) unsafe trait PlainBytes: Copy + hdf5::H5Type {}

// SAFETY: an IEEE float has no padding and accepts every bit pattern.
unsafe impl PlainBytes for f32 {}
// SAFETY: as for f32.
unsafe impl PlainBytes for f64 {}
// SAFETY: a primitive integer has no padding and accepts every bit pattern.
unsafe impl PlainBytes for i8 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for i16 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for i32 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for i64 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for u8 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for u16 {}
// SAFETY: as for i8.
unsafe impl PlainBytes for u32 {}
// SAFETY: `Complex<f32>` is `repr(C)` of two f32: no padding, every bit pattern valid.
unsafe impl PlainBytes for Complex32 {}
// SAFETY: `Complex<f64>` is `repr(C)` of two f64: no padding, every bit pattern valid.
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

/// Copies `len` bytes of `src` from byte `from` into `dst` at byte `to`. On Linux the kernel
/// copies them (`copy_file_range`), page cache to page cache, without a trip through a
/// buffer of ours; where it cannot (another file system before Linux 5.3, an old kernel),
/// they go through a buffer of at most 1 MiB. A source shorter than `len` is an error.
pub(crate) fn copy_range(
    src: &File,
    from: u64,
    dst: &File,
    to: u64,
    len: u64,
) -> std::io::Result<()> {
    let mut done = 0;
    #[cfg(target_os = "linux")]
    while done < len {
        use std::os::fd::AsRawFd;
        let mut off_in = (from + done) as libc::loff_t;
        let mut off_out = (to + done) as libc::loff_t;
        let chunk = (len - done).min(1 << 30) as usize;
        // SAFETY: a plain syscall on two open descriptors; the offsets are locals it updates.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                &mut off_out,
                chunk,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EXDEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL) => break,
                _ => return Err(e),
            }
        }
        if n == 0 {
            // The source seems to end early, or the file system copies nothing (some
            // kernels did so for files they could not copy): the buffer tells which.
            break;
        }
        done += n as u64;
    }
    let mut buf = vec![0u8; (len - done).min(1 << 20) as usize];
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], from + done)?;
        dst.write_all_at(&buf[..n], to + done)?;
        done += n as u64;
    }
    Ok(())
}

/// An object's files are pushed toward the disk each time this many more bytes have been
/// written to them, a whole file at a time, rather than block by block. `sync_file_range`
/// blocks while the device's queue is full: 200 000 tiny blocks spent 4 s in it (20 us
/// each), more than copying them, so sessions 10 and 11 only hinted blocks of 256 KiB or
/// more. That left an mtmfft run of 64 channels (250 KiB trials) all its 51 MB for the
/// last syncs, and once tiny trials were written in runs of 500 KiB (session 12) their
/// hints cost a durable run 10 %, while a bound of 1 MiB made a sequential run of them,
/// which then had no hints at all, 25 % slower. Counting bytes serves both: one call per
/// 4 MiB whatever the block size.
const WRITEBACK_EVERY_BYTES: usize = 4 << 20;

/// Whether written blocks are pushed toward the disk as they are written. A run that syncs
/// its work before the journal claims it (`execution.durable`, the default) does; one that
/// leaves writeback to the kernel does not, since starting it only makes the disk busy while
/// the run still computes. Clones share one count of the bytes written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Writeback(Option<Arc<AtomicUsize>>);

impl Writeback {
    pub fn new(durable: bool) -> Writeback {
        Writeback(durable.then(|| Arc::new(AtomicUsize::new(0))))
    }

    /// Counts `len` bytes just written to `file`, and each time the count passes another
    /// [`WRITEBACK_EVERY_BYTES`] asks the kernel to start writing `file`'s dirty pages to
    /// disk now, without waiting. Pages written this way are mostly on disk by the time
    /// their file is synced, so the sync that a checkpoint or the commit waits for has
    /// little left to do. Only a hint: where it is unavailable the later sync does all the
    /// work.
    pub fn start(&self, file: &File, len: usize) {
        let Some(written) = &self.0 else { return };
        let before = written.fetch_add(len, Ordering::Relaxed);
        if (before + len) / WRITEBACK_EVERY_BYTES > before / WRITEBACK_EVERY_BYTES {
            start_writeback(file);
        }
    }
}

fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain syscall on an open descriptor; it reads no memory of ours. Offset
        // 0 and length 0 mean the whole file.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Where the blocks of a contiguous dataset go: task `t`'s rows start at a fixed byte
/// offset. Shared (`Arc`) with the compute workers, which write their blocks straight there
/// (`DirectBlockWriter`), so the bulk copy into the file is spread over the workers instead
/// of queuing on the writer thread.
#[derive(Debug)]
pub(crate) struct ContiguousBlocks {
    path: PathBuf,
    file: File,
    offset: u64,
    /// Stored numbers per stacked row (complex values count twice).
    row_numbers: usize,
    channels: usize,
    /// Whether the dataset stores f32 numbers (float32, complex64) rather than f64.
    stores_f32: bool,
    writeback: Writeback,
}

impl ContiguousBlocks {
    /// `offset` is where the dataset's values start (`raw_offset`), `stacked_shape` its shape.
    pub fn open(
        path: PathBuf,
        offset: u64,
        dtype: DType,
        stacked_shape: &[usize],
        writeback: Writeback,
    ) -> std::io::Result<ContiguousBlocks> {
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        Ok(ContiguousBlocks {
            path,
            file,
            offset,
            row_numbers: stacked_shape[1..].iter().product::<usize>() * dtype.components(),
            channels: stacked_shape.last().copied().unwrap_or(0),
            stores_f32: matches!(dtype, DType::Float32 | DType::Complex64),
            writeback,
        })
    }

    /// Whether a block at `placement` is one run of bytes: whole rows, all channels.
    pub fn holds_whole_rows(&self, placement: &TaskPlacement) -> bool {
        placement.channels == (0..self.channels)
    }

    /// Writes a whole-rows block already converted to the stored type.
    pub fn write<T: PlainBytes>(
        &self,
        placement: &TaskPlacement,
        values: &[T],
    ) -> Result<(), StorageError> {
        let at = self.block_offset(placement);
        write_at(&self.file, at, values).map_err(|e| StorageError::io(&self.path, e))?;
        self.writeback
            .start(&self.file, std::mem::size_of_val(values));
        Ok(())
    }

    /// Where a whole-rows block's values start in the file.
    fn block_offset(&self, placement: &TaskPlacement) -> u64 {
        let number = if self.stores_f32 { 4 } else { 8 };
        self.offset + (placement.rows.start * self.row_numbers * number) as u64
    }
}

impl DirectBlockWriter for ContiguousBlocks {
    fn try_write(&self, placement: &TaskPlacement, block: &DenseBlock<'_>) -> Result<bool, Error> {
        if !self.holds_whole_rows(placement) {
            return Ok(false);
        }
        write_block(
            &self.file,
            self.block_offset(placement),
            block,
            self.stores_f32,
            &self.writeback,
        )
        .map_err(|e| StorageError::io(&self.path, e).into())
    }

    fn locate(&self, placement: &TaskPlacement) -> Option<BlockSpot> {
        self.holds_whole_rows(placement).then(|| BlockSpot {
            file: 0,
            offset: self.block_offset(placement),
            stores_f32: self.stores_f32,
        })
    }

    fn write_run(&self, spot: &BlockSpot, bytes: &[u8]) -> Result<(), Error> {
        write_at(&self.file, spot.offset, bytes).map_err(|e| StorageError::io(&self.path, e))?;
        self.writeback.start(&self.file, bytes.len());
        Ok(())
    }
}

/// Values narrowed per `pwrite` when a block of f64 goes into float32 storage: small
/// enough to stay in the core's L1/L2 cache between the rounding and the copy into the
/// file, large enough that the calls cost little.
const NARROW_CHUNK: usize = 16 * 1024;

/// Writes a block at `offset` as the stored numbers (f32 when `stores_f32`, else f64),
/// starting its writeback. A block of f64 for f32 storage is rounded a chunk at a time
/// on the calling thread. `Ok(false)`: a block this cannot write (f32 values for f64
/// storage, or a non-contiguous view).
pub(crate) fn write_block(
    file: &File,
    offset: u64,
    block: &DenseBlock<'_>,
    stores_f32: bool,
    writeback: &Writeback,
) -> std::io::Result<bool> {
    let bytes = match (block, stores_f32) {
        (DenseBlock::F32(b), true) => match b.as_slice() {
            Some(values) => {
                write_at(file, offset, values)?;
                std::mem::size_of_val(values)
            }
            None => return Ok(false),
        },
        (DenseBlock::F64(b), false) => match b.as_slice() {
            Some(values) => {
                write_at(file, offset, values)?;
                std::mem::size_of_val(values)
            }
            None => return Ok(false),
        },
        (DenseBlock::F64(b), true) => match b.as_slice() {
            Some(values) => {
                let mut narrow = [0f32; NARROW_CHUNK];
                let mut at = offset;
                for chunk in values.chunks(NARROW_CHUNK) {
                    let narrow = &mut narrow[..chunk.len()];
                    for (n, &v) in narrow.iter_mut().zip(chunk) {
                        *n = v as f32;
                    }
                    write_at(file, at, narrow)?;
                    at += std::mem::size_of_val(narrow) as u64;
                }
                values.len() * 4
            }
            None => return Ok(false),
        },
        (DenseBlock::F32(_), false) => return Ok(false),
    };
    writeback.start(file, bytes);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes land at the offset asked, around what the file held; a source shorter
    /// than asked is an error, never zeros.
    #[test]
    fn copy_range_copies_at_offsets_and_refuses_a_short_source() {
        let dir = std::env::temp_dir().join(format!("tf-copy-range-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (src_path, dst_path) = (dir.join("src"), dir.join("dst"));
        let source: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src_path, &source).unwrap();
        std::fs::write(&dst_path, vec![7u8; 16]).unwrap();
        let src = File::open(&src_path).unwrap();
        let dst = std::fs::OpenOptions::new()
            .write(true)
            .open(&dst_path)
            .unwrap();
        copy_range(&src, 1000, &dst, 8, 200_000).unwrap();
        let got = std::fs::read(&dst_path).unwrap();
        assert_eq!(got.len(), 8 + 200_000);
        assert_eq!(&got[..8], &[7u8; 8]);
        assert!(got[8..] == source[1000..201_000]);
        let err = copy_range(&src, 200_000, &dst, 0, 200_000).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
