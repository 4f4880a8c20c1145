//! Resuming an averaging run (`keeptrials: false`) never counts a task twice or drops one:
//! the fold state a resume starts from is exactly that of the checkpoint its journal names,
//! and a state that is missing, short, corrupted, of another checkpoint, or covering other
//! trials than the checkpoint's is refused with one line instead of being taken as zeros.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use trialflow::engine::{Checkpoint, ObjectId, ObjectMetadata, ObjectSpec, TaskPlacement};
use trialflow::hdf5::{WriteMode, WriterOptions};
use trialflow::model::EventBlock;
use trialflow::prelude::*;
use trialflow::routines::preprocessing::Rectify;
use trialflow::synthetic::{generate_recording, GenerateOptions};
use trialflow::RunReport;

const TRIALS: usize = 40;

fn recording(dir: &Path) -> PathBuf {
    init();
    let opts = GenerateOptions {
        trials: TRIALS,
        samples: 300,
        channels: 3,
        samplerate: 1000.0,
        seed: 11,
        dtype: DType::Float64,
        unequal: false,
        overwrite: false,
    };
    generate_recording(&dir.join("in.spy"), &opts).expect("the recording is written")
}

fn averaging(mode: ExecutionMode) -> Pipeline {
    let execution = ExecutionOptions {
        mode,
        workers: Some(2),
        keeptrials: false,
        ..Default::default()
    };
    Pipeline::new(vec![Step::new(Rectify).named("avg")], execution)
}

/// Runs the averaging pipeline into `out`; the progress callback slows the writer to about
/// 40 ms a task, so the run spans three periodic checkpoints (one every 500 ms; a whole run
/// that completes records no closing one for its folds).
fn run(
    input: &Path,
    out: &Path,
    mode: WriteMode,
    crash_after_sums: Option<usize>,
) -> Result<RunReport, Error> {
    let mut reader = SpyReader::open(input).expect("the input opens");
    let mut writer = SpyWriter::create(
        out,
        WriterOptions {
            overwrite: false,
            mode,
            durable: true,
        },
    )
    .expect("the output can be created");
    if let Some(n) = crash_after_sums {
        writer.crash_after_sums(n);
    }
    let slow = |_: usize, _: usize| std::thread::sleep(Duration::from_millis(40));
    run_pipeline(
        &averaging(ExecutionMode::Parallel),
        &mut reader,
        &mut writer,
        Some(&slow),
    )
}

/// The journal's last complete line.
fn last_journal_line(staging: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(staging.join("progress.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// Leaves `out.spy.partial` as a kill after writing the second checkpoint's sums, before
/// its journal line, would: the journal names generation 1, and `sums.2.bin` exists too.
fn crashed_run(dir: &Path, input: &Path) -> PathBuf {
    let out = dir.join("out.spy");
    let error =
        run(input, &out, WriteMode::Fresh, Some(2)).expect_err("the injected crash stops the run");
    assert!(error.to_string().contains("injected crash"), "{error}");
    let staging = dir.join("out.spy.partial");
    let last = last_journal_line(&staging);
    assert_eq!(last["sums"]["generation"], 1, "journal: {last}");
    let completed = last["completed"].as_u64().unwrap() as usize;
    assert!(
        completed > 0 && completed < TRIALS,
        "checkpoint 1 covers {completed} tasks"
    );
    assert!(staging.join("sums.1.bin").is_file());
    assert!(
        staging.join("sums.2.bin").is_file(),
        "the crash left the newer sums"
    );
    staging
}

fn copy_staging(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_kill_between_the_sums_and_the_journal_line_resumes_to_the_uninterrupted_average() {
    let tmp = TempDir::new("avg-resume");
    let input = recording(&tmp.path);
    let reference = tmp.join("ref.spy");
    run(&input, &reference, WriteMode::Fresh, None).expect("the uninterrupted run succeeds");

    crashed_run(&tmp.path, &input);
    let out = tmp.join("out.spy");
    let report = run(&input, &out, WriteMode::Resume, None).expect("the resume succeeds");
    let from = report.resumed_from.expect("it resumed");
    assert!(from > 0 && from < TRIALS, "resumed from task {from}");
    assert_same_results(&reference, &out, "resumed average");
    assert!(
        !list(&out).iter().any(|n| n.starts_with("sums.")),
        "the sums are bookkeeping and leave with the staging folder: {:?}",
        list(&out)
    );
}

#[test]
fn missing_short_corrupted_or_foreign_sums_are_refused() {
    let tmp = TempDir::new("avg-refuse");
    let input = recording(&tmp.path);
    let staging = crashed_run(&tmp.path, &input);
    type Damage = fn(&Path);
    let cases: [(&str, Damage, &str); 4] = [
        (
            "missing",
            |s| std::fs::remove_file(s.join("sums.1.bin")).unwrap(),
            "is missing",
        ),
        (
            "short",
            |s| {
                let path = s.join("sums.1.bin");
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
            },
            "bytes",
        ),
        (
            "corrupted",
            |s| {
                let path = s.join("sums.1.bin");
                let mut bytes = std::fs::read(&path).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 0x40;
                std::fs::write(&path, &bytes).unwrap();
            },
            "checksum",
        ),
        (
            "another checkpoint's",
            |s| {
                std::fs::copy(s.join("sums.2.bin"), s.join("sums.1.bin"))
                    .map(drop)
                    .unwrap()
            },
            "sums.1.bin",
        ),
    ];
    for (what, damage, needle) in cases {
        let name = what.replace(' ', "-").replace('\'', "");
        let copy = tmp.join(format!("{name}.spy.partial"));
        copy_staging(&staging, &copy);
        damage(&copy);
        let error = run(
            &input,
            &tmp.join(format!("{name}.spy")),
            WriteMode::Resume,
            None,
        )
        .expect_err(&format!("{what} sums are refused"));
        let message = error.to_string();
        assert!(!message.contains('\n'), "{what}: one line: {message}");
        for expected in ["cannot resume", "sums.1.bin", needle, "without --resume"] {
            assert!(
                message.contains(expected),
                "{what}: {message:?} lacks {expected:?}"
            );
        }
        assert_eq!(error.class(), ErrorClass::User, "{what}: {message}");
        assert!(
            !tmp.join(format!("{name}.spy")).exists(),
            "{what}: nothing is committed"
        );
    }
}

/// A sink that claims an interrupted averaging run with `completed` tasks and the given
/// sums, delegating everything else to a [`MemorySink`].
struct Resumed {
    inner: MemorySink,
    sums: Vec<Option<Vec<f64>>>,
}

impl ResultSink for Resumed {
    fn begin(&mut self, _identity: &serde_json::Value) -> Result<Option<Checkpoint>, Error> {
        Ok(Some(Checkpoint {
            completed: 2,
            sums: self.sums.clone(),
            ..Default::default()
        }))
    }
    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId, Error> {
        self.inner.preallocate(spec)
    }
    fn write_dense(
        &mut self,
        id: ObjectId,
        p: &TaskPlacement,
        b: DenseBlock<'_>,
    ) -> Result<(), Error> {
        self.inner.write_dense(id, p, b)
    }
    fn append_events(&mut self, id: ObjectId, trial: usize, e: &EventBlock) -> Result<(), Error> {
        self.inner.append_events(id, trial, e)
    }
    fn finalize(&mut self, id: ObjectId, m: &ObjectMetadata) -> Result<(), Error> {
        self.inner.finalize(id, m)
    }
    fn commit(&mut self) -> Result<(), Error> {
        self.inner.commit()
    }
}

#[test]
fn the_engine_refuses_a_resumed_average_without_matching_sums() {
    let data = ndarray::Array2::from_shape_fn((40, 2), |(i, c)| (i * 3 + c) as f64);
    let rec = InMemoryRecording::contiguous(data, 100.0, &[10, 10, 10, 10]).unwrap();
    for mode in [ExecutionMode::Sequential, ExecutionMode::Parallel] {
        for (sums, needle) in [
            (vec![None], "holds no cross-trial state"),
            (vec![Some(vec![0.0; 3])], "holds 3 values"),
            // Only trial 0 where the checkpoint claims trials 0 and 1.
            (
                vec![Some([&[0.0, 1.0][..], &[0.0; 20]].concat())],
                "covers trials 0..1",
            ),
            // Trial 0 twice.
            (
                vec![Some(
                    [&[0.0, 1.0][..], &[0.0; 20], &[0.0, 1.0], &[0.0; 20]].concat(),
                )],
                "does not cover trials 0..2 exactly",
            ),
        ] {
            let mut sink = Resumed {
                inner: MemorySink::new(),
                sums,
            };
            let error = run_pipeline(&averaging(mode), &mut rec.clone(), &mut sink, None)
                .expect_err("mismatched sums are refused");
            let message = error.to_string();
            assert!(
                message.contains(needle) && message.contains("'avg'"),
                "{mode:?}: {message}"
            );
            assert!(!sink.inner.committed);
        }
        // A matching state is taken: the two resumed tasks count once, through it (one
        // subtree `[start 0, 2 trials, values]`, see engine/fold.rs).
        let mut sink = Resumed {
            inner: MemorySink::new(),
            sums: vec![Some([&[0.0, 2.0][..], &[0.0; 20]].concat())],
        };
        run_pipeline(&averaging(mode), &mut rec.clone(), &mut sink, None)
            .expect("matching sums resume");
        assert!(sink.inner.committed);
    }
}
