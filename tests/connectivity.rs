//! `connectivity` through the command line: every case of
//! `fixtures/reference/connectivity.json` (Syncopy 2023.9's `connectivityanalysis`, written
//! by `fixtures/reference/make_connectivity.py`) with the fixture's inputs saved as .spy,
//! the same bits in every execution mode (sequential, parallel, shards and their merge), and
//! the refusals.
//!
//! Tolerances are those of `routines/tests/connectivity_numerics.rs` (which explains them):
//! 1e-5 relative, with a floor for values small next to the spectra they are made of, in
//! units of `√(S_ii S_jj)`; Granger to 5e-3 of the case's maximum (2e-2 at the two lowest
//! bins of Granger from AnalogData). The floors need the trial-averaged auto-spectra, which
//! the test computes with the library's numerics.

mod common;

use std::path::{Path, PathBuf};

use common::reference::{array, number};
use common::*;
use ndarray::{Array2, ArrayD, IxDyn};
use serde_json::{json, Map, Value};
use trialflow::core::engine::{ObjectMetadata, ObjectSpec, ResultSink, StoreLayout, TaskPlacement};
use trialflow::hdf5::WriterOptions;
use trialflow::prelude::*;
use trialflow::routines::connectivity::{ChannelCmb, ChannelPairs, CrossSpectraParams, CsdBlock};

fn fixture() -> Value {
    let path = format!(
        "{}/fixtures/reference/connectivity.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An AnalogData input of the fixture: its float32 values, trials and labels.
struct Input {
    data: Array2<f64>,
    rows: Vec<(usize, usize, f64)>,
    fs: f64,
    labels: Vec<String>,
}

impl Input {
    fn of(doc: &Value, name: &str) -> Input {
        let inp = &doc["inputs"][name];
        let data = array(&inp["data"])
            .mapv(|v| v as f32 as f64)
            .into_dimensionality()
            .unwrap();
        let rows = inp["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    number(&r[0]) as usize,
                    number(&r[1]) as usize,
                    number(&r[2]),
                )
            })
            .collect();
        Input {
            data,
            rows,
            fs: number(&inp["samplerate"]),
            labels: labels_of(&inp["channel"]),
        }
    }

    fn trials(&self) -> Vec<Array2<f64>> {
        self.rows
            .iter()
            .map(|&(a, b, _)| self.data.slice(ndarray::s![a..b, ..]).to_owned())
            .collect()
    }

    /// Saves the input as `<dir>/<name>.spy` (float32 AnalogData with its labels).
    fn save(&self, dir: &Path, name: &str) -> PathBuf {
        init();
        let trialdefinition = TrialDefinition::from_trials(&self.rows, &[]);
        let channels = self.labels.len();
        let schema = DataSchema::analog(
            DType::Float32,
            self.fs,
            self.labels.clone(),
            trialdefinition,
        );
        let total = self.data.nrows();
        let spec = ObjectSpec {
            tag: "raw".into(),
            schema: schema.clone(),
            layout: StoreLayout::Single,
            placements: vec![TaskPlacement {
                task: 0,
                trial: 0,
                rows: 0..total,
                channels: 0..channels,
                shape: vec![total, channels],
            }]
            .into(),
            handover: 1,
        };
        let path = dir.join(format!("{name}.spy"));
        let mut writer = SpyWriter::create(&path, WriterOptions::default()).unwrap();
        let id = writer.preallocate(&spec).unwrap();
        let block = self.data.view().into_dyn();
        writer
            .write_dense(id, &spec.placements[0], block.into())
            .unwrap();
        writer
            .finalize(
                id,
                &ObjectMetadata {
                    schema,
                    log: String::new(),
                    cfg: json!({}),
                    info: json!({}),
                },
            )
            .unwrap();
        writer.commit().unwrap();
        path
    }
}

fn labels_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The result object of a container.
fn result_file(container: &Path) -> PathBuf {
    let name = list(container)
        .into_iter()
        .find(|n| n.ends_with(".crossspectral"))
        .unwrap_or_else(|| panic!("{}: {:?}", container.display(), list(container)));
    container.join(name)
}

/// A pipeline whose last step is `connectivity` with `params` (YAML accepts JSON maps),
/// after `mtmfft` with `spectra` (output: fourier, keeptapers) when given.
fn write_pipeline(
    dir: &Path,
    input: &str,
    out: &str,
    execution: &str,
    spectra: Option<&Value>,
    params: &Value,
) {
    let mut step = params.as_object().unwrap().clone();
    step.insert("routine".into(), json!("connectivity"));
    let mut steps = String::new();
    if let Some(kw) = spectra {
        let mut fourier = kw.as_object().unwrap().clone();
        fourier.insert("routine".into(), json!("mtmfft"));
        fourier.insert("output".into(), json!("fourier"));
        fourier.insert("keeptapers".into(), json!(true));
        steps.push_str(&format!("  - {}\n", Value::Object(fourier)));
    }
    steps.push_str(&format!("  - {}\n", Value::Object(step)));
    write_file(
        dir,
        "p.yaml",
        &format!("input: {input}.spy\noutput: {out}\nexecution:\n{execution}steps:\n{steps}"),
    );
}

/// The input and the mtmfft parameters of a case (spectra cases start from the analog
/// input their spectra were computed from).
fn case_input<'a>(doc: &'a Value, case: &'a Value) -> (&'a str, Option<&'a Value>) {
    let name = case["input"].as_str().unwrap();
    if case["source"] == "spectra" {
        let sp = &doc["spectra"][name];
        (sp["input"].as_str().unwrap(), Some(&sp["freqanalysis"]))
    } else {
        (name, None)
    }
}

/// The per-trial cross-spectra of a case, for the tolerance floors.
fn csd_blocks(inp: &Input, params: &Map<String, Value>, pairs: &ChannelPairs) -> Vec<CsdBlock> {
    let spectral: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| !["method", "output", "keeptrials", "channelcmb"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let p: CrossSpectraParams = serde_json::from_value(Value::Object(spectral)).unwrap();
    let cs = p.check(false).unwrap();
    let trials = inp.trials();
    let lens: Vec<usize> = trials.iter().map(|t| t.nrows()).collect();
    let layout = cs.layout(&lens, inp.fs).unwrap();
    let mut planner = Planner::new();
    trials
        .iter()
        .map(|x| {
            let plan = cs.plan(x.nrows(), &layout, &mut planner);
            let mut scratch = plan.scratch(inp.labels.len());
            let mut block = CsdBlock::zeros(plan.n_freqs(), pairs);
            plan.trial(x.view(), pairs, &mut block, &mut scratch)
                .unwrap();
            block
        })
        .collect()
}

fn mean_of(blocks: &[CsdBlock], pairs: &ChannelPairs) -> CsdBlock {
    let mut sum = CsdBlock::zeros(blocks[0].cross.dim().0, pairs);
    for b in blocks {
        sum.add(b);
    }
    sum.mean(blocks.len())
}

/// See the module doc.
fn floor(mean: &CsdBlock, f: usize, a: usize, b: usize) -> f64 {
    let ratio = |auto: &Array2<f64>, c: usize| {
        let col = auto.column(c);
        let peak = col.iter().fold(0.0f64, |m, &v| m.max(v));
        (peak / col[f]).sqrt()
    };
    1e-6 + 4e-6 * (ratio(&mean.auto_i, a) + ratio(&mean.auto_j, b))
}

fn close(name: &str, at: &str, a: f64, b: f64, floor: f64) {
    let tol = f64::max(1e-5 * b.abs(), floor);
    assert!(
        (a - b).abs() <= tol,
        "{name} {at}: {a} vs Syncopy {b} (tol {tol:e})"
    );
}

/// Splits a trailing (re, im) axis into pairs.
fn as_pairs(a: &ArrayD<f64>) -> Vec<(f64, f64)> {
    a.as_slice()
        .unwrap()
        .chunks_exact(2)
        .map(|p| (p[0], p[1]))
        .collect()
}

/// Compares the saved result with Syncopy's, as `connectivity_numerics.rs` does.
fn check_case(doc: &Value, case: &Value, container: &Path) {
    let name = case["name"].as_str().unwrap();
    let method = case["method"].as_str().unwrap();
    let params = case["params"].as_object().unwrap();
    let (input, spectra) = case_input(doc, case);
    let inp = Input::of(doc, input);
    let cmb: Option<ChannelCmb> = params
        .get("channelcmb")
        .map(|v| serde_json::from_value(v.clone()).unwrap());
    let pairs = ChannelPairs::resolve(cmb.as_ref(), &inp.labels).unwrap();
    let file = result_file(container);
    let got = read_data(&file);
    let expected = array(&case["expected"]);
    let info = read_info(&file);
    assert_eq!(
        labels_of(&info["channel_i"]),
        labels_of(&case["channel_i"]),
        "{name}"
    );
    assert_eq!(
        labels_of(&info["channel_j"]),
        labels_of(&case["channel_j"]),
        "{name}"
    );
    if !(method == "granger" && cmb.is_some()) {
        let freq: Vec<f64> = info["freq"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        let want: Vec<f64> = array(&case["freq"]).iter().copied().collect();
        assert_eq!(freq.len(), want.len(), "{name}: freq");
        for (a, b) in freq.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{name}: freq");
        }
    }
    let complex_out = got.dtype.starts_with("complex");
    let mut shape = got.shape.clone();
    if complex_out {
        shape.push(2);
    }
    assert_eq!(shape, expected.shape(), "{name}: shape");
    let values = ArrayD::from_shape_vec(IxDyn(&shape), got.values.clone()).unwrap();
    let (def_shape, def) = read_trialdefinition(&file);
    let want_def: Vec<f64> = array(&case["trialdefinition"]).iter().copied().collect();
    assert_eq!(def_shape[0] * 3, want_def.len(), "{name}: trialdefinition");
    let cols = def_shape[1];
    for (row, want) in want_def.chunks_exact(3).enumerate() {
        assert_eq!(
            &def[row * cols..row * cols + 3],
            want,
            "{name}: trialdefinition"
        );
    }
    assert_eq!(
        number(&info["samplerate"]),
        number(&case["samplerate"]),
        "{name}"
    );
    if method == "corr" {
        for (idx, &e) in expected.indexed_iter() {
            close(name, &format!("{idx:?}"), values[&idx], e, 1e-6);
        }
        return;
    }
    if method == "granger" {
        let max = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (idx, &e) in expected.indexed_iter() {
            let v = values[&idx];
            // Syncopy demeans every tapered trial of AnalogData for Granger: its two
            // lowest bins are rounding noise (see connectivity_numerics.rs).
            let low = spectra.is_none() && idx[1] < 2;
            let bound = if low { 2e-2 } else { 5e-3 };
            assert!(
                (v - e).abs() <= bound * max,
                "{name} {idx:?}: {v} vs Syncopy {e} (tol {bound} of max {max})"
            );
        }
        return;
    }
    let floor_params = match spectra {
        Some(kw) => kw.as_object().unwrap(),
        None => params,
    };
    let blocks = csd_blocks(&inp, floor_params, &pairs);
    let mean = mean_of(&blocks, &pairs);
    let output = params
        .get("output")
        .and_then(Value::as_str)
        .unwrap_or("abs");
    let (nf, ni, nj) = (
        expected.shape()[1],
        expected.shape()[2],
        expected.shape()[3],
    );
    if complex_out {
        let (g, e) = (as_pairs(&values), as_pairs(&expected));
        // single-trial cross-spectra (keeptrials) carry their own trial's rounding
        let per_trial: Vec<&CsdBlock> = if expected.shape()[0] > 1 {
            blocks.iter().collect()
        } else {
            vec![&mean]
        };
        for (t, of) in per_trial.into_iter().enumerate() {
            for f in 0..nf {
                for a in 0..ni {
                    for b in 0..nj {
                        let k = ((t * nf + f) * ni + a) * nj + b;
                        let mut fl = floor(of, f, a, b);
                        if method == "csd" {
                            fl *= (of.auto_i[[f, a]] * of.auto_j[[f, b]]).sqrt();
                        }
                        let at = format!("[{t},{f},{a},{b}]");
                        close(name, &at, g[k].0, e[k].0, fl);
                        close(name, &at, g[k].1, e[k].1, fl);
                    }
                }
            }
        }
        return;
    }
    for f in 0..nf {
        for a in 0..ni {
            for b in 0..nj {
                let (v, e) = (values[[0, f, a, b]], expected[[0, f, a, b]]);
                let fl = floor(&mean, f, a, b);
                let at = format!("[{f},{a},{b}]");
                match (method, output) {
                    ("coh", "angle") => {
                        let two_pi = 2.0 * std::f64::consts::PI;
                        let d = ((v - e).rem_euclid(two_pi)).min((e - v).rem_euclid(two_pi));
                        // |C| from the same mean cross-spectra
                        let c = mean.cross[[f, a, b]].norm()
                            / (mean.auto_i[[f, a]] * mean.auto_j[[f, b]]).sqrt();
                        assert!(d <= 1e-5 + fl / c, "{name} {at}: angle {v} vs {e}");
                    }
                    ("coh", "pow") => close(name, &at, v, e, 2.0 * fl),
                    _ => close(name, &at, v, e, fl),
                }
            }
        }
    }
}

#[test]
fn every_fixture_case_matches_syncopy_through_the_cli() {
    let doc = fixture();
    let tmp = TempDir::new("connectivity-parity");
    for name in doc["inputs"].as_object().unwrap().keys() {
        Input::of(&doc, name).save(&tmp.path, name);
    }
    let cases = doc["cases"].as_array().unwrap();
    for (i, case) in cases.iter().enumerate() {
        let mut params = case["params"].as_object().unwrap().clone();
        params.insert("method".into(), case["method"].clone());
        let out = format!("c{i}.spy");
        let (input, spectra) = case_input(&doc, case);
        write_pipeline(
            &tmp.path,
            input,
            &out,
            "  mode: sequential\n",
            spectra,
            &Value::Object(params),
        );
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        check_case(&doc, case, &tmp.join(&out));
    }
}

/// A generated recording (`in.spy`): 12 trials x 160 samples x 4 channels at 500 Hz.
fn generated(dir: &Path) {
    init();
    let opts = trialflow::synthetic::GenerateOptions {
        trials: 12,
        samples: 160,
        channels: 4,
        samplerate: 500.0,
        seed: 9,
        dtype: DType::Float32,
        unequal: false,
        overwrite: false,
    };
    trialflow::synthetic::generate_recording(&dir.join("in.spy"), &opts)
        .expect("the recording is written");
}

/// One case per kind of contribution: packed cross-spectra (coh, granger), PPC phasors,
/// cross-covariances (corr), per-trial cross-spectra (csd, keeptrials), and a `channelcmb`
/// whose axes differ from the input's channels, also after mtmfft (fused Fourier input).
fn mode_cases() -> Vec<(Option<Value>, Value)> {
    vec![
        (None, json!({"method": "coh", "tapsmofrq": 20})),
        (
            None,
            json!({"method": "coh", "output": "complex", "channelcmb": [["channel003", 0], [1]]}),
        ),
        (None, json!({"method": "granger"})),
        (None, json!({"method": "ppc", "foilim": [10, 100]})),
        (None, json!({"method": "corr"})),
        (
            None,
            json!({"method": "csd", "keeptrials": true, "channelcmb": [[0], [1, 2]]}),
        ),
        (
            Some(json!({"tapsmofrq": 15})),
            json!({"method": "csd", "channelcmb": [[2, 3], [0]]}),
        ),
    ]
}

#[test]
fn every_mode_shards_and_their_merge_give_the_same_bits() {
    let tmp = TempDir::new("connectivity-modes");
    generated(&tmp.path);
    for (c, (spectra, params)) in mode_cases().iter().enumerate() {
        let seq = format!("seq{c}.spy");
        write_pipeline(
            &tmp.path,
            "in",
            &seq,
            "  mode: sequential\n",
            spectra.as_ref(),
            params,
        );
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let reference = read_data(&result_file(&tmp.join(&seq)));
        assert!(!reference.values.iter().all(|v| *v == 0.0), "{params}");
        let out = format!("par{c}.spy");
        write_pipeline(
            &tmp.path,
            "in",
            &out,
            "  mode: parallel\n  workers: 2\n",
            spectra.as_ref(),
            params,
        );
        trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        let got = read_data(&result_file(&tmp.join(&out)));
        assert!(got.bits == reference.bits, "{params}: parallel differs");
        for count in [2usize, 5] {
            let out = format!("s{c}-{count}.spy");
            write_pipeline(
                &tmp.path,
                "in",
                &out,
                "  mode: parallel\n  workers: 1\n",
                spectra.as_ref(),
                params,
            );
            for index in (0..count).rev() {
                let shard = format!("{index}/{count}");
                trialflow(&tmp.path, &["run", "p.yaml", "--shard", &shard, "-q"]).ok();
            }
            trialflow(&tmp.path, &["merge", "p.yaml", "-q"]).ok();
            let got = read_data(&result_file(&tmp.join(&out)));
            assert_eq!(got.shape, reference.shape, "{params}");
            assert!(
                got.bits == reference.bits,
                "{params}: {count} shards + merge differ from sequential"
            );
        }
    }
}

#[test]
fn bad_inputs_are_refused_up_front_on_one_line() {
    let tmp = TempDir::new("connectivity-bad");
    generated(&tmp.path);
    let step = |p: &str| format!("input: in.spy\noutput: bad.spy\nsteps:\n  - {p}\n");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "input: in.spy\noutput: bad.spy\nexecution:\n  chan_per_worker: 2\nsteps:\n  - {routine: connectivity, method: coh}\n".into(),
            vec!["connectivity", "combines channels", "chan_per_worker"],
        ),
        (
            step("{routine: connectivity, method: coh, channelcmb: [[channel001], [channel009]]}"),
            vec!["connectivity", "channelcmb", "receivers", "'channel009'"],
        ),
        (
            step("{routine: connectivity, method: coh, channelcmb: [[7], [0]]}"),
            vec!["connectivity", "channelcmb", "senders", "7"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nselect:\n  channels: [channel002]\nsteps:\n  - {routine: connectivity, method: granger}\n".into(),
            vec!["connectivity", "granger", "at least 2 channels", "has 1"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nselect:\n  trials: [0, 1, 2]\nsteps:\n  - {routine: connectivity, method: granger}\n".into(),
            vec!["connectivity", "granger", "at least 4 trials", "has 3"],
        ),
        (
            step("{routine: connectivity, method: granger, foilim: [10, 50]}"),
            vec!["connectivity", "granger", "foi/foilim"],
        ),
        (
            step("{routine: connectivity, method: granger, channelcmb: [[0, 1], [1]]}"),
            vec!["connectivity", "channelcmb", "'channel002'", "itself"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nsteps:\n  - routine: find_peaks\n  - {routine: connectivity, method: coh}\n".into(),
            vec!["connectivity", "AnalogData or SpectralData", "SpikeData"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nsteps:\n  - routine: mtmfft\n  - {routine: connectivity, method: coh}\n".into(),
            vec!["connectivity", "output: fourier", "real"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nsteps:\n  - {routine: mtmfft, output: fourier}\n  - {routine: connectivity, method: coh, tapsmofrq: 4}\n".into(),
            vec!["connectivity", "tapsmofrq", "SpectralData"],
        ),
        (
            "input: in.spy\noutput: bad.spy\nsteps:\n  - {routine: connectivity, method: coh}\n  - routine: rectify\n".into(),
            vec!["rectify", "connectivity", "reduces across trials"],
        ),
        (
            step("{routine: connectivity, method: corr, tapsmofrq: 4}"),
            vec!["connectivity", "tapsmofrq", "corr"],
        ),
        (
            step("{routine: connectivity, method: ppc, keeptrials: true}"),
            vec!["connectivity", "keeptrials", "csd"],
        ),
        (
            step("{routine: connectivity, method: psi}"),
            vec!["connectivity", "method", "'psi'"],
        ),
    ];
    for (yaml, needles) in cases {
        write_file(&tmp.path, "bad.yaml", &yaml);
        let out = trialflow(&tmp.path, &["run", "bad.yaml", "-q"]);
        out.assert_error(2, &needles);
    }
    assert!(!tmp.join("bad.spy").exists());
}

/// Calibration through the whole pipeline: the coherence of a channel with itself is 1.
#[test]
fn the_coherence_of_a_channel_with_itself_is_one() {
    let tmp = TempDir::new("connectivity-self");
    generated(&tmp.path);
    let params = json!({"method": "coh", "channelcmb": [[0, 2], [2, 1, 0]]});
    write_pipeline(
        &tmp.path,
        "in",
        "o.spy",
        "  mode: sequential\n",
        None,
        &params,
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let got = read_data(&result_file(&tmp.join("o.spy")));
    let values = ArrayD::from_shape_vec(IxDyn(&got.shape), got.values).unwrap();
    for f in 0..got.shape[1] {
        assert!(
            (values[[0, f, 0, 2]] - 1.0).abs() < 1e-6,
            "channel 0, bin {f}"
        );
        assert!(
            (values[[0, f, 1, 0]] - 1.0).abs() < 1e-6,
            "channel 2, bin {f}"
        );
        assert!(values[[0, f, 0, 0]] < 1.0 - 1e-6);
    }
}

/// `execution.mode: mpi` under a real `mpirun` (2 and 3 ranks) gives the sequential bits.
/// Built only with `--features mpi`, like tests/itc.rs (it needs OpenMPI).
#[cfg(feature = "mpi")]
#[test]
fn mpi_ranks_give_the_sequential_bits() {
    let tmp = TempDir::new("connectivity-mpi");
    generated(&tmp.path);
    let params = json!({"method": "coh", "output": "complex", "channelcmb": [[3, 0], [1, 2]]});
    write_pipeline(
        &tmp.path,
        "in",
        "seq.spy",
        "  mode: sequential\n",
        None,
        &params,
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let reference = read_data(&result_file(&tmp.join("seq.spy")));
    for ranks in [2, 3] {
        let out = format!("mpi{ranks}.spy");
        write_pipeline(&tmp.path, "in", &out, "  mode: mpi\n", None, &params);
        runs::mpirun(Path::new(BIN), &tmp.path, ranks, &["run", "p.yaml"]).ok();
        let got = read_data(&result_file(&tmp.join(&out)));
        assert!(
            got.bits == reference.bits,
            "{ranks} MPI ranks differ from sequential"
        );
    }
}
