//! The storage element types. The engine hands blocks over as f64 or f32 (complex values
//! as trailing (re, im) pairs); this converts them to the object's dtype in reused buffers and
//! lets one piece of writer code serve every dtype.

use num_complex::{Complex32, Complex64};
use trialflow_core::engine::DenseBlock;
use trialflow_core::DType;

use crate::raw_io::PlainBytes;

/// An element type a dense dataset can be stored in.
pub(crate) trait StorageElement: PlainBytes {
    /// What a virtual dataset shows where no source file maps (never a plausible value).
    const FILL: Self;

    /// This type's conversion buffer.
    fn buffer(buffers: &mut ConversionBuffers) -> &mut Vec<Self>;

    /// Appends the engine's f64 values (pairs for complex types) converted to this type.
    fn extend_from(buffer: &mut Vec<Self>, values: &[f64]);

    /// The engine's f32 values (pairs for complex types) as this type, when they already
    /// are (float32, complex64): no conversion, no copy.
    fn view_f32(values: &[f32]) -> Option<&[Self]>;

    /// Appends f32 values (pairs for complex types) widened to this type.
    fn extend_from_f32(buffer: &mut Vec<Self>, values: &[f32]);
}

/// Conversion buffers reused across blocks, one per storage type.
#[derive(Debug, Default)]
pub(crate) struct ConversionBuffers {
    f32: Vec<f32>,
    f64: Vec<f64>,
    c64: Vec<Complex32>,
    c128: Vec<Complex64>,
}

impl ConversionBuffers {
    /// A block's values as `T` (one per stored element), converted in a reused buffer
    /// unless the block already holds them.
    pub fn convert<'s, T: StorageElement>(&'s mut self, block: &'s DenseBlock<'_>) -> &'s [T] {
        if let DenseBlock::F32(b) = block {
            if let Some(values) = b.as_slice().and_then(T::view_f32) {
                return values;
            }
        }
        let buffer = T::buffer(self);
        buffer.clear();
        match block {
            DenseBlock::F64(b) => match b.as_slice() {
                Some(values) => T::extend_from(buffer, values),
                None => {
                    let values: Vec<f64> = b.iter().copied().collect();
                    T::extend_from(buffer, &values);
                }
            },
            DenseBlock::F32(b) => {
                let values: Vec<f32> = b.iter().copied().collect();
                T::extend_from_f32(buffer, &values);
            }
        }
        buffer
    }
}

impl StorageElement for f32 {
    const FILL: f32 = f32::NAN;
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<f32> {
        &mut b.f32
    }
    fn extend_from(buffer: &mut Vec<f32>, values: &[f64]) {
        buffer.extend(values.iter().map(|&v| v as f32));
    }
    fn view_f32(values: &[f32]) -> Option<&[f32]> {
        Some(values)
    }
    fn extend_from_f32(buffer: &mut Vec<f32>, values: &[f32]) {
        buffer.extend_from_slice(values);
    }
}

impl StorageElement for f64 {
    const FILL: f64 = f64::NAN;
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<f64> {
        &mut b.f64
    }
    fn extend_from(buffer: &mut Vec<f64>, values: &[f64]) {
        buffer.extend_from_slice(values);
    }
    fn view_f32(_: &[f32]) -> Option<&[f64]> {
        None
    }
    fn extend_from_f32(buffer: &mut Vec<f64>, values: &[f32]) {
        buffer.extend(values.iter().map(|&v| f64::from(v)));
    }
}

impl StorageElement for Complex32 {
    const FILL: Complex32 = Complex32::new(f32::NAN, f32::NAN);
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<Complex32> {
        &mut b.c64
    }
    fn extend_from(buffer: &mut Vec<Complex32>, values: &[f64]) {
        buffer.extend(
            values
                .chunks_exact(2)
                .map(|p| Complex32::new(p[0] as f32, p[1] as f32)),
        );
    }
    fn view_f32(values: &[f32]) -> Option<&[Complex32]> {
        if !values.len().is_multiple_of(2) {
            return None;
        }
        // SAFETY: `Complex32` is `repr(C)` of two f32 (FFI-equivalent to `[f32; 2]`), so
        // `len / 2` of them cover exactly the slice's bytes, with f32's alignment.
        Some(unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), values.len() / 2) })
    }
    fn extend_from_f32(buffer: &mut Vec<Complex32>, values: &[f32]) {
        buffer.extend(values.chunks_exact(2).map(|p| Complex32::new(p[0], p[1])));
    }
}

impl StorageElement for Complex64 {
    const FILL: Complex64 = Complex64::new(f64::NAN, f64::NAN);
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<Complex64> {
        &mut b.c128
    }
    fn extend_from(buffer: &mut Vec<Complex64>, values: &[f64]) {
        buffer.extend(values.chunks_exact(2).map(|p| Complex64::new(p[0], p[1])));
    }
    fn view_f32(_: &[f32]) -> Option<&[Complex64]> {
        None
    }
    fn extend_from_f32(buffer: &mut Vec<Complex64>, values: &[f32]) {
        buffer.extend(
            values
                .chunks_exact(2)
                .map(|p| Complex64::new(f64::from(p[0]), f64::from(p[1]))),
        );
    }
}

/// Runs `$body` with `$t` standing for the storage element type of a dense `DType`.
macro_rules! with_storage_type {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            trialflow_core::DType::Float32 => {
                type $t = f32;
                $body
            }
            trialflow_core::DType::Complex64 => {
                type $t = num_complex::Complex32;
                $body
            }
            trialflow_core::DType::Complex128 => {
                type $t = num_complex::Complex64;
                $body
            }
            trialflow_core::DType::Float64 | trialflow_core::DType::Int64 => {
                type $t = f64;
                $body
            }
        }
    };
}
pub(crate) use with_storage_type;

/// The shape a block is stored in: without the trailing (re, im) axis of complex values.
pub(crate) fn stored_shape(dtype: DType, block_shape: &[usize]) -> &[usize] {
    if dtype.is_complex() {
        &block_shape[..block_shape.len() - 1]
    } else {
        block_shape
    }
}
