//! The storage element types. The engine hands blocks over as f64 (complex values as
//! trailing (re, im) pairs); this converts them to the object's dtype in reused buffers and
//! lets one piece of writer code serve every dtype.

use ndarray::ArrayViewD;
use num_complex::{Complex32, Complex64};
use trialflow_core::DType;

/// An element type a dense dataset can be stored in.
pub(crate) trait StorageElement: hdf5::H5Type + Copy {
    /// What a virtual dataset shows where no source file maps (never a plausible value).
    const FILL: Self;

    /// This type's conversion buffer.
    fn buffer(buffers: &mut ConversionBuffers) -> &mut Vec<Self>;

    /// Appends the engine's f64 values (pairs for complex types) converted to this type.
    fn extend_from(buffer: &mut Vec<Self>, values: &[f64]);
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
    /// Converts a block to `T` and returns the converted values (one per stored element).
    pub fn convert<T: StorageElement>(&mut self, block: &ArrayViewD<'_, f64>) -> &[T] {
        let buffer = T::buffer(self);
        buffer.clear();
        match block.as_slice() {
            Some(values) => T::extend_from(buffer, values),
            None => {
                let values: Vec<f64> = block.iter().copied().collect();
                T::extend_from(buffer, &values);
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
}

impl StorageElement for f64 {
    const FILL: f64 = f64::NAN;
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<f64> {
        &mut b.f64
    }
    fn extend_from(buffer: &mut Vec<f64>, values: &[f64]) {
        buffer.extend_from_slice(values);
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
}

impl StorageElement for Complex64 {
    const FILL: Complex64 = Complex64::new(f64::NAN, f64::NAN);
    fn buffer(b: &mut ConversionBuffers) -> &mut Vec<Complex64> {
        &mut b.c128
    }
    fn extend_from(buffer: &mut Vec<Complex64>, values: &[f64]) {
        buffer.extend(values.chunks_exact(2).map(|p| Complex64::new(p[0], p[1])));
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
