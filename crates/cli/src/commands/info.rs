use std::path::Path;

use trialflow_hdf5::inspect_path;

use trialflow_pipeline::PipelineError;

/// Prints what a container or object holds: class, dtype, shape, trials, channels.
pub fn info(path: &Path) -> Result<(), PipelineError> {
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
            "  shape       {:?}{}",
            o.shape,
            if o.is_virtual {
                " (virtual dataset joined from per-task files)"
            } else {
                ""
            }
        );
        if let Some(fs) = o.samplerate {
            crate::out!("  samplerate  {fs} Hz");
        }
        crate::out!("  channels    {}{}", o.channels.len(), preview(&o.channels));
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
