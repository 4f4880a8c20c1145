//! What every figure shares: the title, panel captions, axis styles, the value label of
//! spectral data and checks that the selection fits the canvas.

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::ObjectHeader;

use crate::error::PlotError;
use crate::font::FAMILY;
use crate::layout::{Rect, CAPTION_H, MAX_PANELS, TITLE_H};
use crate::selection::compact;

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

pub fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

/// Clears the canvas and writes the title.
pub fn title<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    root.draw_text(title, &text(18), (12, (TITLE_H - 18) / 2))
}

/// The area of `rect` (canvas pixels), with `caption` written above it; returns the area
/// below the caption, where the chart goes.
pub fn panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rect: Rect,
    caption: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let area = sub_area(root, rect);
    area.draw_text(caption, &text(14), (crate::layout::Y_LABEL_W, 4))?;
    Ok(sub_area(root, rect.below(CAPTION_H)))
}

pub fn sub_area<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: Rect,
) -> DrawingArea<DB, Shift> {
    root.clone().shrink(
        (r.x0, r.y0),
        (r.width().max(1) as u32, r.height().max(1) as u32),
    )
}

/// Refuses selections that make panels too small to read, naming the flag that chose them.
pub fn check_panels(n: usize, flag: &'static str, what: &str) -> Result<(), PlotError> {
    if n > MAX_PANELS {
        return Err(PlotError::selection(
            flag,
            format!("{n} {what} make {n} panels; select at most {MAX_PANELS}"),
        ));
    }
    Ok(())
}

/// `out.spy/out_spectrum.spectral` for titles: the container and the object.
pub fn object_name(h: &ObjectHeader) -> String {
    let file = h
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match h.path.parent().and_then(|p| p.file_name()) {
        Some(dir) => format!("{}/{file}", dir.to_string_lossy()),
        None => file,
    }
}

/// The selection in words, for the title.
pub fn describe(
    h: &ObjectHeader,
    trials: &[usize],
    channels: &[usize],
    latency: Option<(f64, f64)>,
    foilim: Option<(f64, f64)>,
) -> String {
    let mut s = format!(
        "{} {} of {}, {} of {} channels",
        if trials.len() == 1 { "trial" } else { "trials" },
        compact(trials),
        h.trialdefinition.len(),
        channels.len(),
        h.channels.len()
    );
    if let Some((a, b)) = latency {
        s.push_str(&format!(", {a} to {b} s"));
    }
    if let Some((a, b)) = foilim {
        s.push_str(&format!(", {a} to {b} Hz"));
    }
    s
}

/// What the values of SpectralData are, with units: power per Hz for `pow` (Syncopy
/// normalises mtmfft to 1 Hz bins) and Welch densities, amplitude for `abs`, and so on.
pub fn spectral_value_label(h: &ObjectHeader) -> String {
    let u = h.value_unit.clone().unwrap_or_else(|| "a.u.".into());
    let routine = h.producer().map_or("", |(r, _)| r);
    let setting = |k: &str| {
        h.producer()
            .and_then(|(_, c)| c.get(k)?.as_str().map(str::to_string))
    };
    if h.complex {
        return format!("power of Fourier coefficients ({u}²/Hz)");
    }
    if routine == "welch" {
        return match setting("scaling").as_deref() {
            Some("spectrum") => format!("power ({u}²)"),
            _ => format!("power ({u}²/Hz)"),
        };
    }
    match setting("output").as_deref() {
        Some("abs") => format!("amplitude ({u}/√Hz)"),
        Some("angle") => "phase (rad)".into(),
        Some("real") => format!("real part ({u}/√Hz)"),
        Some("imag") => format!("imaginary part ({u}/√Hz)"),
        _ => format!("power ({u}²/Hz)"),
    }
}

/// Values for a log axis: log10, with non-positive values (and NaN) left out.
pub fn log10_or_nan(v: f64) -> f64 {
    if v > 0.0 {
        v.log10()
    } else {
        f64::NAN
    }
}

/// Finite min and max of values, widened when flat so an axis always has a span.
pub fn span(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// Formats a tick of a log10 axis as the value it stands for.
pub fn pow10_label(v: &f64) -> String {
    format!("{:.0e}", 10f64.powf(*v))
}
