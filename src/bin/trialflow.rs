//! The `trialflow` command line with the built-in routines; all logic lives in the
//! `trialflow-cli` and `trialflow-pipeline` crates.

fn main() {
    trialflow::cli::main_with(trialflow::Registry::builtin())
}
