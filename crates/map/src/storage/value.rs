//! What can be written to HDF5: numeric scalars and ndarray arrays of
//! f64, f32, i64, i32, i16, i8, u64, u32, u16, u8 (and `Vec`s of them, as 1-D arrays), or
//! a tuple of up to four of those (one dataset `result_<k>` per tuple element, like several
//! return values in ACME). Strings, structs and nested containers are not storable: map
//! them to numbers first, or collect them in memory.

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::H5Type;
use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use serde::{Deserialize, Serialize};

/// The element type of a stored array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElementType {
    F64,
    F32,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
}

impl ElementType {
    pub(crate) fn from_descriptor(d: &TypeDescriptor) -> Option<Self> {
        Some(match d {
            TypeDescriptor::Float(FloatSize::U8) => ElementType::F64,
            TypeDescriptor::Float(FloatSize::U4) => ElementType::F32,
            TypeDescriptor::Integer(IntSize::U8) => ElementType::I64,
            TypeDescriptor::Integer(IntSize::U4) => ElementType::I32,
            TypeDescriptor::Integer(IntSize::U2) => ElementType::I16,
            TypeDescriptor::Integer(IntSize::U1) => ElementType::I8,
            TypeDescriptor::Unsigned(IntSize::U8) => ElementType::U64,
            TypeDescriptor::Unsigned(IntSize::U4) => ElementType::U32,
            TypeDescriptor::Unsigned(IntSize::U2) => ElementType::U16,
            TypeDescriptor::Unsigned(IntSize::U1) => ElementType::U8,
            _ => return None,
        })
    }
}

/// A numeric element type that HDF5 stores natively.
pub trait Element: H5Type + Copy + Send + Sync + 'static {
    const TYPE: ElementType;
    /// What unwritten parts of a stacked dataset hold: NaN for floats, 0 for integers.
    const FILL: Self;
    fn wrap(array: ArrayD<Self>) -> StoredArray;
}

/// One result array as it goes to HDF5 (a scalar is a 0-d array).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoredArray {
    F64(ArrayD<f64>),
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    I16(ArrayD<i16>),
    I8(ArrayD<i8>),
    U64(ArrayD<u64>),
    U32(ArrayD<u32>),
    U16(ArrayD<u16>),
    U8(ArrayD<u8>),
}

/// Runs `$body` with `$a` bound to the typed array inside a [`StoredArray`].
macro_rules! with_array {
    ($value:expr, $a:ident => $body:expr) => {
        match $value {
            StoredArray::F64($a) => $body,
            StoredArray::F32($a) => $body,
            StoredArray::I64($a) => $body,
            StoredArray::I32($a) => $body,
            StoredArray::I16($a) => $body,
            StoredArray::I8($a) => $body,
            StoredArray::U64($a) => $body,
            StoredArray::U32($a) => $body,
            StoredArray::U16($a) => $body,
            StoredArray::U8($a) => $body,
        }
    };
}
pub(crate) use with_array;

/// Runs `$body` with `$t` a type alias for the Rust type of an [`ElementType`].
macro_rules! with_element_type {
    ($et:expr, $t:ident => $body:expr) => {
        match $et {
            ElementType::F64 => {
                type $t = f64;
                $body
            }
            ElementType::F32 => {
                type $t = f32;
                $body
            }
            ElementType::I64 => {
                type $t = i64;
                $body
            }
            ElementType::I32 => {
                type $t = i32;
                $body
            }
            ElementType::I16 => {
                type $t = i16;
                $body
            }
            ElementType::I8 => {
                type $t = i8;
                $body
            }
            ElementType::U64 => {
                type $t = u64;
                $body
            }
            ElementType::U32 => {
                type $t = u32;
                $body
            }
            ElementType::U16 => {
                type $t = u16;
                $body
            }
            ElementType::U8 => {
                type $t = u8;
                $body
            }
        }
    };
}
pub(crate) use with_element_type;

impl StoredArray {
    pub fn shape(&self) -> &[usize] {
        with_array!(self, a => a.shape())
    }

    pub fn element_type(&self) -> ElementType {
        with_array!(self, a => element_type_of(a))
    }

    /// Writes this array as dataset `name` of `group`.
    pub(crate) fn write_dataset(&self, group: &hdf5::Group, name: &str) -> hdf5::Result<()> {
        with_array!(self, a => {
            let data = a.as_standard_layout();
            group.new_dataset_builder().with_data(data.view()).create(name).map(|_| ())
        })
    }
}

fn element_type_of<T: Element>(_: &ArrayD<T>) -> ElementType {
    T::TYPE
}

macro_rules! element {
    ($t:ty, $variant:ident, $fill:expr) => {
        impl Element for $t {
            const TYPE: ElementType = ElementType::$variant;
            const FILL: Self = $fill;
            fn wrap(array: ArrayD<Self>) -> StoredArray {
                StoredArray::$variant(array)
            }
        }

        impl StorableValue for $t {
            fn into_stored_array(self) -> StoredArray {
                StoredArray::$variant(ArrayD::from_elem(IxDyn(&[]), self))
            }
        }

        impl Storable for $t {
            fn into_stored(self) -> Vec<StoredArray> {
                vec![self.into_stored_array()]
            }
        }
    };
}

/// One value that becomes one HDF5 dataset.
pub trait StorableValue {
    fn into_stored_array(self) -> StoredArray;
}

/// A task's result that can be written to HDF5: one or more datasets `result_<k>`.
pub trait Storable {
    fn into_stored(self) -> Vec<StoredArray>;
}

element!(f64, F64, f64::NAN);
element!(f32, F32, f32::NAN);
element!(i64, I64, 0);
element!(i32, I32, 0);
element!(i16, I16, 0);
element!(i8, I8, 0);
element!(u64, U64, 0);
element!(u32, U32, 0);
element!(u16, U16, 0);
element!(u8, U8, 0);

impl<T: Element, S: Data<Elem = T>, D: Dimension> StorableValue for ArrayBase<S, D> {
    fn into_stored_array(self) -> StoredArray {
        T::wrap(self.into_owned().into_dyn())
    }
}

impl<T: Element, S: Data<Elem = T>, D: Dimension> Storable for ArrayBase<S, D> {
    fn into_stored(self) -> Vec<StoredArray> {
        vec![self.into_stored_array()]
    }
}

impl<T: Element> StorableValue for Vec<T> {
    fn into_stored_array(self) -> StoredArray {
        T::wrap(ArrayD::from_shape_vec(IxDyn(&[self.len()]), self).expect("a 1-D shape fits"))
    }
}

impl<T: Element> Storable for Vec<T> {
    fn into_stored(self) -> Vec<StoredArray> {
        vec![self.into_stored_array()]
    }
}

macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: StorableValue),+> Storable for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_stored(self) -> Vec<StoredArray> {
                let ($($name,)+) = self;
                vec![$($name.into_stored_array()),+]
            }
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
