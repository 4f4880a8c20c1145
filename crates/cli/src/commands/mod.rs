//! One module per subcommand.

mod demo;
mod generate;
mod import;
mod info;
mod merge;
mod plot;
mod routines;
mod run;
mod slurm;

use trialflow_pipeline::{PipelineError, Registry};

use crate::args::{Cli, Command};

pub fn dispatch(cli: Cli, registry: &Registry) -> Result<(), PipelineError> {
    match cli.command {
        Command::Run(args) => run::run(&args, registry).map(|_| ()),
        Command::Info { path } => info::info(&path),
        Command::Routines { name } => routines::routines(registry, name.as_deref()),
        Command::Merge(args) => merge::merge(&args, registry),
        Command::Slurm(args) => slurm::slurm(args),
        Command::Import(args) => import::import(&args),
        Command::Generate(args) => generate::generate(&args),
        Command::Plot(args) => plot::plot(&args),
        Command::Demo { dir, trials } => demo::demo(&dir, trials, registry),
    }
}
