//! Reading AnalogData that Syncopy 2023.9 wrote (fixtures made by
//! `fixtures/syncopy/make_inputs.py`): containers with and without tags, a bare `.analog`
//! file, float32 and float64, trialinfo columns and per-trial offsets; and processing it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use trialflow::engine::TrialSource;
use trialflow::hdf5::{SpyReader, SpyWriter, WriterOptions};
use trialflow::prelude::*;
use trialflow::routines::preprocessing::Rectify;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/syncopy")
}

fn expected() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("expected_inputs.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["objects"].as_array().unwrap().clone()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trialflow-syncopy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn reads_every_syncopy_fixture_exactly() {
    trialflow::hdf5::init_hdf5();
    let objects = expected();
    assert_eq!(objects.len(), 3);
    for object in &objects {
        let name = object["name"].as_str().unwrap();
        // Open by object file, and by container where there is one.
        let mut paths = vec![fixtures().join(object["hdf5_path"].as_str().unwrap())];
        if let Some(container) = object["container"].as_str() {
            paths.push(fixtures().join(container));
        }
        for path in paths {
            let mut reader = SpyReader::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let schema = reader.schema().clone();
            let dtype = if object["dtype"] == "float32" {
                DType::Float32
            } else {
                DType::Float64
            };
            assert_eq!(schema.dtype, dtype, "{name}");
            assert_eq!(schema.samplerate, object["samplerate"].as_f64().unwrap());
            let channels: Vec<String> = object["channel"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            assert_eq!(schema.channels, channels, "{name}");
            let rows = object["trialdefinition"].as_array().unwrap();
            assert_eq!(schema.n_trials(), rows.len(), "{name}");
            for (t, row) in rows.iter().enumerate() {
                let row: Vec<f64> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert_eq!(schema.trialdefinition.row(t), &row[..], "{name} trial {t}");
            }
            let data = object["data"].as_array().unwrap();
            let mut buf = Vec::new();
            for t in 0..schema.n_trials() {
                reader.read_trial(t, &mut buf).unwrap();
                let samples = schema.trialdefinition.samples(t);
                assert_eq!(buf.len(), samples.len() * channels.len());
                for (i, sample) in samples.enumerate() {
                    let row = data[sample].as_array().unwrap();
                    for c in 0..channels.len() {
                        let want = row[c].as_f64().unwrap();
                        assert_eq!(
                            buf[i * channels.len() + c].to_bits(),
                            want.to_bits(),
                            "{name} trial {t} sample {i} channel {c}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn processes_syncopy_input_keeping_trialinfo_and_offsets() {
    trialflow::hdf5::init_hdf5();
    let dir = temp_dir("process");
    let object = &expected()[0];
    let input = fixtures().join(object["container"].as_str().unwrap());
    let before = std::fs::read(fixtures().join(object["hdf5_path"].as_str().unwrap())).unwrap();
    let mut reader = SpyReader::open(&input).unwrap();
    let out = dir.join("out.spy");
    let mut writer = SpyWriter::create(&out, WriterOptions::default()).unwrap();
    let pipeline = Pipeline::new(vec![Step::new(Rectify)], ExecutionOptions::parallel(2));
    run_pipeline(&pipeline, &mut reader, &mut writer, None).unwrap();
    drop(writer);
    drop(reader);

    let file = hdf5::File::open(out.join("out_rectify.analog")).unwrap();
    let data: Vec<f32> = file.dataset("data").unwrap().read_raw().unwrap();
    let trl: Vec<f64> = file.dataset("trialdefinition").unwrap().read_raw().unwrap();
    let expected_trl: Vec<f64> = object["trialdefinition"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        trl, expected_trl,
        "contiguous trials keep start/stop, offsets and trialinfo"
    );
    let values: Vec<f32> = object["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(data, values.iter().map(|v| v.abs()).collect::<Vec<_>>());
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("out_rectify.analog.info")).unwrap(),
    )
    .unwrap();
    assert!(info["_log"].as_str().unwrap().contains("computed rectify"));
    // The input is untouched.
    let after = std::fs::read(fixtures().join(object["hdf5_path"].as_str().unwrap())).unwrap();
    assert!(before == after, "input modified");
    std::fs::remove_dir_all(&dir).unwrap();
}
