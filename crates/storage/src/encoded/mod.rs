//! Trials handed to the compute workers as stored bytes.
//!
//! HDF5 calls are serialised process-wide, so whatever HDF5 does for a read (inflating gzip
//! chunks, converting int16 to f64) happens on one thread at a time. For the common
//! layouts we do not need it to: a contiguous dataset is `rows x row_bytes` at a file offset,
//! and a chunk of a chunked dataset is a zlib stream (after an optional byte shuffle) at an
//! address HDF5 reports. The reader thread asks HDF5 only where each chunk lies
//! (`H5Dget_chunk_info_by_coord`, an index lookup) and reads the bytes with `pread`; the
//! workers inflate, unshuffle, widen and scale them ([`decode`]). Anything else (other
//! filters, big-endian or unusual types, chunks far larger than a trial) stays on HDF5.

mod decode;
mod layout;

pub(crate) use decode::{Scaling, StoredDecoder};
pub(crate) use layout::StoredLayout;

/// What one encoded trial holds, the first byte of its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Record {
    /// The trial's rows of a contiguous dataset, as stored.
    Rows = 0,
    /// The chunks the trial's rows touch, each with its position and filter mask.
    Chunks = 1,
    /// Values already decoded (f64), for what the reader had to read through HDF5.
    Values = 2,
}

/// The header of an encoded trial: its record kind, first row and row count, as
/// little-endian words after the kind byte.
const HEADER_BYTES: usize = 1 + 8 + 8;
/// Each chunk's own header: first row, first column, filter mask and byte count.
const CHUNK_HEADER_BYTES: usize = 8 + 8 + 4 + 8;

/// Encodes values read through HDF5 (already scaled) as a trial the decoder passes through.
pub(crate) fn encode_values(rows: &std::ops::Range<usize>, values: &[f64], out: &mut Vec<u8>) {
    out.clear();
    layout::header(out, Record::Values, rows);
    for v in values {
        out.extend_from_slice(&v.to_ne_bytes());
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn get_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ndarray::{s, Array2};
    use trialflow_core::engine::TrialDecoder;

    use super::decode::StoredDecoder;
    use super::StoredLayout;
    use crate::hdf5_util::{create_file, open_read_only};
    use crate::stored::StoredType;

    fn scratch_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "trialflow-encoded-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Reads `rows` of `name` in `path` both ways and requires the same bits; returns whether
    /// the layout was readable without HDF5.
    fn same_both_ways(path: &std::path::Path, name: &str, stored: StoredType) -> bool {
        let file = open_read_only(path).unwrap();
        let dataset = file.dataset(name).unwrap();
        let Some((layout, unfilters, chunk)) = StoredLayout::detect(path, &dataset, stored, 64)
        else {
            return false;
        };
        let columns = dataset.shape().get(1).copied().unwrap_or(1);
        let decoder = StoredDecoder {
            what: name.to_string(),
            stored,
            columns,
            chunk,
            unfilters,
            scaling: None,
        };
        let whole: Vec<f64> = if dataset.ndim() == 1 {
            dataset.read_raw::<f64>().unwrap()
        } else {
            dataset
                .read_2d::<f64>()
                .unwrap()
                .into_raw_vec_and_offset()
                .0
        };
        for rows in [3..41, 0..7, 14..15, 0..50] {
            let mut bytes = Vec::new();
            let mut out = Vec::new();
            if layout.read(rows.clone(), &mut bytes).unwrap() {
                decoder.decode(&bytes, &mut out).unwrap();
            } else {
                // A never-written chunk: the source reads those rows through HDF5.
                assert_eq!(name, "sparse");
                continue;
            }
            let want = &whole[rows.start * columns..rows.end * columns];
            assert_eq!(out.len(), want.len(), "{name} {rows:?}");
            for (k, (a, b)) in out.iter().zip(want).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{name} {rows:?} value {k}");
            }
        }
        true
    }

    #[test]
    fn chunked_shuffled_gzip_and_linked_data_decode_to_what_hdf5_reads() {
        let dir = scratch_dir();
        let a = dir.join("a.h5");
        let values = Array2::from_shape_fn((50, 3), |(r, c)| (r as i16 - 20) * 311 + c as i16);
        {
            let file = create_file(&a).unwrap();
            file.new_dataset_builder()
                .with_data(&values)
                .create("plain")
                .unwrap();
            file.new_dataset_builder()
                .chunk((7, 2))
                .shuffle()
                .deflate(6)
                .with_data(&values)
                .create("zip")
                .unwrap();
            let ramp: Vec<f32> = (0..50).map(|i| i as f32 * 0.37 - 3.0).collect();
            file.new_dataset_builder()
                .chunk(9)
                .deflate(1)
                .with_data(&ramp)
                .create("ramp")
                .unwrap();
            let sparse = file
                .new_dataset::<i16>()
                .chunk((10, 3))
                .shape((50, 3))
                .create("sparse")
                .unwrap();
            sparse
                .write_slice(&values.slice(s![0..10, ..]), s![0..10, ..])
                .unwrap();
        }
        let b = dir.join("b.h5");
        {
            let file = create_file(&b).unwrap();
            file.link_external(a.to_str().unwrap(), "/zip", "linked")
                .unwrap();
            file.link_soft("/linked", "soft").unwrap();
        }
        assert!(same_both_ways(&a, "plain", StoredType::I16));
        assert!(same_both_ways(&a, "zip", StoredType::I16));
        assert!(same_both_ways(&a, "ramp", StoredType::F32));
        assert!(same_both_ways(&a, "sparse", StoredType::I16));
        assert!(same_both_ways(&b, "linked", StoredType::I16));
        assert!(same_both_ways(&b, "soft", StoredType::I16));
        // A type that is not what is stored goes through HDF5.
        assert!(!same_both_ways(&a, "zip", StoredType::I32));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
