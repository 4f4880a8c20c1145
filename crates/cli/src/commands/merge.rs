//! `trialflow merge`: assembles the output of a run computed as shards. The dry run is
//! repeated on the input to know what the output holds; every shard's journal must be
//! present, finished and of this same pipeline and input before anything is written.

use trialflow_core::engine::RunScope;
use trialflow_core::run_pipeline;
use trialflow_hdf5::{ContainerPath, SpyReader, SpyWriter, WriteMode, WriterOptions};
use trialflow_routines::Registry;

use crate::args::MergeArgs;
use crate::failure::CliError;
use crate::pipeline_file::load_pipeline;

pub fn merge(args: &MergeArgs) -> Result<(), CliError> {
    let registry = Registry::builtin();
    let mut config = load_pipeline(&args.pipeline, &args.set, &registry)?;
    config.pipeline.execution.scope = RunScope::Merge;
    let mut reader = SpyReader::open(&config.input)?;
    let container = ContainerPath::new(&config.output)?;
    super::run::refuse_output_over_input(reader.path(), &container.dir)?;
    let options = WriterOptions {
        overwrite: args.overwrite || config.overwrite,
        mode: WriteMode::Merge,
    };
    let mut writer = SpyWriter::create(&config.output, options)?;
    let report = run_pipeline(&config.pipeline, &mut reader, &mut writer, None)
        .map_err(|e| super::run::with_resume_hint(e, &writer))?;
    if !args.quiet {
        crate::say!(
            "merged {} ({}): {} trials",
            container.dir.display(),
            super::run::saved_file_names(&container, &report),
            report.trials
        );
    }
    Ok(())
}
