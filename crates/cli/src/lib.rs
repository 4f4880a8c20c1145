//! The `trialflow` command line: argument parsing, progress display and exit codes over
//! `trialflow-pipeline`, which does the work. Every user-facing failure ends as one line on
//! stderr and an exit code: 2 for what the user got wrong, 1 for failures at run time; never
//! a panic.
//!
//! A crate with its own routines builds its own `trialflow`-style binary with every command
//! (run, resume, shards, merge, slurm, MPI, routines, info) in one line:
//!
//! ```no_run
//! # use trialflow_pipeline::Registry;
//! fn main() {
//!     trialflow_cli::main_with(Registry::builtin() /* .with::<MyRoutine>() */)
//! }
//! ```

/// `eprintln!` that never panics: a closed stderr (`trialflow ... 2>&1 | head`) must not turn
/// a run into a crash.
#[macro_export]
#[doc(hidden)]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics on a closed stdout.
#[macro_export]
#[doc(hidden)]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod args;
mod commands;
mod panic_hook;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};
pub use trialflow_pipeline::{PipelineError, Registry};

/// Runs the command line on the process's arguments with `registry`'s routines and exits
/// with its exit code.
pub fn main_with(registry: Registry) -> ! {
    std::process::exit(run_cli(&registry, std::env::args_os()))
}

/// Runs the command line with the given arguments (the first is the program name) and
/// returns the process exit code.
pub fn run_cli<I: IntoIterator<Item = OsString>>(registry: &Registry, args: I) -> i32 {
    let mut args = args.into_iter().peekable();
    // Help and errors name the binary the user ran: their own, for a custom-routine build.
    let program = args
        .peek()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trialflow".to_string());
    let command = args::Cli::command().bin_name(program);
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|m| args::Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    panic_hook::install_quiet_panic_hook();
    trialflow_hdf5::init_hdf5();
    let outcome = std::panic::catch_unwind(|| commands::dispatch(cli, registry));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            crate::say!("error: {e}");
            e.class.exit_code()
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            crate::say!("error: internal error (a bug in trialflow, please report it): {message}");
            1
        }
    }
}
