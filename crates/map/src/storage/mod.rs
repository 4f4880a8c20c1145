//! Results on disk. Three layouts, all under a directory `dir` and a name `name`:
//!
//! - [`Storage::per_task_files`]: `<name>_payload/<name>_<i>.h5` per task, each holding
//!   `result_0..k`, and a container `<name>.h5` whose `comp_<i>/result_<k>` are external
//!   links with **relative** paths, so the directory can be moved or copied;
//! - [`Storage::virtual_stack`]: the same payload files, and a container whose `result_0`
//!   is a virtual dataset stacking every task's first result along one axis (relative
//!   source paths too); further results are linked as `comp_<i>/result_<k>`;
//! - [`Storage::single_file`]: one file `<name>.h5` written by a single writer (the calling
//!   thread, or rank 0), holding the stacked `result_0` and `comp_<i>/result_<k>` datasets.
//!
//! Nothing half-written looks finished: payload files are written under a `.partial` name
//! and renamed once complete (`trialflow_hdf5::TaskFile`), and the container appears only
//! after every task succeeded. What a resume may reuse is what the journal (`journal.rs`,
//! the storage crate's journal format) names.

mod files;
mod journal;
mod run;
mod single_file;
mod value;

use std::path::{Path, PathBuf};

use hdf5::{Hyperslab, Selection, SliceOrIndex};

pub(crate) use run::{store, StoreRun};
pub use value::{Element, ElementType, Storable, StorableValue, StoredArray};

use crate::error::MapParamError;

/// Where and how results go to disk.
#[derive(Clone, Debug)]
pub struct Storage {
    dir: PathBuf,
    name: String,
    layout: Layout,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Layout {
    PerTaskFiles,
    Virtual(Stacking),
    SingleFile(Stacking),
}

impl Storage {
    /// One file per task, joined by a container of relative external links.
    pub fn per_task_files(dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        Storage {
            dir: dir.into(),
            name: name.into(),
            layout: Layout::PerTaskFiles,
        }
    }

    /// One file per task, and a container whose `result_0` is a virtual dataset that
    /// stacks them (relative source paths).
    pub fn virtual_stack(
        dir: impl Into<PathBuf>,
        name: impl Into<String>,
        stacking: Stacking,
    ) -> Self {
        Storage {
            dir: dir.into(),
            name: name.into(),
            layout: Layout::Virtual(stacking),
        }
    }

    /// One file, written by one writer, with `result_0` stacked along `stacking.axis`.
    pub fn single_file(
        dir: impl Into<PathBuf>,
        name: impl Into<String>,
        stacking: Stacking,
    ) -> Self {
        Storage {
            dir: dir.into(),
            name: name.into(),
            layout: Layout::SingleFile(stacking),
        }
    }

    /// The file to open when the map is done: `<dir>/<name>.h5`.
    pub fn container_path(&self) -> PathBuf {
        self.dir.join(format!("{}.h5", self.name))
    }

    /// The folder of per-task files (`None` for a single file).
    pub fn payload_dir(&self) -> Option<PathBuf> {
        match self.layout {
            Layout::SingleFile(_) => None,
            _ => Some(self.dir.join(self.payload_dir_name())),
        }
    }

    /// The default log file next to the results: `<dir>/<name>.log`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn payload_dir_name(&self) -> String {
        format!("{}_payload", self.name)
    }

    /// A task's payload file relative to the container's directory: the path stored in
    /// links and virtual mappings. The index is written in full, so names never collide.
    pub(crate) fn payload_relative(&self, index: usize) -> String {
        format!("{}/{}_{index}.h5", self.payload_dir_name(), self.name)
    }

    /// Task `index`'s payload file.
    pub(crate) fn payload_path(&self, index: usize) -> PathBuf {
        self.dir.join(self.payload_relative(index))
    }

    pub(crate) fn partial_container_path(&self) -> PathBuf {
        trialflow_hdf5::partial_path(&self.container_path())
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn check(&self) -> Result<(), MapParamError> {
        let name = &self.name;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(MapParamError::BadName(name.clone()));
        }
        match &self.layout {
            Layout::PerTaskFiles => Ok(()),
            Layout::Virtual(s) | Layout::SingleFile(s) => s.check(),
        }
    }

    /// What must match for a resume to reuse stored results.
    pub(crate) fn describe(&self) -> String {
        match &self.layout {
            Layout::PerTaskFiles => "per-task files".to_string(),
            Layout::Virtual(s) => format!("virtual stack {}", s.describe()),
            Layout::SingleFile(s) => format!("single file {}", s.describe()),
        }
    }
}

/// The size of one axis of each task's stacked result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// Every task's result has exactly this length here.
    Fixed(usize),
    /// Lengths may differ between tasks. The stacked dataset is as long as the longest
    /// result here, and shorter results are padded with NaN (floats) or 0 (integers). In a
    /// single file the axis is resizable (HDF5 maxshape `None`); a virtual dataset is fixed
    /// at the longest result, because HDF5 1.10 reads only fill values from a resizable
    /// virtual dataset over fixed-size sources.
    Unlimited,
}

impl From<usize> for Extent {
    fn from(n: usize) -> Self {
        Extent::Fixed(n)
    }
}

/// How the first result of every task is stacked into one dataset: each task's result has
/// `task_shape`, and the stacked dataset inserts a new axis of length `n_tasks` at `axis`
/// (so `axis: 0` makes task `i` the slice `[i, ...]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stacking {
    pub axis: usize,
    pub task_shape: Vec<Extent>,
}

impl Stacking {
    pub fn new<E: Into<Extent>>(axis: usize, task_shape: impl IntoIterator<Item = E>) -> Self {
        Stacking {
            axis,
            task_shape: task_shape.into_iter().map(Into::into).collect(),
        }
    }

    pub(crate) fn check(&self) -> Result<(), MapParamError> {
        let ndim = self.task_shape.len();
        if self.axis > ndim {
            return Err(MapParamError::StackAxis {
                axis: self.axis,
                ndim,
            });
        }
        let unlimited = self
            .task_shape
            .iter()
            .filter(|e| **e == Extent::Unlimited)
            .count();
        if unlimited > 1 {
            return Err(MapParamError::TwoUnlimited(unlimited));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let dims: Vec<String> = self
            .task_shape
            .iter()
            .map(|e| match e {
                Extent::Fixed(n) => n.to_string(),
                Extent::Unlimited => "unlimited".to_string(),
            })
            .collect();
        format!("axis {} task_shape [{}]", self.axis, dims.join(", "))
    }

    /// Whether a task's result has the declared shape (the reason if not).
    pub(crate) fn check_result(&self, shape: &[usize]) -> Result<(), String> {
        let fits = shape.len() == self.task_shape.len()
            && shape.iter().zip(&self.task_shape).all(|(&n, e)| match e {
                Extent::Fixed(m) => n == *m,
                Extent::Unlimited => true,
            });
        if fits {
            Ok(())
        } else {
            Err(format!(
                "result_0 has shape {shape:?}, but the stacking declares task_shape {}",
                self.describe()
            ))
        }
    }

    /// The task-shape axis that is unlimited, if any.
    pub(crate) fn unlimited_axis(&self) -> Option<usize> {
        self.task_shape.iter().position(|e| *e == Extent::Unlimited)
    }

    /// The stacked shape, with the unlimited axis (if any) `unlimited_len` long.
    pub(crate) fn stacked_shape(&self, n_tasks: usize, unlimited_len: usize) -> Vec<usize> {
        let mut shape: Vec<usize> = self
            .task_shape
            .iter()
            .map(|e| match e {
                Extent::Fixed(n) => *n,
                Extent::Unlimited => unlimited_len,
            })
            .collect();
        shape.insert(self.axis, n_tasks);
        shape
    }

    /// The stacked dataset's axis that may grow.
    pub(crate) fn stacked_unlimited_axis(&self) -> Option<usize> {
        self.unlimited_axis()
            .map(|u| if u >= self.axis { u + 1 } else { u })
    }

    /// Where task `index`'s result (of `shape`) goes in the stacked dataset.
    pub(crate) fn task_selection(&self, index: usize, shape: &[usize]) -> Selection {
        let mut items: Vec<SliceOrIndex> =
            shape.iter().map(|&n| SliceOrIndex::from(0..n)).collect();
        items.insert(self.axis, SliceOrIndex::from(index..index + 1));
        Selection::from(Hyperslab::from(items))
    }
}

/// What a finished on-disk map produced.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResults {
    /// The file to open: `comp_<i>/result_<k>` links, or the stacked `result_0`.
    pub container: PathBuf,
    /// The per-task files (`None` for a single file).
    pub payload_dir: Option<PathBuf>,
    pub n_tasks: usize,
    /// Tasks found complete from an earlier run and not run again.
    pub resumed: usize,
    pub log_file: Option<PathBuf>,
}

impl Storage {
    /// The stacking of a stacked layout.
    pub(crate) fn stacking(&self) -> Option<&Stacking> {
        match &self.layout {
            Layout::PerTaskFiles => None,
            Layout::Virtual(s) | Layout::SingleFile(s) => Some(s),
        }
    }
}
