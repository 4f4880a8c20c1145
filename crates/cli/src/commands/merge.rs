//! `trialflow merge`: assembles the output of a run computed as shards.

use trialflow_pipeline::{load_pipeline, merge as merge_shards, PipelineError, Registry};

use crate::args::MergeArgs;

pub fn merge(args: &MergeArgs, registry: &Registry) -> Result<(), PipelineError> {
    let config = load_pipeline(&args.pipeline, &args.set, registry)?;
    let outcome = merge_shards(config, args.overwrite)?;
    if !args.quiet {
        crate::say!(
            "merged {} ({}): {} trials",
            outcome.container.display(),
            outcome.saved_files.join(", "),
            outcome.report.trials
        );
    }
    Ok(())
}
