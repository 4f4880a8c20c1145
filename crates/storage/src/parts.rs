//! Part files of the per-task layout: consecutive tasks' blocks in files
//! `<first>-<last>_<k>of<n>[x<g>].h5` that a virtual dataset joins into the object at the
//! end. Tasks alternate between the lane files `k` in stripes of `g` consecutive tasks.
//! When the part's tasks are whole trials of one trailing shape (`x<g>` in the name), each
//! lane file holds one dataset `blocks`, its tasks' blocks stacked along the rows, and the
//! virtual dataset maps it with a few strided selections (one when the trials are of equal
//! length): the mappings, which HDF5 holds in memory while creating the virtual dataset,
//! then do not grow with the number of trials, and 200 000 tiny trials make a few hundred
//! datasets rather than 200 000. Otherwise (channel groups) every task has a dataset
//! `t<task>` and a mapping of its own, and `g` is 1.
//!
//! A part is planned when it is opened: which tasks it will hold (about 16 MiB or a quarter
//! second of work, ending at a trial boundary) and, since every task's block shape is known
//! from the dry run, all their datasets are created at once, allocated and never filled by
//! HDF5. Their byte offsets are then published to the compute workers (`PartSlots`), which
//! write their blocks straight into the file; the writer thread only records, in task
//! order, that each block is in place. A part is closed once its last planned task is
//! applied, so checkpoints fall between parts and a resumed run finds every covered task in
//! a closed part and nothing else.

use std::fs::File;
use std::path::PathBuf;
use std::sync::RwLock;

use trialflow_core::engine::{BlockSpot, DenseBlock, DirectBlockWriter, TaskPlacement};
use trialflow_core::{DType, Error};

use crate::error::StorageError;
use crate::raw_io::{write_at, write_block, PlainBytes, Writeback};

/// A part holds at most this many bytes of blocks: few files, so creating them costs
/// little, and each closed part is synced to disk in the background while later tasks run.
pub(crate) const PART_BYTES: usize = 16 << 20;

/// A part holds about this much work, so checkpoints (which fall between parts) stay
/// frequent for slow routines.
pub(crate) const PART_SECONDS: f64 = 0.25;

/// Files per part: consecutive tasks alternate between them, so that compute workers
/// writing their blocks at the same moment do not queue on one file (the kernel serialises
/// buffered writes to a file).
pub(crate) const LANES: usize = 2;

/// Tasks smaller than this go to a lane file in stripes of consecutive tasks of about this
/// many bytes, so that blocks next to each other in the output are next to each other in
/// the file (fewer, larger pieces to map and to write back).
pub(crate) const STRIPE_BYTES: usize = 512 << 10;

/// The dataset of a stacked lane file.
pub(crate) const STACKED: &str = "blocks";

/// The name of a closed part file: `<first>-<last>_<k>of<n>.h5` for lane `k` of `n`
/// (tasks `first..=last` with `task % n == k`; without the lane suffix, all of them), one
/// dataset per task; `..._<k>of<n>x<g>.h5` for a stacked lane file with stripes of `g`
/// tasks (tasks with `(task / g) % n == k`). Prefixed `s<I>of<N>-` when a shard wrote
/// it, so a resumed shard touches only its own parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartName {
    pub shard: Option<(usize, usize)>,
    pub first: usize,
    pub last: usize,
    pub lane: Option<(usize, usize)>,
    /// `Some(g)`: the lane's tasks, in stripes of `g`, stacked in one dataset.
    pub stacked: Option<usize>,
}

impl PartName {
    pub fn new(
        shard: Option<(usize, usize)>,
        first: usize,
        last: usize,
        lane: Option<(usize, usize)>,
        stacked: Option<usize>,
    ) -> PartName {
        PartName {
            shard,
            first,
            last,
            lane,
            stacked: stacked.map(|g| g.max(1)),
        }
    }

    pub fn parse(name: &str) -> Option<PartName> {
        let stem = name.strip_suffix(".h5")?;
        let (shard, range) = match stem.strip_prefix('s') {
            Some(rest) => {
                let (shard, range) = rest.split_once('-')?;
                (Some(parse_k_of_n(shard)?), range)
            }
            None => (None, stem),
        };
        let (range, lane, stacked) = match range.split_once('_') {
            Some((range, lane)) => {
                let (lane, stacked) = match lane.split_once('x') {
                    Some((lane, g)) => (lane, Some(g.parse().ok().filter(|&g| g > 0)?)),
                    None => (lane, None),
                };
                (range, Some(parse_k_of_n(lane)?), stacked)
            }
            None => (range, None, None),
        };
        let (first, last) = range.split_once('-')?;
        let (first, last) = (first.parse().ok()?, last.parse().ok()?);
        (first <= last).then_some(PartName {
            shard,
            first,
            last,
            lane,
            stacked,
        })
    }

    /// The tasks this file holds.
    pub fn tasks(&self) -> impl Iterator<Item = usize> + '_ {
        (self.first..=self.last).filter(|&t| self.holds(t))
    }

    fn holds(&self, task: usize) -> bool {
        self.lane
            .is_none_or(|(k, n)| lane_of(task, self.stacked.unwrap_or(1), n) == k)
    }
}

/// The lane (of `lanes`) that task `task` goes to with stripes of `stripe` tasks.
pub(crate) fn lane_of(task: usize, stripe: usize, lanes: usize) -> usize {
    (task / stripe.max(1)) % lanes
}

/// Whether the part `first..=last` is stacked, and in stripes of how many tasks: only if
/// every task is whole trials' rows (all channels, rows following on from the previous
/// task's, the same trailing shape); stripes of about [`STRIPE_BYTES`], at least 1, or of
/// the engine's `handover` when it hands over several tasks at once, so that each worker's
/// batch goes to one lane file (with 81-task stripes and 40-task batches, two workers
/// often wrote one file at once, and queued on its lock: 4% of a tiny-trial run's CPU).
pub(crate) fn plan_stacking(
    placements: &[TaskPlacement],
    first: usize,
    last: usize,
    channels: usize,
    handover: usize,
    bytes: impl Fn(usize) -> usize,
) -> Option<usize> {
    let part = &placements[first..=last];
    let stackable = part.iter().all(|p| {
        p.channels == (0..channels) && p.shape.len() >= 2 && p.shape[1..] == part[0].shape[1..]
    }) && part.windows(2).all(|w| w[0].rows.end == w[1].rows.start);
    if !stackable {
        return None;
    }
    if handover > 1 {
        return Some(handover.min(part.len()));
    }
    let total: usize = (first..=last).map(&bytes).sum();
    let mean = (total / part.len()).max(1);
    Some((STRIPE_BYTES / mean).clamp(1, part.len()))
}

/// A stacked lane's tasks as virtual mappings: `(source rows, destination rows)` where the
/// destination is `count` blocks of `block` rows, `step` rows apart. Consecutive tasks
/// with adjacent rows form one block; equal blocks at an even spacing, one mapping.
/// `tasks` gives the lane's tasks' output rows, in task order.
pub(crate) fn stacked_mappings(
    tasks: impl Iterator<Item = std::ops::Range<usize>>,
) -> Vec<StackedMapping> {
    // Blocks of adjacent rows: (destination start, rows).
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    for rows in tasks {
        if rows.is_empty() {
            continue;
        }
        match blocks.last_mut() {
            Some((start, len)) if *start + *len == rows.start => *len += rows.len(),
            _ => blocks.push((rows.start, rows.len())),
        }
    }
    let mut out: Vec<StackedMapping> = Vec::new();
    let mut source = 0;
    for (start, len) in blocks {
        let last = out.last_mut().filter(|m| m.block == len);
        match last {
            // A second block (never adjacent to the first: those were merged) sets the step.
            Some(m) if m.count == 1 => {
                m.step = start - m.start;
                m.count = 2;
            }
            Some(m) if start == m.start + m.count * m.step => m.count += 1,
            _ => out.push(StackedMapping {
                source,
                start,
                step: len,
                count: 1,
                block: len,
            }),
        }
        source += len;
    }
    out
}

/// Source rows `source..source + count * block` of a stacked lane's dataset go to `count`
/// blocks of `block` rows of the output, the first at `start`, `step` rows apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StackedMapping {
    pub source: usize,
    pub start: usize,
    pub step: usize,
    pub count: usize,
    pub block: usize,
}

fn parse_k_of_n(text: &str) -> Option<(usize, usize)> {
    let (k, n) = text.split_once("of")?;
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k < n).then_some((k, n))
}

impl std::fmt::Display for PartName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((i, n)) = self.shard {
            write!(f, "s{i}of{n}-")?;
        }
        write!(f, "{}-{}", self.first, self.last)?;
        if let Some((k, n)) = self.lane {
            write!(f, "_{k}of{n}")?;
            if let Some(g) = self.stacked {
                write!(f, "x{g}")?;
            }
        }
        write!(f, ".h5")
    }
}

/// Which tasks a part opened at `first` will hold: at least one, then more while the part
/// stays under [`PART_BYTES`] and `max_tasks`, then up to the end of the last one's trial
/// (so the part ends where a checkpoint may fall). `bytes(t)` is what task `t` adds, over
/// every object whose parts are planned together.
pub(crate) fn plan_part(
    placements: &[TaskPlacement],
    first: usize,
    bytes: impl Fn(usize) -> usize,
    max_tasks: usize,
) -> usize {
    let mut last = first;
    let mut total = bytes(first);
    while last + 1 < placements.len()
        && last + 1 - first < max_tasks
        && total + bytes(last + 1) <= PART_BYTES
    {
        last += 1;
        total += bytes(last);
    }
    while last + 1 < placements.len() && placements[last + 1].trial == placements[last].trial {
        last += 1;
    }
    last
}

/// What finalize needs of a stacked lane file this process created: its dataset's extent
/// (for the virtual mappings) and where its values start as plain bytes (for reading
/// them back), so it need not open the file again with HDF5 (each open allocates and
/// fills HDF5's metadata cache: a millisecond per part file of a small run). Files of an
/// earlier process (resumed runs, merges) are opened as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StackedLane {
    pub extent: Vec<usize>,
    /// The byte offset of `blocks`' values in the file, when they are plain contiguous
    /// storage of the object's storage type.
    pub base: Option<u64>,
}

/// An object's open part.
pub(crate) struct OpenPart {
    /// One file per lane, named `<first>-<first>_<k>of<n>[x<g>].h5.partial` until the part
    /// is closed; `None` for a lane the plan gives no task (a part of one task, say), which
    /// would hold nothing: creating it cost as much as creating a lane that holds blocks.
    pub lanes: Vec<Option<(hdf5::File, PathBuf)>>,
    /// Per lane, its stacked dataset as created (`None`: not stacked, or no tasks).
    pub stacked_lanes: Vec<Option<StackedLane>>,
    /// Stacked, in stripes of this many tasks (see [`plan_stacking`]).
    pub stacked: Option<usize>,
    pub first: usize,
    /// The last task planned into this part.
    pub last: usize,
    /// The last task applied so far, in task order.
    pub applied: Option<usize>,
}

impl OpenPart {
    /// Tasks per stripe: which lane a task is in is [`lane_of`]`(task, stripe, lanes)`.
    pub fn stripe(&self) -> usize {
        self.stacked.unwrap_or(1)
    }
}

/// The open part's planned blocks: where each one's values go.
struct PlannedBlocks {
    /// Task `t` is in lane [`lane_of`]`(t, stripe, LANES)` (`None`: a lane without tasks).
    lanes: Vec<Option<(PathBuf, File)>>,
    stripe: usize,
    first: usize,
    /// By task - first; `None` for blocks HDF5 gave no offset for (empty ones).
    offsets: Vec<Option<u64>>,
}

/// Where an object's open part wants each planned block, shared by the writer thread
/// (which plans parts and writes blocks the workers could not) and the compute workers.
pub(crate) struct PartSlots {
    open: RwLock<Option<PlannedBlocks>>,
    /// Whether blocks are stored as f32 numbers (float32, complex64) rather than f64.
    stores_f32: bool,
    writeback: Writeback,
}

impl PartSlots {
    pub fn new(dtype: DType, writeback: Writeback) -> PartSlots {
        PartSlots {
            open: RwLock::new(None),
            stores_f32: matches!(dtype, DType::Float32 | DType::Complex64),
            writeback,
        }
    }

    /// Publishes a newly planned part (`None`: a lane without tasks, which has no file).
    pub fn publish(
        &self,
        paths: &[Option<PathBuf>],
        stripe: usize,
        first: usize,
        offsets: Vec<Option<u64>>,
    ) -> Result<(), StorageError> {
        let lanes = paths
            .iter()
            .map(|path| {
                path.as_ref()
                    .map(|path| {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map(|file| (path.clone(), file))
                            .map_err(|e| StorageError::io(path, e))
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        *self.open.write().unwrap_or_else(|p| p.into_inner()) = Some(PlannedBlocks {
            lanes,
            stripe,
            first,
            offsets,
        });
        Ok(())
    }

    /// Withdraws the open part (it is being closed); waits for writes in progress.
    pub fn withdraw(&self) {
        *self.open.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Writes task `task`'s values (of the stored type) into the open part, if it holds
    /// that task at a known offset.
    pub fn write<T: PlainBytes>(&self, task: usize, values: &[T]) -> Result<bool, StorageError> {
        self.with_target(task, |file, offset| {
            write_at(file, offset, values)?;
            self.writeback.start(file, std::mem::size_of_val(values));
            Ok(true)
        })
    }

    /// Runs `write` on the file and offset of task `task`'s block, if the open part holds
    /// it at a known offset; `Ok(false)` otherwise.
    fn with_target(
        &self,
        task: usize,
        write: impl FnOnce(&File, u64) -> std::io::Result<bool>,
    ) -> Result<bool, StorageError> {
        let open = self.open.read().unwrap_or_else(|p| p.into_inner());
        let Some(planned) = open.as_ref() else {
            return Ok(false);
        };
        let offset = task
            .checked_sub(planned.first)
            .and_then(|i| planned.offsets.get(i).copied().flatten());
        let Some(offset) = offset else {
            return Ok(false);
        };
        let lane = lane_of(task, planned.stripe, planned.lanes.len());
        let (path, file) = planned.lanes[lane]
            .as_ref()
            .expect("a task with an offset is in a lane with a file");
        write(file, offset).map_err(|e| StorageError::io(path, e))
    }
}

/// A lane file's [`BlockSpot::file`]: its part's first task and its lane.
fn spot_file(first: usize, lane: usize) -> u64 {
    (first as u64) * LANES as u64 + lane as u64
}

impl DirectBlockWriter for PartSlots {
    fn try_write(&self, placement: &TaskPlacement, block: &DenseBlock<'_>) -> Result<bool, Error> {
        let (stores_f32, writeback) = (self.stores_f32, &self.writeback);
        Ok(self.with_target(placement.task, |file, offset| {
            write_block(file, offset, block, stores_f32, writeback)
        })?)
    }

    fn locate(&self, placement: &TaskPlacement) -> Option<BlockSpot> {
        let open = self.open.read().unwrap_or_else(|p| p.into_inner());
        let planned = open.as_ref()?;
        let task = placement.task;
        let offset = planned
            .offsets
            .get(task.checked_sub(planned.first)?)
            .copied()??;
        let lane = lane_of(task, planned.stripe, planned.lanes.len());
        Some(BlockSpot {
            file: spot_file(planned.first, lane),
            offset,
            stores_f32: self.stores_f32,
        })
    }

    /// The part stays open until the writer has recorded all its tasks, and a worker
    /// writes its staged blocks before it hands their results on, so the part `locate`
    /// named is still the open one.
    fn write_run(&self, spot: &BlockSpot, bytes: &[u8]) -> Result<(), Error> {
        let open = self.open.read().unwrap_or_else(|p| p.into_inner());
        let target = open.as_ref().and_then(|planned| {
            let lanes = planned.lanes.len();
            (0..lanes)
                .find(|&k| spot_file(planned.first, k) == spot.file)
                .and_then(|k| planned.lanes[k].as_ref())
        });
        let Some((path, file)) = target else {
            return Err(Error::output(
                "results",
                "a part file was closed before its blocks were written (an internal error)",
            ));
        };
        write_at(file, spot.offset, bytes).map_err(|e| StorageError::io(path, e))?;
        self.writeback.start(file, bytes.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placements(trials: &[usize], shape: &[usize]) -> Vec<TaskPlacement> {
        let mut out = Vec::new();
        for (trial, &groups) in trials.iter().enumerate() {
            for _ in 0..groups {
                out.push(TaskPlacement {
                    task: out.len(),
                    trial,
                    rows: 0..shape[0],
                    channels: 0..shape[1],
                    shape: shape.to_vec(),
                });
            }
        }
        out
    }

    #[test]
    fn names_round_trip_with_shards_and_lanes() {
        for name in [
            PartName::new(None, 0, 5, None, None),
            PartName::new(None, 3, 9, Some((1, 2)), None),
            PartName::new(Some((0, 3)), 12, 40, Some((0, 2)), None),
            PartName::new(Some((0, 3)), 12, 40, Some((1, 2)), Some(8)),
            PartName::new(None, 3, 9, Some((1, 2)), Some(1)),
        ] {
            assert_eq!(PartName::parse(&name.to_string()), Some(name), "{name}");
        }
        assert_eq!(
            PartName::new(None, 3, 9, Some((1, 2)), None).to_string(),
            "3-9_1of2.h5"
        );
        assert_eq!(
            PartName::new(None, 3, 9, Some((1, 2)), Some(4)).to_string(),
            "3-9_1of2x4.h5"
        );
        assert_eq!(PartName::parse("3-9_1of2x0.h5"), None);
        assert_eq!(PartName::parse("9-3.h5"), None);
        assert_eq!(PartName::parse("3-9_2of2.h5"), None);
        assert_eq!(PartName::parse("3-9.h5.partial"), None);
    }

    #[test]
    fn a_lane_holds_every_nth_task_of_its_range() {
        let even: Vec<usize> = PartName::new(None, 3, 9, Some((0, 2)), None)
            .tasks()
            .collect();
        let odd: Vec<usize> = PartName::new(None, 3, 9, Some((1, 2)), Some(1))
            .tasks()
            .collect();
        assert_eq!(even, [4, 6, 8]);
        assert_eq!(odd, [3, 5, 7, 9]);
        let all: Vec<usize> = PartName::new(None, 3, 5, None, None).tasks().collect();
        assert_eq!(all, [3, 4, 5]);
    }

    #[test]
    fn stripes_alternate_between_lanes_in_runs_of_g_tasks() {
        // Stripes of 4 from task 0: 0-3 lane 0, 4-7 lane 1, 8-11 lane 0, ...
        let lane0: Vec<usize> = PartName::new(None, 2, 13, Some((0, 2)), Some(4))
            .tasks()
            .collect();
        let lane1: Vec<usize> = PartName::new(None, 2, 13, Some((1, 2)), Some(4))
            .tasks()
            .collect();
        assert_eq!(lane0, [2, 3, 8, 9, 10, 11]);
        assert_eq!(lane1, [4, 5, 6, 7, 12, 13]);
    }

    #[test]
    fn only_whole_trials_of_one_trailing_shape_are_stacked() {
        let mut tiny = placements(&[1; 100], &[200, 8]);
        for (i, p) in tiny.iter_mut().enumerate() {
            p.rows = i * 200..(i + 1) * 200;
        }
        let bytes = |_: usize| 200 * 8 * 4;
        assert_eq!(plan_stacking(&tiny, 0, 99, 8, 1, bytes), Some(81));
        assert_eq!(plan_stacking(&tiny, 0, 9, 8, 1, bytes), Some(10));
        // Large blocks: stacked, alternating task by task.
        assert_eq!(plan_stacking(&tiny, 0, 99, 8, 1, |_| 1 << 20), Some(1));
        // Channel groups, or a channel count that is not the object's.
        assert_eq!(plan_stacking(&tiny, 0, 99, 16, 1, bytes), None);
        // Rows that do not follow on (placements() gives every task rows 0..200).
        let gaps = placements(&[1; 10], &[200, 8]);
        assert_eq!(plan_stacking(&gaps, 0, 9, 8, 1, bytes), None);
        // The engine's batches of 40 tasks: stripes of 40, whatever the bytes.
        assert_eq!(plan_stacking(&tiny, 0, 99, 8, 40, bytes), Some(40));
        assert_eq!(plan_stacking(&tiny, 0, 9, 8, 40, bytes), Some(10));
    }

    #[test]
    fn equal_trials_of_a_lane_map_as_one_strided_selection() {
        let m = |source, start, step, count, block| StackedMapping {
            source,
            start,
            step,
            count,
            block,
        };
        // Every other trial of 100 rows, from trial 1: one mapping.
        let odd = (0..5).map(|i| (200 * i + 100)..(200 * i + 200));
        assert_eq!(stacked_mappings(odd), [m(0, 100, 200, 5, 100)]);
        // Stripes of 3 tasks of 10 rows, every other stripe: blocks of 30 rows.
        let striped = [0, 1, 2, 6, 7, 8, 12].map(|t| (10 * t)..(10 * t + 10));
        assert_eq!(
            stacked_mappings(striped.into_iter()),
            [m(0, 0, 60, 2, 30), m(60, 120, 10, 1, 10)]
        );
        // Unequal trials: a mapping per block; empty tasks map nothing.
        let unequal = [0..10, 20..25, 25..25, 30..40, 50..60];
        assert_eq!(
            stacked_mappings(unequal.into_iter()),
            [m(0, 0, 10, 1, 10), m(10, 20, 5, 1, 5), m(15, 30, 20, 2, 10)]
        );
    }

    #[test]
    fn plans_stop_at_the_size_and_task_limits_then_finish_the_trial() {
        // 1 MiB blocks: 16 fit in a part.
        let one_mib = [1024, 256];
        let tasks = placements(&[1; 40], &one_mib);
        let bytes = |t: usize| tasks[t].shape.iter().product::<usize>() * 4;
        assert_eq!(plan_part(&tasks, 0, bytes, usize::MAX), 15);
        assert_eq!(plan_part(&tasks, 30, bytes, usize::MAX), 39);
        assert_eq!(plan_part(&tasks, 0, bytes, 4), 3);
        assert_eq!(plan_part(&tasks, 7, bytes, 1), 7);
        // Three channel groups per trial: a part never ends inside a trial.
        let grouped = placements(&[3; 20], &one_mib);
        let bytes = |t: usize| grouped[t].shape.iter().product::<usize>() * 4;
        assert_eq!(plan_part(&grouped, 0, bytes, 4), 5);
        assert_eq!(plan_part(&grouped, 0, bytes, usize::MAX), 17);
        // A block larger than a part still gets one.
        let huge = placements(&[1; 3], &[1 << 20, 64]);
        let bytes = |t: usize| huge[t].shape.iter().product::<usize>() * 4;
        assert_eq!(plan_part(&huge, 1, bytes, usize::MAX), 1);
    }
}
