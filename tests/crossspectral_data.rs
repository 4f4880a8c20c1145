//! CrossSpectralData through the storage API: a run writes per-trial cross-spectra (dims
//! time, freq, channel_i, channel_j) in both storage layouts, and what is read back (data,
//! `.info`, attributes, `trialflow info`'s summary) is what Syncopy writes for the kind.
//! `tests/interop/crossspectral.rs` has Syncopy load it.

mod common;
#[path = "common/cross_spectral.rs"]
mod cross_spectral;

use trialflow::hdf5::{inspect_path, SpyWriter, WriterOptions};
use trialflow::prelude::*;

use cross_spectral::{expected, recording, TrialCrossSpectra};

#[test]
fn cross_spectral_data_is_written_and_read_back_as_syncopy_stores_it() {
    common::init();
    let dir = common::TempDir::new("crossspectral");
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

        let file = out.join(format!("{label}_csd.crossspectral"));
        let stored = common::read_data(&file);
        assert_eq!(stored.dtype, "complex64", "{label}");
        assert_eq!(stored.shape, vec![3, freqs.len(), 3, 3], "{label}");
        assert_eq!(stored.is_virtual, label == "pertask", "{label}");
        let mut k = 0;
        for trial in &want {
            for v in trial.iter() {
                let (re, im) = (stored.values[k], stored.values[k + 1]);
                let tol = 1e-6 * v.norm().max(1e-3);
                assert!(
                    (re - v.re).abs() <= tol && (im - v.im).abs() <= tol,
                    "{label} value {}: ({re}, {im}) vs {v}",
                    k / 2
                );
                k += 2;
            }
        }

        let info = common::read_info(&file);
        assert_eq!(info["dataclass"], "CrossSpectralData");
        assert_eq!(
            info["dimord"],
            serde_json::json!(["time", "freq", "channel_i", "channel_j"])
        );
        assert_eq!(
            info["channel_i"],
            serde_json::json!(["lfp_a", "lfp_b", "lfp_c"])
        );
        assert_eq!(
            info["channel_j"],
            serde_json::json!(["lfp_c", "lfp_b", "lfp_a"])
        );
        assert!(
            info.get("channel").is_none(),
            "CrossSpectralData has no `channel`"
        );
        assert_eq!(info["freq"], serde_json::json!(freqs));
        assert_eq!(info["data_dtype"], "complex64");
        let (trl_shape, trl) = common::read_trialdefinition(&file);
        assert_eq!(trl_shape, vec![3, 3]);
        assert_eq!(trl, vec![0.0, 1.0, 0.0, 1.0, 2.0, -10.0, 2.0, 3.0, -20.0]);

        let summary = &inspect_path(&out).unwrap()[0];
        assert_eq!(summary.class, "CrossSpectralData");
        assert_eq!(summary.channels, vec!["lfp_a", "lfp_b", "lfp_c"]);
        assert_eq!(
            summary.channels_j,
            Some(vec!["lfp_c".to_string(), "lfp_b".into(), "lfp_a".into()])
        );
        assert_eq!(summary.freq.as_deref(), Some(&freqs[..]));
        assert_eq!(summary.shape, vec![3, freqs.len(), 3, 3]);
    }
}
