//! Turning an encoded trial into f64 values, on a compute worker: inflate and unshuffle
//! chunks, widen the stored type, apply NWB's scaling.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};
use trialflow_core::engine::TrialDecoder;
use trialflow_core::{Error, ErrorClass};

use super::{get_u32, get_u64, Record, CHUNK_HEADER_BYTES, HEADER_BYTES};
use crate::stored::StoredType;

/// One step of undoing an HDF5 filter pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unfilter {
    /// HDF5's deflate filter: a zlib stream.
    Inflate,
    /// HDF5's shuffle filter: byte `j` of every element, for each `j` in turn.
    Unshuffle,
}

/// NWB's `data x conversion x channel_conversion[channel] + offset`, in numpy's order of
/// operations so values match pynwb bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scaling {
    pub conversion: f64,
    pub offset: f64,
    pub channel_conversion: Option<Vec<f64>>,
}

impl Scaling {
    pub(crate) fn apply(&self, values: &mut [f64], columns: usize) {
        let (conversion, offset) = (self.conversion, self.offset);
        match &self.channel_conversion {
            Some(cc) => {
                for row in values.chunks_exact_mut(columns) {
                    for (v, c) in row.iter_mut().zip(cc) {
                        *v = *v * conversion * c + offset;
                    }
                }
            }
            None => values
                .iter_mut()
                .for_each(|v| *v = *v * conversion + offset),
        }
    }
}

/// Decodes the encoded trials of one dataset.
pub(crate) struct StoredDecoder {
    /// The file and dataset, for messages.
    pub what: String,
    pub stored: StoredType,
    pub columns: usize,
    /// Chunk shape `[rows, columns]` of chunked data.
    pub chunk: [usize; 2],
    /// Filters to undo, in undo order (the last of the pipeline first).
    pub unfilters: Vec<Unfilter>,
    pub scaling: Option<Scaling>,
}

/// Per-thread buffers: an inflated chunk, an unshuffled one, and the inflater's state, kept
/// across trials so decoding allocates nothing once warmed up.
struct Buffers {
    a: Vec<u8>,
    b: Vec<u8>,
    inflater: Decompress,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers {
        a: Vec::new(),
        b: Vec::new(),
        inflater: Decompress::new(true),
    });
}

impl TrialDecoder for StoredDecoder {
    fn decode(&self, bytes: &[u8], out: &mut Vec<f64>) -> Result<(), Error> {
        self.decode_inner(bytes, out)
            .map_err(|message| Error::input(&self.what, message, ErrorClass::Runtime))
    }
}

impl StoredDecoder {
    fn decode_inner(&self, bytes: &[u8], out: &mut Vec<f64>) -> Result<(), String> {
        let damaged = || "an encoded trial is damaged (an internal error)".to_string();
        let kind = *bytes.first().ok_or_else(damaged)?;
        let first = get_u64(bytes, 1).ok_or_else(damaged)? as usize;
        let rows = get_u64(bytes, 9).ok_or_else(damaged)? as usize;
        let body = &bytes[HEADER_BYTES..];
        let n = rows * self.columns;
        out.clear();
        out.resize(n, 0.0);
        match kind {
            k if k == Record::Rows as u8 => {
                if body.len() != n * self.stored.size_bytes() {
                    return Err(damaged());
                }
                widen(self.stored, body, out);
            }
            k if k == Record::Values as u8 => {
                if body.len() != n * 8 {
                    return Err(damaged());
                }
                for (v, b) in out.iter_mut().zip(body.chunks_exact(8)) {
                    *v = f64::from_ne_bytes(b.try_into().expect("8 bytes"));
                }
                // Values read through HDF5 are already scaled.
                return Ok(());
            }
            k if k == Record::Chunks as u8 => {
                BUFFERS.with(|buffers| {
                    let mut buffers = buffers.borrow_mut();
                    self.place_chunks(body, first..first + rows, out, &mut buffers)
                })?;
            }
            _ => return Err(damaged()),
        }
        if let Some(scaling) = &self.scaling {
            scaling.apply(out, self.columns);
        }
        Ok(())
    }

    /// Decodes each chunk record in `body` and copies its part of `rows` into `out`.
    fn place_chunks(
        &self,
        mut body: &[u8],
        rows: std::ops::Range<usize>,
        out: &mut [f64],
        buffers: &mut Buffers,
    ) -> Result<(), String> {
        let element = self.stored.size_bytes();
        let chunk_bytes = self.chunk[0] * self.chunk[1] * element;
        while !body.is_empty() {
            let damaged = || "an encoded trial is damaged (an internal error)".to_string();
            let r0 = get_u64(body, 0).ok_or_else(damaged)? as usize;
            let c0 = get_u64(body, 8).ok_or_else(damaged)? as usize;
            let mask = get_u32(body, 16).ok_or_else(damaged)?;
            let size = get_u64(body, 20).ok_or_else(damaged)? as usize;
            let stored = body
                .get(CHUNK_HEADER_BYTES..CHUNK_HEADER_BYTES + size)
                .ok_or_else(damaged)?;
            body = &body[CHUNK_HEADER_BYTES + size..];
            let chunk = self
                .unfilter(stored, mask, chunk_bytes, buffers)
                .map_err(|e| format!("the chunk at row {r0}, column {c0}: {e}"))?;
            if chunk.len() != chunk_bytes {
                return Err(format!(
                    "the chunk at row {r0}, column {c0} holds {} bytes, not {chunk_bytes}",
                    chunk.len()
                ));
            }
            let from = rows.start.max(r0);
            let to = rows.end.min(r0 + self.chunk[0]);
            let c1 = self.columns.min(c0 + self.chunk[1]);
            for r in from..to {
                let src = &chunk[((r - r0) * self.chunk[1]) * element..][..(c1 - c0) * element];
                let dst = &mut out[(r - rows.start) * self.columns + c0..][..c1 - c0];
                widen(self.stored, src, dst);
            }
        }
        Ok(())
    }

    /// Undoes the filter pipeline on one stored chunk (skipping the filters its mask says
    /// were skipped), returning the chunk's bytes as the dataset's elements.
    fn unfilter<'b>(
        &self,
        stored: &'b [u8],
        mask: u32,
        chunk_bytes: usize,
        buffers: &'b mut Buffers,
    ) -> Result<&'b [u8], String> {
        let n = self.unfilters.len();
        // Which buffer holds the current bytes: None = `stored`, Some(true) = a, else b.
        let mut current: Option<bool> = None;
        for (i, step) in self.unfilters.iter().enumerate() {
            let position = n - 1 - i;
            if mask & (1 << position) != 0 {
                continue;
            }
            let Buffers { a, b, inflater } = &mut *buffers;
            let (input, output): (&[u8], &mut Vec<u8>) = match current {
                None => (stored, a),
                Some(true) => (&a[..], b),
                Some(false) => (&b[..], a),
            };
            match step {
                Unfilter::Inflate => inflate(inflater, input, output, chunk_bytes)?,
                Unfilter::Unshuffle => unshuffle(input, output, self.stored.size_bytes()),
            }
            current = Some(!current.unwrap_or(false));
        }
        Ok(match current {
            None => stored,
            Some(true) => &buffers.a,
            Some(false) => &buffers.b,
        })
    }
}

/// Inflates one zlib stream of `expected` bytes into `out`.
fn inflate(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    expected: usize,
) -> Result<(), String> {
    inflater.reset(true);
    out.clear();
    // One spare byte, so a stream longer than the chunk shows as too long instead of
    // stopping exactly at the chunk's size.
    out.reserve(expected + 1);
    let status = inflater
        .decompress_vec(input, out, FlushDecompress::Finish)
        .map_err(|e| format!("its deflate stream is damaged ({e})"))?;
    if status != Status::StreamEnd || out.len() != expected {
        return Err(format!(
            "its deflate stream gives {} bytes where the chunk holds {expected}",
            out.len()
        ));
    }
    Ok(())
}

/// HDF5's shuffle filter undone: `input` holds byte 0 of every element, then byte 1, ...;
/// bytes past the last whole element stay where they are.
fn unshuffle(input: &[u8], out: &mut Vec<u8>, element: usize) {
    out.clear();
    out.resize(input.len(), 0);
    let n = input.len() / element;
    for j in 0..element {
        let plane = &input[j * n..(j + 1) * n];
        for (i, &byte) in plane.iter().enumerate() {
            out[i * element + j] = byte;
        }
    }
    out[n * element..].copy_from_slice(&input[n * element..]);
}

/// Widens stored elements (this machine's byte order) to f64, exactly as a cast does
/// (int64 beyond 2^53 rounds to nearest, as numpy's `astype(float64)`).
fn widen(stored: StoredType, src: &[u8], dst: &mut [f64]) {
    macro_rules! each {
        ($t:ty) => {
            for (v, b) in dst
                .iter_mut()
                .zip(src.chunks_exact(std::mem::size_of::<$t>()))
            {
                *v = <$t>::from_ne_bytes(b.try_into().expect("element bytes")) as f64;
            }
        };
    }
    match stored {
        StoredType::I8 => each!(i8),
        StoredType::I16 => each!(i16),
        StoredType::I32 => each!(i32),
        StoredType::I64 => each!(i64),
        StoredType::U8 => each!(u8),
        StoredType::U16 => each!(u16),
        StoredType::U32 => each!(u32),
        StoredType::F32 => each!(f32),
        StoredType::F64 => each!(f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_inverts_hdf5_shuffle() {
        let values: Vec<u8> = (0u8..12).collect();
        // Shuffle 3 elements of 4 bytes: byte planes.
        let mut shuffled = Vec::new();
        for j in 0..4 {
            for i in 0..3 {
                shuffled.push(values[i * 4 + j]);
            }
        }
        let mut out = Vec::new();
        unshuffle(&shuffled, &mut out, 4);
        assert_eq!(out, values);
    }

    #[test]
    fn a_truncated_stream_is_refused() {
        let mut inflater = Decompress::new(true);
        let mut out = Vec::new();
        let err = inflate(&mut inflater, &[0x78, 0x9c, 0x01], &mut out, 16).unwrap_err();
        assert!(err.contains("16"), "{err}");
    }
}
