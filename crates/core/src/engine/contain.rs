//! Panic containment. A panic anywhere in a run (a routine's kernel or hook, the sink, the
//! source, a progress callback, the engine itself) must end the run with an error saying
//! where, never with a hang: a thread that unwinds silently leaves the threads waiting on
//! it blocked forever. Kernels' panics become [`Error::Panic`](crate::Error::Panic); every
//! other panic becomes [`Error::Crashed`](crate::Error::Crashed).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, TaskContext};

/// The text a panic carried.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `f`, turning a panic into its message. Callers decide what state a panic leaves
/// behind (a poisoned sink is not called again), which is why unwind safety is asserted.
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

/// Runs `f` and reports a panic as `what` (e.g. "the routine's plan") having panicked at
/// `context`.
pub(crate) fn guarded<T>(
    context: impl FnOnce() -> TaskContext,
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> crate::error::Result<T>,
) -> crate::error::Result<T> {
    contained(f).unwrap_or_else(|message| Err(crashed(context(), what(), message)))
}

/// The error for a panic outside a kernel.
pub(crate) fn crashed(context: TaskContext, what: String, message: String) -> Error {
    Error::Crashed {
        context: Box::new(context),
        what,
        message,
    }
}
