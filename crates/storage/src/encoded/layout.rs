//! Where a dataset's stored bytes lie, and reading a trial's worth of them on the reader
//! thread.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use hdf5::filters::Filter;
use hdf5::plist::dataset_create::Layout;

use super::decode::Unfilter;
use super::{put_u64, Record, CHUNK_HEADER_BYTES, HEADER_BYTES};
use crate::stored::StoredType;

/// A 1-D or 2-D dataset of samples (`[rows, columns]`, 1-D data as one column) whose bytes
/// can be read without HDF5.
pub(crate) struct StoredLayout {
    file: File,
    dataset: hdf5::Dataset,
    columns: usize,
    element: usize,
    kind: Kind,
}

enum Kind {
    Contiguous {
        offset: u64,
    },
    /// Chunk shape `[rows, columns]`.
    Chunked {
        chunk: [usize; 2],
    },
}

impl StoredLayout {
    /// The layout of `dataset` (in `path`, stored as `stored`), when its bytes can be read
    /// and decoded without HDF5: contiguous, or chunked with only shuffle and deflate
    /// filters and chunks of at most `max_chunk_rows` rows (a chunk much longer than a trial
    /// would be inflated again for every trial it holds, where HDF5's chunk cache inflates
    /// it once). The values must be stored exactly as this machine holds `stored`.
    /// `None` means "read through HDF5", never an error. Also returns the filters to undo,
    /// in the order to undo them, and the chunk shape.
    pub fn detect(
        path: &Path,
        dataset: &hdf5::Dataset,
        stored: StoredType,
        max_chunk_rows: usize,
    ) -> Option<(StoredLayout, Vec<Unfilter>, [usize; 2])> {
        if !native(dataset, stored) {
            return None;
        }
        let shape = dataset.shape();
        let columns = match shape[..] {
            [_] => 1,
            [_, c] => c,
            _ => return None,
        };
        let dcpl = dataset.dcpl().ok()?;
        if !dcpl.external().is_empty() {
            return None;
        }
        let (kind, unfilters, chunk) = match dcpl.layout() {
            Layout::Contiguous => {
                let bytes = (dataset.size() * stored.size_bytes()) as u64;
                if bytes == 0 || dataset.storage_size() < bytes {
                    return None;
                }
                let offset = dataset.offset()?;
                (Kind::Contiguous { offset }, Vec::new(), [0, 0])
            }
            Layout::Chunked => {
                let dims = dataset.chunk()?;
                let chunk = match dims[..] {
                    [r] => [r, 1],
                    [r, c] => [r, c],
                    _ => return None,
                };
                if chunk[0] == 0 || chunk[1] == 0 || chunk[0] > max_chunk_rows {
                    return None;
                }
                let mut unfilters = Vec::new();
                for filter in dcpl.filters() {
                    unfilters.push(match filter {
                        Filter::Deflate(_) => Unfilter::Inflate,
                        Filter::Shuffle => Unfilter::Unshuffle,
                        _ => return None,
                    });
                }
                // Filters run in pipeline order when writing, so they are undone backwards.
                unfilters.reverse();
                (Kind::Chunked { chunk }, unfilters, chunk)
            }
            _ => return None,
        };
        // The file that holds the dataset: not `path` when the series is an external link.
        let holder = dataset.filename();
        let file = File::open(if holder.is_empty() {
            path
        } else {
            Path::new(&holder)
        })
        .ok()?;
        Some((
            StoredLayout {
                file,
                dataset: dataset.clone(),
                columns,
                element: stored.size_bytes(),
                kind,
            },
            unfilters,
            chunk,
        ))
    }

    /// Appends the stored bytes of `rows` (every column) to `out` as one encoded trial.
    /// Returns `Ok(false)` (having written nothing) when some chunk of them was never
    /// written, so the caller reads those rows through HDF5, which supplies the fill value.
    pub fn read(&self, rows: Range<usize>, out: &mut Vec<u8>) -> Result<bool, String> {
        out.clear();
        match self.kind {
            Kind::Contiguous { offset } => {
                header(out, Record::Rows, &rows);
                let row_bytes = self.columns * self.element;
                let start = out.len();
                out.resize(start + rows.len() * row_bytes, 0);
                self.file
                    .read_exact_at(&mut out[start..], offset + (rows.start * row_bytes) as u64)
                    .map_err(|e| e.to_string())?;
            }
            Kind::Chunked { chunk } => {
                header(out, Record::Chunks, &rows);
                if rows.is_empty() {
                    return Ok(true);
                }
                let first = rows.start / chunk[0];
                let last = (rows.end - 1) / chunk[0];
                let column_chunks = self.columns.div_ceil(chunk[1]);
                for r in first..=last {
                    for c in 0..column_chunks {
                        let origin = [(r * chunk[0]) as u64, (c * chunk[1]) as u64];
                        let Some(place) = chunk_place(&self.dataset, &origin)? else {
                            out.clear();
                            return Ok(false);
                        };
                        put_u64(out, origin[0]);
                        put_u64(out, origin[1]);
                        out.extend_from_slice(&place.mask.to_le_bytes());
                        put_u64(out, place.size);
                        let start = out.len();
                        out.resize(start + place.size as usize, 0);
                        self.file
                            .read_exact_at(&mut out[start..], place.addr)
                            .map_err(|e| e.to_string())?;
                    }
                }
                debug_assert!(out.len() >= HEADER_BYTES + CHUNK_HEADER_BYTES);
            }
        }
        Ok(true)
    }
}

pub(super) fn header(out: &mut Vec<u8>, record: Record, rows: &Range<usize>) {
    out.push(record as u8);
    put_u64(out, rows.start as u64);
    put_u64(out, rows.len() as u64);
}

/// Whether `dataset` stores exactly `stored` in this machine's byte order.
fn native(dataset: &hdf5::Dataset, stored: StoredType) -> bool {
    use hdf5::Datatype;
    let Ok(actual) = dataset.dtype() else {
        return false;
    };
    let expected = match stored {
        StoredType::I8 => Datatype::from_type::<i8>(),
        StoredType::I16 => Datatype::from_type::<i16>(),
        StoredType::I32 => Datatype::from_type::<i32>(),
        StoredType::I64 => Datatype::from_type::<i64>(),
        StoredType::U8 => Datatype::from_type::<u8>(),
        StoredType::U16 => Datatype::from_type::<u16>(),
        StoredType::U32 => Datatype::from_type::<u32>(),
        StoredType::F32 => Datatype::from_type::<f32>(),
        StoredType::F64 => Datatype::from_type::<f64>(),
    };
    expected.map(|e| e == actual).unwrap_or(false)
}

/// A stored chunk: its file address, byte count and which filters were skipped for it.
struct ChunkPlace {
    addr: u64,
    size: u64,
    mask: u32,
}

/// Where the chunk whose first element is at `origin` lies in the file; `None` if it was
/// never written.
fn chunk_place(dataset: &hdf5::Dataset, origin: &[u64; 2]) -> Result<Option<ChunkPlace>, String> {
    use hdf5_sys::h5d::H5Dget_chunk_info_by_coord;
    let rank = dataset.ndim();
    let id = dataset.id();
    hdf5::sync::sync(|| {
        let mut mask: std::os::raw::c_uint = 0;
        let mut addr: hdf5_sys::h5::haddr_t = 0;
        let mut size: hdf5_sys::h5::hsize_t = 0;
        let coords: [hdf5_sys::h5::hsize_t; 2] = [origin[0], origin[1]];
        // SAFETY: `id` is a live dataset; `coords` holds at least `rank` (1 or 2) offsets
        // and the three out-pointers point at locals.
        let status = unsafe {
            H5Dget_chunk_info_by_coord(id, coords[..rank].as_ptr(), &mut mask, &mut addr, &mut size)
        };
        if status < 0 {
            return Err(format!(
                "cannot locate the chunk at row {} column {}",
                origin[0], origin[1]
            ));
        }
        if addr == hdf5_sys::h5::HADDR_UNDEF || size == 0 {
            return Ok(None);
        }
        Ok(Some(ChunkPlace {
            addr,
            size,
            mask: mask as u32,
        }))
    })
}
