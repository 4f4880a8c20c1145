//! Drawing a figure into its file. The figure is written under a temporary name next to
//! the output and renamed when complete, so a failure never leaves a partial file and a
//! refused selection writes nothing.

use std::path::{Path, PathBuf};

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

use crate::error::PlotError;
use crate::figures::Figure;
use crate::request::Format;

pub fn render(
    figure: &dyn Figure,
    output: &Path,
    format: Format,
    size: (u32, u32),
) -> Result<(), PlotError> {
    crate::font::register();
    let temp = temporary_name(output, format);
    let fail = |message: String| PlotError::Render {
        path: output.display().to_string(),
        message,
    };
    let drawn = match format {
        Format::Png => {
            let root = BitMapBackend::new(&temp, size).into_drawing_area();
            figure.draw_png(&root)
        }
        Format::Svg => {
            let root = SVGBackend::new(&temp, size).into_drawing_area();
            figure.draw_svg(&root)
        }
    };
    let renamed = drawn.and_then(|()| std::fs::rename(&temp, output).map_err(|e| e.to_string()));
    if let Err(message) = renamed {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(message));
    }
    Ok(())
}

/// `.NAME.partial-PID.EXT` beside the output (the extension picks the encoder).
fn temporary_name(output: &Path, format: Format) -> PathBuf {
    let name = output
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "figure".into());
    let ext = match format {
        Format::Png => "png",
        Format::Svg => "svg",
    };
    output.with_file_name(format!(".{name}.partial-{}.{ext}", std::process::id()))
}
