//! Coherence from trial-averaged cross-spectra: Syncopy's `normalize_csd` and its output
//! conversions.

use ndarray::{Array3, ArrayView2, ArrayViewMut3, Zip};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use serde::{Deserialize, Deserializer};

use super::{ChannelPairs, ConnectivityError, CsdBlock, Packing};

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

/// [`coherence`] (with `convert`: [`CoherenceOutput::convert`]) or [`coherency`] (with the
/// identity) of a packed sum over `n_trials` trials (`(freq, packing.len)`, the fold's
/// state) written into `out` `(freq, senders, receivers)`, without unpacking, averaging
/// and normalising copies of the whole cross-spectra (hundreds of MB at 64 channels, made
/// one after another at the very end of a run): each value goes through the same
/// operations as there (`/ n`, then `/ sqrt(a_i / n * a_j / n)`, then `convert`), so the
/// bits are the same, and the frequencies are shared out on the rayon pool the finish runs
/// in. `None` if `sum` or `out` is not contiguous.
pub fn coherence_packed<T: Send>(
    sum: ArrayView2<'_, C64>,
    packing: Packing,
    pairs: &ChannelPairs,
    n_trials: usize,
    mut out: ArrayViewMut3<'_, T>,
    convert: impl Fn(C64) -> T + Sync,
) -> Option<()> {
    let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
    let n = n_trials as f64;
    let len = sum.ncols();
    let sum = sum.as_slice()?;
    let out = out.as_slice_mut()?;
    out.par_chunks_mut(ni * nj)
        .zip(sum.par_chunks(len))
        .for_each(|(plane_out, plane)| {
            for a in 0..ni {
                for b in 0..nj {
                    let v = packing.cross(plane, a, b, ni, nj) / n;
                    let (ai, aj) = packing.autos(plane, a, b, ni, nj);
                    let mut c = v;
                    c /= (ai / n * (aj / n)).sqrt();
                    plane_out[a * nj + b] = convert(c);
                }
            }
        });
    Some(())
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array3};

    use super::*;

    #[test]
    fn the_packed_finish_gives_the_bits_of_the_unpacked_one() {
        let cases = [
            ChannelPairs::all(5),
            ChannelPairs {
                senders: vec![2, 0],
                receivers: vec![1, 3, 0],
                full: false,
            },
        ];
        let outputs = [
            CoherenceOutput::Abs,
            CoherenceOutput::Pow,
            CoherenceOutput::FisherZ,
            CoherenceOutput::Angle,
            CoherenceOutput::Imag,
            CoherenceOutput::Real,
        ];
        let n_trials = 7;
        for pairs in &cases {
            for packing in [Packing::Rect, Packing::of(pairs)] {
                let (ni, nj, len) = (
                    pairs.senders.len(),
                    pairs.receivers.len(),
                    packing.len(pairs),
                );
                // Auto-spectra (real parts read as such) positive, cross-spectra anything.
                let sum = Array2::from_shape_fn((4, len), |(f, e)| {
                    let x = (f * len + e) as f64;
                    C64::new(3.0 + (x * 0.7).sin(), (x * 1.3).cos() * 0.9)
                });
                let block = packing.unpack(sum.view(), pairs);
                for output in outputs {
                    let want = coherence(&block, n_trials, output);
                    let mut got = Array3::from_elem((4, ni, nj), f64::NAN);
                    let convert = |c| output.convert(c);
                    coherence_packed(
                        sum.view(),
                        packing,
                        pairs,
                        n_trials,
                        got.view_mut(),
                        convert,
                    )
                    .unwrap();
                    let bits = |a: &Array3<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{pairs:?} {packing:?} {output:?}");
                }
                let want = coherency(&block.mean(n_trials));
                let mut got = Array3::from_elem((4, ni, nj), C64::new(f64::NAN, f64::NAN));
                coherence_packed(sum.view(), packing, pairs, n_trials, got.view_mut(), |c| c)
                    .unwrap();
                let bits = |a: &Array3<C64>| {
                    a.iter()
                        .map(|v| (v.re.to_bits(), v.im.to_bits()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(&got), bits(&want), "{pairs:?} {packing:?} complex");
            }
        }
    }
}
