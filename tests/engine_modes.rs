//! The engine's central promise: every execution mode, with or without channel groups, gives
//! bitwise identical results; averaging is in trial order; events come out ordered by trial,
//! sample and channel; failures name their task.

use std::ops::Range;

use ndarray::{Array2, ArrayD};
use trialflow::engine::{ObjectSpec, ResultSink, RunScope, StoreLayout, TaskPlacement};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::model::{EventColumn, EventColumnKind};
use trialflow::prelude::*;
use trialflow::routines::preprocessing::{DetrendParams, DetrendType, Rectify, ZScore};

/// A deterministic recording with unequal trials, gaps between trials and NaN-free values.
fn recording(channels: usize) -> InMemoryRecording {
    let lengths = [37usize, 50, 1, 64, 23, 50];
    let total: usize = lengths.iter().sum::<usize>() + 3 * lengths.len();
    let data = Array2::from_shape_fn((total, channels), |(i, c)| {
        let x = i as f64 * 0.37 + c as f64 * 1.91;
        x.sin() * (1.0 + c as f64) + (i % 7) as f64 * 0.1 - c as f64
    });
    // Trials with a 3-sample gap after each, per-trial offsets and one trialinfo column.
    let mut trials = Vec::new();
    let mut info = Vec::new();
    let mut start = 0;
    for (t, &len) in lengths.iter().enumerate() {
        trials.push((start, start + len, -(t as f64) * 2.0));
        info.push(vec![t as f64 * 10.0]);
        start += len + 3;
    }
    InMemoryRecording::new(data, 250.0, TrialDefinition::from_trials(&trials, &info)).unwrap()
}

fn three_step_pipeline(execution: ExecutionOptions) -> Pipeline {
    Pipeline::new(
        vec![
            Step::new(
                DetrendParams::new()
                    .kind(DetrendType::Linear)
                    .check()
                    .unwrap(),
            )
            .named("flat")
            .saved(),
            Step::new(ZScore),
            Step::new(Rectify),
        ],
        execution,
    )
}

fn run(pipeline: &Pipeline, rec: &InMemoryRecording) -> MemorySink {
    let mut source = rec.clone();
    let mut sink = MemorySink::new();
    run_pipeline(pipeline, &mut source, &mut sink, None).expect("pipeline runs");
    assert!(sink.committed);
    sink
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn all_modes() -> Vec<(String, ExecutionOptions)> {
    let mut modes = Vec::new();
    for cpw in [None, Some(1), Some(2), Some(3), Some(5)] {
        for (name, mut opts) in [
            ("sequential", ExecutionOptions::sequential()),
            ("debug", {
                let mut o = ExecutionOptions::sequential();
                o.mode = ExecutionMode::Debug;
                o
            }),
            ("parallel1", ExecutionOptions::parallel(1)),
            ("parallel2", ExecutionOptions::parallel(2)),
            ("parallel3", ExecutionOptions::parallel(3)),
        ] {
            opts.chan_per_worker = cpw;
            modes.push((format!("{name} chan_per_worker={cpw:?}"), opts));
        }
    }
    modes
}

#[test]
fn every_mode_and_channel_grouping_is_bitwise_identical() {
    let rec = recording(5);
    let reference = run(&three_step_pipeline(ExecutionOptions::sequential()), &rec);
    let ref_flat = reference.object("flat").unwrap().data.clone().unwrap();
    let ref_last = reference.object("rectify").unwrap().data.clone().unwrap();
    assert!(ref_flat.iter().all(|v| v.is_finite() || v.is_nan()));
    for (name, opts) in all_modes() {
        let sink = run(&three_step_pipeline(opts), &rec);
        let flat = sink.object("flat").unwrap().data.clone().unwrap();
        let last = sink.object("rectify").unwrap().data.clone().unwrap();
        assert_eq!(
            bits(&flat),
            bits(&ref_flat),
            "{name}: saved middle step differs"
        );
        assert_eq!(bits(&last), bits(&ref_last), "{name}: last step differs");
    }
}

#[test]
fn channel_groups_fill_every_block() {
    // Syncopy's sequential chan_per_worker leaves blocks empty; every element must be written.
    let rec = recording(5);
    let mut opts = ExecutionOptions::sequential();
    opts.chan_per_worker = Some(2);
    let sink = run(&three_step_pipeline(opts), &rec);
    let data = sink.object("rectify").unwrap().data.clone().unwrap();
    // The single-sample trial z-scores to NaN (0/0), as numpy does; everything else is set.
    let nan_rows = data
        .outer_iter()
        .filter(|row| row.iter().any(|v| v.is_nan()))
        .count();
    assert_eq!(nan_rows, 1, "only the one-sample trial is NaN");
    let writes = &sink.write_order[&1];
    assert_eq!(writes.len(), 6 * 3, "6 trials x 3 channel groups written");
    assert!(
        writes.windows(2).all(|w| w[0] < w[1]),
        "writes in task order"
    );
}

#[test]
fn results_keep_trial_metadata() {
    let rec = recording(3);
    let sink = run(&three_step_pipeline(ExecutionOptions::parallel(2)), &rec);
    let meta = sink.object("rectify").unwrap().metadata.clone().unwrap();
    let def = &meta.schema.trialdefinition;
    assert_eq!(def.len(), 6);
    // Restacked back to back (the input had gaps), offsets and trialinfo kept.
    assert_eq!(def.row(0), &[0.0, 37.0, 0.0, 0.0]);
    assert_eq!(def.row(1), &[37.0, 87.0, -2.0, 10.0]);
    assert_eq!(def.row(5), &[175.0, 225.0, -10.0, 50.0]);
    assert_eq!(meta.schema.samplerate, 250.0);
    assert!(
        meta.log
            .contains("computed detrend with settings\n\ttype = \"linear\"")
            || meta
                .log
                .contains("computed detrend with settings\n\ttype = linear")
    );
    assert_eq!(meta.cfg["flat"]["type"], "linear");
    assert_eq!(meta.cfg["rectify"]["routine"], "rectify");
}

/// Copies each trial's first `n` samples; every trial must have at least `n`.
#[derive(Clone)]
struct Head {
    n: usize,
}

impl ComputationalRoutine for Head {
    fn name(&self) -> &str {
        "head"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "n": self.n })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let mut shapes = Vec::new();
        for (trial, shape) in input.trial_shapes.iter().enumerate() {
            if shape[0] < self.n {
                return Err(RoutineError::invalid(format!(
                    "trial {trial} has {} samples, fewer than n = {}",
                    shape[0], self.n
                )));
            }
            shapes.push(vec![self.n, shape[1]]);
        }
        Ok(OutputShape::dense(DataKind::Analog, shapes))
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for Head {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        output
            .samples_mut()
            .assign(&x.slice(ndarray::s![..self.n, ..]));
        Ok(())
    }
}

#[test]
fn keeptrials_false_averages_in_trial_order_in_every_mode() {
    let rec = recording(4);
    let build = |opts: ExecutionOptions| {
        Pipeline::new(vec![Step::new(Head { n: 1 }), Step::new(Rectify)], opts)
    };
    let per_trial = run(&build(ExecutionOptions::sequential()), &rec);
    let trials = per_trial.object("rectify").unwrap().data.clone().unwrap();
    let mut expected = ArrayD::<f64>::zeros(ndarray::IxDyn(&[4]));
    for row in trials.outer_iter() {
        expected += &row;
    }
    expected /= trials.shape()[0] as f64;

    let mut reference: Option<Vec<u64>> = None;
    for (name, mut opts) in all_modes() {
        opts.keeptrials = false;
        let sink = run(&build(opts), &rec);
        let obj = sink.object("rectify").unwrap();
        let mean = obj.data.clone().unwrap();
        assert_eq!(mean.shape(), &[1, 4], "{name}");
        let got = bits(&mean);
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "{name}: average differs"),
        }
        for (a, b) in mean.iter().zip(expected.iter()) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{name}: {a} vs {b}"
            );
        }
        let def = &obj.metadata.as_ref().unwrap().schema.trialdefinition;
        assert_eq!(def.len(), 1);
    }
}

#[test]
fn keeptrials_false_refuses_unequal_output_shapes() {
    let rec = recording(2);
    let mut opts = ExecutionOptions::sequential();
    opts.keeptrials = false;
    let pipeline = Pipeline::new(vec![Step::new(Rectify)], opts);
    let err = run_pipeline(&pipeline, &mut rec.clone(), &mut MemorySink::new(), None).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("keeptrials") && msg.contains("trial 1"),
        "{msg}"
    );
}

#[test]
fn initialize_refuses_a_trial_before_anything_runs() {
    let rec = recording(2);
    let pipeline = Pipeline::new(
        vec![Step::new(Rectify), Step::new(Head { n: 30 })],
        ExecutionOptions::parallel(2),
    );
    let mut sink = MemorySink::new();
    let err = run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "step 2 (head): trial 2 has 1 samples, fewer than n = 30"
    );
    assert!(sink.objects.is_empty(), "nothing preallocated");
}

/// Fails (or panics) on one trial, to check error context and prompt stopping.
#[derive(Clone)]
struct FailOn {
    trial: usize,
    panic: bool,
}

impl ComputationalRoutine for FailOn {
    fn name(&self) -> &str {
        "fail_on"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "trial": self.trial, "panic": self.panic })
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for FailOn {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        if input.trial == self.trial {
            if self.panic {
                panic!("index out of bounds in the kernel");
            }
            return Err(RoutineError::failed("the kernel diverged"));
        }
        output.samples_mut().assign(&input.samples());
        Ok(())
    }
}

#[test]
fn failures_name_step_trial_and_channels_in_every_mode() {
    let rec = recording(5);
    for panic in [false, true] {
        for (name, opts) in all_modes() {
            if panic && opts.mode == ExecutionMode::Debug {
                continue; // debug mode lets panics propagate, by design
            }
            let cpw = opts.chan_per_worker;
            let pipeline = Pipeline::new(
                vec![
                    Step::new(Rectify),
                    Step::new(FailOn { trial: 3, panic }).named("boom"),
                ],
                opts,
            );
            let mut sink = MemorySink::new();
            let err = run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{name}");
            let msg = err.to_string();
            let channels = match cpw {
                None => "0..5".to_string(),
                Some(k) => format!("0..{}", k.min(5)),
            };
            let expected_prefix =
                format!("step 2 'boom' (fail_on), trial 3, channels {channels}: ");
            assert!(msg.starts_with(&expected_prefix), "{name}: {msg}");
            if panic {
                assert!(
                    msg.contains("panicked: index out of bounds"),
                    "{name}: {msg}"
                );
            } else {
                assert!(msg.ends_with("the kernel diverged"), "{name}: {msg}");
            }
            assert!(!sink.committed, "{name}: a failed run must not commit");
        }
    }
}

#[test]
fn debug_mode_lets_panics_propagate_on_the_calling_thread() {
    let rec = recording(2);
    let mut opts = ExecutionOptions::sequential();
    opts.mode = ExecutionMode::Debug;
    let pipeline = Pipeline::new(
        vec![Step::new(FailOn {
            trial: 0,
            panic: true,
        })],
        opts,
    );
    let caller = std::thread::current().id();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = run_pipeline(&pipeline, &mut rec.clone(), &mut MemorySink::new(), None);
    }));
    assert!(outcome.is_err(), "the panic reached the caller");
    assert_eq!(std::thread::current().id(), caller);
}

/// Emits an event wherever a channel's value exceeds a threshold, with a height property
/// and a sample-index property, in channel-major order (so the engine must reorder).
#[derive(Clone)]
struct Crossings {
    threshold: f64,
}

impl ComputationalRoutine for Crossings {
    fn name(&self) -> &str {
        "crossings"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({ "threshold": self.threshold })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        Ok(OutputShape::events(
            input.n_trials(),
            vec![
                EventColumn::new("peak_heights", EventColumnKind::Float),
                EventColumn::new("left_bases", EventColumnKind::SampleIndex),
            ],
        ))
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for Crossings {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        let events = output.events_mut();
        for (c, column) in x.columns().into_iter().enumerate() {
            for (i, &v) in column.iter().enumerate() {
                if v > self.threshold {
                    let channel = (input.channels.start + c) as i64;
                    events.push(i as i64, channel, 0, &[v, i.saturating_sub(1) as f64]);
                }
            }
        }
        Ok(())
    }
}

#[test]
fn events_are_ordered_and_in_recording_sample_space_in_every_mode() {
    let rec = recording(5);
    let build = |opts| Pipeline::new(vec![Step::new(Crossings { threshold: 0.5 })], opts);
    let reference = run(&build(ExecutionOptions::sequential()), &rec);
    let ev = &reference.object("crossings").unwrap().events;
    assert!(ev.len() > 20, "the test data has crossings");
    // Ordered by (sample, channel) over the whole recording (trials are in order).
    for i in 1..ev.len() {
        assert!((ev.sample[i - 1], ev.channel[i - 1]) < (ev.sample[i], ev.channel[i]));
    }
    // Samples index the recording: the value there exceeds the threshold.
    for i in 0..ev.len() {
        let v = rec.data()[[ev.sample[i] as usize, ev.channel[i] as usize]];
        assert_eq!(v, ev.columns[0][i]);
        let base = ev.columns[1][i];
        let sample = ev.sample[i] as f64;
        assert!(
            base == sample - 1.0 || base == sample,
            "left base {base} at {sample}"
        );
    }
    for (name, opts) in all_modes() {
        let sink = run(&build(opts), &rec);
        assert_eq!(&sink.object("crossings").unwrap().events, ev, "{name}");
    }
}

#[test]
fn invalid_execution_options_are_refused() {
    let rec = recording(2);
    for (opts, needle) in [
        (
            ExecutionOptions {
                workers: Some(0),
                ..ExecutionOptions::default()
            },
            "execution.workers",
        ),
        (
            ExecutionOptions {
                chan_per_worker: Some(0),
                ..ExecutionOptions::default()
            },
            "execution.chan_per_worker",
        ),
        (
            ExecutionOptions {
                mem_thresh: 0.0,
                ..ExecutionOptions::default()
            },
            "execution.mem_thresh",
        ),
    ] {
        let pipeline = Pipeline::new(vec![Step::new(Rectify)], opts);
        let err =
            run_pipeline(&pipeline, &mut rec.clone(), &mut MemorySink::new(), None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(needle), "{err}");
    }
    let empty = Pipeline::new(vec![], ExecutionOptions::default());
    let err = run_pipeline(&empty, &mut rec.clone(), &mut MemorySink::new(), None).unwrap_err();
    assert!(err.to_string().contains("no steps"));
}

/// A sink that records preallocation, to check the routine hook is used.
#[derive(Default)]
struct CountingSink {
    inner: MemorySink,
    preallocated: Vec<(String, StoreLayout, Vec<Range<usize>>)>,
}

impl ResultSink for CountingSink {
    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<trialflow::engine::ObjectId, Error> {
        self.preallocated.push((
            spec.tag.clone(),
            spec.layout,
            spec.placements.iter().map(|p| p.rows.clone()).collect(),
        ));
        self.inner.preallocate(spec)
    }
    fn write_dense(
        &mut self,
        id: trialflow::engine::ObjectId,
        placement: &TaskPlacement,
        block: trialflow::engine::DenseBlock<'_>,
    ) -> Result<(), Error> {
        self.inner.write_dense(id, placement, block)
    }
    fn append_events(
        &mut self,
        id: trialflow::engine::ObjectId,
        trial: usize,
        events: &trialflow::model::EventBlock,
    ) -> Result<(), Error> {
        self.inner.append_events(id, trial, events)
    }
    fn finalize(
        &mut self,
        id: trialflow::engine::ObjectId,
        metadata: &trialflow::engine::ObjectMetadata,
    ) -> Result<(), Error> {
        self.inner.finalize(id, metadata)
    }
    fn commit(&mut self) -> Result<(), Error> {
        self.inner.commit()
    }
}

#[test]
fn placements_stack_trials_and_parallel_store_follows_mode() {
    let rec = recording(3);
    let mut sink = CountingSink::default();
    let pipeline = Pipeline::new(
        vec![Step::new(Head { n: 1 })],
        ExecutionOptions::parallel(2),
    );
    run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap();
    let (tag, layout, rows) = &sink.preallocated[0];
    assert_eq!(tag, "head");
    assert_eq!(*layout, StoreLayout::PerTask);
    assert_eq!(rows, &(0..6).map(|t| t..t + 1).collect::<Vec<_>>());

    let mut sink = CountingSink::default();
    let pipeline = Pipeline::new(
        vec![Step::new(Head { n: 1 })],
        ExecutionOptions::sequential(),
    );
    run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap();
    assert_eq!(sink.preallocated[0].1, StoreLayout::Single);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// Any recording shape, channel grouping and worker count gives the sequential
        /// result bit for bit, for a pipeline that mixes shape-keeping and averaging steps.
        #[test]
        fn random_shapes_and_groupings_match_sequential(
            lengths in proptest::collection::vec(1usize..40, 1..8),
            channels in 1usize..7,
            chan_per_worker in proptest::option::of(1usize..8),
            workers in 1usize..4,
            seed in 0u64..1000,
        ) {
            let total: usize = lengths.iter().sum();
            let data = Array2::from_shape_fn((total, channels), |(i, c)| {
                ((i as u64 * 31 + c as u64 * 17 + seed) % 101) as f64 / 7.0 - 5.0
            });
            let rec = InMemoryRecording::contiguous(data, 100.0, &lengths).unwrap();
            let pipeline = |mut opts: ExecutionOptions| {
                opts.chan_per_worker = chan_per_worker;
                Pipeline::new(
                    vec![
                        Step::new(DetrendParams::new().kind(DetrendType::Constant).check().unwrap()).named("c").saved(),
                        Step::new(ZScore),
                        Step::new(Rectify),
                    ],
                    opts,
                )
            };
            let reference = run(&pipeline(ExecutionOptions::sequential()), &rec);
            let parallel = run(&pipeline(ExecutionOptions::parallel(workers)), &rec);
            for tag in ["c", "rectify"] {
                let a = reference.object(tag).unwrap().data.clone().unwrap();
                let b = parallel.object(tag).unwrap().data.clone().unwrap();
                prop_assert_eq!(bits(&a), bits(&b));
            }
        }
    }
}

/// Warns about every trial whose first sample is negative, like SciPy's `warnings.warn`.
#[derive(Clone)]
struct Warner;

impl ComputationalRoutine for Warner {
    fn name(&self) -> &str {
        "warner"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(self.clone()))
    }
}

/// No plan state: the routine is its own kernel.
impl Kernel for Warner {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        for (c, &v) in x.row(0).iter().enumerate() {
            if v < 0.0 {
                scratch.warn(format!(
                    "channel {} starts negative",
                    input.channels.start + c
                ));
            }
        }
        output.samples_mut().assign(&x);
        Ok(())
    }
}

#[test]
fn kernel_warnings_reach_the_log_with_context_in_task_order() {
    let rec = recording(5);
    let mut reference: Option<Vec<String>> = None;
    for (name, opts) in all_modes() {
        let pipeline = Pipeline::new(vec![Step::new(Rectify), Step::new(Warner)], opts);
        let mut sink = MemorySink::new();
        let report = run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap();
        // Rectify makes everything non-negative; warn on the raw input instead.
        assert!(report.warnings.is_empty(), "{name}");
        let pipeline = Pipeline::new(vec![Step::new(Warner), Step::new(Rectify)], {
            let mut o = pipeline.execution.clone();
            o.chan_per_worker = pipeline.execution.chan_per_worker;
            o
        });
        let mut sink = MemorySink::new();
        let report = run_pipeline(&pipeline, &mut rec.clone(), &mut sink, None).unwrap();
        assert!(
            !report.warnings.is_empty(),
            "{name}: the test data starts negative somewhere"
        );
        assert!(
            report.warnings[0].starts_with("step 1 (warner), trial "),
            "{}",
            report.warnings[0]
        );
        let log = &sink
            .object("rectify")
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .log;
        assert!(
            log.contains(&format!("\twarning: {}\n", report.warnings[0])),
            "{log}"
        );
        // Channel grouping splits warnings across tasks; their text (minus the channel
        // range) and order by trial must not depend on the mode.
        let normalised: Vec<String> = report
            .warnings
            .iter()
            .map(|w| {
                let (head, tail) = w.split_once(": ").unwrap();
                format!("{}: {tail}", head.split(", channels").next().unwrap())
            })
            .collect();
        match &reference {
            None => reference = Some(normalised),
            Some(r) => assert_eq!(&normalised, r, "{name}"),
        }
    }
}

#[test]
fn mpi_mode_from_the_library_is_refused_unless_a_front_end_gives_the_rank_its_shard() {
    let rec = recording(3);
    let mpi = ExecutionOptions {
        mode: ExecutionMode::Mpi,
        ..Default::default()
    };
    let mut sink = MemorySink::new();
    let error = run_pipeline(
        &three_step_pipeline(mpi.clone()),
        &mut rec.clone(),
        &mut sink,
        None,
    )
    .expect_err("mode mpi on a whole run is refused");
    let message = error.to_string();
    assert!(matches!(error, Error::Invalid(_)), "{message}");
    assert!(!message.contains('\n'), "{message}");
    for needle in ["execution.mode: mpi", "mpirun", "--features mpi"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    assert!(!sink.committed && sink.objects.is_empty(), "nothing ran");

    // A rank's shard (what the MPI front end runs) computes its tasks like a parallel shard.
    let shard = |mode| ExecutionOptions {
        mode,
        workers: Some(2),
        scope: RunScope::Shard { index: 1, count: 2 },
        ..Default::default()
    };
    let mut by_mode = Vec::new();
    for mode in [ExecutionMode::Mpi, ExecutionMode::Parallel] {
        let mut sink = MemorySink::new();
        let report = run_pipeline(
            &three_step_pipeline(shard(mode)),
            &mut rec.clone(),
            &mut sink,
            None,
        )
        .expect("a rank's shard runs");
        assert_eq!(report.tasks, 3, "shard 1/2 of 6 trials");
        by_mode.push(
            sink.objects
                .iter()
                .map(|o| o.data.as_ref().map(bits))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(by_mode[0], by_mode[1]);
}

#[test]
fn the_memory_estimate_counts_what_an_in_memory_sink_holds() {
    let rec = recording(3);
    let sink = run(&three_step_pipeline(ExecutionOptions::parallel(2)), &rec);
    let mut source = rec.clone();
    let mut again = MemorySink::new();
    let report = run_pipeline(
        &three_step_pipeline(ExecutionOptions::parallel(2)),
        &mut source,
        &mut again,
        None,
    )
    .unwrap();
    // Two saved objects ('flat' and the last step), each every sample x 3 channels in f64.
    let held: usize = sink
        .objects
        .iter()
        .map(|o| o.data.as_ref().unwrap().len())
        .sum();
    assert_eq!(report.memory.sink, held as u64 * 8);
    let without_sink = report.memory.total() - report.memory.sink;
    assert!(report.memory.sink > 0 && report.memory.total() > without_sink);
    // Room for the tasks but not for the results refuses the run.
    let available = Some(2 * without_sink + report.memory.sink);
    assert!(report.memory.check_against(available, 0.5).is_err());
    assert!(report
        .memory
        .check_against(Some(2 * report.memory.total()), 0.5)
        .is_ok());
}

/// Copies its input but forgets the first sample of every channel: a kernel bug that
/// otherwise goes unseen, since the buffer holds some earlier value there.
struct Sloppy;

impl ComputationalRoutine for Sloppy {
    fn name(&self) -> &str {
        "sloppy"
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn plan(
        &self,
        _task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(std::sync::Arc::new(Sloppy))
    }
}

impl Kernel for Sloppy {
    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        _scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let x = input.samples();
        output
            .samples_mut()
            .slice_mut(ndarray::s![1.., ..])
            .assign(&x.slice(ndarray::s![1.., ..]));
        Ok(())
    }
}

#[test]
fn debug_mode_leaves_nan_where_a_kernel_skipped_an_element() {
    let rec = recording(3);
    let debug = ExecutionOptions {
        mode: ExecutionMode::Debug,
        ..Default::default()
    };
    let build = |opts| Pipeline::new(vec![Step::new(Rectify), Step::new(Sloppy)], opts);
    let sink = run(&build(debug), &rec);
    let data = sink.objects[0].data.as_ref().unwrap();
    let def = &sink.objects[0].spec.schema.trialdefinition;
    let mut row = 0;
    for trial in 0..def.len() {
        let len = def.trial_len(trial);
        for r in row..row + len {
            for c in 0..3 {
                let v = data[[r, c]];
                if r == row {
                    assert!(
                        v.is_nan(),
                        "trial {trial} channel {c}: the skipped element is {v}"
                    );
                } else {
                    assert!(!v.is_nan(), "trial {trial} row {r} channel {c} was written");
                }
            }
        }
        row += len;
    }
    // Sequential mode does not pay for the fill: the skipped elements hold stale values.
    let sink = run(&build(ExecutionOptions::sequential()), &rec);
    let data = sink.objects[0].data.as_ref().unwrap();
    assert!(!data[[def.trial_len(0), 0]].is_nan());
}
