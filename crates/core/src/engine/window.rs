//! The parallel engine's flow control: the window that caps the tasks in flight between
//! the reader and the writer (and lets the reader wait for the writer), and the first
//! failure in task order, which tells every thread what no longer needs to run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::error::Error;

/// Caps the number of tasks between the reader and the writer, which bounds memory. Slots
/// are taken a batch at a time and given back a worker's batch at a time, and the reader is
/// woken only once its whole batch fits: with tiny tasks, a wake-up per task cost more CPU
/// than the tasks themselves.
pub(super) struct Window {
    size: usize,
    slots: Mutex<Slots>,
    changed: Condvar,
}

struct Slots {
    free: usize,
    /// How many slots the waiting reader needs (0: it is not waiting).
    wanted: usize,
    /// Whether the reader waits for something else the writer does (see
    /// [`Window::wait_until`]): then every release wakes it.
    watching: bool,
}

impl Window {
    pub(super) fn new(size: usize) -> Self {
        Window {
            size,
            slots: Mutex::new(Slots {
                free: size,
                wanted: 0,
                watching: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Waits until `ready()` or until no task is in flight (so the wait always ends: the
    /// writer has then applied every task handed out); false if the run stops first.
    /// `ready` is checked again whenever the writer gives slots back.
    pub(super) fn wait_until(
        &self,
        ready: impl Fn() -> bool,
        task: usize,
        failure: &Failure,
    ) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if failure.skips(task) {
                slots.watching = false;
                return false;
            }
            if slots.free == self.size || ready() {
                slots.watching = false;
                return true;
            }
            slots.watching = true;
            slots = self.changed.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits for `n` slots for the batch starting at task `task` (`n` is at most the
    /// window); returns false if the run stops before it.
    pub(super) fn acquire(&self, n: usize, task: usize, failure: &Failure) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if failure.skips(task) {
                slots.wanted = 0;
                return false;
            }
            if slots.free >= n {
                slots.free -= n;
                slots.wanted = 0;
                return true;
            }
            slots.wanted = n;
            slots = self.changed.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(super) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.free += n;
        if slots.watching || slots.wanted > 0 && slots.free >= slots.wanted {
            slots.wanted = 0;
            slots.watching = false;
            self.changed.notify_all();
        }
    }

    pub(super) fn wake_all(&self) {
        let _guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.notify_all();
    }
}

/// The first failure in task order. After a failure at task k, tasks after k are skipped but
/// tasks before k still run, so the reported error is the one a sequential run would report,
/// whatever the timing, and the completed tasks stay a prefix. A panic outside a kernel
/// halts everything instead: the thread that panicked may be the one the others wait for.
pub(super) struct Failure {
    first_failed: AtomicUsize,
    pub(super) first: Mutex<Option<(usize, Error)>>,
    halted: AtomicBool,
}

impl Failure {
    pub(super) fn new() -> Self {
        Failure {
            first_failed: AtomicUsize::new(usize::MAX),
            first: Mutex::new(None),
            halted: AtomicBool::new(false),
        }
    }

    /// Records a panic outside a kernel at `task` and stops every task not yet applied.
    pub(super) fn halt(&self, task: usize, error: Error, window: &Window) {
        self.halted.store(true, Ordering::SeqCst);
        self.record(task, error, window);
    }

    pub(super) fn record(&self, task: usize, error: Error, window: &Window) {
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if first.as_ref().is_none_or(|(t, _)| task < *t) {
            *first = Some((task, error));
            self.first_failed.fetch_min(task, Ordering::SeqCst);
        }
        drop(first);
        window.wake_all();
    }

    /// Whether task `task` no longer needs to run.
    pub(super) fn skips(&self, task: usize) -> bool {
        self.halted.load(Ordering::SeqCst) || task > self.first_failed.load(Ordering::SeqCst)
    }
}
