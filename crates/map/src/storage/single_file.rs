//! The single-file layout: one writer (the calling thread, or rank 0) puts every task's
//! `result_0` into a stacked dataset and further results into `comp_<i>/result_<k>`. The
//! file is `<name>.h5.partial` until every task succeeded (`trialflow_hdf5::TaskFile`); the
//! journal names a task only after the file was synced with its data, so a resume skips
//! exactly the finished ones.

use ndarray::{ArrayD, Axis};
use trialflow_hdf5::{one_line, TaskFile};

use super::value::{with_array, Element, ElementType, StoredArray};
use super::Stacking;
use crate::error::MapError;

pub(crate) struct SingleFileWriter {
    task_file: TaskFile,
    stacking: Stacking,
    n_tasks: usize,
    /// The stacked dataset, once the first result fixed its element type.
    stacked: Option<(hdf5::Dataset, ElementType)>,
}

impl SingleFileWriter {
    /// Creates the partial file of `container`, or (resume) reopens it.
    pub(crate) fn open(
        container: &std::path::Path,
        stacking: &Stacking,
        n_tasks: usize,
        resume: bool,
    ) -> Result<Self, MapError> {
        let partial = trialflow_hdf5::partial_path(container);
        let broken = |message: String| MapError::storage(&partial, message);
        if resume && partial.exists() {
            let task_file = TaskFile::reopen(container)
                .map_err(|e| broken(format!("resume: {e}; remove it or use .overwrite(true)")))?;
            let stacked = match task_file.file().dataset("result_0") {
                Ok(ds) => {
                    let descriptor = ds
                        .dtype()
                        .and_then(|t| t.to_descriptor())
                        .map_err(|e| broken(format!("resume: {}", one_line(&e))))?;
                    let et = ElementType::from_descriptor(&descriptor)
                        .ok_or_else(|| broken("resume: result_0 is not numeric".to_string()))?;
                    Some((ds, et))
                }
                Err(_) => None,
            };
            return Ok(SingleFileWriter {
                task_file,
                stacking: stacking.clone(),
                n_tasks,
                stacked,
            });
        }
        let task_file = TaskFile::create(container).map_err(|e| broken(e.to_string()))?;
        Ok(SingleFileWriter {
            task_file,
            stacking: stacking.clone(),
            n_tasks,
            stacked: None,
        })
    }

    /// Writes task `index`'s results (durable at the next [`sync`](Self::sync)).
    pub(crate) fn write(&mut self, index: usize, values: &[StoredArray]) -> Result<(), String> {
        self.write_inner(index, values).map_err(|e| {
            format!(
                "writing task {index} to {}: {}",
                self.task_file.partial().display(),
                one_line(&e)
            )
        })
    }

    fn write_inner(&mut self, index: usize, values: &[StoredArray]) -> hdf5::Result<()> {
        let first = &values[0];
        let element_type = first.element_type();
        let dataset = match &self.stacked {
            Some((ds, et)) if *et == element_type => ds.clone(),
            Some((_, et)) => {
                return Err(hdf5::Error::from(format!(
                    "result_0 is {element_type:?}, the stacked dataset holds {et:?}"
                )))
            }
            None => {
                let ds = with_array!(first, a => self.create_stacked(a))?;
                self.stacked = Some((ds.clone(), element_type));
                ds
            }
        };
        if let Some(u) = self.stacking.stacked_unlimited_axis() {
            let needed = first.shape()[self.stacking.unlimited_axis().expect("declared")];
            let mut shape = dataset.shape();
            if needed > shape[u] {
                shape[u] = needed;
                dataset.resize(shape)?;
            }
        }
        let selection = self.stacking.task_selection(index, first.shape());
        let axis = Axis(self.stacking.axis);
        with_array!(first, a => {
            let data = a.as_standard_layout();
            dataset.write_slice(data.view().insert_axis(axis), selection)?
        });
        if values.len() > 1 {
            let name = format!("comp_{index}");
            let file = self.task_file.file();
            let group = match file.group(&name) {
                Ok(g) => g,
                Err(_) => file.create_group(&name)?,
            };
            for (k, value) in values.iter().enumerate().skip(1) {
                let dataset_name = format!("result_{k}");
                if group.link_exists(&dataset_name) {
                    group.unlink(&dataset_name)?;
                }
                value.write_dataset(&group, &dataset_name)?;
            }
        }
        Ok(())
    }

    /// Makes every task written so far durable, so the journal may name them.
    pub(crate) fn sync(&self) -> Result<(), String> {
        self.task_file.sync().map_err(|e| e.to_string())
    }

    fn create_stacked<T: Element>(&self, first: &ArrayD<T>) -> hdf5::Result<hdf5::Dataset> {
        let unlimited_len = self
            .stacking
            .unlimited_axis()
            .map_or(0, |u| first.shape()[u]);
        let shape = self.stacking.stacked_shape(self.n_tasks, unlimited_len);
        let unlimited = self.stacking.stacked_unlimited_axis();
        let builder = self.task_file.file().new_dataset::<T>().fill_value(T::FILL);
        match unlimited {
            Some(u) => {
                let extents: Vec<hdf5::Extent> = shape
                    .iter()
                    .enumerate()
                    .map(|(d, &n)| {
                        if d == u {
                            hdf5::Extent::resizable(n)
                        } else {
                            hdf5::Extent::fixed(n)
                        }
                    })
                    .collect();
                // One chunk per task slice (at least one element along every axis).
                let mut chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
                chunk[self.stacking.axis] = 1;
                builder.chunk(chunk).shape(extents).create("result_0")
            }
            None => builder.shape(shape).create("result_0"),
        }
    }

    /// Called when every task succeeded: publishes the file.
    pub(crate) fn finish(self) -> Result<(), String> {
        let SingleFileWriter {
            task_file, n_tasks, ..
        } = self;
        task_file
            .file()
            .new_attr::<u64>()
            .create("n_tasks")
            .and_then(|a| a.write_scalar(&(n_tasks as u64)))
            .map_err(|e| format!("{}: {}", task_file.partial().display(), one_line(&e)))?;
        task_file.publish().map_err(|e| e.to_string())
    }
}
