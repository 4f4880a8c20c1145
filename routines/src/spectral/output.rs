//! Syncopy's output conversions of complex Fourier coefficients (`shared/const_def.py`'s
//! `spectralConversions`), and the writer that applies them to a task's output block.

use ndarray::{s, ArrayViewMut4, Ix4};
use num_complex::Complex64;
use trialflow_core::{DataKind, OutputBlock, OutputShape};

use crate::params::{keyword_serde, Keyword};

/// What `output:` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpectralOutput {
    /// `|X|²`
    #[default]
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

impl Keyword for SpectralOutput {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("pow", SpectralOutput::Pow),
        ("abs", SpectralOutput::Abs),
        ("fourier", SpectralOutput::Fourier),
        ("complex", SpectralOutput::Fourier),
        ("real", SpectralOutput::Real),
        ("imag", SpectralOutput::Imag),
        ("angle", SpectralOutput::Angle),
        ("absreal", SpectralOutput::AbsReal),
        ("absimag", SpectralOutput::AbsImag),
    ];
    const EXPECTED: &'static str =
        "one of pow, abs, fourier (or complex), real, imag, angle, absreal, absimag";
}
keyword_serde!(SpectralOutput);

impl SpectralOutput {
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

    /// The real value this output takes from one coefficient (not for `fourier`, which
    /// keeps the coefficient), for kernels that convert one value at a time.
    pub(crate) fn real_value(self, z: Complex64) -> f64 {
        match self {
            SpectralOutput::Pow => z.re * z.re + z.im * z.im,
            SpectralOutput::Abs => z.re.hypot(z.im),
            SpectralOutput::Real => z.re,
            SpectralOutput::Imag => z.im,
            SpectralOutput::Angle => z.im.atan2(z.re),
            SpectralOutput::AbsReal => z.re.abs(),
            SpectralOutput::AbsImag => z.im.abs(),
            SpectralOutput::Fourier => unreachable!("complex output keeps the coefficient"),
        }
    }

    /// A writer over a task's `[times, tapers, freqs, channels]` block (one time row for a
    /// spectrum).
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

/// Channels of the writer's unrolled path (a kernel's usual block: 8 f64, one cache line
/// of an output line).
const LANES: usize = 8;

/// Writes converted coefficients into `[0, taper, freq, channel]`.
pub struct SpectrumWriter<'a> {
    kind: SpectralOutput,
    block: Block<'a>,
}

impl SpectrumWriter<'_> {
    /// Writes (or with `add`, adds to) the spectra of channels `c0..c0 + width` for one taper
    /// row: `[0, taper, i, c0 + j] = convert(spectra[j * stride + bins[i]] * scale)`. Rows
    /// of the block are written channel-contiguous, one cache line per frequency.
    #[allow(clippy::too_many_arguments)]
    pub fn write_block(
        &mut self,
        taper: usize,
        c0: usize,
        width: usize,
        bins: &[usize],
        spectra: &[Complex64],
        stride: usize,
        scale: f64,
        add: bool,
    ) {
        self.write_at(0, taper, c0, width, bins, spectra, stride, scale, add);
    }

    /// [`write_block`](Self::write_block) into time row `time` of a time-frequency block.
    #[allow(clippy::too_many_arguments)]
    pub fn write_at(
        &mut self,
        time: usize,
        taper: usize,
        c0: usize,
        width: usize,
        bins: &[usize],
        spectra: &[Complex64],
        stride: usize,
        scale: f64,
        add: bool,
    ) {
        let kind = self.kind;
        match &mut self.block {
            Block::Real(a) => {
                let (_, tapers, freqs, channels) = a.dim();
                // The engine's blocks are standard layout: the plane of (time, taper) is
                // one slice of `freqs` lines of `channels` values, written through plain
                // slices (an ndarray row iterator per frequency cost as much as the
                // conversion). Other views go through ndarray.
                let plane = (time * tapers + taper) * freqs * channels;
                let flat = a
                    .as_slice_mut()
                    .map(|all| &mut all[plane..plane + freqs * channels]);
                // One loop per conversion, so the match is not inside the loop.
                macro_rules! fill {
                    ($f:expr) => {{
                        let f = $f;
                        match flat {
                            Some(flat) if width == LANES => {
                                // A full block of channels: fixed-size lines, so the
                                // LANES conversions of a frequency are unrolled.
                                let columns: [&[Complex64]; LANES] =
                                    std::array::from_fn(|j| &spectra[j * stride..]);
                                for (line, &b) in flat.chunks_exact_mut(channels).zip(bins) {
                                    let line: &mut [f64; LANES] = (&mut line[c0..c0 + LANES])
                                        .try_into()
                                        .expect("LANES channels");
                                    for (o, column) in line.iter_mut().zip(columns) {
                                        let v = f(column[b] * scale);
                                        if add {
                                            *o += v;
                                        } else {
                                            *o = v;
                                        }
                                    }
                                }
                            }
                            Some(flat) => {
                                for (line, &b) in flat.chunks_exact_mut(channels).zip(bins) {
                                    let line = &mut line[c0..c0 + width];
                                    let column = &spectra[b..];
                                    for (j, o) in line.iter_mut().enumerate() {
                                        let v = f(column[j * stride] * scale);
                                        if add {
                                            *o += v;
                                        } else {
                                            *o = v;
                                        }
                                    }
                                }
                            }
                            None => {
                                let mut lines = a.slice_mut(s![time, taper, .., c0..c0 + width]);
                                for (mut line, &b) in lines.rows_mut().into_iter().zip(bins) {
                                    for (j, o) in line.iter_mut().enumerate() {
                                        let v = f(spectra[j * stride + b] * scale);
                                        if add {
                                            *o += v;
                                        } else {
                                            *o = v;
                                        }
                                    }
                                }
                            }
                        }
                    }};
                }
                match kind {
                    SpectralOutput::Pow => fill!(|z: Complex64| z.re * z.re + z.im * z.im),
                    SpectralOutput::Abs => fill!(|z: Complex64| z.re.hypot(z.im)),
                    SpectralOutput::Real => fill!(|z: Complex64| z.re),
                    SpectralOutput::Imag => fill!(|z: Complex64| z.im),
                    SpectralOutput::Angle => fill!(|z: Complex64| z.im.atan2(z.re)),
                    SpectralOutput::AbsReal => fill!(|z: Complex64| z.re.abs()),
                    SpectralOutput::AbsImag => fill!(|z: Complex64| z.im.abs()),
                    SpectralOutput::Fourier => unreachable!("complex output has a complex block"),
                }
            }
            Block::Complex(a) => {
                let mut lines = a.slice_mut(s![time, taper, .., c0..c0 + width]);
                for (mut line, &b) in lines.rows_mut().into_iter().zip(bins) {
                    for (j, o) in line.iter_mut().enumerate() {
                        let z = spectra[j * stride + b] * scale;
                        if add {
                            *o += z;
                        } else {
                            *o = z;
                        }
                    }
                }
            }
        }
    }

    /// Multiplies the spectra of channels `c0..c0 + width` of one taper row by `factor`.
    pub fn scale_block(&mut self, taper: usize, c0: usize, width: usize, factor: f64) {
        self.scale_at(0, taper, c0, width, factor);
    }

    /// [`scale_block`](Self::scale_block) in time row `time` of a time-frequency block.
    pub fn scale_at(&mut self, time: usize, taper: usize, c0: usize, width: usize, factor: f64) {
        match &mut self.block {
            Block::Real(a) => a
                .slice_mut(s![time, taper, .., c0..c0 + width])
                .iter_mut()
                .for_each(|v| *v *= factor),
            Block::Complex(a) => a
                .slice_mut(s![time, taper, .., c0..c0 + width])
                .iter_mut()
                .for_each(|v| *v *= factor),
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
