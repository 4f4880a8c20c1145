//! What a running map tells the user: a progress bar (on a terminal, on the root process,
//! with the `progress` feature) and an optional log file next to the results.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::MapError;

/// Without the `progress` feature (a library build without a terminal layer) there is no
/// bar, and every method is a no-op.
#[cfg(not(feature = "progress"))]
pub(crate) struct Progress;

#[cfg(not(feature = "progress"))]
impl Progress {
    pub(crate) fn new(_enabled: bool, _is_root: bool, _total: usize, _done: usize) -> Self {
        Progress
    }

    pub(crate) fn task_done(&self, _failed: bool) {}

    pub(crate) fn finish(&self) {}
}

#[cfg(feature = "progress")]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    failed: std::sync::atomic::AtomicUsize,
}

#[cfg(feature = "progress")]
impl Progress {
    /// A bar counting done and failed tasks; hidden unless `enabled` and on the root.
    pub(crate) fn new(enabled: bool, is_root: bool, total: usize, already_done: usize) -> Self {
        if !(enabled && is_root) {
            return Progress {
                bar: None,
                failed: Default::default(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} tasks {msg} [{elapsed} < {eta}]")
                .expect("a valid template"),
        );
        bar.set_position(already_done as u64);
        Progress {
            bar: Some(bar),
            failed: Default::default(),
        }
    }

    /// Counts one finished task (from any thread).
    pub(crate) fn task_done(&self, failed: bool) {
        if let Some(bar) = &self.bar {
            if failed {
                let n = self
                    .failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                bar.set_message(format!("({n} failed)"));
            }
            bar.inc(1);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// Appends timestamped lines to the log file, if there is one. Only the root writes.
pub(crate) struct RunLog {
    file: Option<(File, PathBuf)>,
    start: Instant,
}

impl RunLog {
    pub(crate) fn open(path: Option<&Path>, is_root: bool) -> Result<Self, MapError> {
        let file = match path {
            Some(path) if is_root => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        MapError::storage(path, format!("cannot open the log file: {e}"))
                    })?;
                Some((file, path.to_path_buf()))
            }
            _ => None,
        };
        Ok(RunLog {
            file,
            start: Instant::now(),
        })
    }

    pub(crate) fn line(&mut self, text: &str) {
        if let Some((file, _)) = &mut self.file {
            let t = self.start.elapsed().as_secs_f64();
            // A log that cannot be written must not fail the computation it describes.
            let _ = writeln!(file, "[{t:>9.3}s] {text}");
        }
    }

    pub(crate) fn path(&self) -> Option<PathBuf> {
        self.file.as_ref().map(|(_, p)| p.clone())
    }
}
