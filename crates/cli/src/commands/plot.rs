//! `trialflow plot`: one figure of one object.

use trialflow_pipeline::PipelineError;
use trialflow_plot::{parse_size, PlotError, PlotRequest};

use crate::args::PlotArgs;

pub fn plot(args: &PlotArgs) -> Result<(), PipelineError> {
    let request = request(args).map_err(to_pipeline)?;
    trialflow_plot::plot(&request).map_err(to_pipeline)?;
    crate::out!("wrote {}", request.output.display());
    Ok(())
}

fn request(args: &PlotArgs) -> Result<PlotRequest, PlotError> {
    let mut r = PlotRequest::new(args.input.clone(), args.output.clone());
    r.trials = args.trials.clone();
    r.channels = args.channels.clone();
    r.latency = args.latency.as_deref().map(|v| (v[0], v[1]));
    r.foilim = args.foilim.as_deref().map(|v| (v[0], v[1]));
    r.overlay = args.overlay.clone();
    r.log = args.log;
    if let Some(size) = &args.size {
        r.size = parse_size(size)?;
    }
    Ok(r)
}

pub(super) fn to_pipeline(e: PlotError) -> PipelineError {
    PipelineError {
        class: e.class(),
        message: e.to_string(),
    }
}
