//! The MPI side of `execution.mode: mpi` (see the module docs in `mod.rs`).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trialflow_core::engine::TrialSource;
use trialflow_core::engine::{MpiWorld, RunScope};
use trialflow_core::{run_pipeline, ErrorClass};
use trialflow_hdf5::{ContainerPath, SpyWriter, WriteMode, WriterOptions};

use crate::error::PipelineError;
use crate::run::{outcome, with_resume_hint};
use crate::{CheckedPipeline, RunOptions, RunOutcome};

/// Rank r -> 0: this rank's shard finished (`{"ok": true}`) or failed (with the error).
const TAG_STATUS: i32 = 1;
/// 0 -> r: stop before the next task (another rank failed).
const TAG_STOP: i32 = 2;
/// 0 -> r: the run's outcome, after the merge.
const TAG_FINAL: i32 = 3;

/// How often the coordinating thread looks for messages and for its shard's end.
const POLL: Duration = Duration::from_millis(10);

pub fn run_mpi(
    mut config: CheckedPipeline,
    mut reader: Box<dyn TrialSource>,
    options: &RunOptions<'_>,
    input_bytes: u64,
) -> Result<RunOutcome, PipelineError> {
    // This thread is the only one that calls MPI; the shard runs on a worker thread.
    let world = MpiWorld::init().map_err(|e| PipelineError::runtime(e.to_string()))?;
    let (rank, size) = (world.rank(), world.size());
    let container = ContainerPath::new(&config.output)?;
    let cancel = Arc::new(AtomicBool::new(false));
    config.pipeline.execution.scope = RunScope::Shard {
        index: rank,
        count: size,
    };
    config.pipeline.execution.cancel = Some(Arc::clone(&cancel));
    let overwrite = options.overwrite || config.overwrite;
    let resume = options.resume;

    // This rank's shard runs on a worker thread; this thread is the only one calling MPI.
    let shard_result: Result<usize, PipelineError> = std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel();
        let pipeline = &config.pipeline;
        let output = config.output.clone();
        let reader = &mut reader;
        scope.spawn(move || {
            let outcome = (|| -> Result<usize, PipelineError> {
                let mode = WriteMode::Shard {
                    index: rank,
                    count: size,
                    resume,
                };
                let options = WriterOptions {
                    overwrite,
                    mode,
                    durable: true,
                };
                let mut writer = SpyWriter::create(&output, options)?;
                let report = run_pipeline(pipeline, reader.as_mut(), &mut writer, None)
                    .map_err(|e| with_resume_hint(e, &writer))?;
                Ok(report.tasks)
            })();
            let _ = done_tx.send(outcome);
        });
        coordinate(&world, rank, size, &cancel, &done_rx)
    });

    if rank != 0 {
        // Wait for rank 0's verdict, so every rank exits with the run's status.
        let verdict = world.receive_bytes(0, TAG_FINAL);
        let ok = serde_json::from_slice::<Value>(&verdict)
            .ok()
            .and_then(|v| v["ok"].as_bool())
            .unwrap_or(false);
        drop(world);
        std::process::exit(if ok { 0 } else { 1 });
    }

    // Rank 0 reports a failure before releasing the other ranks: once one of them exits
    // non-zero, mpirun may kill rank 0 before it has printed anything.
    let fail = |world: MpiWorld, e: PipelineError| -> ! {
        let _ = writeln!(std::io::stderr(), "error: {e}");
        release(&world, false);
        let code = e.exit_code();
        drop(world);
        std::process::exit(code)
    };
    if let Err(e) = shard_result {
        fail(world, e);
    }

    // Every shard is done: rank 0 assembles the output.
    config.pipeline.execution.scope = RunScope::Merge;
    config.pipeline.execution.cancel = None;
    let merged = (|| -> Result<_, PipelineError> {
        let options = WriterOptions {
            overwrite,
            mode: WriteMode::Merge,
            durable: true,
        };
        let mut writer = SpyWriter::create(&config.output, options)?;
        run_pipeline(&config.pipeline, reader.as_mut(), &mut writer, None)
            .map_err(|e| with_resume_hint(e, &writer))
    })();
    let report = match merged {
        Ok(report) => report,
        Err(e) => fail(world, e),
    };
    release(&world, true);
    let mut outcome = outcome(report, &container, input_bytes, None);
    outcome.mpi_ranks = Some(size);
    Ok(outcome)
}

/// Rank 0 tells every other rank the run's verdict, which they exit with.
fn release(world: &MpiWorld, ok: bool) {
    let verdict = json!({ "ok": ok }).to_string();
    for r in 1..world.size() {
        world.send_bytes(r, TAG_FINAL, verdict.as_bytes());
    }
}

/// One rank's status report.
fn status_message(outcome: &Result<usize, PipelineError>) -> Vec<u8> {
    match outcome {
        Ok(tasks) => json!({ "ok": true, "tasks": tasks }),
        Err(e) => json!({
            "ok": false,
            "message": e.message,
            "user": e.class == ErrorClass::User,
            "stopped": e.message.starts_with("stopped:"),
        }),
    }
    .to_string()
    .into_bytes()
}

/// Polls until this rank's shard ends. On rank 0, also collects every rank's status and, at
/// the first failure anywhere, tells every rank to stop; returns the run's outcome (the
/// first real failure, by rank, if any). On other ranks, reports the status to rank 0.
fn coordinate(
    world: &MpiWorld,
    rank: usize,
    size: usize,
    cancel: &AtomicBool,
    done: &mpsc::Receiver<Result<usize, PipelineError>>,
) -> Result<usize, PipelineError> {
    let mut own: Option<Result<usize, PipelineError>> = None;
    let mut reports: Vec<Option<Value>> = vec![None; size];
    let mut stopped = false;
    loop {
        if own.is_none() {
            if let Ok(outcome) = done.try_recv() {
                if rank == 0 {
                    reports[0] = serde_json::from_slice(&status_message(&outcome)).ok();
                } else {
                    world.send_bytes(0, TAG_STATUS, &status_message(&outcome));
                }
                own = Some(outcome);
            }
        }
        if rank != 0 {
            if world.probe(Some(0), TAG_STOP).is_some() {
                let _ = world.receive_bytes(0, TAG_STOP);
                cancel.store(true, Ordering::SeqCst);
            }
            if let Some(outcome) = own.take() {
                return outcome;
            }
        } else {
            while let Some(from) = world.probe(None, TAG_STATUS) {
                let bytes = world.receive_bytes(from, TAG_STATUS);
                reports[from] = serde_json::from_slice(&bytes).ok();
            }
            let failed = reports
                .iter()
                .any(|r| r.as_ref().is_some_and(|r| r["ok"] == false));
            if failed && !stopped {
                stopped = true;
                cancel.store(true, Ordering::SeqCst);
                for (r, report) in reports.iter().enumerate().skip(1) {
                    if report.is_none() {
                        world.send_bytes(r, TAG_STOP, &[0u8]);
                    }
                }
            }
            if own.is_some() && reports.iter().all(Option::is_some) {
                return verdict(&reports, size);
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The run's outcome from every rank's report: the first real failure (not a rank that was
/// only stopped because of it), named with its rank.
fn verdict(reports: &[Option<Value>], size: usize) -> Result<usize, PipelineError> {
    let failures: Vec<(usize, &Value)> = reports
        .iter()
        .enumerate()
        .filter_map(|(r, v)| v.as_ref().map(|v| (r, v)))
        .filter(|(_, v)| v["ok"] == false)
        .collect();
    let first = failures
        .iter()
        .find(|(_, v)| v["stopped"] != true)
        .or(failures.first());
    match first {
        None => Ok(reports
            .iter()
            .filter_map(|r| r.as_ref()?["tasks"].as_u64())
            .sum::<u64>() as usize),
        Some((r, v)) => {
            let message = format!(
                "MPI rank {r} of {size}: {}",
                v["message"].as_str().unwrap_or("failed")
            );
            Err(if v["user"] == true {
                PipelineError::user(message)
            } else {
                PipelineError::runtime(message)
            })
        }
    }
}
