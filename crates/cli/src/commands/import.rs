//! `trialflow import`: an NWB series as Syncopy AnalogData (`trialflow_pipeline::import`).

use std::path::Path;

use trialflow_core::{DType, ExecutionOptions};
use trialflow_hdf5::nwb::Scale;
use trialflow_pipeline::{ImportRequest, InputSpec, PipelineError, RunOptions, TrialsSection};

use crate::args::{DTypeArg, ImportArgs};

pub fn import(args: &ImportArgs) -> Result<(), PipelineError> {
    let scale = match args.scale.as_str() {
        "unit" => Scale::Unit,
        "raw" => Scale::Raw,
        other => {
            return Err(PipelineError::user(format!(
                "--scale: expected unit or raw, got '{other}'"
            )))
        }
    };
    let trials = if args.trials.is_empty() {
        None
    } else {
        Some(TrialsSection::from_pairs(&args.trials, Path::new("."))?)
    };
    let request = ImportRequest {
        input: InputSpec {
            path: args.input.clone(),
            series: args.series.clone(),
            scale,
            channel_labels: args.channel_labels.clone(),
        },
        trials,
        output: args.out.clone(),
        dtype: args.dtype.map(|d| match d {
            DTypeArg::F32 => DType::Float32,
            DTypeArg::F64 => DType::Float64,
        }),
        // One contiguous dataset: what Syncopy itself writes, and the simplest file to share.
        execution: ExecutionOptions {
            parallel_store: Some(false),
            ..ExecutionOptions::default()
        },
    };
    let outcome = trialflow_pipeline::import(
        request,
        &RunOptions {
            overwrite: args.overwrite,
            ..RunOptions::default()
        },
    )?;
    if !args.quiet {
        crate::say!(
            "imported {} into {} ({}): {} trials",
            args.input.display(),
            outcome.container.display(),
            outcome.saved_files.join(", "),
            outcome.report.trials
        );
    }
    Ok(())
}
