//! `trialflow run`: loads the pipeline, prints the plan when asked, shows a progress bar and
//! the one-line summary. The work is `trialflow_pipeline::PreparedRun`'s.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trialflow_core::error::Bytes;
use trialflow_pipeline::{
    load_pipeline, PipelineError, PlanSummary, PreparedRun, Registry, RunOptions, RunOutcome,
};

use crate::args::RunArgs;

/// Runs the pipeline; `None` for a dry run.
pub fn run(args: &RunArgs, registry: &Registry) -> Result<Option<RunOutcome>, PipelineError> {
    let config = load_pipeline(&args.pipeline, &args.set, registry)?;
    let prepared = PreparedRun::new(config, args.shard)?;
    if args.verbose || args.dry_run {
        print_plan(prepared.summary());
    }
    if args.dry_run {
        prepared
            .summary()
            .memory
            .check(prepared.config().pipeline.execution.mem_thresh)?;
        crate::say!("dry run: the pipeline is valid for this input; nothing was computed");
        return Ok(None);
    }

    // Only a bar someone sees is fed: a hidden one still takes a lock and does arithmetic
    // per task, 1% of a run of 200 000 tiny tasks.
    let bar = (std::io::stderr().is_terminal() && !args.quiet).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tasks ({eta})",
            )
            .expect("static template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let options = RunOptions {
        overwrite: args.overwrite,
        resume: args.resume,
        progress: bar
            .as_ref()
            .map(|_| &progress as &(dyn Fn(usize, usize) + Sync)),
    };
    let outcome = prepared.execute(&options);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    if !args.quiet {
        print_summary(args, &outcome);
    }
    print_warnings(args, &outcome);
    Ok(Some(outcome))
}

fn print_plan(plan: &PlanSummary) {
    crate::say!(
        "input {}: {} trials x {} channels, {} Hz, {}",
        plan.input.display(),
        plan.trials,
        plan.channels,
        plan.samplerate,
        plan.input_dtype.numpy_name()
    );
    crate::say!(
        "plan: {} steps, {} tasks, {} worker(s), estimated peak memory {} ({} per task x {} in flight)",
        plan.steps,
        plan.tasks,
        plan.workers,
        Bytes(plan.memory.total()),
        Bytes(plan.memory.per_task),
        plan.memory.concurrent_tasks
    );
    for object in &plan.saves {
        crate::say!(
            "  saves step {} as {}: {} {:?} {}",
            object.step + 1,
            object.file_name,
            object.kind.class_name(),
            object.shape,
            object.dtype.numpy_name()
        );
    }
}

fn print_summary(args: &RunArgs, outcome: &RunOutcome) {
    let report = &outcome.report;
    let secs = report.elapsed.as_secs_f64();
    if let Some((index, count)) = outcome.shard {
        crate::say!(
            "shard {index}/{count}: {} tasks done in {secs:.2} s; the output appears after `trialflow merge {}` once every shard is done",
            report.tasks,
            args.pipeline.display()
        );
        return;
    }
    if let Some(from) = report.resumed_from {
        crate::say!("resumed an interrupted run after its first {from} tasks");
    }
    if let Some(ranks) = outcome.mpi_ranks {
        crate::say!(
            "wrote {} ({}) : {} trials on {ranks} MPI ranks",
            outcome.container.display(),
            outcome.saved_files.join(", "),
            report.trials,
        );
        return;
    }
    crate::say!(
        "wrote {} ({}) : {} trials, {} tasks, {} worker(s), {:.2} s, {:.1} MB/s of input",
        outcome.container.display(),
        outcome.saved_files.join(", "),
        report.trials,
        report.tasks,
        report.workers,
        secs,
        outcome.input_bytes as f64 / 1e6 / secs.max(1e-9)
    );
}

fn print_warnings(args: &RunArgs, outcome: &RunOutcome) {
    let warnings = &outcome.report.warnings;
    if warnings.is_empty() {
        return;
    }
    if args.verbose {
        for w in warnings {
            crate::say!("warning: {w}");
        }
    } else if !args.quiet {
        crate::say!(
            "{} warning(s) from routines; they are in the results' _log (or rerun with -v)",
            warnings.len()
        );
    }
}
