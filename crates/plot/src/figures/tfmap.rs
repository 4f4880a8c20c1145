//! SpectralData with a time axis: per channel, the trial-average time-frequency map, with
//! one colour bar for all panels so they compare at a glance.

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::DenseObject;

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::viridis;
use crate::error::PlotError;
use crate::layout;
use crate::read::spectra::{read_time_frequency, TimeFrequency};
use crate::request::PlotRequest;
use crate::selection::{apply_latency, freq_range, parse_channels, parse_trials};

pub struct TfMap {
    title: String,
    map: TimeFrequency,
    labels: Vec<String>,
    value_label: String,
    log: bool,
    size: (u32, u32),
}

pub fn prepare(obj: DenseObject, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    let h = obj.header();
    let all: Vec<usize> = (0..h.trialdefinition.len()).collect();
    let trials = parse_trials(req.trials.as_deref(), all.len(), &all)?;
    let trials = apply_latency(&h.trialdefinition, trials, h.samplerate, req.latency)?;
    let channels = parse_channels(req.channels.as_deref(), &h.channels)?;
    frame::check_panels(channels.len(), "--channels", "channels")?;
    let freqs = freq_range(&h.freq, req.foilim)?;
    let map = read_time_frequency(&obj, &trials, &channels, freqs, req.latency)?;
    Ok(Box::new(TfMap {
        title: format!(
            "{} (SpectralData, time-frequency): average of {}",
            frame::object_name(h),
            frame::describe(h, &trials, &channels, req.latency, req.foilim)
        ),
        labels: channels.iter().map(|&c| h.channels[c].clone()).collect(),
        value_label: frame::spectral_value_label(h),
        map,
        log: req.log,
        size: req.size,
    }))
}

/// Cell edges: midpoints between centres, half a step beyond the ends.
fn edges(centres: &[f64]) -> Vec<f64> {
    let n = centres.len();
    if n == 1 {
        return vec![centres[0] - 0.5, centres[0] + 0.5];
    }
    let mut e = Vec::with_capacity(n + 1);
    e.push(centres[0] - (centres[1] - centres[0]) / 2.0);
    e.extend(centres.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    e.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
    e
}

impl TfMap {
    fn value(&self, v: f64) -> f64 {
        if self.log {
            frame::log10_or_nan(v)
        } else {
            v
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let m = &self.map;
        let (te, fe) = (edges(&m.times), edges(&m.freq));
        let (vmin, vmax) = frame::span(m.mean.iter().map(|&v| self.value(v)));
        for (c, rect) in layout::panels(self.size, self.labels.len(), true)
            .into_iter()
            .enumerate()
        {
            let area = frame::panel(root, rect, &self.labels[c])?;
            let mut chart = ChartBuilder::on(&area)
                .margin_top(layout::MARGIN)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(layout::X_LABEL_H)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(te[0]..te[te.len() - 1], fe[0]..fe[fe.len() - 1])?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("time (s)")
                .y_desc("frequency (Hz)")
                .label_style(frame::text(12))
                .axis_desc_style(frame::text(13))
                .draw()?;
            let cells = (0..m.times.len()).flat_map(|i| (0..m.freq.len()).map(move |j| (i, j)));
            chart.draw_series(cells.map(|(i, j)| {
                let v = (self.value(m.mean[[i, j, c]]) - vmin) / (vmax - vmin);
                Rectangle::new(
                    [(te[i], fe[j]), (te[i + 1], fe[j + 1])],
                    viridis(v).filled(),
                )
            }))?;
        }
        self.colorbar(root, vmin, vmax)?;
        root.present()
    }

    fn colorbar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        vmin: f64,
        vmax: f64,
    ) -> DrawResult<DB> {
        let strip = layout::colorbar(self.size);
        let strip = layout::Rect {
            y0: strip.y0 + layout::CAPTION_H,
            ..strip
        };
        let area = frame::sub_area(root, strip);
        let mut chart = ChartBuilder::on(&area)
            .margin_top(layout::MARGIN)
            .margin_right(70)
            .margin_bottom(layout::X_LABEL_H)
            .y_label_area_size(0)
            .right_y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, vmin..vmax)?
            .set_secondary_coord(0.0..1.0, vmin..vmax);
        let desc = if self.log {
            format!("{}, log10", self.value_label)
        } else {
            self.value_label.clone()
        };
        chart
            .configure_secondary_axes()
            .y_desc(desc)
            .label_style(frame::text(11))
            .axis_desc_style(frame::text(12))
            .draw()?;
        let steps = 128;
        chart.draw_series((0..steps).map(|k| {
            let a = vmin + (vmax - vmin) * k as f64 / steps as f64;
            let b = vmin + (vmax - vmin) * (k + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(k as f64 / (steps - 1) as f64).filled(),
            )
        }))?;
        Ok(())
    }
}

super::figure_on_both_backends!(TfMap);
