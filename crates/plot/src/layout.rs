//! Where things go on the canvas, in pixels. Figures draw into these rectangles, and the
//! tests use the same functions to know which pixel a frequency or a sample lands on.

/// Band at the top for the figure's title.
pub const TITLE_H: i32 = 40;
/// Band at the top of each panel for its caption (the channel).
pub const CAPTION_H: i32 = 22;
/// Left of each chart: tick labels and the value axis' description (or channel labels).
pub const Y_LABEL_W: i32 = 96;
/// Below each chart: tick labels and the time or frequency axis' description.
pub const X_LABEL_H: i32 = 44;
/// Space left of each chart, so the rotated axis description is not cut at the edge.
pub const LEFT_MARGIN: i32 = 8;
/// Space right of and above each chart's data area.
pub const MARGIN: i32 = 12;
/// Right strip that holds a colour bar (time-frequency maps).
pub const COLORBAR_W: i32 = 130;
/// Most panels a figure draws; smaller ones are unreadable.
pub const MAX_PANELS: usize = 36;

/// A pixel rectangle, `x1`/`y1` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub fn width(&self) -> i32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> i32 {
        self.y1 - self.y0
    }

    /// The part below the top `h` pixels.
    pub fn below(&self, h: i32) -> Rect {
        Rect {
            y0: self.y0 + h,
            ..*self
        }
    }

    /// Splits at `fraction` of the height: (top, bottom).
    pub fn split_v(&self, fraction: f64) -> (Rect, Rect) {
        let y = self.y0 + (self.height() as f64 * fraction).round() as i32;
        (Rect { y1: y, ..*self }, Rect { y0: y, ..*self })
    }
}

/// Rows and columns for `n` panels: as square as possible, wider than tall.
pub fn grid(n: usize) -> (usize, usize) {
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols).max(1);
    (rows, cols)
}

/// The panels of a figure of `size` with `n` panels, below the title and left of an
/// optional colour bar strip.
pub fn panels(size: (u32, u32), n: usize, colorbar: bool) -> Vec<Rect> {
    let (w, h) = (size.0 as i32, size.1 as i32);
    let right = if colorbar { w - COLORBAR_W } else { w };
    let (rows, cols) = grid(n);
    let pw = right / cols as i32;
    let ph = (h - TITLE_H) / rows as i32;
    (0..n)
        .map(|i| {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            Rect {
                x0: c * pw,
                y0: TITLE_H + r * ph,
                x1: (c + 1) * pw,
                y1: TITLE_H + (r + 1) * ph,
            }
        })
        .collect()
}

/// The colour bar strip.
pub fn colorbar(size: (u32, u32)) -> Rect {
    Rect {
        x0: size.0 as i32 - COLORBAR_W,
        y0: TITLE_H,
        x1: size.0 as i32,
        y1: size.1 as i32,
    }
}

/// The data area of a chart drawn in `area` (the part of a panel below its caption).
pub fn plot_area(area: Rect) -> Rect {
    Rect {
        x0: area.x0 + LEFT_MARGIN + Y_LABEL_W,
        y0: area.y0 + MARGIN,
        x1: area.x1 - MARGIN,
        y1: area.y1 - X_LABEL_H,
    }
}

/// The pixel column of `value` on an axis spanning `range` across `area`'s data area, as
/// plotters maps it (`x0 + floor(width * fraction)`).
pub fn x_pixel(area: Rect, range: (f64, f64), value: f64) -> i32 {
    let p = plot_area(area);
    p.x0 + (p.width() as f64 * (value - range.0) / (range.1 - range.0) + 1e-3).floor() as i32
}
