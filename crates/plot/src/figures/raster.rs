//! SpikeData: per channel, a raster of events (trials by time) with the peri-stimulus
//! time histogram above it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::EventObject;

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::MEAN;
use crate::error::PlotError;
use crate::layout;
use crate::read::events::{read_events, Event};
use crate::request::PlotRequest;
use crate::selection::{apply_latency, parse_channels, parse_trials};

/// Bins of the PSTH across the shown time span.
const BINS: usize = 40;

pub struct Raster {
    title: String,
    events: Vec<Event>,
    trials: Vec<usize>,
    labels: Vec<String>,
    span: (f64, f64),
    size: (u32, u32),
}

pub fn prepare(path: &Path, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    if req.foilim.is_some() {
        return Err(PlotError::selection(
            "--foilim",
            "applies to SpectralData; this is SpikeData",
        ));
    }
    let obj = EventObject::open(path)?;
    let h = obj.header();
    let def = &h.trialdefinition;
    let all: Vec<usize> = (0..def.len()).collect();
    let trials = parse_trials(req.trials.as_deref(), all.len(), &all)?;
    let trials = apply_latency(def, trials, h.samplerate, req.latency)?;
    let channels = parse_channels(req.channels.as_deref(), &h.channels)?;
    frame::check_panels(channels.len(), "--channels", "channels")?;
    let events = read_events(&obj, &trials, &channels, req.latency)?;
    let span = req.latency.unwrap_or_else(|| {
        frame::span(trials.iter().flat_map(|&t| {
            let o = def.offset(t);
            [
                o / h.samplerate,
                (def.trial_len(t) as f64 + o) / h.samplerate,
            ]
        }))
    });
    Ok(Box::new(Raster {
        title: format!(
            "{} (SpikeData): {}",
            frame::object_name(h),
            frame::describe(h, &trials, &channels, req.latency, None)
        ),
        events,
        labels: channels.iter().map(|&c| h.channels[c].clone()).collect(),
        trials,
        span,
        size: req.size,
    }))
}

impl Raster {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let (t0, t1) = self.span;
        let width = (t1 - t0) / BINS as f64;
        let n = self.trials.len();
        for (c, rect) in layout::panels(self.size, self.labels.len(), false)
            .into_iter()
            .enumerate()
        {
            let area = frame::panel(root, rect, &self.labels[c])?;
            let below = rect.below(layout::CAPTION_H);
            let (top, bottom) = below.split_v(0.35);
            let mut counts = [0usize; BINS];
            for e in self.events.iter().filter(|e| e.panel == c) {
                let b = (((e.time - t0) / width) as usize).min(BINS - 1);
                counts[b] += 1;
            }
            let rate = |k: usize| counts[k] as f64 / (n as f64 * width);
            let peak = (0..BINS).map(rate).fold(0.0, f64::max).max(1.0);
            drop(area);
            let psth_area = frame::sub_area(root, top);
            let mut psth = ChartBuilder::on(&psth_area)
                .margin_top(layout::MARGIN)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(8)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(t0..t1, 0.0..peak * 1.1)?;
            psth.configure_mesh()
                .light_line_style(TRANSPARENT)
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(3)
                .y_desc("rate (1/s)")
                .label_style(frame::text(11))
                .axis_desc_style(frame::text(12))
                .draw()?;
            psth.draw_series((0..BINS).map(|k| {
                let a = t0 + k as f64 * width;
                Rectangle::new([(a, 0.0), (a + width, rate(k))], MEAN.mix(0.7).filled())
            }))?;
            let raster_area = frame::sub_area(root, bottom);
            let mut raster = ChartBuilder::on(&raster_area)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(layout::X_LABEL_H)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(t0..t1, -0.5..(n as f64 - 0.5))?;
            let trials = &self.trials;
            let trial_label = |v: &f64| {
                let r = v.round();
                if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < trials.len() {
                    trials[r as usize].to_string()
                } else {
                    String::new()
                }
            };
            raster
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .disable_mesh()
                .x_desc("time (s)")
                .y_desc("trial")
                .y_labels(n.min(8))
                .y_label_formatter(&trial_label)
                .label_style(frame::text(11))
                .axis_desc_style(frame::text(12))
                .draw()?;
            raster.draw_series(self.events.iter().filter(|e| e.panel == c).map(|e| {
                let y = e.row as f64;
                PathElement::new(
                    vec![(e.time, y - 0.4), (e.time, y + 0.4)],
                    BLACK.stroke_width(1),
                )
            }))?;
        }
        root.present()
    }
}

super::figure_on_both_backends!(Raster);
