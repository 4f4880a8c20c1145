//! Peak finding with SciPy's semantics: `find_peaks` (`scipy.signal.find_peaks`) and
//! `find_peaks_cwt` (`scipy.signal.find_peaks_cwt`). Both take AnalogData and give SpikeData:
//! one event row `[sample, channel, unit = 0]` per peak, per trial and channel, with
//! `find_peaks`' properties stored beside the rows under SciPy's names.
//!
//! Each channel of a task is copied into contiguous scratch and searched there (compute is in
//! f64, as SciPy's `find_peaks` casts its input to float64); no allocation happens per task
//! once the event buffers have grown.

mod cwt;
mod errors;
mod find_peaks;
mod interval;
mod kernel;
mod maxima;
mod prominence;
mod registration;

pub use cwt::{FindPeaksCwt, FindPeaksCwtParams, MaxDistances, Wavelet};
pub use errors::PeaksError;
pub use find_peaks::{FindPeaks, FindPeaksParams};
pub use interval::Interval;
pub use registration::registry_entries;

use ndarray::ArrayView1;

/// Copies one (strided) channel column into a contiguous buffer of the same length.
fn copy_channel(column: ArrayView1<'_, f64>, out: &mut [f64]) {
    for (o, &v) in out.iter_mut().zip(column.iter()) {
        *o = v;
    }
}
