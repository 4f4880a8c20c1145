//! Element types of sample data as stored, before widening to f64.

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};

/// The element type of a dataset of samples (NWB series and Syncopy `data` alike): the
/// integer types amplifiers write and the two float types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredType {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    F32,
    F64,
}

impl StoredType {
    pub fn from_descriptor(d: &TypeDescriptor) -> Option<StoredType> {
        Some(match d {
            TypeDescriptor::Integer(IntSize::U1) => StoredType::I8,
            TypeDescriptor::Integer(IntSize::U2) => StoredType::I16,
            TypeDescriptor::Integer(IntSize::U4) => StoredType::I32,
            TypeDescriptor::Integer(IntSize::U8) => StoredType::I64,
            TypeDescriptor::Unsigned(IntSize::U1) => StoredType::U8,
            TypeDescriptor::Unsigned(IntSize::U2) => StoredType::U16,
            TypeDescriptor::Unsigned(IntSize::U4) => StoredType::U32,
            TypeDescriptor::Float(FloatSize::U4) => StoredType::F32,
            TypeDescriptor::Float(FloatSize::U8) => StoredType::F64,
            _ => return None,
        })
    }

    /// numpy's name for it.
    pub fn name(self) -> &'static str {
        match self {
            StoredType::I8 => "int8",
            StoredType::I16 => "int16",
            StoredType::I32 => "int32",
            StoredType::I64 => "int64",
            StoredType::U8 => "uint8",
            StoredType::U16 => "uint16",
            StoredType::U32 => "uint32",
            StoredType::F32 => "float32",
            StoredType::F64 => "float64",
        }
    }

    pub fn size_bytes(self) -> usize {
        match self {
            StoredType::I8 | StoredType::U8 => 1,
            StoredType::I16 | StoredType::U16 => 2,
            StoredType::I32 | StoredType::U32 | StoredType::F32 => 4,
            StoredType::I64 | StoredType::F64 => 8,
        }
    }

    pub fn is_integer(self) -> bool {
        !matches!(self, StoredType::F32 | StoredType::F64)
    }
}
