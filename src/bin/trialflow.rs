//! The `trialflow` command line; all logic lives in the `trialflow-cli` crate.

fn main() {
    std::process::exit(trialflow_cli::main_with_args(std::env::args_os()));
}
