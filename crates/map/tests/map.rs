//! The parallel map in memory: task order, task context, broadcast, failures (errors and
//! panics, with their original causes), the debug executor, dry runs, bad parameters, and
//! the collectives. Serial and thread executors must agree bit for bit.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{array, Array1, Array2};
use trialflow_map::{
    Executor, MapError, MapParamError, ParallelMap, Stacking, Storage, TaskContext, TaskPanic,
};

fn executors() -> Vec<Executor> {
    vec![
        Executor::Serial,
        Executor::Debug,
        Executor::Threads(2),
        Executor::Threads(3),
    ]
}

#[derive(Debug, thiserror::Error)]
#[error("reading the input failed")]
struct Outer {
    #[source]
    cause: std::io::Error,
}

#[test]
fn results_come_back_in_task_order_with_their_context() {
    for exec in executors() {
        let results = ParallelMap::new(|ctx: &TaskContext, x: &u64| {
            // Later tasks finish first on threads; the order must not change.
            std::thread::sleep(std::time::Duration::from_micros(
                200 * (20 - ctx.index as u64),
            ));
            Ok::<_, std::io::Error>((ctx.index, ctx.n_tasks, x * 10))
        })
        .per_task(0..20u64)
        .executor(exec.clone())
        .collect()
        .unwrap();
        let expected: Vec<_> = (0..20).map(|i| (i as usize, 20, i * 10)).collect();
        assert_eq!(results, expected, "{exec:?}");
    }
}

#[test]
fn per_task_seeds_differ_and_do_not_depend_on_the_executor() {
    let seeds = |exec: Executor| {
        ParallelMap::new(|ctx: &TaskContext, _: &()| Ok::<_, std::io::Error>(ctx.seed(42)))
            .per_task(vec![(); 64])
            .executor(exec)
            .collect()
            .unwrap()
    };
    let serial = seeds(Executor::Serial);
    assert_eq!(serial, seeds(Executor::Threads(2)));
    let mut unique = serial.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 64);
    assert_ne!(serial, seeds_with_base(7));

    fn seeds_with_base(base: u64) -> Vec<u64> {
        (0..64)
            .map(|index| TaskContext { index, n_tasks: 64 }.seed(base))
            .collect()
    }
}

#[test]
fn broadcast_value_is_shared_not_split() {
    // A list as long as the task list is still one shared value: nothing is guessed.
    let weights = vec![1.0, 2.0, 3.0];
    for exec in executors() {
        let out = ParallelMap::with_broadcast(
            weights.clone(),
            |_: &TaskContext, x: &f64, w: &Vec<f64>| {
                Ok::<_, std::io::Error>(w.iter().map(|v| v * x).sum::<f64>())
            },
        )
        .per_task(vec![1.0, 10.0, 100.0])
        .executor(exec)
        .collect()
        .unwrap();
        assert_eq!(out, vec![6.0, 60.0, 600.0]);
    }
}

#[test]
fn serial_and_threads_agree_bit_for_bit_including_nan_and_inf() {
    let run = |exec: Executor| {
        ParallelMap::new(|ctx: &TaskContext, x: &f64| {
            let v: Array1<f64> = Array1::linspace(0.0, *x, 17).mapv(|t| (t * 1.3).sin() / t);
            let mut v = v;
            v[3] = if ctx.index.is_multiple_of(2) {
                f64::INFINITY
            } else {
                f64::NAN
            };
            Ok::<_, std::io::Error>(v)
        })
        .per_task((0..30).map(|i| i as f64 * 0.37))
        .executor(exec)
        .collect()
        .unwrap()
    };
    let bits = |r: Vec<Array1<f64>>| -> Vec<Vec<u64>> {
        r.iter()
            .map(|a| a.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let serial = bits(run(Executor::Serial));
    assert_eq!(serial, bits(run(Executor::Threads(2))));
    assert_eq!(serial, bits(run(Executor::Debug)));
}

#[test]
fn every_failure_is_reported_with_index_cause_and_arguments() {
    for exec in [Executor::Serial, Executor::Threads(2)] {
        let map = ParallelMap::new(|_: &TaskContext, x: &i32| match x {
            3 => Err(Outer {
                cause: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "file trial_3.bin is missing",
                ),
            }),
            7 => panic!("index {x} out of range"),
            _ => Ok(x * 2),
        })
        .per_task(0..10)
        .executor(exec.clone());
        let outcomes = map.collect_outcomes().unwrap();
        assert_eq!(outcomes.n_failed(), 2);
        // Successful results are kept next to the failures.
        assert_eq!(outcomes.results[9].as_ref().unwrap(), &18);
        let failures: Vec<_> = outcomes.failures().collect();
        assert_eq!(failures[0].index, 3);
        assert_eq!(failures[0].args, "3");
        assert_eq!(
            failures[0].message(),
            "reading the input failed: file trial_3.bin is missing"
        );
        // The original error is kept, not a copy of its text.
        let original = failures[0].error.downcast_ref::<Outer>().unwrap();
        assert_eq!(original.cause.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(failures[1].index, 7);
        let panic = failures[1].error.downcast_ref::<TaskPanic>().unwrap();
        assert_eq!(panic.message, "index 7 out of range");

        let err = map.collect().unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("2 of 10 tasks failed"), "{text}");
        assert!(
            text.contains(
                "task 3 (argument 3): reading the input failed: file trial_3.bin is missing"
            ),
            "{text}"
        );
        assert!(
            text.contains("task 7 (argument 7): panicked: index 7 out of range"),
            "{text}"
        );
        assert!(matches!(err, MapError::TasksFailed(ref r) if r.failures.len() == 2));
    }
}

#[test]
fn long_arguments_are_summarised() {
    let err = ParallelMap::new(|_: &TaskContext, _: &Vec<u32>| Err::<(), _>("bad"))
        .per_task(vec![(0..10_000).collect::<Vec<u32>>()])
        .collect()
        .unwrap_err();
    let MapError::TasksFailed(report) = err else {
        panic!("{err}")
    };
    assert!(report.failures[0].args.chars().count() <= 203);
    assert!(report.failures[0].args.ends_with("..."));
}

#[test]
fn debug_executor_lets_the_panic_through_in_the_calling_thread() {
    let caller = std::thread::current().id();
    let result = std::panic::catch_unwind(|| {
        ParallelMap::new(move |_: &TaskContext, x: &i32| {
            assert_eq!(
                std::thread::current().id(),
                caller,
                "runs in the calling thread"
            );
            if *x == 2 {
                panic!("stop here");
            }
            Ok::<_, std::io::Error>(*x)
        })
        .per_task(0..4)
        .executor(Executor::Debug)
        .collect()
    });
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"stop here"));
}

#[test]
fn collect_stacked_inserts_the_task_axis() {
    let map = ParallelMap::new(|ctx: &TaskContext, _: &()| {
        let i = ctx.index as f64;
        Ok::<_, std::io::Error>(array![[i, i + 0.5, i + 0.25], [-i, -i - 0.5, -i - 0.25]])
    })
    .per_task(vec![(); 4])
    .executor(Executor::Threads(2));
    let along0 = map.collect_stacked(0).unwrap();
    assert_eq!(along0.shape(), &[4, 2, 3]);
    assert_eq!(along0[[3, 1, 2]], -3.25);
    let along2 = map.collect_stacked(2).unwrap();
    assert_eq!(along2.shape(), &[2, 3, 4]);
    assert_eq!(along2[[1, 2, 3]], -3.25);
    let err = map.collect_stacked(3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "collect_stacked axis 3: results with 2 axes stack along axis 0..=2 only"
    );

    let ragged = ParallelMap::new(|ctx: &TaskContext, _: &()| {
        Ok::<_, std::io::Error>(Array2::<f64>::zeros((ctx.index + 1, 2)))
    })
    .per_task(vec![(); 3]);
    let err = ragged.collect_stacked(0).unwrap_err();
    assert!(
        err.to_string()
            .contains("task 1's result has shape [2, 2], task 0's [1, 2]"),
        "{err}"
    );
}

#[test]
fn bad_parameters_give_one_line_errors_naming_the_parameter() {
    let square = |_: &TaskContext, x: &f64| Ok::<_, std::io::Error>(x * x);
    let err = ParallelMap::new(square).collect().unwrap_err();
    assert_eq!(
        err.to_string(),
        "per_task: no tasks to run (give at least one argument)"
    );
    let err = ParallelMap::new(square)
        .per_task(vec![1.0])
        .executor(Executor::Threads(0))
        .collect()
        .unwrap_err();
    assert!(err.to_string().starts_with("executor: Threads(0)"), "{err}");
    let err = ParallelMap::new(square)
        .per_task(vec![1.0])
        .executor(Executor::Threads(1 << 40))
        .collect()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "executor: Threads(1099511627776) is more than 4096 threads"
    );
    let dir = tempfile::tempdir().unwrap();
    let map = ParallelMap::new(square).per_task(vec![1.0]);
    for bad in ["", "a/b", "..", "x\\y"] {
        let err = map
            .store(&Storage::per_task_files(dir.path(), bad))
            .unwrap_err();
        assert!(
            matches!(err, MapError::Param(MapParamError::BadName(_))),
            "{err}"
        );
        assert!(err.to_string().starts_with("storage name"), "{err}");
    }
    let err = map
        .store(&Storage::virtual_stack(
            dir.path(),
            "r",
            Stacking::new(2, [3usize]),
        ))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stacking axis 2: results with 1 axes stack along axis 0..=1 only"
    );
    let two = Stacking::new(
        0,
        [
            trialflow_map::Extent::Unlimited,
            trialflow_map::Extent::Unlimited,
        ],
    );
    let err = map
        .store(&Storage::single_file(dir.path(), "r", two))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("stacking task_shape: at most one axis"),
        "{err}"
    );
    let err = ParallelMap::new(square)
        .per_task(vec![1.0])
        .resume(true)
        .overwrite(true)
        .store(&Storage::per_task_files(dir.path(), "r"))
        .unwrap_err();
    assert!(err.to_string().starts_with("resume and overwrite"), "{err}");
    let err = map.dry_run(5).unwrap_err();
    assert_eq!(err.to_string(), "dry_run task 5: the map has only 1 tasks");
    // Nothing was written by any of these.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn dry_run_measures_one_task_and_runs_nothing_else() {
    let calls = AtomicUsize::new(0);
    let map = ParallelMap::new(|_: &TaskContext, mib: &usize| {
        calls.fetch_add(1, Ordering::SeqCst);
        let block = vec![1u8; mib << 20];
        std::thread::sleep(std::time::Duration::from_millis(20));
        Ok::<_, std::io::Error>(
            std::hint::black_box(block)
                .iter()
                .map(|&b| b as u64)
                .sum::<u64>(),
        )
    })
    .per_task(vec![1, 48, 2])
    .executor(Executor::Threads(2));
    let report = map.dry_run(1).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(report.task, 1);
    assert!(report.wall_time >= std::time::Duration::from_millis(20));
    if let Some(peak) = report.peak_memory_bytes {
        assert!(peak >= 40 << 20, "peak {peak}");
    }
    assert!(report.to_string().starts_with("task 1 of 3: "), "{report}");
    assert!(report.to_string().contains(" s, peak memory "), "{report}");

    let failing =
        ParallelMap::new(|_: &TaskContext, _: &()| Err::<f64, _>("no data")).per_task(vec![()]);
    let err = failing.dry_run(0).unwrap_err();
    assert!(
        err.to_string().contains("task 0 (argument ()): no data"),
        "{err}"
    );
}

#[test]
fn dry_run_stored_catches_a_result_that_does_not_fit_the_storage() {
    let dir = tempfile::tempdir().unwrap();
    let map = ParallelMap::new(|_: &TaskContext, n: &usize| {
        Ok::<_, std::io::Error>(Array1::<f32>::zeros(*n))
    })
    .per_task(vec![4, 5]);
    let storage = Storage::virtual_stack(dir.path(), "r", Stacking::new(0, [4usize]));
    let report = map.dry_run_stored(0, &storage).unwrap();
    assert_eq!(report.stored.as_deref(), Some("result_0: F32 [4]"));
    let err = map.dry_run_stored(1, &storage).unwrap_err();
    assert!(
        err.to_string().contains(
            "result_0 has shape [5], but the stacking declares task_shape axis 0 task_shape [4]"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn collectives_on_one_process() {
    for exec in executors() {
        assert_eq!(exec.rank(), 0);
        assert_eq!(exec.n_processes(), 1);
        assert_eq!(exec.broadcast(|| vec![1.5, f64::NAN].len()), 2);
        let block = exec.scatter(|| (0..7).collect::<Vec<u32>>());
        assert_eq!(block, (0..7).collect::<Vec<u32>>());
        assert_eq!(exec.gather(block.clone()), block);
        assert_eq!(exec.gather_to_root(block.clone()), Some(block.clone()));
        let mapped = exec.map(&block, |i, x| (i as u32) * 100 + x);
        assert_eq!(mapped, vec![0, 101, 202, 303, 404, 505, 606]);
        exec.barrier();
    }
}

#[test]
fn log_file_records_failures_with_their_causes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("map.log");
    let _ = ParallelMap::new(|_: &TaskContext, x: &i32| {
        if *x == 1 {
            Err("channel 12 is flat")
        } else {
            Ok(*x)
        }
    })
    .per_task(0..3)
    .log_file(&log)
    .collect();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("map of 3 tasks in memory on Serial"),
        "{text}"
    );
    assert!(
        text.contains("failed: task 1 (argument 1): channel 12 is flat"),
        "{text}"
    );
    assert!(text.contains("done: 1 of 3 tasks failed"), "{text}");
}
