//! Per-task payload files and the containers that join them (links or a virtual dataset).

use serde::{Deserialize, Serialize};
use trialflow_hdf5::{one_line, open_read_only, TaskFile};

use super::value::{with_element_type, Element, ElementType, StoredArray};
use super::{Stacking, Storage};

/// What the container needs to know about a finished task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskMeta {
    pub n_values: usize,
    pub element_type: ElementType,
    pub shape: Vec<usize>,
}

impl TaskMeta {
    pub(crate) fn of(values: &[StoredArray]) -> Self {
        TaskMeta {
            n_values: values.len(),
            element_type: values[0].element_type(),
            shape: values[0].shape().to_vec(),
        }
    }
}

/// Writes task `index`'s payload file (as `<file>.partial`, renamed when complete; the
/// journal names it once it is synced).
pub(crate) fn write_payload(
    storage: &Storage,
    index: usize,
    values: &[StoredArray],
) -> Result<(), String> {
    let task = TaskFile::create(&storage.payload_path(index)).map_err(|e| e.to_string())?;
    let written = (|| -> hdf5::Result<()> {
        for (k, value) in values.iter().enumerate() {
            value.write_dataset(task.file(), &format!("result_{k}"))?;
        }
        Ok(())
    })();
    written.map_err(|e| format!("writing {}: {}", task.partial().display(), one_line(&e)))?;
    task.publish().map_err(|e| e.to_string())
}

/// Why a journaled payload cannot be reused.
pub(crate) enum Unusable {
    /// Not there: the task runs again.
    Missing,
    /// There, but unreadable: resume must refuse.
    Foreign(String),
}

/// The metadata of a payload file that the journal records as complete.
pub(crate) fn read_payload(storage: &Storage, index: usize) -> Result<TaskMeta, Unusable> {
    let path = storage.payload_path(index);
    if !path.exists() {
        return Err(Unusable::Missing);
    }
    let file = open_read_only(&path).map_err(|e| Unusable::Foreign(e.to_string()))?;
    let unreadable = |what: &str| Unusable::Foreign(format!("{}: {what}", path.display()));
    let first = file
        .dataset("result_0")
        .map_err(|_| unreadable("no result_0"))?;
    let descriptor = first
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|_| unreadable("unreadable result_0 type"))?;
    let element_type = ElementType::from_descriptor(&descriptor)
        .ok_or_else(|| unreadable("result_0 is not numeric"))?;
    let n_values = (0..)
        .take_while(|k| file.link_exists(&format!("result_{k}")))
        .count();
    Ok(TaskMeta {
        n_values,
        element_type,
        shape: first.shape(),
    })
}

/// Writes the container of per-task files: `comp_<i>/result_<k>` relative external links,
/// plus, for a virtual stack, `result_0` as a virtual dataset (and links for k >= 1 only).
/// Written to `<name>.h5.partial` and renamed, so a container is always complete.
pub(crate) fn write_container(
    storage: &Storage,
    metas: &[TaskMeta],
    stacking: Option<&Stacking>,
) -> Result<(), String> {
    let task = TaskFile::create(&storage.container_path()).map_err(|e| e.to_string())?;
    let written = (|| -> hdf5::Result<()> {
        let file = task.file();
        let first_linked = usize::from(stacking.is_some());
        for (i, meta) in metas.iter().enumerate() {
            if meta.n_values <= first_linked {
                continue;
            }
            let group = file.create_group(&format!("comp_{i}"))?;
            for k in first_linked..meta.n_values {
                group.link_external(
                    &storage.payload_relative(i),
                    &format!("/result_{k}"),
                    &format!("result_{k}"),
                )?;
            }
        }
        if let Some(stacking) = stacking {
            create_virtual(file, storage, metas, stacking)?;
        }
        file.new_attr::<u64>()
            .create("n_tasks")?
            .write_scalar(&(metas.len() as u64))
    })();
    written.map_err(|e| format!("writing {}: {}", task.partial().display(), one_line(&e)))?;
    task.publish().map_err(|e| e.to_string())
}

fn create_virtual(
    file: &hdf5::File,
    storage: &Storage,
    metas: &[TaskMeta],
    stacking: &Stacking,
) -> hdf5::Result<()> {
    let element_type = metas[0].element_type;
    if let Some(other) = metas.iter().position(|m| m.element_type != element_type) {
        return Err(hdf5::Error::from(format!(
            "task {other}'s result_0 is {:?}, task 0's is {element_type:?}",
            metas[other].element_type
        )));
    }
    let unlimited_len = stacking
        .unlimited_axis()
        .map_or(0, |u| metas.iter().map(|m| m.shape[u]).max().unwrap_or(0));
    let shape = stacking.stacked_shape(metas.len(), unlimited_len);
    // The unlimited axis is as long as the longest result; shorter ones are padded with the
    // fill value. HDF5 1.10 reads only fill values from a resizable virtual dataset whose
    // mappings are fixed-size (and ours are: each source is a finished file), so the
    // virtual dataset is fixed-size; `single_file` gives a resizable dataset.
    let extents = shape.clone();
    let mut dcpl = hdf5::plist::DatasetCreate::build();
    with_element_type!(element_type, T => dcpl.fill_value(<T as Element>::FILL));
    for (i, meta) in metas.iter().enumerate() {
        if meta.shape.contains(&0) {
            continue;
        }
        dcpl.virtual_map(
            storage.payload_relative(i),
            "result_0",
            meta.shape.clone(),
            hdf5::Selection::All,
            shape.clone(),
            stacking.task_selection(i, &meta.shape),
        );
    }
    let dcpl = dcpl.finish()?;
    with_element_type!(element_type, T => {
        file.new_dataset::<T>()
            .set_dcpl(&dcpl)
            .shape(extents)
            .create("result_0")?;
    });
    Ok(())
}
