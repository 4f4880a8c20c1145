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
}

impl DType {
    /// The numpy name, as Syncopy writes it into `.info` files.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Int64 => "int64",
        }
    }

    pub fn size_bytes(self) -> usize {
        match self {
            DType::Float32 => 4,
            DType::Float64 | DType::Int64 => 8,
        }
    }

    /// Parses the names users type (`f32`, `float32`, ...).
    pub fn parse(name: &str) -> Option<DType> {
        match name {
            "f32" | "float32" => Some(DType::Float32),
            "f64" | "float64" => Some(DType::Float64),
            "i64" | "int64" => Some(DType::Int64),
            _ => None,
        }
    }
}
