//! `trialflow slurm`: prints the batch script (`trialflow_pipeline::slurm_script`).

use trialflow_pipeline::{slurm_script, PipelineError, SlurmOptions};

use crate::args::SlurmArgs;

pub fn slurm(args: SlurmArgs) -> Result<(), PipelineError> {
    use std::io::Write as _;
    let program = std::env::current_exe()
        .ok()
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "trialflow".into());
    let script = slurm_script(&SlurmOptions {
        pipeline: args.pipeline,
        array: args.array,
        partition: args.partition,
        time: args.time,
        mem: args.mem,
        cpus_per_task: args.cpus_per_task,
        sbatch_extra: args.sbatch_extra,
        program,
    })?;
    let _ = std::io::stdout().write_all(script.as_bytes());
    Ok(())
}
