//! Running engine work off the calling thread, with the GIL released, while the calling
//! thread watches: Ctrl-C (`check_signals` only sees it on the thread Python delivers signals
//! to) sets the run's cancel flag, which stops it between tasks and leaves it resumable, and
//! progress is handed to the Python callback there too, so the callback never runs on an
//! engine thread and never slows a worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::panic_error;

/// How often the calling thread looks for Ctrl-C and reports progress.
const POLL: Duration = Duration::from_millis(50);

/// Tasks done and total, written by the engine's writer thread and read by the watcher.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Progress {
    /// What the engine calls after each task (`ProgressFn`).
    pub fn record(&self, done: usize, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }

    fn report(&self, py: Python<'_>, callback: Option<&Py<PyAny>>, last: &mut (usize, usize)) {
        let Some(callback) = callback else { return };
        let now = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        if now != *last && now.1 > 0 {
            *last = now;
            // A failing progress bar must not fail the run; Python prints it as unraisable.
            if let Err(e) = callback.call1(py, now) {
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        }
    }
}

/// Runs `work` on a thread of its own with the GIL released and waits for it. Ctrl-C sets
/// `cancel` and, once the work has stopped, raises `KeyboardInterrupt`; a panic becomes a
/// `RunError`.
pub fn run_watched<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    progress: &Progress,
    callback: Option<&Py<PyAny>>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let (result, interrupt) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let handle = scope.spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(work));
                let _ = done_tx.send(());
                result
            });
            let mut interrupt: Option<PyErr> = None;
            let mut last = (usize::MAX, 0);
            loop {
                match done_rx.recv_timeout(POLL) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                Python::attach(|py| {
                    if interrupt.is_none() {
                        if let Err(e) = py.check_signals() {
                            cancel.store(true, Ordering::SeqCst);
                            interrupt = Some(e);
                        }
                    }
                    progress.report(py, callback, &mut last);
                });
            }
            Python::attach(|py| progress.report(py, callback, &mut last));
            let result = handle.join().unwrap_or_else(Err);
            (result, interrupt)
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    result.map_err(panic_error)
}
