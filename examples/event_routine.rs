//! A routine that reads events: `spike_count` counts each trial's events per channel, on a
//! SpikeData input file or on the events of the step before it (`find_peaks`). It shows the
//! event side of `TrialInput` (`input.events`, `input.trial_len`) in a whole binary, so
//! every mode of the CLI (`run`, `--resume`, `--shard` + `merge`, MPI) comes with it.
//!
//! ```sh
//! cargo run --example event_routine -- generate in.spy
//! cat > count.yaml <<EOF
//! input: in.spy
//! output: counts.spy
//! steps:
//!   - routine: find_peaks
//!     height: 1.0
//!   - routine: spike_count
//! EOF
//! cargo run --example event_routine -- run count.yaml
//! ```
//!
//! `docs/writing-a-routine.md` ("Routines on events") explains the contract.

use std::sync::Arc;

use serde::Deserialize;
use trialflow::prelude::*;

/// Per trial and channel: the number of events, and the sum of their samples relative to
/// the trial start (which shows that every mode hands a kernel the same events, in the same
/// sample space). Output: AnalogData of two rows per trial, `[count, sample sum]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeCount;

/// `spike_count` takes no parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeCountParams {}

impl ComputationalRoutine for SpikeCount {
    fn name(&self) -> &str {
        "spike_count"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    /// Events only: a dense input is refused before anything runs, naming both kinds.
    fn input_kind(&self) -> DataKind {
        DataKind::Spike
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let shape = vec![2, input.n_channels()];
        Ok(OutputShape::dense(
            DataKind::Analog,
            vec![shape; input.n_trials()],
        ))
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(*self))
    }
}

impl Kernel for SpikeCount {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let events = input
            .events
            .expect("spike_count takes SpikeData, so the engine hands it events");
        let mut out = output.samples_mut();
        out.fill(0.0);
        // A channel group sees only its own channels' events; column 0 is its first channel.
        let first = input.channels.start as i64;
        for (&sample, &channel) in events.sample.iter().zip(&events.channel) {
            if sample < 0 || sample >= input.trial_len as i64 {
                return Err(RoutineError::failed(format!(
                    "an event at sample {sample} lies outside the trial's {} samples",
                    input.trial_len
                )));
            }
            let c = (channel - first) as usize;
            out[[0, c]] += 1.0;
            out[[1, c]] += sample as f64;
        }
        Ok(())
    }
}

impl Registrable for SpikeCount {
    type Params = SpikeCountParams;

    fn doc() -> RoutineDoc {
        RoutineDoc {
            name: "spike_count",
            summary: "Count each trial's events per channel (and sum their samples).",
            matches: "numpy.bincount(channel) per trial",
            input: DataKind::Spike,
            output: DataKind::Analog,
            params: &[],
            example: "- routine: spike_count",
        }
    }

    fn from_params(_params: SpikeCountParams) -> Result<SpikeCount, RoutineError> {
        Ok(SpikeCount)
    }
}

fn main() {
    trialflow::cli::main_with(Registry::builtin().with::<SpikeCount>())
}
