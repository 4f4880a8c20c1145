//! The `trialflow` command line. Every user-facing failure ends as one line on stderr and an
//! exit code: 2 for what the user got wrong, 1 for failures at run time; never a panic.

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
mod failure;
mod mpi_run;
mod pipeline_file;
mod synthetic;

pub use failure::CliError;
pub use pipeline_file::{load_pipeline, PipelineConfig};
pub use synthetic::{generate_recording, GenerateOptions};

use std::ffi::OsString;

use clap::Parser;

/// Runs the command line with the given arguments and returns the process exit code.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    failure::install_quiet_panic_hook();
    trialflow_hdf5::init_hdf5();
    let outcome = std::panic::catch_unwind(|| commands::dispatch(cli));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            crate::say!("error: {e}");
            e.exit_code()
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
