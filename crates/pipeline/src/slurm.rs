//! A batch script that runs a pipeline as a SLURM job array of shards and submits the merge
//! as a job that starts only if every shard succeeded (`trialflow slurm`).

use std::path::{Path, PathBuf};

use crate::error::PipelineError;

/// What goes into the batch script.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// The pipeline file to run.
    pub pipeline: PathBuf,
    /// Number of array tasks (shards).
    pub array: usize,
    pub partition: Option<String>,
    /// Time limit per array task, as sbatch takes it (e.g. `02:00:00`).
    pub time: Option<String>,
    /// Memory per array task, as sbatch takes it (e.g. `8G`).
    pub mem: Option<String>,
    /// CPUs per array task (also the workers of each shard).
    pub cpus_per_task: Option<usize>,
    /// Further `#SBATCH` options, whitespace-separated.
    pub sbatch_extra: Option<String>,
    /// The program the script runs: the binary that wrote it, so a user's own binary with
    /// its own routines runs its own shards.
    pub program: PathBuf,
}

/// Quotes a word for a POSIX shell.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The batch script.
pub fn slurm_script(args: &SlurmOptions) -> Result<String, PipelineError> {
    if args.array == 0 {
        return Err(PipelineError::user("--array must be at least 1, got 0"));
    }
    // SLURM's largest possible array index is 4 000 000 (MaxArraySize 4000001); most sites
    // allow far fewer, which sbatch itself reports.
    if args.array > 4_000_000 {
        return Err(PipelineError::user(format!(
            "--array {} exceeds SLURM's largest possible array (4000000 tasks)",
            args.array
        )));
    }
    if args.cpus_per_task == Some(0) {
        return Err(PipelineError::user(
            "--cpus-per-task must be at least 1, got 0",
        ));
    }
    if !args.pipeline.is_file() {
        return Err(PipelineError::user(format!(
            "pipeline {} does not exist",
            args.pipeline.display()
        )));
    }
    let pipeline = args
        .pipeline
        .canonicalize()
        .unwrap_or_else(|_| args.pipeline.clone());
    let pipeline = shell_quote(&pipeline.display().to_string());
    let n = args.array;
    let exe = shell_quote(&args.program.display().to_string());
    let name = Path::new(&args.pipeline)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "trialflow".to_string());

    let mut sbatch = vec![
        format!("--job-name=trialflow-{name}"),
        format!("--array=0-{}", n - 1),
        "--output=trialflow-%A_%a.out".to_string(),
    ];
    if let Some(p) = &args.partition {
        sbatch.push(format!("--partition={p}"));
    }
    if let Some(t) = &args.time {
        sbatch.push(format!("--time={t}"));
    }
    if let Some(m) = &args.mem {
        sbatch.push(format!("--mem={m}"));
    }
    if let Some(c) = args.cpus_per_task {
        sbatch.push(format!("--cpus-per-task={c}"));
    }
    let extra: Vec<String> = args
        .sbatch_extra
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    sbatch.extend(extra.iter().cloned());
    let header: String = sbatch.iter().map(|o| format!("#SBATCH {o}\n")).collect();
    let workers = match args.cpus_per_task {
        Some(c) => format!(" --set execution.workers={c}"),
        None => String::new(),
    };
    let merge_opts: Vec<String> = std::iter::once(format!("--job-name=trialflow-{name}-merge"))
        .chain(args.partition.iter().map(|p| format!("--partition={p}")))
        .chain(extra.iter().cloned())
        .chain(std::iter::once(
            "--output=trialflow-%j-merge.out".to_string(),
        ))
        .map(|o| shell_quote(&o))
        .collect();

    Ok(format!(
        r#"#!/bin/bash
# trialflow: {pipeline} as {n} array tasks (shards), then a merge job.
# Submit with:  sbatch THIS_SCRIPT
# Each array task computes shard $SLURM_ARRAY_TASK_ID/{n} and writes only its part (a rerun
# continues it: --resume). The merge job starts only if every array task succeeded
# (afterok) and assembles the output; if a shard failed, rerun it with
#   {exe} run {pipeline} --shard I/{n} --resume
# and then run: {exe} merge {pipeline}
{header}set -euo pipefail

if [ "${{SLURM_ARRAY_TASK_ID}}" = "0" ]; then
    sbatch --dependency=afterok:${{SLURM_ARRAY_JOB_ID}} {merge_opts} \
        --wrap="{exe} merge {pipeline}"
fi

exec {exe} run {pipeline} --shard "${{SLURM_ARRAY_TASK_ID}}/{n}" --resume --quiet{workers}
"#,
        merge_opts = merge_opts.join(" "),
    ))
}
