//! One module per figure kind, chosen by the object's class. A new kind is a module with a
//! `prepare` function (read the selection, return the figure) and one line in [`FIGURES`].

mod cross;
mod evoked;
mod frame;
mod raster;
mod spectrum;
mod tfmap;
mod traces;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, SVGBackend};
use trialflow_hdf5::objects::{object_class, DenseObject};

use crate::error::PlotError;
use crate::request::PlotRequest;

/// A figure whose data is read and ready to draw on either backend.
pub trait Figure {
    fn draw_png(&self, root: &DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>;
    fn draw_svg(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>;
}

/// Implements [`Figure`] for a type with a generic `draw<DB: DrawingBackend>`.
macro_rules! figure_on_both_backends {
    ($t:ty) => {
        impl $crate::figures::Figure for $t {
            fn draw_png(
                &self,
                root: &plotters::prelude::DrawingArea<
                    plotters::prelude::BitMapBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> Result<(), String> {
                self.draw(root).map_err(|e| e.to_string())
            }
            fn draw_svg(
                &self,
                root: &plotters::prelude::DrawingArea<
                    plotters::prelude::SVGBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> Result<(), String> {
                self.draw(root).map_err(|e| e.to_string())
            }
        }
    };
}
pub(crate) use figure_on_both_backends;

type Prepare = fn(&Path, &PlotRequest) -> Result<Box<dyn Figure>, PlotError>;

/// The figure of each class.
const FIGURES: &[(&str, Prepare)] = &[
    ("AnalogData", traces::prepare),
    ("SpectralData", spectral),
    ("SpikeData", raster::prepare),
    ("CrossSpectralData", cross_spectral),
    ("TimeLockData", time_lock),
];

/// Reads what the request selects from the object at `path` and returns its figure.
pub fn prepare(path: &Path, request: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    let class = object_class(path)?;
    let (_, prepare) = FIGURES.iter().find(|(c, _)| *c == class).ok_or_else(|| {
        PlotError::Unsupported(format!(
            "{}: no figure for {class} yet (figures exist for {})",
            path.display(),
            FIGURES
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    prepare(path, request)
}

/// SpectralData with one row per trial is a spectrum; with a time axis, a map.
fn spectral(path: &Path, request: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    let obj = DenseObject::open(path)?;
    let def = &obj.header().trialdefinition;
    if (0..def.len()).any(|t| def.trial_len(t) > 1) {
        tfmap::prepare(obj, request)
    } else {
        spectrum::prepare(obj, request)
    }
}

fn cross_spectral(path: &Path, request: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    cross::prepare(DenseObject::open(path)?, request)
}

fn time_lock(path: &Path, request: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    evoked::prepare(DenseObject::open(path)?, request)
}
