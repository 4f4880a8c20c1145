use std::sync::Arc;

use ndarray::{s, Ix2};
use serde::Deserialize;
use trialflow_core::routine::{ReducedState, TrialReduction};
use trialflow_core::{
    ComputationalRoutine, DataKind, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, TrialDefinition, TrialInput,
};

use super::latency::{covers, Latency, LatencyParam};
use super::psth::{bin_edges, time_axis, trial_histogram, BinSize, PsthOutput, TrialSpan};
use super::timelock_kernel::finish;
use super::StatisticsError;

const NAME: &str = "psth";

/// `binsize` as written: seconds, or one of Syncopy's rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum BinSizeParam {
    Seconds(f64),
    Rule(String),
}

/// Unchecked parameters of `psth`, Syncopy's `spike_psth`: `binsize` (seconds, or `rice`
/// (default) or `sqrt`), `output` (`rate` (default), `spikecount`, `proportion`), `latency`
/// (as `timelock`'s), `vartriallen` (default true: every trial, NaN where one does not
/// reach; false: only the trials covering the window) and `keeptrials` (default true, as
/// Syncopy: `data` holds each trial's histogram; false: the trial average alone).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsthParams {
    pub binsize: Option<BinSizeParam>,
    pub output: Option<String>,
    pub latency: Option<LatencyParam>,
    pub vartriallen: Option<bool>,
    pub keeptrials: Option<bool>,
}

impl PsthParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn binsize(mut self, seconds: f64) -> Self {
        self.binsize = Some(BinSizeParam::Seconds(seconds));
        self
    }

    pub fn output(mut self, output: &str) -> Self {
        self.output = Some(output.to_string());
        self
    }

    pub fn latency(mut self, t0: f64, t1: f64) -> Self {
        self.latency = Some(LatencyParam::Window([t0, t1]));
        self
    }

    pub fn vartriallen(mut self, on: bool) -> Self {
        self.vartriallen = Some(on);
        self
    }

    pub fn keeptrials(mut self, keep: bool) -> Self {
        self.keeptrials = Some(keep);
        self
    }

    pub fn check(self) -> Result<Psth, StatisticsError> {
        let binsize = match self.binsize {
            None => BinSize::Rice,
            Some(BinSizeParam::Seconds(b)) => BinSize::Seconds(b),
            Some(BinSizeParam::Rule(r)) => match r.as_str() {
                "rice" => BinSize::Rice,
                "sqrt" => BinSize::Sqrt,
                _ => {
                    return Err(StatisticsError::BadPsthParam {
                        key: "binsize",
                        got: r,
                        legal: "a width in seconds, rice or sqrt",
                    })
                }
            },
        };
        let output = match self.output {
            None => PsthOutput::Rate,
            Some(o) => PsthOutput::parse(&o).ok_or(StatisticsError::BadPsthParam {
                key: "output",
                got: o,
                legal: "rate, spikecount or proportion",
            })?,
        };
        Ok(Psth {
            binsize,
            output,
            latency: Latency::check(self.latency, NAME)?,
            vartriallen: self.vartriallen.unwrap_or(true),
            keeptrials: self.keeptrials.unwrap_or(true),
        })
    }
}

/// Syncopy 2023.9's `spike_psth` on SpikeData (a SpikeData input, or `find_peaks` before
/// it): per trial a histogram of the events' times relative to the trigger, one column per
/// (channel, unit), normalised as `output` says and NaN in the bins a trial does not reach
/// (`psth.rs`); then the mean and variance (ddof 0, NaN propagating) over the trials.
/// TimeLockData out, on the bins' time axis (samplerate `1 / bin step`, offset
/// `rint(first bin centre * samplerate)`):
///
/// - `keeptrials: true` (the default, as Syncopy): `data` holds one histogram per counted
///   trial (trials left out by `vartriallen: false` write zero rows, which the writer
///   drops), with Syncopy's trial definition `[k B, (k + 1) B, offset]`; the storage writer
///   computes `avg` and `var` from them at finalize (`storage/src/writer/timelock.rs`).
/// - `keeptrials: false`: a trial reduction (bitwise the same in every mode) whose one
///   trial is the average; `data` and `avg` the mean, `var` the variance. (Syncopy 2023.9
///   leaves `data` empty here.)
///
/// Columns: every (channel, unit) of the input's labels, `channel{c}_unit{u}` as Syncopy
/// names them, also those without an event (Syncopy keeps only the pairs with events; the
/// output shape here is decided before any event is read).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Psth {
    binsize: BinSize,
    output: PsthOutput,
    latency: Latency,
    vartriallen: bool,
    keeptrials: bool,
}

/// What the dry run decides from the trial definition: the window, which trials count and
/// the bin edges.
struct PsthLayout {
    edges: Vec<f64>,
    counts: Vec<bool>,
    units: usize,
}

impl Psth {
    fn layout(&self, input: &DataSchema) -> Result<PsthLayout, StatisticsError> {
        let def = &input.trialdefinition;
        let rate = input.samplerate;
        let window = self.latency.window(def, rate, NAME)?;
        let counts: Vec<bool> = (0..def.len())
            .map(|t| self.vartriallen || covers(def, t, rate, window))
            .collect();
        let kept: Vec<usize> = (0..def.len()).filter(|&t| counts[t]).collect();
        if kept.is_empty() {
            return Err(StatisticsError::NoTrialCovers {
                routine: NAME,
                lo: window.0,
                hi: window.1,
            });
        }
        let average =
            kept.iter().map(|&t| def.trial_len(t) as f64).sum::<f64>() / kept.len() as f64;
        Ok(PsthLayout {
            edges: bin_edges(self.binsize, window, average)?,
            counts,
            units: input.units.as_ref().map_or(1, |u| u.len().max(1)),
        })
    }
}

impl ComputationalRoutine for Psth {
    fn name(&self) -> &str {
        NAME
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "binsize": match self.binsize {
                BinSize::Seconds(b) => serde_json::json!(b),
                BinSize::Rice => "rice".into(),
                BinSize::Sqrt => "sqrt".into(),
            },
            "output": match self.output {
                PsthOutput::Rate => "rate",
                PsthOutput::SpikeCount => "spikecount",
                PsthOutput::Proportion => "proportion",
            },
            "latency": self.latency.to_json(),
            "vartriallen": self.vartriallen,
            "keeptrials": self.keeptrials,
        })
    }

    fn input_kind(&self) -> DataKind {
        DataKind::Spike
    }

    /// Columns are (channel, unit) pairs, so a task needs every channel of its trial.
    fn channel_independent(&self) -> bool {
        false
    }

    fn reduction(&self, input: &DataSchema) -> Result<Option<TrialReduction>, RoutineError> {
        if self.keeptrials {
            return Ok(None);
        }
        let l = self.layout(input)?;
        let bins = l.edges.len() - 1;
        Ok(Some(TrialReduction::real(vec![
            1 + 2 * bins,
            input.n_channels() * l.units,
        ])))
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let l = self.layout(input)?;
        let bins = l.edges.len() - 1;
        let columns = input.n_channels() * l.units;
        let shapes = if self.keeptrials {
            l.counts
                .iter()
                .map(|&counts| vec![if counts { bins } else { 0 }, columns])
                .collect()
        } else {
            vec![vec![2 * bins, columns]]
        };
        Ok(OutputShape::dense(DataKind::TimeLock, shapes))
    }

    fn process_metadata(
        &self,
        input: &DataSchema,
        output: &OutputShape,
    ) -> Result<DataSchema, RoutineError> {
        let l = self.layout(input)?;
        let bins = l.edges.len() - 1;
        let (rate, offset) = time_axis(&l.edges);
        let mut schema = input.clone();
        schema.kind = DataKind::TimeLock;
        schema.trial_shapes = output.trial_shapes.clone();
        schema.samplerate = rate;
        schema.trialdefinition = if self.keeptrials {
            let mut at = 0;
            let rows: Vec<(usize, usize, f64)> = l
                .counts
                .iter()
                .map(|&counts| {
                    let len = if counts { bins } else { 0 };
                    at += len;
                    (at - len, at, offset)
                })
                .collect();
            TrialDefinition::from_trials(&rows, &[])
        } else {
            TrialDefinition::from_trials(&[(0, bins, offset)], &[])
        };
        schema.channels = (0..input.n_channels())
            .flat_map(|c| (0..l.units).map(move |u| format!("channel{c}_unit{u}")))
            .collect();
        schema.units = None;
        schema.event_columns = Vec::new();
        Ok(schema)
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let l = self.layout(input)?;
        Ok(Arc::new(PsthKernel {
            edges: l.edges,
            counts: l.counts,
            units: l.units,
            output: self.output,
            keeptrials: self.keeptrials,
        }))
    }

    fn finish_reduction(
        &self,
        state: ReducedState<'_>,
        _n_trials: usize,
        output: &mut OutputBlock<'_>,
    ) -> Result<(), RoutineError> {
        finish(state.real(), output.dense_mut());
        Ok(())
    }
}

/// One trial's histogram (NaN stays NaN, as in Syncopy's sums): with `keeptrials` the
/// trial's output (zero rows for a trial left out); otherwise its contribution, row 0 a 1
/// (0 and all zeros for a trial left out), rows `1..B+1` the histogram, `B+1..2B+1` its
/// squares.
struct PsthKernel {
    edges: Vec<f64>,
    counts: Vec<bool>,
    units: usize,
    output: PsthOutput,
    keeptrials: bool,
}

impl PsthKernel {
    fn histogram(&self, input: &TrialInput<'_>, hist: &mut [f64]) -> Result<(), RoutineError> {
        let events = input.events.ok_or_else(|| {
            RoutineError::failed("psth takes SpikeData, so the engine hands it events")
        })?;
        let first = input.channels.start as i64;
        let units = self.units as i64;
        let spikes = events
            .sample
            .iter()
            .zip(&events.channel)
            .zip(&events.unit)
            .map(|((&s, &c), &u)| (s, ((c - first) * units + u.clamp(0, units - 1)) as usize));
        let span = TrialSpan {
            start: 0.0,
            stop: input.trial_len as f64,
            offset: input.offset,
        };
        trial_histogram(
            spikes,
            span,
            &self.edges,
            self.output,
            input.samplerate,
            hist,
        );
        Ok(())
    }
}

impl Kernel for PsthKernel {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut out = output.dense_mut();
        if self.keeptrials {
            if !self.counts[input.trial] {
                return Ok(());
            }
            let hist = out.as_slice_mut().expect("output blocks are contiguous");
            return self.histogram(input, hist);
        }
        out.fill(0.0);
        if !self.counts[input.trial] {
            return Ok(());
        }
        let mut out = out
            .into_dimensionality::<Ix2>()
            .expect("contributions are 2-D");
        let bins = self.edges.len() - 1;
        out.row_mut(0).fill(1.0);
        {
            let mut hist = out.slice_mut(s![1..bins + 1, ..]);
            let hist = hist
                .as_slice_mut()
                .expect("contribution rows are contiguous");
            self.histogram(input, hist)?;
        }
        let (hist, mut squares) = out.multi_slice_mut((s![1..bins + 1, ..], s![bins + 1.., ..]));
        squares.zip_mut_with(&hist, |q, &h| *q = h * h);
        Ok(())
    }
}
