//! Selected trials and channels of SpikeData, as event times.

use trialflow_hdf5::objects::EventObject;

use crate::error::PlotError;

/// One event to draw.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// Position of the trial in the selection (the raster's row).
    pub row: usize,
    /// Position of the channel in the selection (the panel).
    pub panel: usize,
    /// Sample relative to the trial's first sample.
    pub sample: i64,
    /// Seconds on the trial's time axis.
    pub time: f64,
}

/// Events of the selected trials on the selected channels (`channels` index the object's
/// labels), inside `latency` when given.
pub fn read_events(
    obj: &EventObject,
    trials: &[usize],
    channels: &[usize],
    latency: Option<(f64, f64)>,
) -> Result<Vec<Event>, PlotError> {
    let h = obj.header();
    let mut panel_of = vec![usize::MAX; h.channels.len()];
    for (p, &c) in channels.iter().enumerate() {
        panel_of[c] = p;
    }
    let mut out = Vec::new();
    for (row, &trial) in trials.iter().enumerate() {
        let offset = h.trialdefinition.offset(trial);
        for e in obj.trial_events(trial)? {
            let Some(&panel) = usize::try_from(e.channel)
                .ok()
                .and_then(|c| panel_of.get(c))
            else {
                continue;
            };
            let time = (e.sample as f64 + offset) / h.samplerate;
            if panel == usize::MAX || latency.is_some_and(|(t0, t1)| time < t0 || time > t1) {
                continue;
            }
            out.push(Event {
                row,
                panel,
                sample: e.sample,
                time,
            });
        }
    }
    Ok(out)
}
