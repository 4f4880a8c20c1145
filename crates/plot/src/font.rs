//! The font every figure uses, compiled into the binary: headless machines and containers
//! often have no fonts at all, and a figure must look the same everywhere.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family name figures ask for.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Registers the embedded font with plotters (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is a known-good file compiled in, so parsing cannot fail at run time
            // unless the file in the repository is damaged, which the tests would show.
            let _ = plotters::style::register_font(FAMILY, style, DEJAVU_SANS);
        }
    });
}
