use std::collections::BTreeMap;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use crate::error::Result;
use crate::model::{EventBlock, EventColumnKind};

use super::prepare::PreparedPipeline;
use super::sink::{ObjectId, ResultSink};
use super::worker::{Pools, SavedOutput, TaskResult};

/// The writer's logic: accepts task results in any order and applies them strictly in task
/// order, which makes averaging (`keeptrials: false`) and event ordering independent of how
/// tasks were scheduled, and means the completed tasks are always a prefix.
pub(crate) struct Collector<'a> {
    prepared: &'a PreparedPipeline,
    sink: &'a mut dyn ResultSink,
    ids: Vec<ObjectId>,
    next: usize,
    pending: BTreeMap<usize, TaskResult>,
    /// Running sums per object when averaging over trials.
    sums: Vec<Option<ArrayD<f64>>>,
    /// Events of the current trial per object, gathered across channel groups.
    trial_events: Vec<EventBlock>,
    progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// Kernel warnings (step index, message), in task order.
    warnings: Vec<(usize, String)>,
}

impl<'a> Collector<'a> {
    pub fn new(
        prepared: &'a PreparedPipeline,
        sink: &'a mut dyn ResultSink,
        ids: Vec<ObjectId>,
        progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    ) -> Self {
        let sums = prepared
            .objects
            .iter()
            .map(|o| {
                (!prepared.keeptrials).then(|| {
                    let mut shape = o.schema.trial_shapes[0].clone();
                    if o.schema.dtype.is_complex() {
                        shape.push(2);
                    }
                    ArrayD::zeros(IxDyn(&shape))
                })
            })
            .collect();
        let trial_events = prepared
            .objects
            .iter()
            .map(|o| EventBlock::with_columns(o.schema.event_columns.len()))
            .collect();
        Collector {
            prepared,
            sink,
            ids,
            next: 0,
            pending: BTreeMap::new(),
            sums,
            trial_events,
            progress,
            warnings: Vec::new(),
        }
    }

    /// Number of tasks applied so far (always a prefix of task order).
    pub fn completed(&self) -> usize {
        self.next
    }

    /// Accepts one result and applies every result that is now next in order. Returns how
    /// many tasks were applied, so the caller can release that many in-flight slots.
    pub fn accept(&mut self, result: TaskResult, pools: &Pools) -> Result<usize> {
        self.pending.insert(result.task, result);
        let mut applied = 0;
        while let Some(result) = self.pending.remove(&self.next) {
            self.apply(result, pools)?;
            self.next += 1;
            applied += 1;
            if let Some(progress) = self.progress {
                progress(self.next, self.prepared.tasks.len());
            }
        }
        Ok(applied)
    }

    /// Kernel warnings collected so far, in task order.
    pub fn take_warnings(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.warnings)
    }

    fn apply(&mut self, result: TaskResult, pools: &Pools) -> Result<()> {
        self.warnings.extend(result.warnings);
        let task = &self.prepared.tasks[result.task];
        for (obj, output) in result.outputs.into_iter().enumerate() {
            let id = self.ids[obj];
            match output {
                SavedOutput::Dense { data, shape } => {
                    let block =
                        ArrayViewD::from_shape(shape, &data[..]).expect("block matches its shape");
                    if let Some(sum) = &mut self.sums[obj] {
                        let channels = self.prepared.objects[obj].schema.trial_shapes[0].len() - 1;
                        let last = Axis(channels);
                        let mut target =
                            sum.slice_axis_mut(last, Slice::from(task.channels.clone()));
                        target += &block;
                    } else {
                        let placement = &self.prepared.objects[obj].placements[result.task];
                        self.sink.write_dense(id, placement, block)?;
                    }
                    pools.dense.give(data);
                }
                SavedOutput::Events(events) => {
                    let gathered = &mut self.trial_events[obj];
                    gathered.extend_from(&events);
                    pools.events.give(events);
                    if task.group + 1 == task.n_groups {
                        let step = &self.prepared.steps[self.prepared.object_steps[obj]];
                        let start = step.input.trialdefinition.start(task.trial) as i64;
                        shift_into_recording(gathered, &step.output.event_columns, start);
                        gathered.sort_rows();
                        self.sink.append_events(id, task.trial, gathered)?;
                        gathered.clear();
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the averages (when averaging). Call once every task has been accepted.
    pub fn finish(&mut self) -> Result<()> {
        let n_trials = self.prepared.steps[0].input.n_trials() as f64;
        for obj in 0..self.sums.len() {
            if let Some(sum) = self.sums[obj].take() {
                let mean = sum / n_trials;
                let placement = &self.prepared.objects[obj].placements[0];
                self.sink
                    .write_dense(self.ids[obj], placement, mean.view())?;
            }
        }
        Ok(())
    }
}

/// Moves within-trial sample indices into the recording's sample space.
fn shift_into_recording(
    events: &mut EventBlock,
    columns: &[crate::model::EventColumn],
    start: i64,
) {
    for s in &mut events.sample {
        *s += start;
    }
    for (col, values) in columns.iter().zip(&mut events.columns) {
        if matches!(
            col.kind,
            EventColumnKind::SampleIndex | EventColumnKind::SamplePosition
        ) {
            for v in values.iter_mut() {
                *v += start as f64;
            }
        }
    }
}
