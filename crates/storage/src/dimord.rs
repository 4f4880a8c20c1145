//! Syncopy's `dimord`: the order of `data`'s axes, from `.info`. Syncopy writes AnalogData
//! with `[time, channel]` by default and `[channel, time]` when asked, and both must read as
//! the same trials; trialflow writes time first.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::StorageError;

/// How AnalogData `data` is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalogLayout {
    /// `[time, channel]`: rows are samples.
    #[default]
    TimeFirst,
    /// `[channel, time]`: rows are channels.
    ChannelFirst,
}

impl AnalogLayout {
    /// `(samples, channels)` of a 2-D `data` of shape `shape`.
    pub fn samples_channels(self, shape: &[usize]) -> (usize, usize) {
        match self {
            AnalogLayout::TimeFirst => (shape[0], shape[1]),
            AnalogLayout::ChannelFirst => (shape[1], shape[0]),
        }
    }
}

/// Reads `dimord` (absent or `null`: time first). Anything but the two AnalogData orders is
/// refused, naming it.
pub fn analog_layout(
    info: Option<&Map<String, Value>>,
    path: &Path,
) -> Result<AnalogLayout, StorageError> {
    let Some(value) = info.and_then(|i| i.get("dimord")).filter(|v| !v.is_null()) else {
        return Ok(AnalogLayout::TimeFirst);
    };
    let names: Option<Vec<&str>> = value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect());
    match names.as_deref() {
        Some(["time", "channel"]) => Ok(AnalogLayout::TimeFirst),
        Some(["channel", "time"]) => Ok(AnalogLayout::ChannelFirst),
        _ => Err(StorageError::format(
            path,
            format!(
                "`dimord` is {value}; AnalogData must be [\"time\", \"channel\"] or [\"channel\", \"time\"]"
            ),
        )),
    }
}
