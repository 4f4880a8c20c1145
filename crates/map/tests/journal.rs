//! The map's resume bookkeeping is the storage crate's journal: `<name>.progress.jsonl` next
//! to the container, in the engine's format (identity header, synced lines, a torn last
//! line ignored). A resume reuses exactly the tasks the journal names: results written
//! after its last line (a run killed before its next checkpoint) are computed again.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::Array1;
use serde_json::Value;
use trialflow_map::{Executor, ParallelMap, Stacking, Storage, TaskContext};

fn counted_map<'f>(
    failing: &'f [usize],
    calls: &'f AtomicUsize,
    exec: Executor,
) -> ParallelMap<'f, usize, (), (Array1<f64>, u8), String> {
    ParallelMap::new(move |_: &TaskContext, i: &usize| {
        calls.fetch_add(1, Ordering::SeqCst);
        if failing.contains(i) {
            return Err(format!("task {i} refused"));
        }
        Ok((Array1::from_elem(4, *i as f64 + 0.5), *i as u8))
    })
    .per_task(0..6)
    .executor(exec)
}

fn journaled_tasks(path: &Path) -> (Value, Vec<u64>) {
    let (identity, entries) = trialflow_hdf5::read_journal_lines(path)
        .unwrap()
        .expect("the map keeps a journal");
    let mut tasks: Vec<u64> = entries
        .iter()
        .flat_map(|e| e["tasks"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_u64())
        .collect();
    tasks.sort();
    (identity, tasks)
}

#[test]
fn resume_reuses_exactly_the_tasks_the_journal_names() {
    let layouts: Vec<fn(&Path) -> Storage> = vec![|d| Storage::per_task_files(d, "res"), |d| {
        Storage::single_file(d, "res", Stacking::new(0, [4usize]))
    }];
    for (layout, exec) in layouts.iter().zip([Executor::Threads(2), Executor::Serial]) {
        let dir = tempfile::tempdir().unwrap();
        let storage = layout(dir.path());
        let calls = AtomicUsize::new(0);
        counted_map(&[4], &calls, exec.clone())
            .store(&storage)
            .unwrap_err();
        let journal = dir.path().join("res.progress.jsonl");
        let (identity, tasks) = journaled_tasks(&journal);
        assert_eq!(
            tasks,
            [0, 1, 2, 3, 5],
            "every finished task, and only those"
        );
        let fingerprint = identity["map"].as_str().unwrap();
        assert!(fingerprint.contains("6 tasks"), "{fingerprint}");

        // As if the run had been killed after writing task 5 but before journaling it,
        // in the middle of the next line.
        let header = std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        std::fs::write(
            &journal,
            format!("{header}\n{{\"tasks\":[0,1,3]}}\n{{\"tasks\":[2]}}\n{{\"tasks\":[5"),
        )
        .unwrap();

        calls.store(0, Ordering::SeqCst);
        let stored = counted_map(&[], &calls, exec.clone())
            .resume(true)
            .store(&storage)
            .unwrap();
        assert_eq!(stored.resumed, 4);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "tasks 4 and 5 ran again");
        let (_, tasks) = journaled_tasks(&journal);
        assert_eq!(
            tasks,
            [0, 1, 2, 3, 4, 5],
            "the torn line was dropped, then appended"
        );

        let file = hdf5::File::open(storage.container_path()).unwrap();
        for i in 0..6usize {
            let values: Array1<f64> = match storage.payload_dir() {
                Some(_) => file
                    .dataset(&format!("comp_{i}/result_0"))
                    .unwrap()
                    .read_1d()
                    .unwrap(),
                None => file
                    .dataset("result_0")
                    .unwrap()
                    .read_2d::<f64>()
                    .unwrap()
                    .row(i)
                    .to_owned(),
            };
            assert_eq!(values, Array1::from_elem(4, i as f64 + 0.5), "task {i}");
        }
    }
}

#[test]
fn a_container_without_its_journal_is_not_resumed_blindly() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::per_task_files(dir.path(), "res");
    let calls = AtomicUsize::new(0);
    counted_map(&[], &calls, Executor::Serial)
        .store(&storage)
        .unwrap();
    std::fs::remove_file(dir.path().join("res.progress.jsonl")).unwrap();
    let err = counted_map(&[], &calls, Executor::Serial)
        .resume(true)
        .store(&storage)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("resume: "), "{text}");
    assert!(text.contains("no journal"), "{text}");
}
