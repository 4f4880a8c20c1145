//! AnalogData: the selected channels of each selected trial as stacked traces with their
//! labels, one panel per trial, and optional event markers from a SpikeData object.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::{locate_object, object_class, DenseObject, EventObject};

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::{MARKER, PALETTE};
use crate::error::PlotError;
use crate::layout::{self, Rect};
use crate::read::events::read_events;
use crate::read::traces::{read_traces, TraceTrial};
use crate::request::PlotRequest;
use crate::selection::{apply_latency, parse_channels, parse_trials};

pub struct Traces {
    title: String,
    trials: Vec<TraceTrial>,
    labels: Vec<String>,
    /// Per trial: (time, stacked value) of each overlay event.
    markers: Vec<Vec<(f64, f64)>>,
    /// Distance between stacked channels, in the data's unit.
    spacing: f64,
    /// Per trial and channel: the mean subtracted before stacking.
    means: Vec<Vec<f64>>,
    unit: String,
    size: (u32, u32),
}

pub fn prepare(path: &Path, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    if req.foilim.is_some() {
        return Err(PlotError::selection(
            "--foilim",
            "applies to SpectralData; this is AnalogData",
        ));
    }
    let obj = DenseObject::open(path)?;
    let h = obj.header();
    let trials = parse_trials(req.trials.as_deref(), h.trialdefinition.len(), &[0])?;
    frame::check_panels(trials.len(), "--trials", "trials")?;
    let trials = apply_latency(&h.trialdefinition, trials, h.samplerate, req.latency)?;
    let channels = parse_channels(req.channels.as_deref(), &h.channels)?;
    let data = read_traces(&obj, &trials, &channels, req.latency)?;
    let labels: Vec<String> = channels.iter().map(|&c| h.channels[c].clone()).collect();
    let means: Vec<Vec<f64>> = data
        .iter()
        .map(|t| {
            t.values
                .columns()
                .into_iter()
                .map(|c| c.mean().unwrap_or(0.0))
                .collect()
        })
        .collect();
    let range = data
        .iter()
        .flat_map(|t| {
            t.values
                .columns()
                .into_iter()
                .map(|c| frame::span(c.iter().copied()))
        })
        .map(|(lo, hi)| hi - lo)
        .fold(0.0f64, f64::max);
    let spacing = if range > 0.0 { range * 0.8 } else { 1.0 };
    let mut markers = vec![Vec::new(); data.len()];
    if let Some(overlay) = &req.overlay {
        mark_events(overlay, &data, &labels, &means, spacing, &mut markers)?;
    }
    let mut title = format!(
        "{} (AnalogData): {}",
        frame::object_name(h),
        frame::describe(h, &trials, &channels, req.latency, None)
    );
    if let Some(o) = &req.overlay {
        title.push_str(&format!(", events of {}", o.display()));
    }
    Ok(Box::new(Traces {
        title,
        trials: data,
        labels,
        markers,
        spacing,
        means,
        unit: h.value_unit.clone().unwrap_or_else(|| "a.u.".into()),
        size: req.size,
    }))
}

/// The stacked position of channel `c` (the first on top).
fn stacked(n_channels: usize, c: usize, spacing: f64) -> f64 {
    (n_channels - 1 - c) as f64 * spacing
}

/// Marks each overlay event on its channel (matched by label) at its sample.
fn mark_events(
    overlay: &Path,
    data: &[TraceTrial],
    labels: &[String],
    means: &[Vec<f64>],
    spacing: f64,
    markers: &mut [Vec<(f64, f64)>],
) -> Result<(), PlotError> {
    let path =
        locate_object(overlay).map_err(|e| PlotError::selection("--overlay", e.to_string()))?;
    let class = object_class(&path)?;
    if class != "SpikeData" {
        return Err(PlotError::selection(
            "--overlay",
            format!(
                "{} holds {class}; overlays are SpikeData (e.g. find_peaks output)",
                path.display()
            ),
        ));
    }
    let events = EventObject::open(&path)?;
    let eh = events.header();
    let max_trial = data.iter().map(|t| t.trial).max().unwrap_or(0);
    if max_trial >= eh.trialdefinition.len() {
        return Err(PlotError::selection(
            "--overlay",
            format!(
                "{} has {} trials; trial {max_trial} is plotted",
                path.display(),
                eh.trialdefinition.len()
            ),
        ));
    }
    // Overlay channel index -> plotted column, by label.
    let column: Vec<Option<usize>> = eh
        .channels
        .iter()
        .map(|l| labels.iter().position(|p| p == l))
        .collect();
    let all: Vec<usize> = (0..eh.channels.len()).collect();
    for (i, t) in data.iter().enumerate() {
        for e in read_events(&events, &[t.trial], &all, None)? {
            let Some(c) = column[e.panel] else { continue };
            let row = e.sample - t.first_row as i64;
            if row < 0 || row as usize >= t.times.len() {
                continue;
            }
            let v = t.values[[row as usize, c]] - means[i][c] + stacked(labels.len(), c, spacing);
            markers[i].push((t.times[row as usize], v));
        }
    }
    Ok(())
}

impl Traces {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let n = self.labels.len();
        for ((i, t), rect) in
            self.trials
                .iter()
                .enumerate()
                .zip(layout::panels(self.size, self.trials.len(), false))
        {
            let area = frame::panel(root, rect, &format!("trial {}", t.trial))?;
            let (x0, x1) = frame::span(t.times.iter().copied());
            // Tall transients stay inside the panel: the range covers every stacked value.
            let stacked_values = (0..n).flat_map(|c| {
                let base = stacked(n, c, self.spacing) - self.means[i][c];
                t.values.column(c).into_iter().map(move |v| v + base)
            });
            let (lo, hi) = frame::span(stacked_values);
            let pad = self.spacing * 0.05;
            let y = (lo - pad, hi + pad);
            let mut chart = ChartBuilder::on(&area)
                .margin_top(layout::MARGIN)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(layout::X_LABEL_H)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(x0..x1, y.0..y.1)?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .disable_y_mesh()
                .y_labels(0)
                .x_labels(6)
                .x_desc("time (s)")
                .y_desc(format!("channels, {:.3} {} apart", self.spacing, self.unit))
                .label_style(frame::text(12))
                .axis_desc_style(frame::text(13))
                .draw()?;
            for c in 0..n {
                let base = stacked(n, c, self.spacing) - self.means[i][c];
                let colour = PALETTE[c % PALETTE.len()];
                chart.draw_series(LineSeries::new(
                    t.times
                        .iter()
                        .zip(t.values.column(c))
                        .map(|(&x, &v)| (x, v + base)),
                    colour.stroke_width(1),
                ))?;
                let (px, py) = chart.backend_coord(&(x0, stacked(n, c, self.spacing)));
                let label_x = px - layout::Y_LABEL_W + 24;
                root.draw_text(
                    &self.labels[c],
                    &frame::text(12).color(&colour),
                    (label_x, py - 6),
                )?;
            }
            chart.draw_series(
                self.markers[i]
                    .iter()
                    .map(|&(x, v)| Circle::new((x, v), 4, MARKER.filled())),
            )?;
            debug_assert_eq!(
                plot_rect(&chart),
                layout::plot_area(rect.below(layout::CAPTION_H))
            );
        }
        root.present()
    }
}

/// The data area plotters laid out, to check it against [`layout::plot_area`].
pub(super) fn plot_rect<
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
) -> Rect {
    let (x, y) = chart.plotting_area().get_pixel_range();
    Rect {
        x0: x.start,
        y0: y.start,
        x1: x.end,
        y1: y.end,
    }
}

super::figure_on_both_backends!(Traces);
