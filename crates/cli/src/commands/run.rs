use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trialflow_core::engine::{prepare, RunScope, TrialSource};
use trialflow_core::{run_pipeline, ExecutionMode, RunReport};
use trialflow_hdf5::{ContainerPath, SpyReader, SpyWriter, WriteMode, WriterOptions};
use trialflow_routines::Registry;

use crate::args::RunArgs;
use crate::failure::CliError;
use crate::pipeline_file::load_pipeline;

/// What a successful run wrote.
pub struct RunOutcome {
    pub report: RunReport,
    pub container: PathBuf,
    pub input_bytes: u64,
}

pub fn run(args: &RunArgs) -> Result<Option<RunOutcome>, CliError> {
    let registry = Registry::builtin();
    let mut config = load_pipeline(&args.pipeline, &args.set, &registry)?;
    let overwrite = args.overwrite || config.overwrite;
    if let Some((index, count)) = args.shard {
        if config.pipeline.execution.mode == ExecutionMode::Mpi {
            return Err(CliError::user(
                "--shard and execution.mode: mpi both split the run; use one of them",
            ));
        }
        config.pipeline.execution.scope = RunScope::Shard { index, count };
    }
    config
        .pipeline
        .execution
        .validate()
        .map_err(CliError::from)?;
    let mut reader = SpyReader::open(&config.input)?;
    let container = ContainerPath::new(&config.output)?;
    refuse_output_over_input(reader.path(), &container.dir)?;

    // The dry run and memory check happen before anything is written.
    let prepared = prepare(&config.pipeline, reader.schema(), "")?;
    let schema = reader.schema();
    let input_bytes: u64 = (0..schema.n_trials())
        .map(|t| (schema.trial_elements(t) * schema.dtype.size_bytes()) as u64)
        .sum();
    if args.verbose || args.dry_run {
        crate::say!(
            "input {}: {} trials x {} channels, {} Hz, {}",
            reader.path().display(),
            schema.n_trials(),
            schema.n_channels(),
            schema.samplerate,
            schema.dtype.numpy_name()
        );
        crate::say!(
            "plan: {} steps, {} tasks, {} worker(s), estimated peak memory {} ({} per task x {} in flight)",
            prepared.steps.len(),
            prepared.tasks.len(),
            prepared.workers,
            trialflow_core::error::Bytes(prepared.memory.total()),
            trialflow_core::error::Bytes(prepared.memory.per_task),
            prepared.memory.concurrent_tasks
        );
        for (spec, &step) in prepared.objects.iter().zip(&prepared.object_steps) {
            crate::say!(
                "  saves step {} as {}: {} {:?} {}",
                step + 1,
                container.object_file_name(&spec.tag, spec.schema.kind),
                spec.schema.kind.class_name(),
                spec.schema.stacked_shape(),
                spec.schema.dtype.numpy_name()
            );
        }
    }
    prepared
        .memory
        .check(config.pipeline.execution.mem_thresh)?;
    if args.dry_run {
        crate::say!("dry run: the pipeline is valid for this input; nothing was computed");
        return Ok(None);
    }
    drop(prepared);

    if config.pipeline.execution.mode == ExecutionMode::Mpi {
        return crate::mpi_run::run_mpi(args, config, reader, input_bytes);
    }

    let mode = match (args.shard, args.resume) {
        (Some((index, count)), resume) => WriteMode::Shard {
            index,
            count,
            resume,
        },
        (None, true) => WriteMode::Resume,
        (None, false) => WriteMode::Fresh,
    };
    let mut writer = SpyWriter::create(&config.output, WriterOptions { overwrite, mode })?;
    let bar = if std::io::stderr().is_terminal() && !args.quiet {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tasks ({eta})",
            )
            .expect("static template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = run_pipeline(&config.pipeline, &mut reader, &mut writer, Some(&progress));
    bar.finish_and_clear();
    let report = report.map_err(|e| with_resume_hint(e, &writer))?;
    if let Some((index, count)) = args.shard {
        if !args.quiet {
            crate::say!(
                "shard {index}/{count}: {} tasks done in {:.2} s; the output appears after `trialflow merge {}` once every shard is done",
                report.tasks,
                report.elapsed.as_secs_f64(),
                args.pipeline.display()
            );
        }
        return Ok(None);
    }
    if let (Some(from), false) = (report.resumed_from, args.quiet) {
        crate::say!("resumed an interrupted run after its first {from} tasks");
    }
    if !args.quiet {
        let secs = report.elapsed.as_secs_f64();
        crate::say!(
            "wrote {} ({}) : {} trials, {} tasks, {} worker(s), {:.2} s, {:.1} MB/s of input",
            container.dir.display(),
            saved_file_names(&container, &report),
            report.trials,
            report.tasks,
            report.workers,
            secs,
            input_bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    if !report.warnings.is_empty() {
        if args.verbose {
            for w in &report.warnings {
                crate::say!("warning: {w}");
            }
        } else if !args.quiet {
            crate::say!(
                "{} warning(s) from routines; they are in the results' _log (or rerun with -v)",
                report.warnings.len()
            );
        }
    }
    Ok(Some(RunOutcome {
        report,
        container: container.dir,
        input_bytes,
    }))
}

/// Adds where the completed work is kept, when a failed run leaves some for `--resume`.
/// The saved objects' file names, for the one-line summaries of `run`, `merge` and MPI runs.
pub(crate) fn saved_file_names(container: &ContainerPath, report: &RunReport) -> String {
    report
        .objects
        .iter()
        .map(|o| container.object_file_name(&o.tag, o.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn with_resume_hint(e: trialflow_core::Error, writer: &SpyWriter) -> CliError {
    let mut error = CliError::from(e);
    if writer.kept_progress() && error.class == trialflow_core::ErrorClass::Runtime {
        error.message.push_str(&format!(
            " (completed tasks are kept in {}; rerun with --resume to continue)",
            writer.staging_dir().display()
        ));
    }
    error
}

/// Refuses an output container that is, or contains, the input.
pub(crate) fn refuse_output_over_input(
    input_file: &Path,
    output_dir: &Path,
) -> Result<(), CliError> {
    let input = input_file
        .canonicalize()
        .unwrap_or_else(|_| input_file.to_path_buf());
    let output = canonical_maybe_missing(output_dir);
    if input.starts_with(&output) {
        return Err(CliError::user(format!(
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
            return Err(CliError::user(format!(
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
