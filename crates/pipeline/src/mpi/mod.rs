//! `execution.mode: mpi`: one process per rank (`mpirun -n N trialflow run P.yaml`). Every
//! rank computes shard `rank/size` of the tasks into the shared staging folder (per-task
//! files and its own journal, exactly as `--shard` does), then rank 0 merges. While the
//! shards run, a watcher thread per rank is the only caller of MPI: it tells rank 0 when its
//! rank is done (or failed) and stops its rank when rank 0 says another failed, so one
//! failure stops every rank within a task. Ranks other than 0 exit the process with the run's
//! status once rank 0 has merged; rank 0 returns the outcome to its front end.

#[cfg(not(feature = "mpi"))]
pub fn run_mpi(
    _config: crate::CheckedPipeline,
    _reader: Box<dyn trialflow_core::engine::TrialSource>,
    _options: &crate::RunOptions<'_>,
    _input_bytes: u64,
) -> Result<crate::RunOutcome, crate::error::PipelineError> {
    Err(crate::error::PipelineError::user(
        "execution.mode: mpi needs a trialflow built with MPI: cargo build --release --features mpi (after scripts/setup-system.sh --mpi)",
    ))
}

#[cfg(feature = "mpi")]
mod ranks;
#[cfg(feature = "mpi")]
pub use ranks::run_mpi;
