use serde::{Deserialize, Serialize};

/// Element type of stored data. Computation always happens in f64; this is what goes to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    #[serde(alias = "f32")]
    Float32,
    #[serde(alias = "f64")]
    Float64,
    #[serde(alias = "i64")]
    Int64,
    /// Complex values as two f32 (h5py's compound `{r, i}`, which Syncopy reads).
    #[serde(alias = "c64")]
    Complex64,
    /// Complex values as two f64.
    #[serde(alias = "c128")]
    Complex128,
}

impl DType {
    /// The numpy name, as Syncopy writes it into `.info` files.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Int64 => "int64",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
        }
    }

    pub fn is_complex(self) -> bool {
        matches!(self, DType::Complex64 | DType::Complex128)
    }

    /// How many f64 the engine holds per element: 2 (re, im) for complex, else 1.
    pub fn components(self) -> usize {
        if self.is_complex() {
            2
        } else {
            1
        }
    }

    /// The complex dtype with this dtype's precision (float32 gives complex64), and the
    /// complex dtypes themselves unchanged.
    pub fn to_complex(self) -> DType {
        match self {
            DType::Float32 | DType::Complex64 => DType::Complex64,
            DType::Float64 | DType::Int64 | DType::Complex128 => DType::Complex128,
        }
    }

    pub fn size_bytes(self) -> usize {
        match self {
            DType::Float32 => 4,
            DType::Float64 | DType::Int64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
        }
    }

    /// Parses the names users type (`f32`, `float32`, ...).
    pub fn parse(name: &str) -> Option<DType> {
        match name {
            "f32" | "float32" => Some(DType::Float32),
            "f64" | "float64" => Some(DType::Float64),
            "i64" | "int64" => Some(DType::Int64),
            "c64" | "complex64" => Some(DType::Complex64),
            "c128" | "complex128" => Some(DType::Complex128),
            _ => None,
        }
    }
}
