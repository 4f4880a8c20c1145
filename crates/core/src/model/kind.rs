use serde::{Deserialize, Serialize};

/// The Syncopy data classes trialflow reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataKind {
    /// Continuous data, dims (time, channel), trials stacked along time.
    Analog,
    /// Spectra, dims (time, taper, freq, channel); one time row per trial for `mtmfft`.
    Spectral,
    /// Discrete events, rows `[sample, channel, unit]` (int64).
    Spike,
    /// Channel-by-channel quantities (cross-spectra, coherence, Granger causality,
    /// correlation), dims (time, freq, channel_i, channel_j); one time row per trial, or one
    /// for a trial average.
    CrossSpectral,
    /// Time-locked data (Syncopy's TimeLockData), dims (time, channel) like AnalogData, with
    /// the extra datasets `avg` and `var` (time, channel) and, when asked for, `cov`
    /// (channel, channel), or (trial, channel, channel) per trial. trialflow's `timelock`
    /// streams trials, so its `data` holds the one time-locked trial average.
    TimeLock,
}

impl DataKind {
    /// Syncopy's class name, stored in `.info` as `dataclass`.
    pub fn class_name(self) -> &'static str {
        match self {
            DataKind::Analog => "AnalogData",
            DataKind::Spectral => "SpectralData",
            DataKind::Spike => "SpikeData",
            DataKind::CrossSpectral => "CrossSpectralData",
            DataKind::TimeLock => "TimeLockData",
        }
    }

    /// File extension: the lower-cased class name without `Data`.
    pub fn extension(self) -> &'static str {
        match self {
            DataKind::Analog => "analog",
            DataKind::Spectral => "spectral",
            DataKind::Spike => "spike",
            DataKind::CrossSpectral => "crossspectral",
            DataKind::TimeLock => "timelock",
        }
    }

    /// Syncopy's `dimord`.
    pub fn dimord(self) -> &'static [&'static str] {
        match self {
            DataKind::Analog => &["time", "channel"],
            DataKind::Spectral => &["time", "taper", "freq", "channel"],
            DataKind::Spike => &["sample", "channel", "unit"],
            DataKind::CrossSpectral => &["time", "freq", "channel_i", "channel_j"],
            DataKind::TimeLock => &["time", "channel"],
        }
    }

    /// Whether results of this kind are dense arrays (one block per trial) or event rows.
    pub fn is_dense(self) -> bool {
        !matches!(self, DataKind::Spike)
    }

    pub fn from_class_name(name: &str) -> Option<DataKind> {
        match name {
            "AnalogData" => Some(DataKind::Analog),
            "SpectralData" => Some(DataKind::Spectral),
            "SpikeData" => Some(DataKind::Spike),
            "CrossSpectralData" => Some(DataKind::CrossSpectral),
            "TimeLockData" => Some(DataKind::TimeLock),
            _ => None,
        }
    }

    pub fn from_extension(ext: &str) -> Option<DataKind> {
        match ext {
            "analog" => Some(DataKind::Analog),
            "spectral" => Some(DataKind::Spectral),
            "spike" => Some(DataKind::Spike),
            "crossspectral" => Some(DataKind::CrossSpectral),
            "timelock" => Some(DataKind::TimeLock),
            _ => None,
        }
    }
}
