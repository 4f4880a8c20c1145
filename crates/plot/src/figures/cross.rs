//! CrossSpectralData (connectivity): a channel_i x channel_j grid of spectra, each panel
//! the trial average of one pair's values against frequency (complex values as their
//! magnitude).

use std::ops::Range;

use ndarray::{Array3, ArrayD, Axis};
use num_complex::Complex64;
use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::DenseObject;

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::MEAN;
use crate::error::PlotError;
use crate::layout::{self, Rect};
use crate::request::PlotRequest;
use crate::selection::{freq_range, parse_channels, parse_trials, runs};

pub struct CrossSpectra {
    title: String,
    freq: Vec<f64>,
    /// freq x selected channel_i x selected channel_j, averaged over trials.
    values: Array3<f64>,
    rows: Vec<String>,
    cols: Vec<String>,
    value_label: String,
    log: bool,
    size: (u32, u32),
}

pub fn prepare(obj: DenseObject, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    let h = obj.header();
    if req.latency.is_some() {
        return Err(PlotError::selection(
            "--latency",
            "this CrossSpectralData has one row per trial (no time axis); use --foilim",
        ));
    }
    let all: Vec<usize> = (0..h.trialdefinition.len()).collect();
    let trials = parse_trials(req.trials.as_deref(), all.len(), &all)?;
    let rows = parse_channels(req.channels.as_deref(), &h.channels)?;
    let cols = parse_channels(req.channels.as_deref(), &h.channels_j)?;
    frame::check_panels(rows.len() * cols.len(), "--channels", "channel pairs")?;
    let freqs = freq_range(&h.freq, req.foilim)?;
    let mut sum = Array3::<f64>::zeros((freqs.len(), rows.len(), cols.len()));
    for &trial in &trials {
        sum += &pair_block(&obj, trial, freqs.clone(), &rows, &cols)?;
    }
    let values = sum / trials.len() as f64;
    let (method, output) = h
        .producer()
        .map(|(_, cfg)| {
            let text = |k: &str| cfg.get(k).and_then(|v| v.as_str()).map(str::to_string);
            (text("method"), text("output"))
        })
        .unwrap_or((None, None));
    let value_label = match (method.as_deref(), output.as_deref()) {
        (Some("coh"), Some(out)) => format!("coherence ({out})"),
        (Some("coh"), None) => "coherence".into(),
        (Some("granger"), _) => "Granger causality (j → i)".into(),
        (Some("csd"), _) => "|cross-spectral density| (a.u.²/Hz)".into(),
        (Some(m), _) => m.to_string(),
        (None, _) => "value".into(),
    };
    Ok(Box::new(CrossSpectra {
        title: format!(
            "{} (CrossSpectralData): {} over {} trial(s)",
            frame::object_name(h),
            method.as_deref().unwrap_or("cross-spectra"),
            trials.len()
        ),
        freq: h.freq[freqs].to_vec(),
        values,
        rows: rows.iter().map(|&c| h.channels[c].clone()).collect(),
        cols: cols.iter().map(|&c| h.channels_j[c].clone()).collect(),
        value_label,
        log: req.log,
        size: req.size,
    }))
}

/// One trial's values (its first row), freq x selected channel_i x selected channel_j.
fn pair_block(
    obj: &DenseObject,
    trial: usize,
    freqs: Range<usize>,
    rows: &[usize],
    cols: &[usize],
) -> Result<Array3<f64>, PlotError> {
    let h = obj.header();
    let mut out = Array3::zeros((freqs.len(), rows.len(), cols.len()));
    let mut i0 = 0;
    for ri in runs(rows) {
        let mut j0 = 0;
        for rj in runs(cols) {
            let ranges = [0..1, freqs.clone(), ri.clone(), rj.clone()];
            let block: ArrayD<f64> = if h.complex {
                obj.read_block::<Complex64>(trial, &ranges)?
                    .mapv(|z| z.norm())
            } else {
                obj.read_block::<f64>(trial, &ranges)?
            };
            let block = block.index_axis_move(Axis(0), 0);
            out.slice_mut(ndarray::s![.., i0..i0 + ri.len(), j0..j0 + rj.len()])
                .assign(
                    &block
                        .into_dimensionality::<ndarray::Ix3>()
                        .map_err(|e| PlotError::Unsupported(e.to_string()))?,
                );
            j0 += rj.len();
        }
        i0 += ri.len();
    }
    Ok(out)
}

/// Panel `(i, j)` of an `n_i x n_j` grid below the title.
fn pair_panel(size: (u32, u32), n: (usize, usize), at: (usize, usize)) -> Rect {
    let (w, h) = (size.0 as i32, size.1 as i32);
    let pw = w / n.1 as i32;
    let ph = (h - layout::TITLE_H) / n.0 as i32;
    Rect {
        x0: at.1 as i32 * pw,
        y0: layout::TITLE_H + at.0 as i32 * ph,
        x1: (at.1 as i32 + 1) * pw,
        y1: layout::TITLE_H + (at.0 as i32 + 1) * ph,
    }
}

impl CrossSpectra {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let f = |v: f64| if self.log { frame::log10_or_nan(v) } else { v };
        let x = frame::span(self.freq.iter().copied());
        let (lo, hi) = frame::span(self.values.iter().map(|&v| f(v)));
        let pad = ((hi - lo) * 0.05).max(1e-12);
        let n = (self.rows.len(), self.cols.len());
        for (i, row) in self.rows.iter().enumerate() {
            for (j, col) in self.cols.iter().enumerate() {
                let rect = pair_panel(self.size, n, (i, j));
                let area = frame::panel(root, rect, &format!("{row} – {col}"))?;
                let mut chart = ChartBuilder::on(&area)
                    .margin_top(layout::MARGIN)
                    .margin_left(layout::LEFT_MARGIN)
                    .margin_right(layout::MARGIN)
                    .x_label_area_size(layout::X_LABEL_H)
                    .y_label_area_size(layout::Y_LABEL_W)
                    .build_cartesian_2d(x.0..x.1, (lo - pad)..(hi + pad))?;
                let log_labels = frame::pow10_label;
                let mut mesh = chart.configure_mesh();
                mesh.light_line_style(TRANSPARENT);
                mesh.x_desc("frequency (Hz)")
                    .y_desc(&self.value_label)
                    .x_labels(5)
                    .y_labels(5)
                    .label_style(frame::text(11))
                    .axis_desc_style(frame::text(12));
                if self.log {
                    mesh.y_label_formatter(&log_labels);
                }
                mesh.draw()?;
                chart.draw_series(LineSeries::new(
                    self.freq
                        .iter()
                        .enumerate()
                        .map(|(k, &fr)| (fr, f(self.values[[k, i, j]])))
                        .filter(|p| p.1.is_finite()),
                    MEAN.stroke_width(2),
                ))?;
            }
        }
        root.present()
    }
}

super::figure_on_both_backends!(CrossSpectra);
