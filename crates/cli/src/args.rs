use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run computational routines over the trials of multichannel recordings and write
/// Syncopy-compatible results.
#[derive(Debug, Parser)]
#[command(name = "trialflow", version, long_about = None)]
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
    /// List the routines this binary knows, or show one routine's parameters.
    Routines {
        /// A routine name.
        name: Option<String>,
    },
    /// Assemble the output of a run computed as shards (`run --shard I/N`), once all are done.
    Merge(MergeArgs),
    /// Print a SLURM batch script that runs a pipeline as an array of shards, then merges.
    Slurm(SlurmArgs),
    /// Write a recording (an NWB ElectricalSeries) as a Syncopy AnalogData container.
    Import(ImportArgs),
    /// Write a synthetic recording (oscillations, noise and transient events).
    Generate(GenerateArgs),
    /// Draw an object as a figure (PNG or SVG): traces, spectrum, time-frequency map or raster.
    Plot(PlotArgs),
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
    /// Continue an interrupted run from its completed tasks (checking it is the same pipeline
    /// and input); starts afresh if there is nothing to continue.
    #[arg(long)]
    pub resume: bool,
    /// Compute only shard I of N (0-based, e.g. `--shard 3/8`) and write its part; the output
    /// appears with `trialflow merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The pipeline file the shards ran.
    pub pipeline: PathBuf,
    /// The same `--set` overrides the shards were given.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
    /// Replace an existing output (only once the merged result is complete).
    #[arg(long)]
    pub overwrite: bool,
    /// No summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The pipeline file to run.
    pub pipeline: PathBuf,
    /// Number of array tasks (shards).
    #[arg(long, value_name = "N")]
    pub array: usize,
    #[arg(long, value_parser = parse_sbatch_value)]
    pub partition: Option<String>,
    /// Time limit per array task, as sbatch takes it (e.g. `02:00:00`).
    #[arg(long, value_parser = parse_sbatch_value)]
    pub time: Option<String>,
    /// Memory per array task, as sbatch takes it (e.g. `8G`).
    #[arg(long, value_parser = parse_sbatch_value)]
    pub mem: Option<String>,
    /// CPUs per array task (also the workers of each shard).
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<usize>,
    /// Further `#SBATCH` options, e.g. `--sbatch-extra "--account=lab --qos=long"`.
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true, value_parser = parse_sbatch_value)]
    pub sbatch_extra: Option<String>,
}

/// A value that goes into an `#SBATCH` line: a newline would end the directive and make
/// the rest of the value a shell command of the batch script.
fn parse_sbatch_value(text: &str) -> Result<String, String> {
    if text.chars().any(char::is_control) {
        return Err("must fit on one #SBATCH line: no newlines or other control characters".into());
    }
    Ok(text.to_string())
}

/// Parses `I/N` with `0 <= I < N`.
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected I/N (e.g. 0/4), got '{text}'"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("shard index '{i}' is not a whole number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("shard count '{n}' is not a whole number"))?;
    if n == 0 || i >= n {
        return Err(format!("need 0 <= I < N, got {i}/{n}"));
    }
    Ok((i, n))
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The recording: an NWB file.
    pub input: PathBuf,
    /// The container to write, e.g. `session.spy` (the object is `session_raw.analog`).
    pub out: PathBuf,
    /// The ElectricalSeries to read (its name or HDF5 path); needed when there are several.
    #[arg(long)]
    pub series: Option<String>,
    /// `unit` (data x conversion x channel_conversion + offset) or `raw` (as stored).
    #[arg(long, default_value = "unit")]
    pub scale: String,
    /// The electrodes-table column that labels channels (default: label, else location_id).
    #[arg(long)]
    pub channel_labels: Option<String>,
    /// How to cut trials, as the pipeline's `trials:` keys: `--trials table=trials`,
    /// `--trials align=stim_on_time --trials pre=0.2 --trials post=0.5`, `--trials length=2`.
    /// Default: the file's trials table, else one trial.
    #[arg(long = "trials", value_name = "KEY=VALUE")]
    pub trials: Vec<String>,
    /// Storage type of the values (default f32).
    #[arg(long, value_enum)]
    pub dtype: Option<DTypeArg>,
    /// Replace an existing container (only once the new one is complete).
    #[arg(long)]
    pub overwrite: bool,
    /// No summary.
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

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The object: `CONTAINER.spy/OBJECT` (file name or tag, e.g. `results.spy/spectrum`),
    /// or a container holding one object.
    pub input: PathBuf,
    /// The figure to write; `.png` or `.svg`.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Trials: 0-based indices and ranges, e.g. `0,3,5-9`, or `all` (default: all; the first
    /// for AnalogData).
    #[arg(long, value_name = "SEL")]
    pub trials: Option<String>,
    /// Channels: labels, 0-based indices and ranges, e.g. `channel001,4-7` (default: all).
    #[arg(long, value_name = "SEL")]
    pub channels: Option<String>,
    /// Time window in seconds on the trials' time axis.
    #[arg(long, num_args = 2, value_names = ["T0", "T1"], allow_negative_numbers = true)]
    pub latency: Option<Vec<f64>>,
    /// Frequency window in Hz (SpectralData).
    #[arg(long, num_args = 2, value_names = ["F0", "F1"])]
    pub foilim: Option<Vec<f64>>,
    /// A SpikeData object (e.g. find_peaks output) whose events are marked on the traces.
    #[arg(long, value_name = "OBJECT")]
    pub overlay: Option<PathBuf>,
    /// Logarithmic value axis.
    #[arg(long)]
    pub log: bool,
    /// Figure size in pixels, `WxH` (default 1200x800).
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
}
