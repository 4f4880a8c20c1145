//! Part files of the per-task layout: consecutive tasks' blocks, one dataset `t<task>` each,
//! in files `<first>-<last>.h5` that a virtual dataset joins into the object at the end.
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

use trialflow_core::engine::{DenseBlock, DirectBlockWriter, TaskPlacement};
use trialflow_core::{DType, Error};

use crate::error::StorageError;
use crate::raw_io::{start_writeback, write_at, write_block, PlainBytes};

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

/// The name of a closed part file: `<first>-<last>_<k>of<n>.h5` for lane `k` of `n` (tasks
/// `first..=last` with `task % n == k`; without the suffix, all of them), prefixed
/// `s<I>of<N>-` when a shard wrote it, so a resumed shard touches only its own parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartName {
    pub shard: Option<(usize, usize)>,
    pub first: usize,
    pub last: usize,
    pub lane: Option<(usize, usize)>,
}

impl PartName {
    pub fn new(
        shard: Option<(usize, usize)>,
        first: usize,
        last: usize,
        lane: Option<(usize, usize)>,
    ) -> PartName {
        PartName {
            shard,
            first,
            last,
            lane,
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
        let (range, lane) = match range.split_once('_') {
            Some((range, lane)) => (range, Some(parse_k_of_n(lane)?)),
            None => (range, None),
        };
        let (first, last) = range.split_once('-')?;
        let (first, last) = (first.parse().ok()?, last.parse().ok()?);
        (first <= last).then_some(PartName {
            shard,
            first,
            last,
            lane,
        })
    }

    /// The tasks this file holds.
    pub fn tasks(&self) -> impl Iterator<Item = usize> + '_ {
        (self.first..=self.last).filter(|t| self.lane.is_none_or(|(k, n)| t % n == k))
    }
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

/// An object's open part.
pub(crate) struct OpenPart {
    /// One file per lane, named `<first>-<first>_<k>of<n>.h5.partial` until the part is
    /// closed.
    pub lanes: Vec<(hdf5::File, PathBuf)>,
    pub first: usize,
    /// The last task planned into this part.
    pub last: usize,
    /// The last task applied so far, in task order.
    pub applied: Option<usize>,
}

/// The open part's planned blocks: where each one's values go.
struct PlannedBlocks {
    /// Task `t` is in lane `t % LANES`.
    lanes: Vec<(PathBuf, File)>,
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
}

impl PartSlots {
    pub fn new(dtype: DType) -> PartSlots {
        PartSlots {
            open: RwLock::new(None),
            stores_f32: matches!(dtype, DType::Float32 | DType::Complex64),
        }
    }

    /// Publishes a newly planned part.
    pub fn publish(
        &self,
        paths: &[PathBuf],
        first: usize,
        offsets: Vec<Option<u64>>,
    ) -> Result<(), StorageError> {
        let lanes = paths
            .iter()
            .map(|path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(|file| (path.clone(), file))
                    .map_err(|e| StorageError::io(path, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        *self.open.write().unwrap_or_else(|p| p.into_inner()) = Some(PlannedBlocks {
            lanes,
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
            start_writeback(file, offset, std::mem::size_of_val(values));
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
        let (path, file) = &planned.lanes[task % planned.lanes.len()];
        write(file, offset).map_err(|e| StorageError::io(path, e))
    }
}

impl DirectBlockWriter for PartSlots {
    fn try_write(&self, placement: &TaskPlacement, block: &DenseBlock<'_>) -> Result<bool, Error> {
        let stores_f32 = self.stores_f32;
        Ok(self.with_target(placement.task, |file, offset| {
            write_block(file, offset, block, stores_f32)
        })?)
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
            PartName::new(None, 0, 5, None),
            PartName::new(None, 3, 9, Some((1, 2))),
            PartName::new(Some((0, 3)), 12, 40, Some((0, 2))),
        ] {
            assert_eq!(PartName::parse(&name.to_string()), Some(name), "{name}");
        }
        assert_eq!(
            PartName::new(None, 3, 9, Some((1, 2))).to_string(),
            "3-9_1of2.h5"
        );
        assert_eq!(PartName::parse("9-3.h5"), None);
        assert_eq!(PartName::parse("3-9_2of2.h5"), None);
        assert_eq!(PartName::parse("3-9.h5.partial"), None);
    }

    #[test]
    fn a_lane_holds_every_nth_task_of_its_range() {
        let even: Vec<usize> = PartName::new(None, 3, 9, Some((0, 2))).tasks().collect();
        let odd: Vec<usize> = PartName::new(None, 3, 9, Some((1, 2))).tasks().collect();
        assert_eq!(even, [4, 6, 8]);
        assert_eq!(odd, [3, 5, 7, 9]);
        let all: Vec<usize> = PartName::new(None, 3, 5, None).tasks().collect();
        assert_eq!(all, [3, 4, 5]);
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
