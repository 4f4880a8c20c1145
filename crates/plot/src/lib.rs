//! Figures of Syncopy objects, rendered in Rust with an embedded font: stacked traces of
//! AnalogData (with events of a SpikeData object marked), spectra with their standard
//! error, time-frequency maps, and rasters with a PSTH. What `trialflow plot` draws, as
//! Syncopy's `singlepanelplot`/`multipanelplot` would, without Python or a display.
//!
//! Only the selected trials, channels, samples and frequencies are read (hyperslabs through
//! `trialflow_hdf5::objects`), so a figure of a huge container costs what it shows.

mod colour;
mod error;
mod figures;
mod font;
pub mod layout;
mod read;
mod render;
mod request;
mod selection;

pub use error::PlotError;
/// Registers the embedded font as `sans-serif` for plotters, for figures drawn outside
/// [`plot`] (the benchmark figures in `examples/`).
pub use font::register as register_font;
pub use request::{parse_size, Format, PlotRequest, DEFAULT_SIZE};

/// Draws `request`'s figure into `request.output`. Selection errors are checked while the
/// data is read, before anything is written.
pub fn plot(request: &PlotRequest) -> Result<(), PlotError> {
    let format = Format::of(&request.output)?;
    if let Some(dir) = request
        .output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        if !dir.is_dir() {
            return Err(PlotError::selection(
                "-o",
                format!("{}: the folder does not exist", dir.display()),
            ));
        }
    }
    let path = trialflow_hdf5::objects::locate_object(&request.input)?;
    let figure = figures::prepare(&path, request)?;
    render::render(figure.as_ref(), &request.output, format, request.size)
}
