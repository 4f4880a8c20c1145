//! The panic hook of the command line.

/// Replaces Rust's panic message (with its "note: run with RUST_BACKTRACE" line) by nothing:
/// panics inside routines are caught and reported as errors with their context, and a panic
/// anywhere else is reported by `main` as an internal error. Set `TRIALFLOW_BACKTRACE=1` to
/// keep the default hook when debugging trialflow itself.
pub fn install_quiet_panic_hook() {
    if std::env::var_os("TRIALFLOW_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
}
