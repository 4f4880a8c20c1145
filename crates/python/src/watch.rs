//! Running engine work off the calling thread, with the GIL released, while the calling
//! thread watches: Ctrl-C (`check_signals` only sees it on the thread Python delivers signals
//! to) sets the run's cancel flag, which stops it between tasks and leaves it resumable, and
//! progress is handed to the Python callback there too, so the callback never runs on an
//! engine thread and never slows a worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::exceptions::PyKeyboardInterrupt;
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

    /// Calls the callback when the count moved. A Ctrl-C that Python delivers while the
    /// callback runs comes back as the interrupt; other failures of a progress bar must not
    /// fail the run, so Python prints them as unraisable.
    fn report(
        &self,
        py: Python<'_>,
        callback: Option<&Py<PyAny>>,
        last: &mut (usize, usize),
    ) -> Option<PyErr> {
        let callback = callback?;
        let now = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        if now != *last && now.1 > 0 {
            *last = now;
            if let Err(e) = callback.call1(py, now) {
                if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                    return Some(e);
                }
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        }
        None
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
            // Until the work is done (or its thread is gone).
            while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(POLL) {
                Python::attach(|py| {
                    let stop = py
                        .check_signals()
                        .err()
                        .or_else(|| progress.report(py, callback, &mut last));
                    if let (Some(e), None) = (stop, &interrupt) {
                        cancel.store(true, Ordering::SeqCst);
                        interrupt = Some(e);
                    }
                });
            }
            if let Some(e) = Python::attach(|py| progress.report(py, callback, &mut last)) {
                interrupt.get_or_insert(e);
            }
            let result = handle.join().unwrap_or_else(Err);
            (result, interrupt)
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    result.map_err(panic_error)
}

/// Runs `work` on the calling thread with the GIL released: for runs too small to be worth
/// a thread handoff (which costs hundreds of microseconds on a busy machine). A Ctrl-C
/// during it is raised by Python when the call returns. A panic becomes a `RunError`.
pub fn run_inline<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(panic_error)
}
