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
use crate::raw_io::{start_writeback, write_at, PlainBytes};

/// A part holds at most this many bytes of blocks: few files, so creating them costs
/// little, and each closed part is synced to disk in the background while later tasks run.
pub(crate) const PART_BYTES: usize = 16 << 20;

/// A part holds about this much work, so checkpoints (which fall between parts) stay
/// frequent for slow routines.
pub(crate) const PART_SECONDS: f64 = 0.25;

/// The name of a closed part file: `<first>-<last>.h5`, prefixed `s<I>of<N>-` when a shard
/// wrote it, so a resumed shard touches only its own parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartName {
    pub shard: Option<(usize, usize)>,
    pub first: usize,
    pub last: usize,
}

impl PartName {
    pub fn new(shard: Option<(usize, usize)>, first: usize, last: usize) -> PartName {
        PartName { shard, first, last }
    }

    pub fn parse(name: &str) -> Option<PartName> {
        let stem = name.strip_suffix(".h5")?;
        let (shard, range) = match stem.strip_prefix('s') {
            Some(rest) => {
                let (shard, range) = rest.split_once('-')?;
                let (i, n) = shard.split_once("of")?;
                (Some((i.parse().ok()?, n.parse().ok()?)), range)
            }
            None => (None, stem),
        };
        let (first, last) = range.split_once('-')?;
        let (first, last) = (first.parse().ok()?, last.parse().ok()?);
        (first <= last).then_some(PartName { shard, first, last })
    }
}

impl std::fmt::Display for PartName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((i, n)) = self.shard {
            write!(f, "s{i}of{n}-")?;
        }
        write!(f, "{}-{}.h5", self.first, self.last)
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
    pub file: hdf5::File,
    /// `<first>-<first>.h5.partial` until it is closed under its final name.
    pub path: PathBuf,
    pub first: usize,
    /// The last task planned into this part.
    pub last: usize,
    /// The last task applied so far, in task order.
    pub applied: Option<usize>,
}

/// The open part's planned blocks: where each one's values go.
struct PlannedBlocks {
    path: PathBuf,
    file: File,
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
        path: PathBuf,
        first: usize,
        offsets: Vec<Option<u64>>,
    ) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        *self.open.write().unwrap_or_else(|p| p.into_inner()) = Some(PlannedBlocks {
            path,
            file,
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
        write_at(&planned.file, offset, values).map_err(|e| StorageError::io(&planned.path, e))?;
        start_writeback(&planned.file, offset, std::mem::size_of_val(values));
        Ok(true)
    }
}

impl DirectBlockWriter for PartSlots {
    fn try_write(&self, placement: &TaskPlacement, block: &DenseBlock<'_>) -> Result<bool, Error> {
        let written = match (block, self.stores_f32) {
            (DenseBlock::F32(b), true) => match b.as_slice() {
                Some(values) => self.write(placement.task, values)?,
                None => false,
            },
            (DenseBlock::F64(b), false) => match b.as_slice() {
                Some(values) => self.write(placement.task, values)?,
                None => false,
            },
            _ => false,
        };
        Ok(written)
    }
}
