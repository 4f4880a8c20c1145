//! TimeLockData (`timelock` and `psth` results): per channel, the evoked response (`avg`) on the
//! time axis with a band of ±1 standard deviation over trials (`sqrt(var)`), one panel per
//! channel in a grid; a PSTH's value axis is its rate, count or proportion. `--trials`
//! draws those trials of `data` (the cut trials the average is over) as thin lines beneath
//! it. Without an `avg` dataset (a TimeLockData made otherwise) the first `data` trial is
//! drawn without a band.

use plotters::coord::Shift;
use plotters::prelude::*;
use trialflow_hdf5::objects::DenseObject;

use super::frame::{self, DrawResult};
use super::Figure;
use crate::colour::MEAN;
use crate::error::PlotError;
use crate::layout;
use crate::request::PlotRequest;
use crate::selection::{apply_latency, parse_channels, parse_trials, time_rows};

pub struct Evoked {
    title: String,
    time: Vec<f64>,
    /// Per selected channel: the average and (when the object has `var`) its SD.
    avg: Vec<Vec<f64>>,
    sd: Option<Vec<Vec<f64>>>,
    /// Per selected channel, the `--trials` traces.
    trials: Vec<Vec<Vec<f64>>>,
    labels: Vec<String>,
    /// The value axis' label with its unit.
    value_label: String,
    size: (u32, u32),
}

pub fn prepare(obj: DenseObject, req: &PlotRequest) -> Result<Box<dyn Figure>, PlotError> {
    for (flag, set) in [
        ("--foilim", req.foilim.is_some()),
        ("--overlay", req.overlay.is_some()),
    ] {
        if set {
            return Err(PlotError::selection(
                flag,
                "does not apply to TimeLockData (an evoked response on a time axis)",
            ));
        }
    }
    let h = obj.header();
    let def = &h.trialdefinition;
    // Trials of equal length on one time axis (trial 0's); none drawn unless asked for.
    let picked = parse_trials(req.trials.as_deref(), def.len(), &[])?;
    apply_latency(def, vec![0], h.samplerate, req.latency)?;
    let channels = parse_channels(req.channels.as_deref(), &h.channels)?;
    frame::check_panels(channels.len(), "--channels", "channels")?;
    let rows = time_rows(def, 0, h.samplerate, req.latency);
    let read_err = |e: trialflow_hdf5::StorageError| PlotError::from(e);
    let avg = match obj.extra("avg").map_err(read_err)? {
        Some(a) => a,
        None => obj
            .read_block::<f64>(0, &[0..def.trial_len(0), 0..h.channels.len()])
            .map_err(read_err)?,
    };
    let var = obj.extra("var").map_err(read_err)?;
    let mut traces = Vec::with_capacity(picked.len());
    for &t in &picked {
        if def.trial_len(t) != def.trial_len(0) {
            return Err(PlotError::selection(
                "--trials",
                format!(
                    "trial {t} has {} samples, trial 0 {}: not one time axis",
                    def.trial_len(t),
                    def.trial_len(0)
                ),
            ));
        }
        traces.push(
            obj.read_block::<f64>(t, &[0..def.trial_len(t), 0..h.channels.len()])
                .map_err(read_err)?,
        );
    }
    let column = |a: &ndarray::ArrayD<f64>, c: usize, f: fn(f64) -> f64| -> Vec<f64> {
        rows.clone().map(|r| f(a[[r, c]])).collect()
    };
    let time = rows
        .clone()
        .map(|r| (r as f64 + def.offset(0)) / h.samplerate)
        .collect();
    let mut selection = format!("{} of {} channels", channels.len(), h.channels.len());
    if let Some((a, b)) = req.latency {
        selection.push_str(&format!(", {a} to {b} s"));
    }
    Ok(Box::new(Evoked {
        title: format!(
            "{} (TimeLockData): avg{} over trials, {selection}",
            frame::object_name(h),
            if var.is_some() { " ± 1 SD" } else { "" }
        ) + &if picked.is_empty() {
            String::new()
        } else {
            format!(" with {} of {} trials", picked.len(), def.len())
        },
        time,
        avg: channels.iter().map(|&c| column(&avg, c, |v| v)).collect(),
        trials: channels
            .iter()
            .map(|&c| traces.iter().map(|x| column(x, c, |v| v)).collect())
            .collect(),
        sd: var
            .as_ref()
            .map(|v| channels.iter().map(|&c| column(v, c, f64::sqrt)).collect()),
        labels: channels.iter().map(|&c| h.channels[c].clone()).collect(),
        value_label: value_label(h),
        size: req.size,
    }))
}

/// What the values are: a `psth`'s histogram (by its `output`), else the data's amplitude.
fn value_label(h: &trialflow_hdf5::objects::ObjectHeader) -> String {
    match h.producer() {
        Some(("psth", cfg)) => match cfg.get("output").and_then(|o| o.as_str()) {
            Some("spikecount") => "spikes per bin".into(),
            Some("proportion") => "proportion of spikes".into(),
            _ => "rate (1/s)".into(),
        },
        _ => format!(
            "amplitude ({})",
            h.value_unit.clone().unwrap_or_else(|| "a.u.".into())
        ),
    }
}

impl Evoked {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        frame::title(root, &self.title)?;
        let x = frame::span(self.time.iter().copied());
        for (c, rect) in layout::panels(self.size, self.labels.len(), false)
            .into_iter()
            .enumerate()
        {
            let area = frame::panel(root, rect, &self.labels[c])?;
            let avg = &self.avg[c];
            let sd = self.sd.as_ref().map(|s| &s[c]);
            let lower: Vec<f64> = match sd {
                Some(sd) => avg.iter().zip(sd).map(|(m, s)| m - s).collect(),
                None => avg.clone(),
            };
            let upper: Vec<f64> = match sd {
                Some(sd) => avg.iter().zip(sd).map(|(m, s)| m + s).collect(),
                None => avg.clone(),
            };
            let traces = &self.trials[c];
            let (lo, hi) = frame::span(
                lower
                    .iter()
                    .chain(&upper)
                    .chain(traces.iter().flatten())
                    .copied(),
            );
            let pad = (hi - lo) * 0.05;
            let mut chart = ChartBuilder::on(&area)
                .margin_top(layout::MARGIN)
                .margin_left(layout::LEFT_MARGIN)
                .margin_right(layout::MARGIN)
                .x_label_area_size(layout::X_LABEL_H)
                .y_label_area_size(layout::Y_LABEL_W)
                .build_cartesian_2d(x.0..x.1, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .x_desc("time (s)")
                .y_desc(self.value_label.clone())
                .x_labels(8)
                .y_labels(6)
                .label_style(frame::text(12))
                .axis_desc_style(frame::text(13))
                .draw()?;
            if sd.is_some() {
                let band: Vec<(f64, f64)> = self
                    .time
                    .iter()
                    .zip(&upper)
                    .map(|(&t, &y)| (t, y))
                    .chain(self.time.iter().zip(&lower).rev().map(|(&t, &y)| (t, y)))
                    .filter(|p| p.1.is_finite())
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, MEAN.mix(0.25).filled())))?;
            }
            for trace in traces {
                chart.draw_series(LineSeries::new(
                    self.time
                        .iter()
                        .zip(trace)
                        .map(|(&t, &v)| (t, v))
                        .filter(|p| p.1.is_finite()),
                    BLACK.mix(0.25).stroke_width(1),
                ))?;
            }
            // The trigger, where the window includes it.
            if x.0 <= 0.0 && 0.0 <= x.1 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, lo - pad), (0.0, hi + pad)],
                    BLACK.mix(0.4),
                )))?;
            }
            chart.draw_series(LineSeries::new(
                self.time
                    .iter()
                    .zip(avg)
                    .map(|(&t, &m)| (t, m))
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

super::figure_on_both_backends!(Evoked);
