//! Syncopy 2023.9 loads the CrossSpectralData trialflow writes (both storage layouts, the
//! checksum verified) and sees the same values, `channel_i`/`channel_j` labels, freq axis,
//! dimord and trial definition.

use super::*;

#[path = "../common/cross_spectral.rs"]
mod cross_spectral;

use cross_spectral::{expected, recording, TrialCrossSpectra};

#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_cross_spectral_data_written_by_trialflow() {
    trialflow::hdf5::init_hdf5();
    let dir = temp_dir("crossspectral");
    let (rec, trials) = recording();
    let (want, freqs) = expected(&trials, 250.0);
    for (label, execution) in [
        ("single", ExecutionOptions::sequential()),
        ("pertask", ExecutionOptions::parallel(2)),
    ] {
        let out = dir.join(format!("{label}.spy"));
        let mut writer = SpyWriter::create(&out, WriterOptions::default()).unwrap();
        let mut source = rec.clone();
        let pipeline = Pipeline::new(vec![Step::new(TrialCrossSpectra).named("csd")], execution);
        run_pipeline(&pipeline, &mut source, &mut writer, None).unwrap();
        drop(writer);
        let doc = summary(&out);
        let object = &doc["objects"][0];
        assert_eq!(object["class"], "CrossSpectralData", "{label}: {doc}");
        assert_eq!(
            object["dimord"],
            serde_json::json!(["time", "freq", "channel_i", "channel_j"])
        );
        assert_eq!(object["dtype"], "complex64");
        assert_eq!(object["shape"], serde_json::json!([3, freqs.len(), 3, 3]));
        assert_eq!(
            object["channel_i"],
            serde_json::json!(["lfp_a", "lfp_b", "lfp_c"])
        );
        assert_eq!(
            object["channel_j"],
            serde_json::json!(["lfp_c", "lfp_b", "lfp_a"])
        );
        assert_eq!(floats(&object["freq"]), freqs, "{label}");
        assert_eq!(object["samplerate"], serde_json::json!(250.0));
        assert_eq!(
            object["trialdefinition"],
            serde_json::json!([[0.0, 1.0, 0.0], [1.0, 2.0, -10.0], [2.0, 3.0, -20.0]])
        );
        // Syncopy reads the complex64 values trialflow computed (as [re, im] pairs).
        let pairs = floats(&object["data"]);
        let values: Vec<Complex64> = want.iter().flat_map(|t| t.iter().copied()).collect();
        assert_eq!(pairs.len(), 2 * values.len(), "{label}");
        for (z, v) in pairs.chunks(2).zip(&values) {
            let tol = 1e-6 * v.norm().max(1e-3);
            assert!(
                (z[0] - v.re).abs() <= tol && (z[1] - v.im).abs() <= tol,
                "{label}: {z:?} vs {v}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Syncopy loads the result of the `connectivity` routine (a `channelcmb` subset, so the
/// two channel axes differ in length): one trial at offset 0, the labels of each axis, the
/// frequency axis and the values trialflow computed, stored as float32.
#[test]
#[ignore = "needs the Syncopy venv: run scripts/test.sh"]
fn syncopy_loads_the_connectivity_result() {
    trialflow::hdf5::init_hdf5();
    let dir = temp_dir("connectivity");
    let (rec, _) = recording();
    let params = serde_json::json!({
        "method": "coh",
        "channelcmb": [["lfp_c", "lfp_a"], ["lfp_b"]],
        "tapsmofrq": 20,
    });
    let routine = || {
        Registry::builtin()
            .build("connectivity", params.as_object().unwrap().clone())
            .unwrap()
    };
    let step = |r| Step {
        routine: r,
        name: "coh".into(),
        save: false,
        dtype: None,
    };
    let mut memory = trialflow::in_memory::MemorySink::new();
    let sequential = Pipeline::new(vec![step(routine())], ExecutionOptions::sequential());
    run_pipeline(&sequential, &mut rec.clone(), &mut memory, None).unwrap();
    let want = memory.object("coh").unwrap().data.clone().unwrap();
    let out = dir.join("coh.spy");
    let mut writer = SpyWriter::create(&out, WriterOptions::default()).unwrap();
    run_pipeline(&sequential, &mut rec.clone(), &mut writer, None).unwrap();
    drop(writer);
    let doc = summary(&out);
    let object = &doc["objects"][0];
    assert_eq!(object["class"], "CrossSpectralData", "{doc}");
    assert_eq!(object["dtype"], "float32");
    assert_eq!(object["shape"], serde_json::json!(want.shape()));
    assert_eq!(object["channel_i"], serde_json::json!(["lfp_c", "lfp_a"]));
    assert_eq!(object["channel_j"], serde_json::json!(["lfp_b"]));
    assert_eq!(
        object["trialdefinition"],
        serde_json::json!([[0.0, 1.0, 0.0]])
    );
    assert_eq!(floats(&object["freq"]).len(), want.shape()[1]);
    for (got, v) in floats(&object["data"]).iter().zip(want.iter()) {
        assert_eq!(*got, *v as f32 as f64);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
