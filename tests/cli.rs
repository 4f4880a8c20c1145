//! End-to-end tests of the `trialflow` binary: `generate`, `run` in every execution mode,
//! virtual datasets, averaging, the memory check, `--set`, `info`, `routines`, `demo`, the
//! Syncopy `.info` document and overwrite rules. Every run reads a small recording
//! (6 trials x ~300 samples x 5 channels) and results are read back with the `hdf5` crate.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// detrend -> zscore (saved as `z`) -> rectify, with the given `execution:` body (indented
/// two spaces per line) and an optional `dtype` on the last step.
fn pipeline(input: &str, output: &str, execution: &[&str], last_dtype: Option<&str>) -> String {
    let mut text = format!("input: {input}\noutput: {output}\n");
    if !execution.is_empty() {
        text.push_str("execution:\n");
        for line in execution {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text.push_str(
        "steps:\n  - routine: detrend\n  - routine: zscore\n    save: true\n    name: z\n  - routine: rectify\n",
    );
    if let Some(dtype) = last_dtype {
        text.push_str(&format!("    dtype: {dtype}\n"));
    }
    text
}

/// The object files of a result container of base name `base`.
fn objects(container: &Path) -> (PathBuf, PathBuf) {
    let base = container
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    (
        container.join(format!("{base}_z.analog")),
        container.join(format!("{base}_rectify.analog")),
    )
}

fn input_object(recording: &Path) -> PathBuf {
    let base = recording
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    recording.join(format!("{base}_raw.analog"))
}

#[test]
fn every_mode_and_store_gives_bitwise_identical_results() {
    let tmp = TempDir::new("modes");
    let rec = generate(&tmp.path, "rec.spy", true);
    let input_before = fingerprint(&rec);
    let (in_trl_shape, in_trl) = read_trialdefinition(&input_object(&rec));
    let input = read_data(&input_object(&rec));
    assert_eq!(input.dtype, "float32");

    let modes: [(&str, &[&str]); 4] = [
        ("sequential", &["mode: sequential"]),
        ("parallel2", &["mode: parallel", "workers: 2"]),
        ("debug", &["mode: debug"]),
        (
            "parallel2-cpw2",
            &["mode: parallel", "workers: 2", "chan_per_worker: 2"],
        ),
    ];
    let mut reference: Option<(Dense, Dense)> = None;
    let mut variants = 0;
    for (label, exec) in modes {
        for store in [true, false] {
            let name = format!("out-{label}-{store}");
            let mut lines: Vec<String> = exec.iter().map(|s| s.to_string()).collect();
            lines.push(format!("parallel_store: {store}"));
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let yaml = pipeline("rec.spy", &format!("{name}.spy"), &lines, None);
            write_file(&tmp.path, &format!("{name}.yaml"), &yaml);
            trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "--quiet"]).ok();
            assert_eq!(
                fingerprint(&rec),
                input_before,
                "{label}: the input is untouched"
            );

            let container = tmp.join(format!("{name}.spy"));
            assert_eq!(
                list(&tmp.path)
                    .iter()
                    .filter(|n| n.contains(".partial"))
                    .count(),
                0,
                "{label}: no staging folder left"
            );
            let (z_path, r_path) = objects(&container);
            let z = read_data(&z_path);
            let r = read_data(&r_path);
            for (what, obj, path) in [("z", &z, &z_path), ("rectify", &r, &r_path)] {
                let ctx = format!("{label} parallel_store={store} {what}");
                assert_eq!(obj.dtype, "float32", "{ctx}: dtype follows the input");
                assert_eq!(obj.shape, input.shape, "{ctx}");
                assert_eq!(obj.is_virtual, store, "{ctx}: virtual iff parallel_store");
                assert!(
                    obj.values.iter().all(|v| v.is_finite()),
                    "{ctx}: no NaN holes"
                );
                let (trl_shape, trl) = read_trialdefinition(path);
                assert_eq!(trl_shape, in_trl_shape, "{ctx}: trialdefinition shape");
                assert_eq!(trl, in_trl, "{ctx}: trialdefinition");
            }
            // rectify is |zscore|: the same bits with the sign cleared.
            let abs_z: Vec<u64> = z.bits.iter().map(|b| b & 0x7fff_ffff).collect();
            assert_eq!(r.bits, abs_z, "{label} {store}: rectify = |z|");
            match &reference {
                None => reference = Some((z, r)),
                Some((z0, r0)) => {
                    assert!(
                        z.bits == z0.bits,
                        "{label} parallel_store={store}: z differs bitwise from sequential"
                    );
                    assert!(
                        r.bits == r0.bits,
                        "{label} parallel_store={store}: rectify differs bitwise from sequential"
                    );
                }
            }
            variants += 1;
        }
    }
    assert_eq!(variants, 8);

    // zscore really standardised each trial and channel: mean ~0, std ~1.
    let (z0, r0) = reference.unwrap();
    let channels = input.shape[1];
    for row in in_trl.chunks(in_trl_shape[1]) {
        let (start, stop) = (row[0] as usize, row[1] as usize);
        for c in 0..channels {
            let xs: Vec<f64> = (start..stop).map(|i| z0.values[i * channels + c]).collect();
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 1e-5,
                "trial {start}..{stop} channel {c}: mean {mean}"
            );
            assert!(
                (var - 1.0).abs() < 1e-4,
                "trial {start}..{stop} channel {c}: var {var}"
            );
        }
    }

    // `dtype: float64` on the last step: that object is float64, the other still float32,
    // and the float64 values round to exactly the float32 result.
    for store in [true, false] {
        let name = format!("out-f64-{store}");
        let lines = [
            "mode: parallel".to_string(),
            "workers: 2".into(),
            format!("parallel_store: {store}"),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let yaml = pipeline("rec.spy", &format!("{name}.spy"), &lines, Some("float64"));
        write_file(&tmp.path, &format!("{name}.yaml"), &yaml);
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
        let (z_path, r_path) = objects(&tmp.join(format!("{name}.spy")));
        let z = read_data(&z_path);
        let r = read_data(&r_path);
        assert_eq!(z.dtype, "float32");
        assert_eq!(r.dtype, "float64", "a step's dtype: float64 is honoured");
        assert_eq!(read_info(&r_path)["data_dtype"], "float64");
        assert_eq!(z.bits, z0.bits, "float64 store={store}: z is unchanged");
        let rounded: Vec<u64> = r
            .values
            .iter()
            .map(|&v| (v as f32).to_bits() as u64)
            .collect();
        assert_eq!(
            rounded, r0.bits,
            "float64 store={store}: rounds to the float32 result"
        );
    }
    assert_eq!(fingerprint(&rec), input_before);

    // A float64 recording gives float64 results (the dtype follows the input).
    trialflow(
        &tmp.path,
        &[
            "generate",
            "rec64.spy",
            "--trials",
            "3",
            "--samples",
            "100",
            "--channels",
            "2",
            "--dtype",
            "f64",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "p64.yaml",
        &pipeline("rec64.spy", "out64.spy", &["mode: sequential"], None),
    );
    trialflow(&tmp.path, &["run", "p64.yaml", "-q"]).ok();
    let (z_path, r_path) = objects(&tmp.join("out64.spy"));
    assert_eq!(read_data(&z_path).dtype, "float64");
    assert_eq!(read_data(&r_path).dtype, "float64");
    assert_eq!(read_info(&z_path)["data_dtype"], "float64");
}

#[test]
fn virtual_dataset_output_survives_moving_the_container() {
    let tmp = TempDir::new("virtual");
    let rec = generate(&tmp.path, "rec.spy", true);
    std::fs::create_dir_all(tmp.join("a")).unwrap();
    let virt = pipeline(
        "../rec.spy",
        "out.spy",
        &["mode: parallel", "workers: 2", "parallel_store: true"],
        None,
    );
    write_file(&tmp.join("a"), "virt.yaml", &virt);
    trialflow(&tmp.path, &["run", "a/virt.yaml", "-q"]).ok();
    let plain = pipeline(
        "rec.spy",
        "ref.spy",
        &["mode: sequential", "parallel_store: false"],
        None,
    );
    write_file(&tmp.path, "plain.yaml", &plain);
    trialflow(&tmp.path, &["run", "plain.yaml", "-q"]).ok();

    let out = tmp.join("a/out.spy");
    let (z_path, _) = objects(&out);
    assert!(
        read_data(&z_path).is_virtual,
        "parallel_store: true writes a virtual dataset"
    );
    let info = trialflow(&tmp.path, &["info", "a/out.spy"]).ok();
    assert!(
        info.stdout.contains("virtual"),
        "info says virtual:\n{}",
        info.stdout
    );
    let info = trialflow(&tmp.path, &["info", "ref.spy"]).ok();
    assert!(
        !info.stdout.contains("virtual"),
        "a plain dataset is not virtual:\n{}",
        info.stdout
    );
    let (ref_z, ref_r) = objects(&tmp.join("ref.spy"));
    let ref_z = read_data(&ref_z);
    let ref_r = read_data(&ref_r);

    // Move and rename the whole container to another folder.
    std::fs::create_dir_all(tmp.join("b/deeper")).unwrap();
    let moved = tmp.join("b/deeper/moved.spy");
    std::fs::rename(&out, &moved).unwrap();
    assert!(!out.exists());
    let z_moved = moved.join("out_z.analog");
    let r_moved = moved.join("out_rectify.analog");
    // Read in this process (whose cwd is unrelated to both locations).
    let z = read_data(&z_moved);
    assert!(z.is_virtual);
    assert!(
        z.values.iter().all(|v| v.is_finite()),
        "no NaN fill: every source file was found"
    );
    assert_eq!(z.bits, ref_z.bits, "moved virtual z reads the same bits");
    assert_eq!(
        read_data(&r_moved).bits,
        ref_r.bits,
        "moved virtual rectify reads the same bits"
    );

    // And through the binary, launched from yet another folder, using the moved object as
    // input: rectify(z) must equal the reference rectify bit for bit.
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let info = trialflow(&elsewhere, &["info", moved.to_str().unwrap()]).ok();
    assert!(info.stdout.contains("virtual"), "{}", info.stdout);
    let yaml = format!(
        "input: {}\noutput: {}\nexecution:\n  mode: sequential\nsteps:\n  - routine: rectify\n",
        z_moved.display(),
        tmp.join("c.spy").display()
    );
    let pipeline_path = write_file(&tmp.join("b"), "reread.yaml", &yaml);
    trialflow(&elsewhere, &["run", pipeline_path.to_str().unwrap(), "-q"]).ok();
    let again = read_data(&tmp.join("c.spy/c_rectify.analog"));
    assert_eq!(
        again.bits, ref_r.bits,
        "the moved virtual dataset reads correctly via trialflow"
    );
    let _ = rec;
}

#[test]
fn keeptrials_false_writes_the_trial_average() {
    let tmp = TempDir::new("keeptrials");
    let rec = generate(&tmp.path, "rec.spy", false);
    let before = fingerprint(&rec);
    let keep = pipeline(
        "rec.spy",
        "keep.spy",
        &["mode: sequential", "parallel_store: false"],
        None,
    );
    write_file(&tmp.path, "keep.yaml", &keep);
    trialflow(&tmp.path, &["run", "keep.yaml", "-q"]).ok();
    let (trl_shape, trl) = read_trialdefinition(&input_object(&rec));
    let columns = trl_shape[1];

    let mut averaged = Vec::new();
    for (label, exec) in [
        ("sequential", &["mode: sequential", "keeptrials: false"][..]),
        (
            "parallel",
            &["mode: parallel", "workers: 2", "keeptrials: false"][..],
        ),
        (
            "parallel-cpw2",
            &[
                "mode: parallel",
                "workers: 2",
                "chan_per_worker: 2",
                "keeptrials: false",
                "parallel_store: true",
            ][..],
        ),
    ] {
        let name = format!("mean-{label}");
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline("rec.spy", &format!("{name}.spy"), exec, None),
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
        averaged.push((label, objects(&tmp.join(format!("{name}.spy")))));
    }

    let (keep_z, keep_r) = objects(&tmp.join("keep.spy"));
    for (which, keep_path) in [(0, keep_z), (1, keep_r)] {
        let per_trial = read_data(&keep_path);
        let channels = per_trial.shape[1];
        let n_trials = trl_shape[0];
        let len = 300;
        // The mean of the stored per-trial outputs, in f64.
        let mut expected = vec![0.0f64; len * channels];
        for row in trl.chunks(columns) {
            let start = row[0] as usize;
            assert_eq!(row[1] as usize - start, len);
            for i in 0..len {
                for c in 0..channels {
                    expected[i * channels + c] += per_trial.values[(start + i) * channels + c];
                }
            }
        }
        expected.iter_mut().for_each(|v| *v /= n_trials as f64);

        let mut first: Option<Vec<u64>> = None;
        for (label, paths) in &averaged {
            let path = if which == 0 { &paths.0 } else { &paths.1 };
            let mean = read_data(path);
            assert_eq!(mean.dtype, "float32", "{label}");
            assert_eq!(mean.shape, vec![len, channels], "{label}: one trial");
            assert!(!mean.is_virtual, "{label}: averages are not virtual");
            for (k, (&got, &want)) in mean.values.iter().zip(&expected).enumerate() {
                let tol = 8.0 * f32::EPSILON as f64 * want.abs().max(1.0);
                assert!(
                    (got - want).abs() <= tol,
                    "{label} {}: element {k}: {got} vs mean {want}",
                    path.display()
                );
            }
            let (shape, row) = read_trialdefinition(path);
            assert_eq!(
                shape,
                vec![1, columns],
                "{label}: trialdefinition has one row"
            );
            assert_eq!(
                (row[0], row[1]),
                (0.0, len as f64),
                "{label}: the trial spans the data"
            );
            let info = read_info(path);
            assert_eq!(info["trl_shape"], serde_json::json!([1, columns]));
            assert_eq!(info["data_shape"], serde_json::json!([len, channels]));
            // Averaging is in trial order in every mode: bitwise equal results.
            match &first {
                None => first = Some(mean.bits.clone()),
                Some(bits) => assert!(*bits == mean.bits, "{label}: average differs bitwise"),
            }
        }
    }

    // Unequal trials cannot be averaged: refused before anything is written.
    let unequal = generate(&tmp.path, "uneq.spy", true);
    let unequal_before = fingerprint(&unequal);
    write_file(
        &tmp.path,
        "uneq.yaml",
        &pipeline("uneq.spy", "uneq-out.spy", &["keeptrials: false"], None),
    );
    let out = trialflow(&tmp.path, &["run", "uneq.yaml"]);
    out.assert_error(2, &["keeptrials"]);
    assert!(!tmp.join("uneq-out.spy").exists());
    assert!(!tmp.join("uneq-out.spy.partial").exists());
    assert_eq!(fingerprint(&unequal), unequal_before);
    assert_eq!(fingerprint(&rec), before);
}

#[test]
fn mem_thresh_refuses_and_writes_nothing() {
    let tmp = TempDir::new("memthresh");
    let rec = generate(&tmp.path, "rec.spy", true);
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("rec.spy", "out.spy", &[], None),
    );
    let before = fingerprint(&tmp.path);
    let out = trialflow_env(
        &tmp.path,
        &["run", "p.yaml"],
        &[("TRIALFLOW_AVAILABLE_MEMORY", "1000")],
    );
    out.assert_error(2, &["mem_thresh", "1000 B"]);
    // The estimate is printed too: "estimated peak memory <number> <unit> exceeds ...".
    let estimate = out
        .stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no estimate in: {}", out.stderr));
    assert!(
        estimate.parse::<f64>().map(|v| v > 0.0).unwrap_or(false),
        "the estimate is a positive number: {}",
        out.stderr
    );
    assert!(!tmp.join("out.spy").exists(), "no output");
    assert!(!tmp.join("out.spy.partial").exists(), "no staging folder");
    assert_eq!(
        fingerprint(&tmp.path),
        before,
        "nothing was written or changed"
    );
    // The same in sequential mode and with a dry run.
    let out = trialflow_env(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "--set",
            "execution.mode=sequential",
            "--dry-run",
        ],
        &[("TRIALFLOW_AVAILABLE_MEMORY", "1000")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("mem_thresh"), "{}", out.stderr);
    assert_eq!(fingerprint(&tmp.path), before);
    // With plenty of memory the same pipeline runs.
    trialflow_env(
        &tmp.path,
        &["run", "p.yaml", "-q"],
        &[("TRIALFLOW_AVAILABLE_MEMORY", "100000000000")],
    )
    .ok();
    assert!(tmp.join("out.spy").is_dir());
    let _ = rec;
}

#[test]
fn set_overrides_pipeline_values() {
    let tmp = TempDir::new("set");
    let rec = generate(&tmp.path, "rec.spy", true);
    let before = fingerprint(&rec);
    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline(
            "rec.spy",
            "base.spy",
            &["mode: parallel", "workers: 2"],
            None,
        ),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let (base_z, _) = objects(&tmp.join("base.spy"));
    let base = read_data(&base_z);
    assert_eq!(read_info(&base_z)["cfg"]["detrend"]["type"], "linear");

    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "-q",
            "--set",
            "steps.0.type=constant",
            "--set",
            "output=constant.spy",
        ],
    )
    .ok();
    let (const_z, _) = objects(&tmp.join("constant.spy"));
    let constant = read_data(&const_z);
    assert_ne!(
        constant.bits, base.bits,
        "detrend type constant changes the result"
    );
    assert_eq!(
        read_info(&const_z)["cfg"]["detrend"]["type"],
        "constant",
        "cfg records the override"
    );

    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "-q",
            "--set",
            "execution.workers=1",
            "--set",
            "output=one.spy",
        ],
    )
    .ok();
    let (one_z, _) = objects(&tmp.join("one.spy"));
    assert_eq!(
        read_data(&one_z).bits,
        base.bits,
        "workers=1 gives the same bits"
    );
    assert_eq!(
        read_info(&one_z)["info"]["execution"]["workers"],
        1,
        "the override took effect"
    );

    // An override may add a step parameter and change a saved name.
    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "-q",
            "--set",
            "steps.1.name=std",
            "--set",
            "output=named.spy",
        ],
    )
    .ok();
    assert!(tmp.join("named.spy/named_std.analog").is_file());
    assert!(!tmp.join("named.spy/named_z.analog").exists());
    assert_eq!(fingerprint(&rec), before);
}

#[test]
fn info_routines_and_demo() {
    let tmp = TempDir::new("info");
    let rec = generate(&tmp.path, "rec.spy", true);
    let info = trialflow(&tmp.path, &["info", "rec.spy"]).ok();
    for needle in [
        "rec_raw.analog",
        "AnalogData",
        "trials      6",
        "channels    5",
        "samplerate  1000 Hz",
        "float32",
        "[1854, 5]",
    ] {
        assert!(
            info.stdout.contains(needle),
            "info on the recording shows '{needle}':\n{}",
            info.stdout
        );
    }
    let info = trialflow(&tmp.path, &["info", "rec.spy/rec_raw.analog"]).ok();
    assert!(info.stdout.contains("trials      6"), "{}", info.stdout);

    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline("rec.spy", "out.spy", &["mode: sequential"], Some("float64")),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    let info = trialflow(&tmp.path, &["info", "out.spy"]).ok();
    for needle in [
        "2 object(s)",
        "out_z.analog",
        "out_rectify.analog",
        "trials      6",
        "channels    5",
        "samplerate  1000 Hz",
        "float32",
        "float64",
    ] {
        assert!(
            info.stdout.contains(needle),
            "info on results shows '{needle}':\n{}",
            info.stdout
        );
    }

    let list = trialflow(&tmp.path, &["routines"]).ok();
    for name in ["detrend", "zscore", "rectify"] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(name)),
            "routines lists {name}:\n{}",
            list.stdout
        );
    }
    let detrend = trialflow(&tmp.path, &["routines", "detrend"]).ok();
    assert!(detrend.stdout.contains("type"), "{}", detrend.stdout);
    assert!(
        detrend.stdout.contains("default linear"),
        "{}",
        detrend.stdout
    );
    assert!(detrend.stdout.contains("constant"), "{}", detrend.stdout);
    trialflow(&tmp.path, &["routines", "nosuch"]).assert_error(2, &["nosuch", "detrend"]);

    let demo = trialflow(&tmp.path, &["demo", "--dir", "D", "--trials", "5"]).ok();
    let results = tmp.join("D/results.spy");
    assert!(
        results.is_dir(),
        "demo writes D/results.spy:\n{}",
        demo.stdout
    );
    assert!(tmp.join("D/pipeline.yaml").is_file());
    assert!(demo.stdout.contains("results.spy"), "{}", demo.stdout);
    // The NWB half: the embedded pynwb session, cut around the stimulus, condition 1 only.
    assert!(tmp.join("D/session.nwb").is_file());
    let spectra = trialflow(&tmp.path, &["info", "D/session-spectra.spy"]).ok();
    assert!(
        spectra.stdout.contains("SpectralData"),
        "the NWB demo writes a spectrum:\n{}",
        spectra.stdout
    );
    let smoothed = read_data(&results.join("results_smoothed.analog"));
    assert_eq!(smoothed.shape[1], 16);
    assert!(smoothed.values.iter().all(|v| v.is_finite()));
    let objects = trialflow(&tmp.path, &["info", "D/results.spy"]).ok();
    assert!(objects.stdout.contains("SpikeData"), "{}", objects.stdout);
    let spectrum = trialflow(&tmp.path, &["info", "D/spectrum.spy"]).ok();
    assert!(
        spectrum.stdout.contains("SpectralData"),
        "{}",
        spectrum.stdout
    );
    // The figures: written, named in the output, PNGs of the default size.
    for name in ["spectrum.png", "trial0-peaks.png"] {
        let figure = tmp.join("D/figures").join(name);
        assert!(
            demo.stdout.contains(&format!("figure    D/figures/{name}")),
            "demo prints {name}:\n{}",
            demo.stdout
        );
        let bytes = std::fs::read(&figure).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name} is a PNG");
        let (w, h) = (
            u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
            u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
        );
        assert_eq!((w, h), (1200, 800), "{name} size");
    }
    let _ = rec;
}

#[test]
fn info_json_has_syncopy_keys_checksum_and_full_cfg() {
    let tmp = TempDir::new("infojson");
    let rec = generate(&tmp.path, "rec.spy", true);
    for store in [false, true] {
        let name = format!("out{store}");
        let lines = [
            "mode: parallel".to_string(),
            "workers: 2".into(),
            format!("parallel_store: {store}"),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &pipeline("rec.spy", &format!("{name}.spy"), &lines, None),
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
        let (z_path, r_path) = objects(&tmp.join(format!("{name}.spy")));
        for path in [&z_path, &r_path] {
            let ctx = format!("{} (parallel_store {store})", path.display());
            let info = read_info(path);
            for key in [
                "filename",
                "dataclass",
                "data_dtype",
                "data_shape",
                "trl_dtype",
                "trl_shape",
                "file_checksum",
                "order",
                "checksum_algorithm",
                "dimord",
                "_version",
                "_log",
                "cfg",
                "samplerate",
                "channel",
                "_hdfFileDatasetProperties",
            ] {
                assert!(info.get(key).is_some(), "{ctx}: .info has '{key}'");
            }
            let data = read_data(path);
            let (trl_shape, _) = read_trialdefinition(path);
            assert_eq!(
                info["filename"],
                path.file_name().unwrap().to_str().unwrap(),
                "{ctx}"
            );
            assert_eq!(info["dataclass"], "AnalogData", "{ctx}");
            assert_eq!(info["data_dtype"], "float32", "{ctx}");
            assert_eq!(info["data_shape"], serde_json::json!(data.shape), "{ctx}");
            assert_eq!(info["trl_dtype"], "float64", "{ctx}");
            assert_eq!(info["trl_shape"], serde_json::json!(trl_shape), "{ctx}");
            assert_eq!(
                info["file_checksum"],
                sha1sum(path),
                "{ctx}: SHA-1 of the HDF5 file"
            );
            assert_eq!(info["order"], "C", "{ctx}");
            assert_eq!(info["checksum_algorithm"], "openssl_sha1", "{ctx}");
            assert_eq!(
                info["dimord"],
                serde_json::json!(["time", "channel"]),
                "{ctx}"
            );
            assert!(
                info["_version"].as_str().is_some_and(|v| !v.is_empty()),
                "{ctx}"
            );
            let log = info["_log"].as_str().unwrap_or_default();
            assert!(
                log.contains("generated a synthetic recording"),
                "{ctx}: the input's log is kept: {log}"
            );
            assert!(
                log.len() > "generated a synthetic recording".len() + 20,
                "{ctx}: log grows: {log}"
            );
            assert_eq!(info["samplerate"], 1000.0, "{ctx}");
            let channels: Vec<String> = (1..=5).map(|c| format!("channel{c:03}")).collect();
            assert_eq!(info["channel"], serde_json::json!(channels), "{ctx}");
            assert!(
                info["_hdfFileDatasetProperties"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "data")),
                "{ctx}"
            );
            let cfg = &info["cfg"];
            assert_eq!(cfg["detrend"]["routine"], "detrend", "{ctx}: cfg {cfg}");
            assert_eq!(
                cfg["detrend"]["type"], "linear",
                "{ctx}: the default is recorded: {cfg}"
            );
            assert_eq!(cfg["z"]["routine"], "zscore", "{ctx}: cfg {cfg}");
            assert!(
                cfg["generate"].is_object(),
                "{ctx}: the input's cfg is kept: {cfg}"
            );
        }
        // The last object records every step.
        let cfg = read_info(&r_path)["cfg"].clone();
        assert_eq!(cfg["rectify"]["routine"], "rectify", "cfg {cfg}");
        let steps: Vec<&String> = cfg
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "generate")
            .collect();
        assert_eq!(
            steps,
            ["detrend", "z", "rectify"],
            "cfg lists the steps in order: {cfg}"
        );
        // Virtual outputs: the parts are not part of the checksum, but the object file is.
        if store {
            assert!(read_data(&r_path).is_virtual);
        }
    }
    let _ = rec;
}

#[test]
fn existing_output_needs_overwrite_and_input_is_never_touched() {
    let tmp = TempDir::new("overwrite");
    let rec = generate(&tmp.path, "rec.spy", true);
    let input_before = fingerprint(&rec);
    let input_file = input_object(&rec);
    let input_sha = sha1sum(&input_file);
    let input_mtime = std::fs::metadata(&input_file).unwrap().modified().unwrap();
    let check_input = |when: &str| {
        assert_eq!(sha1sum(&input_file), input_sha, "{when}: input bytes");
        assert_eq!(
            std::fs::metadata(&input_file).unwrap().modified().unwrap(),
            input_mtime,
            "{when}: input mtime"
        );
        assert_eq!(fingerprint(&rec), input_before, "{when}: input container");
    };

    write_file(
        &tmp.path,
        "p.yaml",
        &pipeline(
            "rec.spy",
            "out.spy",
            &["mode: parallel", "workers: 2"],
            None,
        ),
    );
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    check_input("first run");
    let out = tmp.join("out.spy");
    let first = fingerprint(&out);
    let (z_path, _) = objects(&out);
    let linear = read_data(&z_path);

    let refused = trialflow(
        &tmp.path,
        &["run", "p.yaml", "--set", "steps.0.type=constant"],
    );
    refused.assert_error(2, &["out.spy", "--overwrite"]);
    assert_eq!(
        fingerprint(&out),
        first,
        "a refused run leaves the output alone"
    );
    assert!(!tmp.join("out.spy.partial").exists());
    check_input("refused run");

    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "-q",
            "--overwrite",
            "--set",
            "steps.0.type=constant",
        ],
    )
    .ok();
    check_input("overwrite run");
    let replaced = read_data(&z_path);
    assert_ne!(
        replaced.bits, linear.bits,
        "--overwrite replaced the output"
    );
    assert_eq!(read_info(&z_path)["cfg"]["detrend"]["type"], "constant");
    // Same as a fresh run with that setting.
    trialflow(
        &tmp.path,
        &[
            "run",
            "p.yaml",
            "-q",
            "--set",
            "steps.0.type=constant",
            "--set",
            "output=fresh.spy",
        ],
    )
    .ok();
    assert_eq!(
        read_data(&tmp.join("fresh.spy/fresh_z.analog")).bits,
        replaced.bits
    );

    // `overwrite: true` in the pipeline file works too; sequential replaces a virtual output.
    let mut yaml = pipeline(
        "rec.spy",
        "out.spy",
        &["mode: sequential", "parallel_store: false"],
        None,
    );
    yaml.push_str("overwrite: true\n");
    write_file(&tmp.path, "p2.yaml", &yaml);
    trialflow(&tmp.path, &["run", "p2.yaml", "-q"]).ok();
    check_input("overwrite: true run");
    let again = read_data(&z_path);
    assert!(!again.is_virtual);
    assert_eq!(again.bits, linear.bits, "back to linear detrend");

    // Nothing left over from staging or replacing.
    let leftovers: Vec<String> = list(&tmp.path)
        .into_iter()
        .filter(|n| n.contains(".partial") || n.contains(".replaced"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        !out.join("out_z.parts").exists(),
        "old virtual parts are gone"
    );

    // generate refuses to replace an existing recording too.
    let again = trialflow(&tmp.path, &["generate", "rec.spy", "--trials", "2"]);
    again.assert_error(2, &["rec.spy", "--overwrite"]);
    check_input("generate refused");
}

#[test]
fn dry_run_and_verbose_describe_event_outputs() {
    let dir = std::env::temp_dir().join(format!("trialflow-cli-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_trialflow");
    let status = std::process::Command::new(bin)
        .args([
            "generate",
            dir.join("in.spy").to_str().unwrap(),
            "--trials",
            "3",
            "--samples",
            "200",
            "--channels",
            "2",
        ])
        .output()
        .unwrap();
    assert!(status.status.success());
    let pipeline = dir.join("p.yaml");
    std::fs::write(
        &pipeline,
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: zscore\n  - routine: find_peaks\n    height: 0.5\n",
    )
    .unwrap();
    for flag in ["--dry-run", "-v"] {
        let out = std::process::Command::new(bin)
            .args(["run", pipeline.to_str().unwrap(), flag, "--overwrite"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{flag}: {stderr}");
        assert!(stderr.contains("SpikeData"), "{flag}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
