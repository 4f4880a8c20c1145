//! One module per subcommand.

mod demo;
mod generate;
mod info;
mod merge;
mod routines;
pub(crate) mod run;
pub(crate) use run::RunOutcome;
mod slurm;

use crate::args::{Cli, Command};
use crate::failure::CliError;

pub fn dispatch(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(args) => run::run(&args).map(|_| ()),
        Command::Info { path } => info::info(&path),
        Command::Routines { name } => routines::routines(name.as_deref()),
        Command::Merge(args) => merge::merge(&args),
        Command::Slurm(args) => slurm::slurm(&args),
        Command::Generate(args) => generate::generate(&args),
        Command::Demo { dir, trials } => demo::demo(&dir, trials),
    }
}
