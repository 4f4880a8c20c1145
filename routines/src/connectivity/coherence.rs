//! Coherence from trial-averaged cross-spectra: Syncopy's `normalize_csd` and its output
//! conversions.

use ndarray::{Array3, Zip};
use num_complex::Complex64 as C64;
use serde::{Deserialize, Deserializer};

use super::{ConnectivityError, CsdBlock};

/// `output` of `method: coh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoherenceOutput {
    /// `|C|`
    #[default]
    Abs,
    /// `|C|²`
    Pow,
    /// `C` itself (Syncopy's `complex`, alias `fourier`).
    Complex,
    /// `atanh(|C|)`, Fisher's variance-stabilising transform of the coherence (not an output
    /// of Syncopy 2023.9).
    FisherZ,
    /// `arg C`
    Angle,
    Imag,
    Real,
}

impl CoherenceOutput {
    pub fn from_word(word: &str) -> Result<Self, ConnectivityError> {
        Ok(match word {
            "abs" => Self::Abs,
            "pow" => Self::Pow,
            "complex" | "fourier" => Self::Complex,
            "fisher_z" => Self::FisherZ,
            "angle" => Self::Angle,
            "imag" => Self::Imag,
            "real" => Self::Real,
            other => return Err(ConnectivityError::UnknownOutput(other.to_string())),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Abs => "abs",
            Self::Pow => "pow",
            Self::Complex => "complex",
            Self::FisherZ => "fisher_z",
            Self::Angle => "angle",
            Self::Imag => "imag",
            Self::Real => "real",
        }
    }

    pub fn is_complex(self) -> bool {
        self == Self::Complex
    }

    /// The real output of a coherency value (`Complex` gives its real part: use
    /// [`coherency`] for the complex output).
    pub fn convert(self, c: C64) -> f64 {
        match self {
            Self::Abs => c.norm(),
            // Syncopy's (x * conj(x)).real
            Self::Pow => (c * c.conj()).re,
            Self::Complex | Self::Real => c.re,
            Self::FisherZ => c.norm().atanh(),
            Self::Angle => c.im.atan2(c.re),
            Self::Imag => c.im,
        }
    }
}

impl<'de> Deserialize<'de> for CoherenceOutput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Self::from_word(&word).map_err(serde::de::Error::custom)
    }
}

/// The coherency `C_ij = S_ij / √(S_ii S_jj)` of a trial-averaged cross-spectrum.
pub fn coherency(mean: &CsdBlock) -> Array3<C64> {
    let mut out = mean.cross.clone();
    for (f, mut plane) in out.outer_iter_mut().enumerate() {
        let (ai, aj) = (mean.auto_i.row(f), mean.auto_j.row(f));
        Zip::indexed(&mut plane).for_each(|(a, b), v| *v /= (ai[a] * aj[b]).sqrt());
    }
    out
}

/// The finish step of `coh`: the trial average of the summed cross-spectra, normalised,
/// converted to a real `output` (use [`coherency`] of [`CsdBlock::mean`] for `complex`).
pub fn coherence(sum: &CsdBlock, n_trials: usize, output: CoherenceOutput) -> Array3<f64> {
    coherency(&sum.mean(n_trials)).mapv(|c| output.convert(c))
}
