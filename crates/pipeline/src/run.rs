//! Running a checked pipeline over its input (a Syncopy container or an NWB file): the lazy plan ([`PreparedRun`]: the
//! input opened, the dry run done, nothing written), then [`PreparedRun::execute`] (fresh,
//! resumed, one shard, or on MPI ranks) and [`merge`] for shards. Every front end (the CLI,
//! Python) calls these, so `--resume`, shards and their checks mean the same everywhere.

use std::path::{Path, PathBuf};

use trialflow_core::engine::MemoryEstimate;
use trialflow_core::engine::{
    prepare, run_prepared, PreparedPipeline, ProgressFn, RunScope, TrialSource,
};
use trialflow_core::{run_pipeline, DType, DataKind, ExecutionMode, RunReport};
use trialflow_hdf5::{ContainerPath, SpyWriter, WriteMode, WriterOptions};

use crate::check::CheckedPipeline;
use crate::error::PipelineError;
use crate::input::{open_input, OpenedInput};

/// How to execute a prepared run: what `trialflow run`'s flags say.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Replace an existing output (only once the new result is complete).
    pub overwrite: bool,
    /// Continue an interrupted run from its completed tasks.
    pub resume: bool,
    /// Called by the writer after each task with (tasks done, tasks total).
    pub progress: Option<ProgressFn<'a>>,
}

/// One object the run will save, as the dry run lays it out.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    /// The step (0-based) whose output it is.
    pub step: usize,
    pub file_name: String,
    pub kind: DataKind,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// What the dry run found: the input, the work and where it goes.
#[derive(Debug, Clone)]
pub struct PlanSummary {
    pub input: PathBuf,
    pub trials: usize,
    pub channels: usize,
    pub samplerate: f64,
    pub input_dtype: DType,
    /// Bytes of input data the run reads.
    pub input_bytes: u64,
    pub steps: usize,
    pub tasks: usize,
    pub workers: usize,
    pub memory: MemoryEstimate,
    pub saves: Vec<PlannedObject>,
}

/// A pipeline whose input is open and whose dry run passed; nothing is written yet.
pub struct PreparedRun {
    config: CheckedPipeline,
    input: OpenedInput,
    container: ContainerPath,
    shard: Option<(usize, usize)>,
    summary: PlanSummary,
    /// The dry run itself, which `execute` hands to the engine rather than repeating it.
    prepared: PreparedPipeline,
}

/// What a finished run (or shard, or merge) wrote.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    /// The output container (for a shard, where it will appear after the merge).
    pub container: PathBuf,
    /// The saved objects' file names inside the container, in step order.
    pub saved_files: Vec<String>,
    pub input_bytes: u64,
    /// `Some((index, count))` when only one shard ran: the output appears after a merge.
    pub shard: Option<(usize, usize)>,
    /// The number of MPI ranks that computed it, for `execution.mode: mpi`.
    pub mpi_ranks: Option<usize>,
}

impl PreparedRun {
    /// Opens the input read-only and runs the dry run: every step's output, every trial
    /// checked, plans built and memory estimated. A failure here is the user's, and nothing
    /// has been written.
    pub fn new(
        mut config: CheckedPipeline,
        shard: Option<(usize, usize)>,
    ) -> Result<PreparedRun, PipelineError> {
        if let Some((index, count)) = shard {
            if config.pipeline.execution.mode == ExecutionMode::Mpi {
                return Err(PipelineError::user(
                    "--shard and execution.mode: mpi both split the run; use one of them",
                ));
            }
            config.pipeline.execution.scope = RunScope::Shard { index, count };
        }
        config.pipeline.execution.validate()?;
        let input = open_input(
            &config.input,
            config.trials.as_ref(),
            config.select.as_ref(),
        )?;
        let container = ContainerPath::new(&config.output)?;
        refuse_output_over_input(&input.file, &container.dir)?;
        let (summary, prepared) = summarise(&config, &input, &container)?;
        Ok(PreparedRun {
            config,
            input,
            container,
            shard,
            summary,
            prepared,
        })
    }

    pub fn summary(&self) -> &PlanSummary {
        &self.summary
    }

    pub fn config(&self) -> &CheckedPipeline {
        &self.config
    }

    /// Runs it: refuses a plan over the memory threshold, then computes and commits. On MPI
    /// (`execution.mode: mpi`) every rank computes its shard and rank 0 merges.
    pub fn execute(self, options: &RunOptions<'_>) -> Result<RunOutcome, PipelineError> {
        self.summary
            .memory
            .check(self.config.pipeline.execution.mem_thresh)?;
        if self.config.pipeline.execution.mode == ExecutionMode::Mpi {
            return crate::mpi::run_mpi(
                self.config,
                self.input.source,
                options,
                self.summary.input_bytes,
            );
        }
        let PreparedRun {
            mut config,
            mut input,
            container,
            shard,
            summary,
            prepared,
        } = self;
        let mode = match (shard, options.resume) {
            (Some((index, count)), resume) => WriteMode::Shard {
                index,
                count,
                resume,
            },
            (None, true) => WriteMode::Resume,
            (None, false) => WriteMode::Fresh,
        };
        // A parallel run whose tasks all fit in one of the engine's batches would hand
        // them all to one worker: nothing runs in parallel, and starting the reader, writer
        // and worker threads and waking them is then most of a small run's time. It runs
        // on this thread instead, with the same bits (every mode gives them) and the
        // storage layout it was prepared with. Decided here, for the front ends, rather
        // than in the engine, whose callers (and tests) get the mode they ask for.
        let on_this_thread =
            config.pipeline.execution.mode == ExecutionMode::Parallel && prepared.fits_one_batch();
        if on_this_thread {
            config.pipeline.execution.mode = ExecutionMode::Sequential;
        }
        let overwrite = options.overwrite || config.overwrite;
        let durable = config.pipeline.execution.durable;
        let mut writer = SpyWriter::create(
            &config.output,
            WriterOptions {
                overwrite,
                mode,
                durable,
            },
        )?;
        let mut report = run_prepared(
            &config.pipeline,
            Some(prepared),
            input.source.as_mut(),
            &mut writer,
            options.progress,
        )
        .map_err(|e| with_resume_hint(e, &writer))?;
        if on_this_thread {
            // The summary says what ran, as the `.info` does (mode: sequential).
            report.workers = 1;
        }
        Ok(outcome(report, &container, summary.input_bytes, shard))
    }
}

/// Assembles the output of a run computed as shards (`--shard I/N` or SLURM array tasks).
/// The dry run is repeated on the input to know what the output holds; every shard's journal
/// must be present, finished and of this same pipeline and input before anything is written.
pub fn merge(mut config: CheckedPipeline, overwrite: bool) -> Result<RunOutcome, PipelineError> {
    config.pipeline.execution.scope = RunScope::Merge;
    let mut input = open_input(
        &config.input,
        config.trials.as_ref(),
        config.select.as_ref(),
    )?;
    let container = ContainerPath::new(&config.output)?;
    refuse_output_over_input(&input.file, &container.dir)?;
    let options = WriterOptions {
        overwrite: overwrite || config.overwrite,
        mode: WriteMode::Merge,
        durable: true,
    };
    let mut writer = SpyWriter::create(&config.output, options)?;
    let report = run_pipeline(&config.pipeline, input.source.as_mut(), &mut writer, None)
        .map_err(|e| with_resume_hint(e, &writer))?;
    Ok(outcome(
        report,
        &container,
        input_bytes(input.source.as_ref()),
        None,
    ))
}

pub(crate) fn outcome(
    report: RunReport,
    container: &ContainerPath,
    input_bytes: u64,
    shard: Option<(usize, usize)>,
) -> RunOutcome {
    let saved_files = report
        .objects
        .iter()
        .map(|o| container.object_file_name(&o.tag, o.kind))
        .collect();
    RunOutcome {
        report,
        container: container.dir.clone(),
        saved_files,
        input_bytes,
        shard,
        mpi_ranks: None,
    }
}

fn input_bytes(source: &dyn TrialSource) -> u64 {
    let schema = source.schema();
    (0..schema.n_trials())
        .map(|t| (schema.trial_elements(t) * schema.dtype.size_bytes()) as u64)
        .sum()
}

/// The dry run and what it found.
fn summarise(
    config: &CheckedPipeline,
    input: &OpenedInput,
    container: &ContainerPath,
) -> Result<(PlanSummary, PreparedPipeline), PipelineError> {
    let schema = input.source.schema();
    let prepared = prepare(&config.pipeline, schema, "")?;
    let saves = prepared
        .objects
        .iter()
        .zip(&prepared.object_steps)
        .map(|(spec, &step)| PlannedObject {
            step,
            file_name: container.object_file_name(&spec.tag, spec.schema.kind),
            kind: spec.schema.kind,
            shape: spec.schema.stacked_shape(),
            dtype: spec.schema.dtype,
        })
        .collect();
    let summary = PlanSummary {
        input: input.file.clone(),
        trials: schema.n_trials(),
        channels: schema.n_channels(),
        samplerate: schema.samplerate,
        input_dtype: schema.dtype,
        input_bytes: input_bytes(input.source.as_ref()),
        steps: prepared.steps.len(),
        tasks: prepared.tasks.len(),
        workers: prepared.workers,
        memory: prepared.memory,
        saves,
    };
    Ok((summary, prepared))
}

/// Adds where the completed work is kept, when a failed run leaves some for `--resume`.
pub(crate) fn with_resume_hint(e: trialflow_core::Error, writer: &SpyWriter) -> PipelineError {
    let mut error = PipelineError::from(e);
    if writer.kept_progress() && error.class == trialflow_core::ErrorClass::Runtime {
        error.message.push_str(&format!(
            " (completed tasks are kept in {}; rerun with --resume to continue)",
            writer.staging_dir().display()
        ));
    }
    error
}

/// Refuses an output container that is, or contains, the input.
fn refuse_output_over_input(input_file: &Path, output_dir: &Path) -> Result<(), PipelineError> {
    let input = input_file
        .canonicalize()
        .unwrap_or_else(|_| input_file.to_path_buf());
    let output = canonical_maybe_missing(output_dir);
    if input.starts_with(&output) {
        return Err(PipelineError::user(format!(
            "output {} would replace the input {}; choose another output",
            output_dir.display(),
            input_file.display()
        )));
    }
    // Writing inside the input's container would change the input container.
    if let Some(container) = input
        .parent()
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("spy"))
    {
        if output.starts_with(container) {
            return Err(PipelineError::user(format!(
                "output {} is inside the input's container {}; inputs are never modified, choose another output",
                output_dir.display(),
                container.display()
            )));
        }
    }
    Ok(())
}

fn canonical_maybe_missing(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent
                .canonicalize()
                .map(|p| p.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use super::*;
    use crate::{generate_recording, GenerateOptions, PipelineDocument, Registry};

    /// The threads that reported progress during a parallel (2 workers) rectify run over
    /// `trials` trials of 20 samples x 2 channels: the writer's, whichever thread it is.
    fn progress_threads(dir: &Path, trials: usize) -> HashSet<ThreadId> {
        let input = generate_recording(
            &dir.join(format!("in{trials}.spy")),
            &GenerateOptions {
                trials,
                samples: 20,
                channels: 2,
                samplerate: 1000.0,
                seed: 1,
                dtype: DType::Float32,
                unequal: false,
                overwrite: true,
            },
        )
        .unwrap();
        let yaml = format!(
            "input: {}\noutput: {}\nexecution: {{mode: parallel, workers: 2, durable: false}}\nsteps:\n  - routine: rectify\n",
            input.display(),
            dir.join(format!("out{trials}.spy")).display()
        );
        let checked = PipelineDocument::from_yaml(&yaml, "test", dir)
            .unwrap()
            .check(&Registry::builtin())
            .unwrap();
        let threads = Mutex::new(HashSet::new());
        let progress = |_: usize, _: usize| {
            threads.lock().unwrap().insert(std::thread::current().id());
        };
        PreparedRun::new(checked, None)
            .unwrap()
            .execute(&RunOptions {
                overwrite: true,
                resume: false,
                progress: Some(&progress),
            })
            .unwrap();
        threads.into_inner().unwrap()
    }

    #[test]
    fn a_parallel_run_of_one_batch_runs_on_the_calling_thread() {
        let dir = std::env::temp_dir().join(format!("trialflow-one-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let caller = std::thread::current().id();
        assert_eq!(progress_threads(&dir, 4), HashSet::from([caller]));
        // 3000 such trials are several batches: the writer thread reports, not this one.
        let many = progress_threads(&dir, 3000);
        assert!(!many.is_empty() && !many.contains(&caller), "{many:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
