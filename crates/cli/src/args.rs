use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run computational routines over the trials of multichannel recordings and write
/// Syncopy-compatible results.
#[derive(Debug, Parser)]
#[command(name = "trialflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a YAML pipeline.
    Run(RunArgs),
    /// Describe a recording or a result container.
    Info {
        /// A `.spy` container or a Syncopy object file.
        path: PathBuf,
    },
    /// List the built-in routines, or show one routine's parameters.
    Routines {
        /// A routine name.
        name: Option<String>,
    },
    /// Write a synthetic recording (oscillations, noise and transient events).
    Generate(GenerateArgs),
    /// Generate a recording, run a default pipeline over it and summarise the result.
    Demo {
        /// Folder for the demo's recording and results.
        #[arg(long, default_value = "trialflow-demo")]
        dir: PathBuf,
        /// Trials in the demo recording.
        #[arg(long, default_value_t = 100)]
        trials: usize,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Override a pipeline value, e.g. `--set execution.workers=4` or `--set steps.0.type=constant`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
    /// Replace an existing output (only once the new result is complete).
    #[arg(long)]
    pub overwrite: bool,
    /// Validate the pipeline against the input and report the plan, without computing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what the run does.
    #[arg(short, long)]
    pub verbose: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DTypeArg {
    F32,
    F64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output container, e.g. `recording.spy` (the object is `recording_raw.analog`).
    pub out: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    /// Samples per trial (the mean, with --unequal).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    #[arg(long, default_value_t = 8)]
    pub channels: usize,
    /// Samples per second.
    #[arg(long, default_value_t = 1000.0)]
    pub samplerate: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: DTypeArg,
    /// Vary trial lengths by up to +-20% around --samples.
    #[arg(long)]
    pub unequal: bool,
    /// Replace an existing container.
    #[arg(long)]
    pub overwrite: bool,
}
