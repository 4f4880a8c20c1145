//! The single-file layout: one writer (the calling thread, or rank 0) puts every task's
//! `result_0` into a stacked dataset and further results into `comp_<i>/result_<k>`. The
//! file is `<name>.h5.partial` until every task succeeded; a `completed` flag per task is
//! set (and flushed) only after the task's data, so a resume skips exactly the finished ones.

use ndarray::{ArrayD, Axis};

use super::files::{create_file, one_line, open_file, read_fingerprint, write_fingerprint};
use super::value::{with_array, Element, ElementType, StoredArray};
use super::{Stacking, Storage};
use crate::error::{MapError, MapParamError};

const COMPLETED: &str = "completed";

pub(crate) struct SingleFileWriter {
    file: hdf5::File,
    stacking: Stacking,
    n_tasks: usize,
    /// The stacked dataset, once the first result fixed its element type.
    stacked: Option<(hdf5::Dataset, ElementType)>,
    completed: hdf5::Dataset,
}

impl SingleFileWriter {
    /// Creates the partial file, or (resume) reopens it after checking its fingerprint.
    /// Returns the writer and which tasks are already complete.
    pub(crate) fn open(
        storage: &Storage,
        stacking: &Stacking,
        n_tasks: usize,
        fingerprint: &str,
        resume: bool,
    ) -> Result<(Self, Vec<bool>), MapError> {
        let path = storage.partial_container_path();
        let broken = |message: String| MapError::storage(&path, message);
        if resume && path.exists() {
            let file = open_file(&path, true).map_err(|e| {
                broken(format!(
                    "resume: unreadable ({}); remove it or use .overwrite(true)",
                    one_line(&e)
                ))
            })?;
            match read_fingerprint(&file) {
                Some(stored) if stored == fingerprint => {}
                other => {
                    return Err(MapParamError::ResumeMismatch {
                        path: path.clone(),
                        detail: format!(
                            "stored fingerprint '{}', this map '{fingerprint}'",
                            other.unwrap_or_default()
                        ),
                    }
                    .into())
                }
            }
            let completed = file
                .dataset(COMPLETED)
                .map_err(|e| broken(format!("resume: {}", one_line(&e))))?;
            let flags: Vec<u8> = completed
                .read_raw()
                .map_err(|e| broken(format!("resume: {}", one_line(&e))))?;
            let stacked = match file.dataset("result_0") {
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
            let done = flags.iter().map(|&f| f == 1).collect();
            let writer = SingleFileWriter {
                file,
                stacking: stacking.clone(),
                n_tasks,
                stacked,
                completed,
            };
            return Ok((writer, done));
        }
        let created = (|| -> hdf5::Result<(hdf5::File, hdf5::Dataset)> {
            let file = create_file(&path)?;
            write_fingerprint(&file, fingerprint)?;
            let completed = file
                .new_dataset::<u8>()
                .shape(n_tasks)
                .fill_value(0u8)
                .create(COMPLETED)?;
            Ok((file, completed))
        })();
        let (file, completed) =
            created.map_err(|e| broken(format!("creating: {}", one_line(&e))))?;
        let writer = SingleFileWriter {
            file,
            stacking: stacking.clone(),
            n_tasks,
            stacked: None,
            completed,
        };
        Ok((writer, vec![false; n_tasks]))
    }

    /// Writes task `index`'s results and marks it complete.
    pub(crate) fn write(&mut self, index: usize, values: &[StoredArray]) -> Result<(), String> {
        self.write_inner(index, values).map_err(|e| {
            format!(
                "writing task {index} to {}: {}",
                self.file.filename(),
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
            let group = match self.file.group(&name) {
                Ok(g) => g,
                Err(_) => self.file.create_group(&name)?,
            };
            for (k, value) in values.iter().enumerate().skip(1) {
                let dataset_name = format!("result_{k}");
                if group.link_exists(&dataset_name) {
                    group.unlink(&dataset_name)?;
                }
                value.write_dataset(&group, &dataset_name)?;
            }
        }
        self.file.flush()?;
        self.completed.write_slice(&[1u8], index..index + 1)?;
        self.file.flush()
    }

    fn create_stacked<T: Element>(&self, first: &ArrayD<T>) -> hdf5::Result<hdf5::Dataset> {
        let unlimited_len = self
            .stacking
            .unlimited_axis()
            .map_or(0, |u| first.shape()[u]);
        let shape = self.stacking.stacked_shape(self.n_tasks, unlimited_len);
        let unlimited = self.stacking.stacked_unlimited_axis();
        let builder = self.file.new_dataset::<T>().fill_value(T::FILL);
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

    /// Called when every task succeeded: drops the bookkeeping and publishes the file.
    pub(crate) fn finish(self, storage: &Storage) -> Result<(), String> {
        let partial = storage.partial_container_path();
        let final_path = storage.container_path();
        let SingleFileWriter {
            file,
            completed,
            n_tasks,
            ..
        } = self;
        drop(completed);
        let closed = (|| -> hdf5::Result<()> {
            file.unlink(COMPLETED)?;
            file.new_attr::<u64>()
                .create("n_tasks")?
                .write_scalar(&(n_tasks as u64))?;
            file.close()
        })();
        closed.map_err(|e| format!("closing {}: {}", partial.display(), one_line(&e)))?;
        std::fs::rename(&partial, &final_path).map_err(|e| {
            format!(
                "renaming {} to {}: {e}",
                partial.display(),
                final_path.display()
            )
        })
    }
}
