//! Saved objects of every kind as `input:` (issue #15), through the command line:
//! - SpectralData: `mean`, `var`, `std` (over trials) and `median` (over time) of a saved
//!   spectrum match Syncopy 2023.9's statistics of its own spectrum
//!   (`fixtures/reference/make_statistics.py spectral`), and give the fused pipeline's bits
//!   when the spectrum is saved in float64;
//! - Fourier SpectralData: `connectivity` of a saved `output: fourier` spectrum gives the
//!   fused mtmfft -> connectivity bits;
//! - CrossSpectralData: a statistic of a saved connectivity result;
//! - every mode (sequential, parallel, channel groups, shards + merge) gives the same bits
//!   on these inputs;
//! - refusals (exit 2, one line): a kind a routine does not take (naming both), complex
//!   values where a routine takes real ones, and `select:`/`trials:` on a non-AnalogData
//!   input.
//!
//! Syncopy parity tolerance: both sides compute the spectrum in float32 (trialflow's matches
//! SciPy/Syncopy's to about 1e-6 of its level), and Syncopy then accumulates float32 trials
//! in float32. So a mean or median agrees to `1e-5 · level` (`level` the largest |x| it is
//! computed from) and a variance to `1e-5 · level²` (a std is compared squared).

mod common;

use std::path::Path;

use common::reference::{array, number};
use common::*;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/fixtures/reference/statistics_spectral.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes the fixture's AnalogData input as `<dir>/in.spy/in.analog` (float32, as Syncopy
/// stored it), with its `.info`.
fn write_input(dir: &Path, input: &Value) {
    init();
    let data = array(&input["data"]);
    let (rows, channels) = (data.shape()[0], data.shape()[1]);
    let container = dir.join("in.spy");
    std::fs::create_dir_all(&container).unwrap();
    let file = container.join("in.analog");
    let f = h5_create(&file).unwrap();
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    f.new_dataset::<f32>()
        .shape((rows, channels))
        .create("data")
        .unwrap()
        .write_raw(&values)
        .unwrap();
    let trl: Vec<f64> = input["trials"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(number).collect::<Vec<_>>())
        .collect();
    f.new_dataset::<f64>()
        .shape((trl.len() / 3, 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&trl)
        .unwrap();
    f.close().unwrap();
    let labels: Vec<String> = (0..channels).map(|c| format!("channel{c}")).collect();
    let info = serde_json::json!({
        "dataclass": "AnalogData",
        "samplerate": number(&input["samplerate"]),
        "channel": labels,
        "dimord": ["time", "channel"],
    });
    std::fs::write(format!("{}.info", file.display()), info.to_string()).unwrap();
}

/// The trialflow step that makes the fixture's spectrum: `{"method": ..., kwargs}` ->
/// YAML lines of a step named `spectrum`, saved.
fn spectrum_step(spectrum: &Value, dtype: &str) -> String {
    let map = spectrum.as_object().unwrap();
    let mut step = format!("  - routine: {}\n", map["method"].as_str().unwrap());
    for (key, value) in map.iter().filter(|(k, _)| *k != "method") {
        step.push_str(&format!("    {key}: {value}\n"));
    }
    step.push_str(&format!(
        "    name: spectrum\n    save: true\n    dtype: {dtype}\n"
    ));
    step
}

fn statistic_step(routine: &str, dim: &str, name: &str) -> String {
    format!("  - routine: {routine}\n    dim: {dim}\n    name: {name}\n    save: true\n")
}

fn run_yaml(dir: &Path, name: &str, text: &str) {
    write_file(dir, name, text);
    trialflow(dir, &["run", name, "-q"]).ok();
}

#[test]
fn statistics_of_a_saved_spectrum_match_syncopy() {
    let doc = fixture();
    let tmp = TempDir::new("objects-syncopy");
    write_input(&tmp.path, &doc["inputs"]["levels"]);
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let routine = case["routine"].as_str().unwrap();
        let dim = case["params"]["dim"].as_str().unwrap();
        let dir = tmp.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::rename(tmp.join("in.spy"), dir.join("in.spy")).unwrap();
        run_yaml(
            &dir,
            "spec.yaml",
            &format!(
                "input: in.spy\noutput: spec.spy\nsteps:\n{}",
                spectrum_step(&case["spectrum"], "float32")
            ),
        );
        std::fs::rename(dir.join("in.spy"), tmp.join("in.spy")).unwrap();
        run_yaml(
            &dir,
            "stat.yaml",
            &format!(
                "input: spec.spy/spectrum\noutput: stat.spy\nsteps:\n{}",
                statistic_step(routine, dim, "stat")
            ),
        );
        let spectrum = read_data(&dir.join("spec.spy/spec_spectrum.spectral"));
        let got = read_data(&dir.join("stat.spy/stat_stat.spectral"));
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(got.shape, shape, "{name}: shape");
        assert_eq!(got.dtype, "float32", "{name}");
        let expected = array(&case["expected"]);
        let levels = levels(&spectrum, &shape, dim);
        for (i, (&g, &e)) in got.values.iter().zip(expected.iter()).enumerate() {
            let level = levels[i];
            let (g, e, tol) = match routine {
                "var" => (g, e, 1e-5 * level * level),
                "std" => (g * g, e * e, 1e-5 * level * level),
                _ => (g, e, 1e-5 * level),
            };
            assert!(
                (g - e).abs() <= tol + 1e-5 * e.abs(),
                "{name}: element {i}: {g} against Syncopy's {e} (level {level})"
            );
        }
        let (_, trl) = read_trialdefinition(&dir.join("stat.spy/stat_stat.spectral"));
        let want: Vec<f64> = array(&case["trialdefinition"]).iter().copied().collect();
        assert_eq!(trl[..], want[..], "{name}: trialdefinition");
    }
}

/// Per output element, the largest |x| of the spectrum values it is computed from: over
/// trials (`dim: trials`, every trial one shape) or over the trial's time rows.
fn levels(spectrum: &Dense, out_shape: &[usize], dim: &str) -> Vec<f64> {
    let row: usize = spectrum.shape[1..].iter().product();
    let n_out: usize = out_shape.iter().product();
    let mut levels = vec![0.0f64; n_out];
    if dim == "trials" {
        let per_trial = out_shape[0] * row;
        for (i, v) in spectrum.values.iter().enumerate() {
            let l = &mut levels[i % per_trial];
            *l = l.max(v.abs());
        }
    } else {
        let rows_per_trial = spectrum.shape[0] / out_shape[0];
        for (i, v) in spectrum.values.iter().enumerate() {
            let (r, e) = (i / row, i % row);
            let l = &mut levels[(r / rows_per_trial) * row + e];
            *l = l.max(v.abs());
        }
    }
    levels
}

const MODES: [(&str, &str); 4] = [
    ("seq", "  mode: sequential"),
    ("par", "  mode: parallel\n  workers: 2"),
    (
        "groups",
        "  mode: parallel\n  workers: 2\n  chan_per_worker: 2",
    ),
    ("files", "  mode: parallel\n  parallel_store: false"),
];

fn recording(dir: &Path) {
    trialflow(
        dir,
        &[
            "generate",
            "in.spy",
            "--trials",
            "9",
            "--samples",
            "256",
            "--channels",
            "5",
        ],
    )
    .ok();
}

/// The bits of one object file of a container.
fn bits(container: &Path, file: &str) -> Dense {
    read_data(&container.join(file))
}

#[test]
fn a_saved_spectrum_gives_the_fused_bits_in_every_mode() {
    let tmp = TempDir::new("objects-spectral");
    recording(&tmp.path);
    // Fused: mtmconvol (saved in float64) -> mean over trials, and -> median over time.
    let tf = "  - routine: mtmconvol\n    t_ftimwin: 0.032\n    toi: 0.5\n    output: pow\n    name: spectrum\n    save: true\n    dtype: float64\n";
    run_yaml(
        &tmp.path,
        "fused_mean.yaml",
        &format!(
            "input: in.spy\noutput: fm.spy\nsteps:\n{tf}{}",
            statistic_step("mean", "trials", "stat")
        ),
    );
    run_yaml(
        &tmp.path,
        "fused_median.yaml",
        &format!(
            "input: in.spy\noutput: fmed.spy\nsteps:\n{tf}{}",
            statistic_step("median", "time", "stat")
        ),
    );
    for (routine, dim, fused) in [("mean", "trials", "fm"), ("median", "time", "fmed")] {
        let want = bits(
            &tmp.join(format!("{fused}.spy")),
            &format!("{fused}_stat.spectral"),
        );
        for (mode, execution) in MODES {
            let out = format!("{routine}_{mode}");
            run_yaml(
                &tmp.path,
                &format!("{out}.yaml"),
                &format!(
                    "input: fm.spy/spectrum\noutput: {out}.spy\nexecution:\n{execution}\nsteps:\n{}",
                    statistic_step(routine, dim, "stat")
                ),
            );
            let got = bits(
                &tmp.join(format!("{out}.spy")),
                &format!("{out}_stat.spectral"),
            );
            assert_eq!(got.shape, want.shape, "{out}");
            assert!(
                got.bits == want.bits,
                "{out}: differs from the fused pipeline"
            );
        }
        // Shards of the saved spectrum, then the merge.
        let out = format!("{routine}_shards");
        write_file(
            &tmp.path,
            &format!("{out}.yaml"),
            &format!(
                "input: fm.spy/spectrum\noutput: {out}.spy\nsteps:\n{}",
                statistic_step(routine, dim, "stat")
            ),
        );
        for shard in ["1/3", "2/3", "0/3"] {
            trialflow(
                &tmp.path,
                &["run", &format!("{out}.yaml"), "--shard", shard, "-q"],
            )
            .ok();
        }
        trialflow(&tmp.path, &["merge", &format!("{out}.yaml"), "-q"]).ok();
        let got = bits(
            &tmp.join(format!("{out}.spy")),
            &format!("{out}_stat.spectral"),
        );
        assert!(got.bits == want.bits, "{out}: merged shards differ");
    }
    // The saved spectrum's provenance is carried forward.
    let info = read_info(&tmp.join("mean_seq.spy/mean_seq_stat.spectral"));
    let log = info["_log"].as_str().unwrap();
    assert!(
        log.contains("mtmconvol") && log.contains("computed mean"),
        "{log}"
    );
    assert!(info["cfg"]["spectrum"].is_object(), "{}", info["cfg"]);
}

#[test]
fn connectivity_of_a_saved_fourier_spectrum_gives_the_fused_bits() {
    let tmp = TempDir::new("objects-fourier");
    recording(&tmp.path);
    let fourier = "  - routine: mtmfft\n    tapsmofrq: 20\n    keeptapers: true\n    output: fourier\n    name: fourier\n    save: true\n    dtype: float64\n";
    for method in ["coh", "csd"] {
        let conn = format!(
            "  - routine: connectivity\n    method: {method}\n    name: conn\n    save: true\n"
        );
        run_yaml(
            &tmp.path,
            "fused.yaml",
            &format!("input: in.spy\noutput: fused_{method}.spy\nsteps:\n{fourier}{conn}"),
        );
        let want = bits(
            &tmp.join(format!("fused_{method}.spy")),
            &format!("fused_{method}_conn.crossspectral"),
        );
        for (mode, execution) in &MODES[..2] {
            let out = format!("{method}_{mode}");
            run_yaml(
                &tmp.path,
                "file.yaml",
                &format!(
                    "input: fused_coh.spy/fourier\noutput: {out}.spy\nexecution:\n{execution}\nsteps:\n{conn}"
                ),
            );
            let got = bits(
                &tmp.join(format!("{out}.spy")),
                &format!("{out}_conn.crossspectral"),
            );
            assert_eq!(got.dtype, want.dtype, "{out}");
            assert!(
                got.bits == want.bits,
                "{out}: differs from the fused pipeline"
            );
        }
    }
    // A statistic of the CrossSpectralData result (one trial: the mean is the result),
    // whole or in channel groups (along channel_j).
    let coh = bits(&tmp.join("fused_coh.spy"), "fused_coh_conn.crossspectral");
    for (mode, execution) in MODES {
        let out = format!("cross_{mode}");
        run_yaml(
            &tmp.path,
            "cross.yaml",
            &format!(
                "input: fused_coh.spy/conn\noutput: {out}.spy\nexecution:\n{execution}\nsteps:\n{}",
                statistic_step("mean", "trials", "stat")
            ),
        );
        let got = bits(
            &tmp.join(format!("{out}.spy")),
            &format!("{out}_stat.crossspectral"),
        );
        assert_eq!(got.shape, coh.shape, "{out}");
        assert!(
            got.bits == coh.bits,
            "{out}: the mean of one trial is that trial"
        );
        let info = read_info(&tmp.join(format!("{out}.spy/{out}_stat.crossspectral")));
        assert_eq!(info["dataclass"], "CrossSpectralData");
    }
}

#[test]
fn inputs_a_step_cannot_take_are_refused_naming_both() {
    let tmp = TempDir::new("objects-refused");
    recording(&tmp.path);
    for output in ["pow", "fourier"] {
        run_yaml(
            &tmp.path,
            "spec.yaml",
            &format!("input: in.spy\noutput: {output}.spy\nsteps:\n  - routine: mtmfft\n    output: {output}\n    name: {output}\n"),
        );
    }
    let refused = |input: &str, steps: &str, needles: &[&str]| {
        write_file(
            &tmp.path,
            "bad.yaml",
            &format!("input: {input}\noutput: bad.spy\n{steps}"),
        );
        trialflow(&tmp.path, &["run", "bad.yaml"]).assert_error(2, needles);
        assert!(!tmp.join("bad.spy").exists());
    };
    refused(
        "pow.spy/pow",
        "steps:\n  - routine: detrend\n",
        &["(detrend)", "takes AnalogData", "receives SpectralData"],
    );
    refused(
        "pow.spy/pow",
        "steps:\n  - routine: connectivity\n    method: coh\n",
        &["(connectivity)", "complex", "real"],
    );
    refused(
        "fourier.spy/fourier",
        "steps:\n  - routine: mean\n    dim: trials\n",
        &["(mean)", "real values", "complex"],
    );
    refused(
        "pow.spy/pow",
        "select:\n  channels: [0]\nsteps:\n  - routine: mean\n    dim: trials\n",
        &["`select:`", "AnalogData", "SpectralData"],
    );
    refused(
        "pow.spy/pow",
        "trials:\n  length: 0.1\nsteps:\n  - routine: mean\n    dim: trials\n",
        &["`trials:`", "SpectralData"],
    );
    refused(
        "pow.spy/nothing",
        "steps:\n  - routine: mean\n    dim: trials\n",
        &["pow.spy/nothing"],
    );
}
