//! What the caller asks for: an object, a selection and an output file.

use std::path::PathBuf;

use crate::error::PlotError;

/// Default figure size: readable on a laptop screen and in a document at full width.
pub const DEFAULT_SIZE: (u32, u32) = (1200, 800);

/// One `trialflow plot` invocation. Selection strings are parsed against the object
/// (`selection.rs`), so errors can name its channels.
#[derive(Debug, Clone)]
pub struct PlotRequest {
    /// `CONTAINER.spy`, `CONTAINER.spy/OBJECT` or an object file.
    pub input: PathBuf,
    /// `.png` or `.svg`.
    pub output: PathBuf,
    pub trials: Option<String>,
    pub channels: Option<String>,
    pub latency: Option<(f64, f64)>,
    pub foilim: Option<(f64, f64)>,
    /// A SpikeData object whose events are marked on AnalogData traces.
    pub overlay: Option<PathBuf>,
    /// Logarithmic value axis (spectra).
    pub log: bool,
    pub size: (u32, u32),
}

impl PlotRequest {
    pub fn new(input: PathBuf, output: PathBuf) -> PlotRequest {
        PlotRequest {
            input,
            output,
            trials: None,
            channels: None,
            latency: None,
            foilim: None,
            overlay: None,
            log: false,
            size: DEFAULT_SIZE,
        }
    }
}

/// Parses `WxH` (e.g. `1200x800`); 200 to 8000 pixels a side.
pub fn parse_size(text: &str) -> Result<(u32, u32), PlotError> {
    let bad = || {
        PlotError::selection(
            "--size",
            format!("expected WxH in pixels (e.g. 1200x800), got '{text}'"),
        )
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(200..=8000).contains(&w) || !(200..=8000).contains(&h) {
        return Err(PlotError::selection(
            "--size",
            format!("{w}x{h}: each side must be 200 to 8000 pixels"),
        ));
    }
    Ok((w, h))
}

/// The output format, from the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn of(path: &std::path::Path) -> Result<Format, PlotError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::selection(
                "-o",
                format!(
                    "{}: the figure's name must end in .png or .svg",
                    path.display()
                ),
            )),
        }
    }
}
