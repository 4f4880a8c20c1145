//! Results on disk in every layout: per-task files joined by relative external links, a
//! relative virtual dataset, a single file; unlimited axes; failures that keep finished
//! results; resume; and the ACME defects that must not recur (colliding names, absolute
//! virtual-dataset paths, half-written output that looks finished).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array1, Array2, ArrayD, Axis};
use trialflow_map::{
    Executor, Extent, MapError, MapParamError, ParallelMap, Stacking, Storage, TaskContext,
};

/// Task `i`'s 3 x 4 block, with a NaN and an infinity that must survive storage.
fn block(i: usize) -> Array2<f64> {
    let mut b = Array2::from_shape_fn((3, 4), |(r, c)| {
        i as f64 * 100.0 + r as f64 * 10.0 + c as f64 + 0.125
    });
    b[[0, 0]] = f64::NAN;
    b[[2, 3]] = f64::NEG_INFINITY;
    b
}

fn same_bits(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

fn blocks_map<'f>(
    n: usize,
    exec: Executor,
) -> ParallelMap<'f, usize, (), (Array2<f64>, i64), std::io::Error> {
    ParallelMap::new(|ctx: &TaskContext, i: &usize| Ok((block(*i), ctx.index as i64 * -7)))
        .per_task(0..n)
        .executor(exec)
}

fn read(path: &Path, dataset: &str) -> ArrayD<f64> {
    open_h5(path)
        .unwrap()
        .dataset(dataset)
        .unwrap()
        .read_dyn::<f64>()
        .unwrap()
}

fn is_virtual(ds: &hdf5::Dataset) -> bool {
    ds.dcpl()
        .map(|p| p.layout() == hdf5::plist::dataset_create::Layout::Virtual)
        .unwrap_or(false)
}

/// Moves a finished result folder elsewhere: only relative links and mappings survive.
fn moved(dir: &Path) -> tempfile::TempDir {
    let target = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), target.path().join(entry.file_name())).unwrap();
    }
    target
}

#[test]
fn per_task_files_with_a_container_of_relative_links() {
    for exec in [Executor::Serial, Executor::Threads(2)] {
        let dir = tempfile::tempdir().unwrap();
        // 16 tasks: ACME's rstrip(".h5") made task 15's name collide with task 1's.
        let stored = blocks_map(16, exec)
            .store(&Storage::per_task_files(dir.path(), "blocks"))
            .unwrap();
        assert_eq!(stored.container, dir.path().join("blocks.h5"));
        assert_eq!(stored.n_tasks, 16);
        let payload = dir.path().join("blocks_payload");
        let mut names: Vec<String> = std::fs::read_dir(&payload)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..16).map(|i| format!("blocks_{i}.h5")).collect();
        expected.sort();
        assert_eq!(names, expected, "one file per task, no leftovers");

        let moved = moved(dir.path());
        let container = moved.path().join("blocks.h5");
        for i in [0, 1, 15] {
            let b = read(&container, &format!("comp_{i}/result_0"));
            assert!(same_bits(&b, &block(i).into_dyn()), "task {i}");
            let k = open_h5(&container)
                .unwrap()
                .dataset(&format!("comp_{i}/result_1"))
                .unwrap()
                .read_scalar::<i64>()
                .unwrap();
            assert_eq!(k, i as i64 * -7);
        }
    }
}

#[test]
fn virtual_stack_with_relative_sources_survives_a_move() {
    for (axis, exec) in [(0, Executor::Serial), (2, Executor::Threads(2))] {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            Storage::virtual_stack(dir.path(), "blocks", Stacking::new(axis, [3usize, 4]));
        blocks_map(5, exec).store(&storage).unwrap();
        let moved = moved(dir.path());
        let container = moved.path().join("blocks.h5");
        let file = open_h5(&container).unwrap();
        let ds = file.dataset("result_0").unwrap();
        assert!(is_virtual(&ds));
        let stacked = ds.read_dyn::<f64>().unwrap();
        let views: Vec<_> = (0..5).map(block).collect();
        let views: Vec<_> = views.iter().map(|b| b.view()).collect();
        let expected = ndarray::stack(Axis(axis), &views).unwrap().into_dyn();
        assert!(same_bits(&stacked, &expected), "axis {axis}");
        // The further return value is linked next to the virtual dataset.
        let k = file
            .dataset("comp_4/result_1")
            .unwrap()
            .read_scalar::<i64>()
            .unwrap();
        assert_eq!(k, -28);
        assert!(!file.link_exists("comp_4/result_0"));
    }
}

#[test]
fn single_file_equals_the_virtual_stack() {
    for exec in [Executor::Serial, Executor::Threads(2)] {
        let dir = tempfile::tempdir().unwrap();
        let stacking = Stacking::new(1, [3usize, 4]);
        blocks_map(6, exec.clone())
            .store(&Storage::virtual_stack(dir.path(), "v", stacking.clone()))
            .unwrap();
        let stored = blocks_map(6, exec)
            .store(&Storage::single_file(dir.path(), "s", stacking))
            .unwrap();
        assert_eq!(stored.payload_dir, None);
        let single = read(&dir.path().join("s.h5"), "result_0");
        let virt = read(&dir.path().join("v.h5"), "result_0");
        assert_eq!(single.shape(), &[3, 6, 4]);
        assert!(same_bits(&single, &virt));
        let file = open_h5(dir.path().join("s.h5")).unwrap();
        assert!(!is_virtual(&file.dataset("result_0").unwrap()));
        assert_eq!(
            file.dataset("comp_5/result_1")
                .unwrap()
                .read_scalar::<i64>()
                .unwrap(),
            -35
        );
        assert!(
            !file.link_exists("completed"),
            "bookkeeping is removed when done"
        );
        assert!(!dir.path().join("s.h5.partial").exists());
    }
}

/// Task `i` returns `i + 1` samples of 2 channels: trials of unequal length.
fn ragged_map<'f>(exec: Executor) -> ParallelMap<'f, usize, (), Array2<f32>, std::io::Error> {
    ParallelMap::new(|_: &TaskContext, i: &usize| {
        Ok(Array2::from_shape_fn((i + 1, 2), |(s, c)| {
            (i * 10 + s) as f32 + c as f32 * 0.5
        }))
    })
    .per_task(0..4)
    .executor(exec)
}

#[test]
fn unlimited_axis_holds_results_of_different_lengths() {
    let stacking = Stacking::new(0, [Extent::Unlimited, Extent::Fixed(2)]);
    for single in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let storage = if single {
            Storage::single_file(dir.path(), "ragged", stacking.clone())
        } else {
            Storage::virtual_stack(dir.path(), "ragged", stacking.clone())
        };
        ragged_map(Executor::Threads(2)).store(&storage).unwrap();
        let file = open_h5(dir.path().join("ragged.h5")).unwrap();
        let ds = file.dataset("result_0").unwrap();
        // The single file can grow along the unlimited axis; the virtual dataset is as long
        // as the longest result.
        assert_eq!(ds.is_resizable(), single);
        let data = ds.read_dyn::<f32>().unwrap();
        assert_eq!(data.shape(), &[4, 4, 2]);
        for i in 0..4 {
            for s in 0..4 {
                for c in 0..2 {
                    let v = data[[i, s, c]];
                    if s <= i {
                        assert_eq!(
                            v,
                            (i * 10 + s) as f32 + c as f32 * 0.5,
                            "single file: {single}\n{data:?}"
                        );
                    } else {
                        assert!(v.is_nan(), "padding is NaN, got {v} at {i},{s},{c}");
                    }
                }
            }
        }
    }
}

#[test]
fn wrong_result_shape_fails_that_task_only() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::virtual_stack(dir.path(), "r", Stacking::new(0, [2usize, 2]));
    let err = ragged_map(Executor::Serial).store(&storage).unwrap_err();
    let MapError::TasksFailed(report) = err else {
        panic!("{err}")
    };
    let failed: Vec<usize> = report.failures.iter().map(|f| f.index).collect();
    assert_eq!(failed, vec![0, 2, 3]);
    assert!(report.failures[0].message().contains(
        "result_0 has shape [1, 2], but the stacking declares task_shape axis 0 task_shape [2, 2]"
    ));
    assert!(dir.path().join("r_payload/r_1.h5").exists());
    assert!(!dir.path().join("r.h5").exists());
}

/// Fails tasks listed in `failing` (an index set the test changes between runs); counts calls.
fn flaky_map<'f>(
    failing: &'f std::sync::Mutex<Vec<usize>>,
    calls: &'f AtomicUsize,
    exec: Executor,
) -> ParallelMap<'f, usize, (), (Array1<f64>, u8), String> {
    ParallelMap::new(move |_: &TaskContext, i: &usize| {
        calls.fetch_add(1, Ordering::SeqCst);
        if failing.lock().unwrap().contains(i) {
            return Err(format!("sensor {i} saturated"));
        }
        Ok((Array1::from_elem(5, *i as f64 / 3.0), *i as u8))
    })
    .per_task(0..12)
    .executor(exec)
}

#[test]
fn failed_tasks_keep_finished_results_and_resume_runs_only_the_rest() {
    let layouts: Vec<fn(&Path) -> Storage> = vec![
        |d| Storage::per_task_files(d, "res"),
        |d| Storage::virtual_stack(d, "res", Stacking::new(0, [5usize])),
        |d| Storage::single_file(d, "res", Stacking::new(0, [5usize])),
    ];
    for (layout, exec) in
        layouts
            .iter()
            .zip([Executor::Threads(2), Executor::Serial, Executor::Threads(2)])
    {
        let dir = tempfile::tempdir().unwrap();
        let storage = layout(dir.path());
        let failing = std::sync::Mutex::new(vec![2, 9]);
        let calls = AtomicUsize::new(0);
        let err = flaky_map(&failing, &calls, exec.clone())
            .store(&storage)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("2 of 12 tasks failed; the 10 finished results are kept in"),
            "{text}"
        );
        assert!(
            text.contains("task 2 (argument 2): sensor 2 saturated"),
            "{text}"
        );
        assert!(
            text.contains("task 9 (argument 9): sensor 9 saturated"),
            "{text}"
        );
        // Nothing half-written looks finished: no container, no partial payload files.
        assert!(!storage.container_path().exists());
        if let Some(payload) = storage.payload_dir() {
            let files: Vec<_> = std::fs::read_dir(&payload)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(files.len(), 10, "{files:?}");
            assert!(files
                .iter()
                .all(|f| !f.to_string_lossy().ends_with(".partial")));
        }
        // A plain rerun refuses to touch the kept results.
        let err = flaky_map(&failing, &calls, exec.clone())
            .store(&storage)
            .unwrap_err();
        assert!(
            matches!(err, MapError::Param(MapParamError::OutputExists(_))),
            "{err}"
        );

        failing.lock().unwrap().clear();
        calls.store(0, Ordering::SeqCst);
        let stored = flaky_map(&failing, &calls, exec.clone())
            .resume(true)
            .store(&storage)
            .unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "only the failed tasks ran again"
        );
        assert_eq!(stored.resumed, 10);
        let container = storage.container_path();
        let file = open_h5(&container).unwrap();
        for i in [0usize, 2, 9, 11] {
            let values = match storage.payload_dir() {
                Some(_) if file.link_exists("result_0") => file
                    .dataset("result_0")
                    .unwrap()
                    .read_2d::<f64>()
                    .unwrap()
                    .row(i)
                    .to_owned(),
                Some(_) => file
                    .dataset(&format!("comp_{i}/result_0"))
                    .unwrap()
                    .read_1d::<f64>()
                    .unwrap(),
                None => file
                    .dataset("result_0")
                    .unwrap()
                    .read_2d::<f64>()
                    .unwrap()
                    .row(i)
                    .to_owned(),
            };
            assert_eq!(values, Array1::from_elem(5, i as f64 / 3.0));
            let k = file
                .dataset(&format!("comp_{i}/result_1"))
                .unwrap()
                .read_scalar::<u8>()
                .unwrap();
            assert_eq!(k, i as u8);
        }
        // Resuming a finished map runs nothing.
        calls.store(0, Ordering::SeqCst);
        flaky_map(&failing, &calls, exec)
            .resume(true)
            .store(&storage)
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn resume_refuses_results_of_a_different_map() {
    for single in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let storage = if single {
            Storage::single_file(dir.path(), "res", Stacking::new(0, [5usize]))
        } else {
            Storage::per_task_files(dir.path(), "res")
        };
        let failing = std::sync::Mutex::new(vec![3]);
        let calls = AtomicUsize::new(0);
        flaky_map(&failing, &calls, Executor::Serial)
            .store(&storage)
            .unwrap_err();
        // Same function, other arguments: the derived key differs.
        let other = ParallelMap::new(|_: &TaskContext, i: &usize| {
            Ok::<_, String>((Array1::from_elem(5, *i as f64), 0u8))
        })
        .per_task(100..112)
        .resume(true);
        let err = other.store(&storage).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("resume: "), "{text}");
        assert!(text.contains("belongs to a different map"), "{text}");
        // With the same explicit key, a resumed map is accepted.
        let keyed = |k: &str| {
            ParallelMap::new(|_: &TaskContext, i: &usize| {
                Ok::<_, String>((Array1::from_elem(5, *i as f64), 0u8))
            })
            .per_task(0..12)
            .key(k)
        };
        keyed("v1").overwrite(true).store(&storage).unwrap();
        keyed("v1").resume(true).store(&storage).unwrap();
        let err = keyed("v2").resume(true).store(&storage).unwrap_err();
        assert!(
            err.to_string().contains("belongs to a different map"),
            "{err}"
        );
    }
}

#[test]
fn overwrite_replaces_earlier_results() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::per_task_files(dir.path(), "res");
    blocks_map(4, Executor::Serial).store(&storage).unwrap();
    let err = blocks_map(2, Executor::Serial).store(&storage).unwrap_err();
    assert!(
        err.to_string()
            .contains("exists: remove it, or call .overwrite(true)"),
        "{err}"
    );
    blocks_map(2, Executor::Serial)
        .overwrite(true)
        .store(&storage)
        .unwrap();
    let files = std::fs::read_dir(dir.path().join("res_payload"))
        .unwrap()
        .count();
    assert_eq!(files, 2);
}

#[test]
fn log_next_to_results_and_scalar_results() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::per_task_files(dir.path(), "scalars");
    let stored = ParallelMap::new(|ctx: &TaskContext, x: &f64| {
        if ctx.index == 2 {
            Err("negative variance".to_string())
        } else {
            Ok(x * 2.0)
        }
    })
    .per_task(vec![0.5, 1.5, -1.0])
    .log_next_to_results()
    .store(&storage);
    assert!(stored.is_err());
    let log = std::fs::read_to_string(dir.path().join("scalars.log")).unwrap();
    assert!(
        log.contains("failed: task 2 (argument -1.0): negative variance"),
        "{log}"
    );
    let value = open_h5(dir.path().join("scalars_payload/scalars_1.h5"))
        .unwrap()
        .dataset("result_0")
        .unwrap()
        .read_scalar::<f64>()
        .unwrap();
    assert_eq!(value, 3.0);
}

/// Opens a result file the way trialflow does (HDF5 file locking off), so a test that holds
/// it open while the map reopens it does not trip HDF5's "file locking flag values don't
/// match" (one process must open a file with one locking setting).
fn open_h5(path: impl AsRef<std::path::Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
}
