//! Per-trial cross-spectral densities: Syncopy's `cross_spectra_cF` (AnalogData in: the
//! tapered FFT of every channel, then the taper-averaged dyadic product) and
//! `spectral_dyadic_product_cF` (complex spectra in).

use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, Zip};
use num_complex::Complex64 as C64;
use realfft::RealToComplex;
use serde::Deserialize;
use serde_json::{Map, Value};
use trialflow_core::{Planner, RoutineError};

use super::{ChannelPairs, ConnectivityError};
use crate::spectral::trend::Trend;
use crate::spectral::{
    present, Frequencies, Mtmfft, MtmfftLayout, MtmfftParams, Padding, PolyRemoval, SpectralOutput,
    Taper,
};

/// The spectral parameters of `connectivity` on AnalogData, Syncopy's names (`nTaper` is
/// `n_taper`). They mean what they mean for `mtmfft`, and are checked by it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossSpectraParams {
    #[serde(default, deserialize_with = "present")]
    pub taper: Option<Taper>,
    pub taper_opt: Option<Map<String, Value>>,
    pub tapsmofrq: Option<f64>,
    pub n_taper: Option<i64>,
    pub pad: Option<Padding>,
    #[serde(default, deserialize_with = "present")]
    pub polyremoval: Option<PolyRemoval>,
    pub foi: Option<Frequencies>,
    pub foilim: Option<Frequencies>,
}

impl CrossSpectraParams {
    /// Checks the parameters into the per-trial computation. `demean_taper` is Syncopy's
    /// choice per method: on for Granger, off otherwise.
    pub fn check(self, demean_taper: bool) -> Result<CrossSpectra, ConnectivityError> {
        let selects = |f: &Option<Frequencies>| matches!(f, Some(Frequencies::Hz(_)));
        let restricted = selects(&self.foi) || selects(&self.foilim);
        let mut p = MtmfftParams::new()
            // Cross-spectra always average their tapers, and need the complex spectra.
            .keeptapers(true)
            .output(SpectralOutput::Fourier)
            .demean_taper(demean_taper);
        p.taper = self.taper;
        p.taper_opt = self.taper_opt;
        p.tapsmofrq = self.tapsmofrq;
        p.n_taper = self.n_taper;
        p.pad = self.pad;
        p.polyremoval = self.polyremoval;
        p.foi = self.foi;
        p.foilim = self.foilim;
        Ok(CrossSpectra {
            mtmfft: p.check()?,
            restricted,
        })
    }
}

/// The spectral keys of `connectivity` (as [`CrossSpectraParams`]).
const CFG_KEYS: [&str; 8] = [
    "taper",
    "taper_opt",
    "tapsmofrq",
    "n_taper",
    "pad",
    "polyremoval",
    "foi",
    "foilim",
];

/// The checked per-trial computation (tapers, padding, frequencies, trend removal).
#[derive(Debug, Clone)]
pub struct CrossSpectra {
    mtmfft: Mtmfft,
    restricted: bool,
}

impl CrossSpectra {
    /// The spectral parameters as the result's `cfg` records them: `mtmfft`'s, but only
    /// the keys `connectivity` takes (the others are fixed by the method).
    pub fn cfg(&self) -> Map<String, Value> {
        use trialflow_core::ComputationalRoutine;
        let Value::Object(mut cfg) = self.mtmfft.cfg() else {
            unreachable!("mtmfft's cfg is a map")
        };
        cfg.retain(|k, _| CFG_KEYS.contains(&k.as_str()));
        cfg
    }

    /// Whether `foi`/`foilim` select frequencies (Granger refuses that).
    pub fn selects_frequencies(&self) -> bool {
        self.restricted
    }

    /// The padded length, kept bins and tapers for trials of these lengths (the same layout
    /// `mtmfft` derives, so the frequency axis is Syncopy's).
    pub fn layout(
        &self,
        lens: &[usize],
        samplerate: f64,
    ) -> Result<MtmfftLayout, ConnectivityError> {
        Ok(self.mtmfft.layout_of(lens, samplerate)?)
    }

    /// The plan for trials of `n` samples: the FFT and the scaled tapers, built once per
    /// trial length.
    pub fn plan(&self, n: usize, layout: &MtmfftLayout, planner: &mut Planner) -> CsdPlan {
        let fft = planner.real_fft_forward(layout.nfft);
        CsdPlan {
            n,
            tapers: self.mtmfft.tapers(n, layout, planner),
            n_tapers: layout.n_tapers,
            bins: layout.bins.clone(),
            scale: self.mtmfft.spectrum_scale(n, layout.nfft),
            trend: self.mtmfft.trend(),
            demean_taper: self.mtmfft.demean_taper(),
            fft,
        }
    }
}

/// Cross-spectra of trials of one length.
pub struct CsdPlan {
    n: usize,
    tapers: Vec<f64>,
    n_tapers: usize,
    bins: Vec<usize>,
    scale: f64,
    trend: Trend,
    demean_taper: bool,
    fft: Arc<dyn RealToComplex<f64>>,
}

/// Channels gathered per pass over a trial's rows (8 f64: one cache line), as `mtmfft`.
const CHANNEL_BLOCK: usize = 8;

/// Caller-owned buffers for [`CsdPlan::trial`], made once per worker by [`CsdPlan::scratch`]
/// (or borrowed from the engine's scratch with [`CsdPlan::buffers`]).
pub struct CsdScratch {
    real: Vec<f64>,
    complex: Vec<C64>,
    channels: usize,
}

impl CsdScratch {
    fn buffers<'a>(&'a mut self, plan: &CsdPlan) -> CsdBuffers<'a> {
        plan.buffers(self.channels, &mut self.real, &mut self.complex)
    }
}

impl CsdBuffers<'_> {
    /// The spectra [`CsdPlan::spectra`] wrote, (taper, freq, channel).
    pub fn spectra(&self) -> ArrayView3<'_, C64> {
        self.spectra.view()
    }
}

/// The buffers of one trial's spectra, borrowed from caller-owned storage.
pub struct CsdBuffers<'a> {
    /// A block of detrended channels, one after the other.
    columns: &'a mut [f64],
    buf: &'a mut [f64],
    mean: &'a mut [f64],
    slope: &'a mut [f64],
    spectrum: &'a mut [C64],
    fft: &'a mut [C64],
    /// The trial's spectra, (taper, freq, channel).
    spectra: ArrayViewMut3<'a, C64>,
}

impl CsdPlan {
    pub fn n_freqs(&self) -> usize {
        self.bins.len()
    }

    pub fn n_tapers(&self) -> usize {
        self.n_tapers
    }

    /// Buffers for trials of `channels` channels.
    pub fn scratch(&self, channels: usize) -> CsdScratch {
        let (real, complex) = self.scratch_len(channels);
        CsdScratch {
            real: vec![0.0; real],
            complex: vec![C64::default(); complex],
            channels,
        }
    }

    /// The (real, complex) values [`buffers`](Self::buffers) borrows for `channels` channels.
    pub fn scratch_len(&self, channels: usize) -> (usize, usize) {
        let m = self.fft.len();
        (
            CHANNEL_BLOCK * self.n + m + 2 * channels,
            CHANNEL_BLOCK * (m / 2 + 1)
                + self.fft.get_scratch_len()
                + self.n_tapers * self.bins.len() * channels,
        )
    }

    /// Splits caller-owned storage (at least [`scratch_len`](Self::scratch_len)) into the
    /// buffers of [`spectra`](Self::spectra).
    pub fn buffers<'a>(
        &self,
        channels: usize,
        real: &'a mut [f64],
        complex: &'a mut [C64],
    ) -> CsdBuffers<'a> {
        let m = self.fft.len();
        let (columns, rest) = real.split_at_mut(CHANNEL_BLOCK * self.n);
        let (buf, rest) = rest.split_at_mut(m);
        let (mean, rest) = rest.split_at_mut(channels);
        let (slope, _) = rest.split_at_mut(channels);
        let (spectrum, rest) = complex.split_at_mut(CHANNEL_BLOCK * (m / 2 + 1));
        let (fft, rest) = rest.split_at_mut(self.fft.get_scratch_len());
        let k = self.n_tapers * self.bins.len() * channels;
        let spectra =
            ArrayViewMut3::from_shape((self.n_tapers, self.bins.len(), channels), &mut rest[..k])
                .expect("sized by scratch_len");
        CsdBuffers {
            columns,
            buf,
            mean,
            slope,
            spectrum,
            fft,
            spectra,
        }
    }

    /// One trial's contribution: the taper-averaged cross-spectra of `x` (samples x
    /// channels) for `pairs`, written into `out` (its shape from [`CsdBlock::zeros`]).
    pub fn trial(
        &self,
        x: ArrayView2<'_, f64>,
        pairs: &ChannelPairs,
        out: &mut CsdBlock,
        scratch: &mut CsdScratch,
    ) -> Result<(), RoutineError> {
        let mut b = scratch.buffers(self);
        self.spectra(x, &mut b)?;
        dyadic_product(b.spectra.view(), pairs, out);
        Ok(())
    }

    /// The trial's complex spectra (taper, freq, channel) into `b.spectra`, as Syncopy's
    /// `mtmfft`: each channel is detrended, multiplied by each taper (normalised as
    /// `_norm_taper`), demeaned again with `demean_taper`, zero-padded, FFT'd and scaled by
    /// `_norm_spec`. The cross-spectra are then `S_ij = mean_k X_ik conj(X_jk)`.
    pub fn spectra(
        &self,
        x: ArrayView2<'_, f64>,
        b: &mut CsdBuffers<'_>,
    ) -> Result<(), RoutineError> {
        let (n, channels) = x.dim();
        assert_eq!(n, self.n, "a CsdPlan is for trials of {} samples", self.n);
        assert_eq!(
            b.mean.len(),
            channels,
            "buffers made for another channel count"
        );
        self.trend.fit(&x, 0, n, b.mean, b.slope);
        for c0 in (0..channels).step_by(CHANNEL_BLOCK) {
            let width = CHANNEL_BLOCK.min(channels - c0);
            self.trend
                .remove_block(&x, c0, width, 0, n, b.mean, b.slope, b.columns, n);
            let half = self.fft.len() / 2 + 1;
            for k in 0..self.n_tapers {
                let taper = &self.tapers[k * n..(k + 1) * n];
                let columns = b.columns.chunks_exact(n).take(width);
                for (column, spectrum) in columns.zip(b.spectrum.chunks_exact_mut(half)) {
                    for ((v, &w), &c) in b.buf.iter_mut().zip(taper).zip(column) {
                        *v = w * c;
                    }
                    if self.demean_taper {
                        let mu = b.buf[..n].iter().sum::<f64>() / n as f64;
                        b.buf[..n].iter_mut().for_each(|v| *v -= mu);
                    }
                    b.buf[n..].fill(0.0);
                    self.fft
                        .process_with_scratch(b.buf, spectrum, b.fft)
                        .map_err(|e| RoutineError::failed(format!("FFT: {e}")))?;
                }
                // The block's channels at each frequency are adjacent in the (freq,
                // channel) plane: written together, whole cache lines at a time, rather
                // than one channel's column at a stride of `channels`.
                let plane = b
                    .spectra
                    .index_axis_mut(Axis(0), k)
                    .into_slice()
                    .expect("spectra are in standard layout");
                for (f, &bin) in self.bins.iter().enumerate() {
                    let row = &mut plane[f * channels + c0..][..width];
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = b.spectrum[j * half + bin] * self.scale;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One trial's cross-spectral contribution: `cross[f, a, b] = S(senders[a], receivers[b])`
/// and the auto-spectra of the senders and receivers (coherence divides by them, pairwise
/// Granger builds its 2 x 2 matrices from them).
#[derive(Debug, Clone, PartialEq)]
pub struct CsdBlock {
    pub cross: Array3<C64>,
    pub auto_i: Array2<f64>,
    pub auto_j: Array2<f64>,
}

impl CsdBlock {
    pub fn zeros(n_freqs: usize, pairs: &ChannelPairs) -> CsdBlock {
        let (ni, nj) = (pairs.senders.len(), pairs.receivers.len());
        CsdBlock {
            cross: Array3::zeros((n_freqs, ni, nj)),
            auto_i: Array2::zeros((n_freqs, ni)),
            auto_j: Array2::zeros((n_freqs, nj)),
        }
    }

    /// Adds one trial's contribution (the running sum of a reduction, in trial order).
    pub fn add(&mut self, trial: &CsdBlock) {
        self.cross += &trial.cross;
        self.auto_i += &trial.auto_i;
        self.auto_j += &trial.auto_j;
    }

    /// The trial average of a sum over `n_trials` trials (Syncopy divides the summed
    /// dataset by the trial count).
    pub fn mean(&self, n_trials: usize) -> CsdBlock {
        let n = n_trials as f64;
        CsdBlock {
            cross: self.cross.mapv(|v| v / n),
            auto_i: self.auto_i.mapv(|v| v / n),
            auto_j: self.auto_j.mapv(|v| v / n),
        }
    }
}

/// Syncopy's `spectral_dyadic_product_cF`: from complex spectra `(taper, freq, channel)`,
/// the taper-averaged `X_i conj(X_j)` for `pairs` into `out`.
pub fn dyadic_product(spectra: ArrayView3<'_, C64>, pairs: &ChannelPairs, out: &mut CsdBlock) {
    dyadic_product_into(
        spectra,
        pairs,
        out.cross.view_mut(),
        out.auto_i.view_mut(),
        out.auto_j.view_mut(),
    );
}

/// [`dyadic_product`] into caller-owned views: `cross` (freq, senders, receivers) in
/// standard layout, the auto-spectra (freq, senders) and (freq, receivers) in any layout.
pub fn dyadic_product_into(
    spectra: ArrayView3<'_, C64>,
    pairs: &ChannelPairs,
    mut cross: ArrayViewMut3<'_, C64>,
    mut auto_i: ArrayViewMut2<'_, f64>,
    mut auto_j: ArrayViewMut2<'_, f64>,
) {
    let (k, n_freqs, _) = spectra.dim();
    let kf = k as f64;
    let nj = pairs.receivers.len();
    // The same channels on both axes: the lower triangle is the conjugate of the upper (the
    // same values: IEEE products commute exactly; only an exact zero may differ in sign),
    // so it is filled rather than computed.
    let square = pairs.senders == pairs.receivers;
    for f in 0..n_freqs {
        let mut plane = cross.index_axis_mut(Axis(0), f);
        let plane = plane
            .as_slice_mut()
            .expect("cross-spectra are in standard layout");
        plane.fill(C64::default());
        for t in 0..k {
            let row = spectra.index_axis(Axis(0), t);
            let row = row.index_axis(Axis(0), f);
            for (a, &i) in pairs.senders.iter().enumerate() {
                let xi = row[i];
                let first = if square { a } else { 0 };
                for (b, &j) in pairs.receivers.iter().enumerate().skip(first) {
                    plane[a * nj + b] += xi * row[j].conj();
                }
            }
        }
        for a in 0..pairs.senders.len() {
            let first = if square { a } else { 0 };
            for b in first..nj {
                plane[a * nj + b] /= kf;
                if square && b > a {
                    plane[b * nj + a] = plane[a * nj + b].conj();
                }
            }
        }
        let auto = |i: usize| (0..k).map(|t| spectra[[t, f, i]].norm_sqr()).sum::<f64>() / kf;
        Zip::from(auto_i.row_mut(f))
            .and(&pairs.senders)
            .for_each(|o, &i| *o = auto(i));
        Zip::from(auto_j.row_mut(f))
            .and(&pairs.receivers)
            .for_each(|o, &j| *o = auto(j));
    }
}

crate::params::setters!(CrossSpectraParams {
    taper: Taper,
    taper_opt: Map<String, Value>,
    tapsmofrq: f64,
    n_taper: i64,
    pad: Padding,
    polyremoval: PolyRemoval,
    foi: Frequencies,
    foilim: Frequencies,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filled_triangle_has_the_values_of_the_computed_one() {
        let spectra = Array3::from_shape_fn((3, 5, 4), |(k, f, c)| {
            C64::new(
                (1.3 * k as f64 + 0.7 * f as f64 + c as f64).sin(),
                (0.4 * k as f64 - 1.1 * f as f64 + 2.0 * c as f64).cos(),
            )
        });
        let all = ChannelPairs::all(4);
        let reversed = ChannelPairs {
            senders: vec![0, 1, 2, 3],
            receivers: vec![3, 2, 1, 0],
            full: false,
        };
        let (mut a, mut b) = (CsdBlock::zeros(5, &all), CsdBlock::zeros(5, &reversed));
        dyadic_product(spectra.view(), &all, &mut a);
        dyadic_product(spectra.view(), &reversed, &mut b);
        for ((f, i, j), v) in a.cross.indexed_iter() {
            let w = b.cross[[f, i, 3 - j]];
            // `==`: equal values, and +0 == -0
            assert!(v.re == w.re && v.im == w.im, "[{f},{i},{j}]: {v} vs {w}");
        }
        assert_eq!(a.auto_i, a.auto_j);
    }
}
