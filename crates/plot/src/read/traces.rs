//! Selected trials and channels of AnalogData.

use ndarray::Array2;
use trialflow_hdf5::objects::DenseObject;

use crate::error::PlotError;
use crate::selection::{runs, time_rows};

/// One trial's selected samples.
#[derive(Debug)]
pub struct TraceTrial {
    pub trial: usize,
    /// The trial's row of the first sample shown (the latency window's start).
    pub first_row: usize,
    /// Seconds of each sample on the trial's time axis.
    pub times: Vec<f64>,
    /// Samples x selected channels, in selection order.
    pub values: Array2<f64>,
}

pub fn read_traces(
    obj: &DenseObject,
    trials: &[usize],
    channels: &[usize],
    latency: Option<(f64, f64)>,
) -> Result<Vec<TraceTrial>, PlotError> {
    let h = obj.header();
    let def = &h.trialdefinition;
    let mut out = Vec::with_capacity(trials.len());
    for &trial in trials {
        let rows = time_rows(def, trial, h.samplerate, latency);
        let mut values = Array2::zeros((rows.len(), channels.len()));
        let mut col = 0;
        // Runs in selection order keep columns in the order the user named channels.
        for run in runs(channels) {
            let block = obj.read_block::<f64>(trial, &[rows.clone(), run.clone()])?;
            let block = block
                .into_dimensionality::<ndarray::Ix2>()
                .map_err(|e| PlotError::Unsupported(e.to_string()))?;
            values
                .slice_mut(ndarray::s![.., col..col + run.len()])
                .assign(&block);
            col += run.len();
        }
        let offset = def.offset(trial);
        let times = rows
            .clone()
            .map(|r| (r as f64 + offset) / h.samplerate)
            .collect();
        out.push(TraceTrial {
            trial,
            first_row: rows.start,
            times,
            values,
        });
    }
    Ok(out)
}
