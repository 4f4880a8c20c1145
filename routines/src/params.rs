//! What the typed parameter structs share: keyword enums that YAML and code spell the same
//! way, and number-or-list values. Parameter documentation and parsing live in core, beside
//! [`trialflow_core::routine::Registrable`].

pub use trialflow_core::routine::{BuildError, ParamDoc};

/// A parameter written as one of a few words (`mode: reflect`). The spellings table is the
/// only place a keyword is spelled, so YAML, `cfg()` and the typed builder cannot disagree,
/// and a wrong word gets a message listing the accepted ones.
pub trait Keyword: Copy + PartialEq + 'static {
    /// Every accepted spelling with its value; the first spelling of a value is its name
    /// (what `cfg()` records), later ones are aliases (SciPy's `l` for `linear`, say).
    const SPELLINGS: &'static [(&'static str, Self)];
    /// The accepted values as an error message lists them.
    const EXPECTED: &'static str;

    /// The canonical spelling.
    fn as_str(self) -> &'static str {
        Self::SPELLINGS
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(s, _)| *s)
            .expect("every keyword value has a spelling")
    }

    /// The value a word names, or the message that lists the accepted words.
    fn from_word(word: &str) -> Result<Self, String> {
        Self::SPELLINGS
            .iter()
            .find(|(s, _)| *s == word)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("must be {}, got '{word}'", Self::EXPECTED))
    }
}

/// Serde and `Display` for a [`Keyword`] enum, through its spellings table.
macro_rules! keyword_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::params::Keyword::as_str(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = <String as serde::Deserialize>::deserialize(d)?;
                <$t as $crate::params::Keyword>::from_word(&word).map_err(serde::de::Error::custom)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::params::Keyword::as_str(*self))
            }
        }
    };
}
pub(crate) use keyword_serde;

/// One number or a list of them (`widths: 3` or `widths: [1, 2, 4]`); code passes a number,
/// an array, a slice or a `Vec`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Numbers(pub Vec<f64>);

impl<'de> serde::Deserialize<'de> for Numbers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(f64),
            Many(Vec<f64>),
        }
        match Raw::deserialize(d) {
            Ok(Raw::One(v)) => Ok(Numbers(vec![v])),
            Ok(Raw::Many(v)) => Ok(Numbers(v)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a number or a list of numbers",
            )),
        }
    }
}

impl From<f64> for Numbers {
    fn from(v: f64) -> Self {
        Numbers(vec![v])
    }
}

impl From<Vec<f64>> for Numbers {
    fn from(v: Vec<f64>) -> Self {
        Numbers(v)
    }
}

impl From<&[f64]> for Numbers {
    fn from(v: &[f64]) -> Self {
        Numbers(v.to_vec())
    }
}

impl<const N: usize> From<[f64; N]> for Numbers {
    fn from(v: [f64; N]) -> Self {
        Numbers(v.to_vec())
    }
}

/// Chainable setters for the `Option` fields of a parameter struct:
/// `setters!(GaussianParams { sigma: f64, mode: ExtendMode })` gives
/// `GaussianParams::new().sigma(3.0).mode(ExtendMode::Reflect)`.
macro_rules! setters {
    ($params:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        impl $params {
            /// Every parameter unset: the routine's defaults.
            pub fn new() -> Self {
                Self::default()
            }

            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;
