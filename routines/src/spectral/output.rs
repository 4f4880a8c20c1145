//! Syncopy's output conversions of complex Fourier coefficients (`shared/const_def.py`'s
//! `spectralConversions`), and the writer that applies them to a task's output block.

use ndarray::{ArrayViewMut4, Ix4};
use num_complex::Complex64;
use trialflow_core::{DataKind, OutputBlock, OutputShape};

use super::SpectralError;

/// What `output:` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectralOutput {
    /// `|X|²`
    Pow,
    /// `|X|`
    Abs,
    /// The complex coefficients (`fourier`, alias `complex`).
    Fourier,
    Real,
    Imag,
    /// `atan2(im, re)`
    Angle,
    AbsReal,
    AbsImag,
}

impl SpectralOutput {
    pub fn parse(name: &str) -> Result<SpectralOutput, SpectralError> {
        Ok(match name {
            "pow" => SpectralOutput::Pow,
            "abs" => SpectralOutput::Abs,
            "fourier" | "complex" => SpectralOutput::Fourier,
            "real" => SpectralOutput::Real,
            "imag" => SpectralOutput::Imag,
            "angle" => SpectralOutput::Angle,
            "absreal" => SpectralOutput::AbsReal,
            "absimag" => SpectralOutput::AbsImag,
            other => {
                return Err(SpectralError::range(
                    "output",
                    "one of pow, abs, fourier (or complex), real, imag, angle, absreal, absimag",
                    format!("'{other}'"),
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SpectralOutput::Pow => "pow",
            SpectralOutput::Abs => "abs",
            SpectralOutput::Fourier => "fourier",
            SpectralOutput::Real => "real",
            SpectralOutput::Imag => "imag",
            SpectralOutput::Angle => "angle",
            SpectralOutput::AbsReal => "absreal",
            SpectralOutput::AbsImag => "absimag",
        }
    }

    /// The real value stored for coefficient `z`.
    #[inline]
    pub fn convert(self, z: Complex64) -> f64 {
        match self {
            SpectralOutput::Pow => z.re * z.re + z.im * z.im,
            SpectralOutput::Abs => z.re.hypot(z.im),
            SpectralOutput::Real => z.re,
            SpectralOutput::Imag => z.im,
            SpectralOutput::Angle => z.im.atan2(z.re),
            SpectralOutput::AbsReal => z.re.abs(),
            SpectralOutput::AbsImag => z.im.abs(),
            SpectralOutput::Fourier => unreachable!("complex output is stored as is"),
        }
    }

    /// The output declaration for these per-trial shapes (complex for `fourier`: stored as
    /// complex64 for float32 input, as Syncopy stores it, complex128 for float64).
    pub fn declare(self, shapes: Vec<Vec<usize>>) -> OutputShape {
        let shape = OutputShape::dense(DataKind::Spectral, shapes);
        if self == SpectralOutput::Fourier {
            shape.with_complex_values()
        } else {
            shape
        }
    }

    /// A writer over a task's `[1, tapers, freqs, channels]` block.
    pub fn view4<'a>(self, output: &'a mut OutputBlock<'_>) -> SpectrumWriter<'a> {
        let block = if self == SpectralOutput::Fourier {
            Block::Complex(
                output
                    .complex_mut()
                    .into_dimensionality::<Ix4>()
                    .expect("spectral output is declared 4-D"),
            )
        } else {
            Block::Real(
                output
                    .dense_mut()
                    .into_dimensionality::<Ix4>()
                    .expect("spectral output is declared 4-D"),
            )
        };
        SpectrumWriter { kind: self, block }
    }
}

enum Block<'a> {
    Real(ArrayViewMut4<'a, f64>),
    Complex(ArrayViewMut4<'a, Complex64>),
}

/// Writes converted coefficients into `[0, taper, freq, channel]`.
pub struct SpectrumWriter<'a> {
    kind: SpectralOutput,
    block: Block<'a>,
}

impl SpectrumWriter<'_> {
    #[inline]
    pub fn set(&mut self, taper: usize, freq: usize, channel: usize, z: Complex64) {
        match &mut self.block {
            Block::Real(a) => a[[0, taper, freq, channel]] = self.kind.convert(z),
            Block::Complex(a) => a[[0, taper, freq, channel]] = z,
        }
    }

    /// Adds to what `set` wrote (averaging power over tapers).
    #[inline]
    pub fn add(&mut self, taper: usize, freq: usize, channel: usize, z: Complex64) {
        match &mut self.block {
            Block::Real(a) => a[[0, taper, freq, channel]] += self.kind.convert(z),
            Block::Complex(a) => a[[0, taper, freq, channel]] += z,
        }
    }

    #[inline]
    pub fn scale(&mut self, taper: usize, freq: usize, channel: usize, factor: f64) {
        match &mut self.block {
            Block::Real(a) => a[[0, taper, freq, channel]] *= factor,
            Block::Complex(a) => a[[0, taper, freq, channel]] *= factor,
        }
    }

    /// Writes an already converted real value.
    #[inline]
    pub fn set_real(&mut self, taper: usize, freq: usize, channel: usize, value: f64) {
        match &mut self.block {
            Block::Real(a) => a[[0, taper, freq, channel]] = value,
            Block::Complex(a) => a[[0, taper, freq, channel]] = Complex64::new(value, 0.0),
        }
    }
}
