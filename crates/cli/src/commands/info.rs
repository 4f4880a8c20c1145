use std::path::Path;

use trialflow_hdf5::inspect_path;
use trialflow_hdf5::nwb::{is_nwb, NwbFile, TimeBase};

use trialflow_pipeline::PipelineError;

/// Prints what a container or object holds: class, dtype, shape, trials, channels; for an
/// NWB file, its ElectricalSeries and interval tables.
pub fn info(path: &Path) -> Result<(), PipelineError> {
    if is_nwb(path) || (path.is_dir() && path.extension().is_none_or(|e| e != "spy")) {
        return nwb_info(path);
    }
    let objects = inspect_path(path)?;
    crate::out!("{}: {} object(s)", path.display(), objects.len());
    for o in &objects {
        let name = o
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::out!("{name}");
        crate::out!("  class       {}", o.class);
        crate::out!("  dtype       {}", o.dtype);
        crate::out!(
            "  shape       {:?}{}{}",
            o.shape,
            o.dimord
                .as_ref()
                .map(|d| format!(" ({})", d.join(" x ")))
                .unwrap_or_default(),
            if o.is_virtual {
                " (virtual dataset joined from per-task files)"
            } else {
                ""
            }
        );
        if let Some(fs) = o.samplerate {
            crate::out!("  samplerate  {fs} Hz");
        }
        match &o.channels_j {
            // CrossSpectralData: two label axes
            Some(j) => {
                crate::out!("  channel_i   {}{}", o.channels.len(), preview(&o.channels));
                crate::out!("  channel_j   {}{}", j.len(), preview(j));
            }
            None => crate::out!("  channels    {}{}", o.channels.len(), preview(&o.channels)),
        }
        let lengths = o.trial_lengths();
        crate::out!(
            "  trials      {} (trialinfo columns: {})",
            lengths.len(),
            o.trialinfo_columns
        );
        if let (Some(min), Some(max)) = (lengths.iter().min(), lengths.iter().max()) {
            if min == max {
                crate::out!("  trial len   {min} rows each");
            } else {
                let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
                crate::out!("  trial len   {min}..{max} rows (mean {mean:.1})");
            }
        }
        if let Some(freq) = &o.freq {
            if let (Some(first), Some(last)) = (freq.first(), freq.last()) {
                crate::out!("  freq        {} bins, {first}..{last} Hz", freq.len());
            }
        }
    }
    Ok(())
}

fn preview(labels: &[String]) -> String {
    match labels.len() {
        0 => String::new(),
        1..=4 => format!(" ({})", labels.join(", ")),
        n => format!(" ({}, {}, ..., {})", labels[0], labels[1], labels[n - 1]),
    }
}

fn nwb_info(path: &Path) -> Result<(), PipelineError> {
    let file = NwbFile::open(path)?;
    crate::out!(
        "{}: NWB {}, {} ElectricalSeries, {} interval table(s)",
        path.display(),
        file.nwb_version(),
        file.series().len(),
        file.tables().len()
    );
    for s in file.series() {
        crate::out!("{}", s.path);
        crate::out!(
            "  data        {} x {} {}{}{}",
            s.shape[0],
            s.shape[1],
            s.stored.name(),
            s.chunks
                .as_ref()
                .map(|c| format!(", chunks {c:?}"))
                .unwrap_or_default(),
            if s.compressed { ", compressed" } else { "" }
        );
        match s.time {
            TimeBase::Rate { start, rate } => {
                crate::out!("  time        starting_time {start} s, rate {rate} Hz")
            }
            TimeBase::Timestamps { first, rate } => {
                crate::out!("  time        timestamps from {first} s, regular at {rate} Hz")
            }
        }
        crate::out!(
            "  values      data x conversion {}{} + offset {}, in {}",
            s.conversion,
            if s.channel_conversion.is_some() {
                " x channel_conversion[channel]"
            } else {
                ""
            },
            s.offset,
            s.unit
        );
        let labels = file.channel_labels(s, None).unwrap_or_default();
        crate::out!("  channels    {}{}", s.shape[1], preview(&labels));
    }
    for t in file.tables() {
        crate::out!("{} ({} rows)", t.path, t.rows);
        for c in &t.columns {
            crate::out!("  {:<20} {}", c.name, c.dtype);
        }
    }
    Ok(())
}
