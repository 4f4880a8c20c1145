use std::path::Path;
use std::time::Instant;

use trialflow_core::DType;
use trialflow_hdf5::inspect_path;

use trialflow_pipeline::{generate_recording, GenerateOptions, PipelineError, Registry};
use trialflow_plot::PlotRequest;

use trialflow_pipeline::RunOutcome;

use crate::args::RunArgs;

/// The demo pipeline, written next to its results so users can edit and rerun it: the
/// recording's transient events are found on the smoothed traces.
const DEMO_PIPELINE: &str = "\
# The trialflow demo pipeline: rerun it with `trialflow run pipeline.yaml --overwrite`.
input: recording.spy/recording_raw.analog
output: results.spy
execution:
  mode: parallel        # sequential | parallel | debug
  workers: null         # null = all cores
  chan_per_worker: null
  keeptrials: true
  mem_thresh: 0.5
steps:
  - routine: detrend
    type: linear
    name: detrended
    save: true
  - routine: gaussian
    sigma: 2            # samples
    name: smoothed
    save: true
  - routine: find_peaks   # the transient events: narrow, and prominent within 25 samples
    prominence: 1.5
    wlen: 25
    width: [null, 10]
    name: peaks
";

/// The spectrum of the detrended traces: the generated 8-12 Hz oscillations show as peaks.
const SPECTRUM_PIPELINE: &str = "\
# The demo's spectrum: rerun it with `trialflow run spectrum-pipeline.yaml --overwrite`.
input: results.spy/results_detrended.analog
output: spectrum.spy
steps:
  - routine: mtmfft
    taper: hann
    output: pow
    name: spectrum
";

/// Generates a recording, runs the demo pipeline over it and prints what came out where.
pub fn demo(dir: &Path, trials: usize, registry: &Registry) -> Result<(), PipelineError> {
    if trials == 0 {
        return Err(PipelineError::user("--trials must be at least 1"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| PipelineError::user(format!("{}: cannot be created: {e}", dir.display())))?;
    let started = Instant::now();
    let recording = generate_recording(
        &dir.join("recording.spy"),
        &GenerateOptions {
            trials,
            samples: 2000,
            channels: 16,
            samplerate: 1000.0,
            seed: 1,
            dtype: DType::Float32,
            unequal: true,
            overwrite: true,
        },
    )?;
    crate::out!(
        "generated {} ({} trials x ~2000 samples x 16 channels, float32) in {:.2} s",
        recording.display(),
        trials,
        started.elapsed().as_secs_f64()
    );
    let pipeline = dir.join("pipeline.yaml");
    std::fs::write(&pipeline, DEMO_PIPELINE)
        .map_err(|e| PipelineError::runtime(format!("{}: {e}", pipeline.display())))?;
    crate::out!(
        "pipeline  {}: detrend (saved as 'detrended') -> gaussian (saved as 'smoothed') -> find_peaks ('peaks')",
        pipeline.display()
    );
    let outcome = run_quietly(&pipeline, registry)?;
    let secs = outcome.report.elapsed.as_secs_f64();
    crate::out!(
        "ran       {} tasks on {} worker(s) in {:.2} s ({:.1} MB/s of input)",
        outcome.report.tasks,
        outcome.report.workers,
        secs,
        outcome.input_bytes as f64 / 1e6 / secs.max(1e-9)
    );
    print_objects(&outcome.container)?;
    let spectrum_pipeline = dir.join("spectrum-pipeline.yaml");
    std::fs::write(&spectrum_pipeline, SPECTRUM_PIPELINE)
        .map_err(|e| PipelineError::runtime(format!("{}: {e}", spectrum_pipeline.display())))?;
    crate::out!(
        "pipeline  {}: mtmfft of the detrended traces (saved as 'spectrum')",
        spectrum_pipeline.display()
    );
    let spectrum = run_quietly(&spectrum_pipeline, registry)?;
    print_objects(&spectrum.container)?;
    figures(dir, &outcome.container, &spectrum.container)?;
    nwb_demo(dir, registry)?;
    crate::out!(
        "next      trialflow info {} | trialflow routines | edit {} and rerun it",
        outcome.container.display(),
        pipeline.display()
    );
    Ok(())
}

/// A real NWB file (written by pynwb: `fixtures/nwb/make_nwb.py`), embedded so the demo
/// needs nothing but the binary: a 6 s session with an int16 ElectricalSeries in gzip
/// chunks, scaled by `conversion`, `channel_conversion` and `offset`, and a trials table.
const DEMO_NWB: &[u8] = include_bytes!("../../../../fixtures/nwb/session.nwb");

/// The NWB half of the demo: trials cut around the stimulus from the trials table, one
/// condition selected, and a spectrum of each trial.
const NWB_PIPELINE: &str = "\
# An NWB session in: rerun it with `trialflow run nwb-pipeline.yaml --overwrite`.
input: {path: session.nwb, series: raw}   # int16 in gzip chunks, read in volts
trials: {table: trials, align: stim_on_time, pre: 0.1, post: 0.4}
select: {where: condition == 1}
output: session-spectra.spy
steps:
  - routine: detrend
  - routine: mtmfft
    taper: hann
    output: pow
    name: spectrum
";

fn nwb_demo(dir: &Path, registry: &Registry) -> Result<(), PipelineError> {
    let nwb = dir.join("session.nwb");
    std::fs::write(&nwb, DEMO_NWB)
        .map_err(|e| PipelineError::runtime(format!("{}: {e}", nwb.display())))?;
    crate::out!(
        "nwb       {}: a pynwb-written session (trialflow info {} lists its series and tables)",
        nwb.display(),
        nwb.display()
    );
    let pipeline = dir.join("nwb-pipeline.yaml");
    std::fs::write(&pipeline, NWB_PIPELINE)
        .map_err(|e| PipelineError::runtime(format!("{}: {e}", pipeline.display())))?;
    crate::out!(
        "pipeline  {}: trials around stim_on_time from the trials table, condition 1 only, detrend -> mtmfft",
        pipeline.display()
    );
    let outcome = run_quietly(&pipeline, registry)?;
    print_objects(&outcome.container)?;
    Ok(())
}

/// Runs a demo pipeline without progress output.
fn run_quietly(pipeline: &Path, registry: &Registry) -> Result<RunOutcome, PipelineError> {
    super::run::run(
        &RunArgs {
            pipeline: pipeline.to_path_buf(),
            set: Vec::new(),
            overwrite: true,
            dry_run: false,
            verbose: false,
            quiet: true,
            resume: false,
            shard: None,
        },
        registry,
    )?
    .ok_or_else(|| {
        PipelineError::runtime(format!(
            "{}: the demo run computed nothing",
            pipeline.display()
        ))
    })
}

fn print_objects(container: &Path) -> Result<(), PipelineError> {
    for o in inspect_path(container)? {
        crate::out!(
            "wrote     {}: {} {} {:?}, {} trials{}",
            o.path.display(),
            o.class,
            o.dtype,
            o.shape,
            o.trials.len(),
            if o.is_virtual {
                " (virtual dataset)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The demo's pictures: the spectrum of the first five channels (one oscillation each, 8 to
/// 12 Hz) and the first trial's smoothed traces with the detected peaks marked.
fn figures(dir: &Path, results: &Path, spectrum: &Path) -> Result<(), PipelineError> {
    let folder = dir.join("figures");
    std::fs::create_dir_all(&folder).map_err(|e| {
        PipelineError::runtime(format!("{}: cannot be created: {e}", folder.display()))
    })?;
    let mut spectrum_figure = PlotRequest::new(
        spectrum.join("spectrum_spectrum.spectral"),
        folder.join("spectrum.png"),
    );
    spectrum_figure.channels = Some("0-4".into());
    spectrum_figure.foilim = Some((1.0, 45.0));
    let mut traces = PlotRequest::new(
        results.join("results_smoothed.analog"),
        folder.join("trial0-peaks.png"),
    );
    traces.trials = Some("0".into());
    traces.channels = Some("0-3".into());
    traces.overlay = Some(results.join("results_peaks.spike"));
    for (request, what) in [
        (
            &spectrum_figure,
            "the spectrum, mean ± SEM over trials, channels 0-4 (8-12 Hz peaks)",
        ),
        (
            &traces,
            "trial 0's smoothed traces, channels 0-3, with the detected peaks",
        ),
    ] {
        trialflow_plot::plot(request).map_err(super::plot::to_pipeline)?;
        crate::out!("figure    {}: {what}", request.output.display());
    }
    Ok(())
}
