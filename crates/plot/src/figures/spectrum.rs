//! SpectralData without a time axis (mtmfft, welch): per channel, the mean over trials
//! with a band of ±1 standard error, on a linear or log value axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::DenseObject;

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::MEAN;
use crate::error::PlotError;
use crate::layout;
use crate::read::spectra::{read_spectrum, SpectrumStats};
use crate::request::PlotRequest;
use crate::selection::{freq_range, parse_channels, parse_trials};

pub struct Spectrum {
    title: String,
    stats: SpectrumStats,
    labels: Vec<String>,
    value_label: String,
    log: bool,
    size: (u32, u32),
}

pub fn prepare(obj: DenseObject, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    let h = obj.header();
    if req.latency.is_some() {
        return Err(PlotError::selection(
            "--latency",
            "this SpectralData has no time axis (one spectrum per trial); use --foilim",
        ));
    }
    let all: Vec<usize> = (0..h.trialdefinition.len()).collect();
    let trials = parse_trials(req.trials.as_deref(), all.len(), &all)?;
    let channels = parse_channels(req.channels.as_deref(), &h.channels)?;
    frame::check_panels(channels.len(), "--channels", "channels")?;
    let freqs = freq_range(&h.freq, req.foilim)?;
    let stats = read_spectrum(&obj, &trials, &channels, freqs)?;
    Ok(Box::new(Spectrum {
        title: format!(
            "{} (SpectralData): mean ± SEM over {}",
            frame::object_name(h),
            frame::describe(h, &trials, &channels, None, req.foilim)
        ),
        labels: channels.iter().map(|&c| h.channels[c].clone()).collect(),
        value_label: frame::spectral_value_label(h),
        stats,
        log: req.log,
        size: req.size,
    }))
}

impl Spectrum {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let s = &self.stats;
        let f = |v: f64| if self.log { frame::log10_or_nan(v) } else { v };
        let x = frame::span(s.freq.iter().copied());
        for (c, rect) in layout::panels(self.size, self.labels.len(), false)
            .into_iter()
            .enumerate()
        {
            let area = frame::panel(root, rect, &self.labels[c])?;
            let mean = s.mean.column(c);
            let sem = s.sem.column(c);
            let lower: Vec<f64> = mean.iter().zip(sem).map(|(m, e)| f(m - e)).collect();
            let upper: Vec<f64> = mean.iter().zip(sem).map(|(m, e)| f(m + e)).collect();
            let (lo, hi) = frame::span(
                lower
                    .iter()
                    .chain(&upper)
                    .copied()
                    .chain(mean.iter().map(|&m| f(m))),
            );
            let pad = (hi - lo) * 0.05;
            let mut chart = ChartBuilder::on(&area)
                .margin_top(layout::MARGIN)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(layout::X_LABEL_H)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(x.0..x.1, (lo - pad)..(hi + pad))?;
            let y_desc = if self.log {
                format!("{}, log scale", self.value_label)
            } else {
                self.value_label.clone()
            };
            let log_labels = frame::pow10_label;
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(TRANSPARENT);
            mesh.x_desc("frequency (Hz)")
                .y_desc(y_desc)
                .x_labels(8)
                .y_labels(6)
                .label_style(frame::text(12))
                .axis_desc_style(frame::text(13));
            if self.log {
                mesh.y_label_formatter(&log_labels);
            }
            mesh.draw()?;
            if s.n_trials > 1 {
                let band: Vec<(f64, f64)> = s
                    .freq
                    .iter()
                    .zip(&upper)
                    .map(|(&x, &y)| (x, y))
                    .chain(s.freq.iter().zip(&lower).rev().map(|(&x, &y)| (x, y)))
                    .filter(|p| p.1.is_finite())
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, MEAN.mix(0.25).filled())))?;
            }
            chart.draw_series(LineSeries::new(
                s.freq
                    .iter()
                    .zip(mean)
                    .map(|(&x, &m)| (x, f(m)))
                    .filter(|p| p.1.is_finite()),
                MEAN.stroke_width(2),
            ))?;
            debug_assert_eq!(
                super::traces::plot_rect(&chart),
                layout::plot_area(rect.below(layout::CAPTION_H))
            );
        }
        root.present()
    }
}

super::figure_on_both_backends!(Spectrum);
