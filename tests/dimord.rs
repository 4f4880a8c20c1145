//! Syncopy's channel-first AnalogData (`dimord: [channel, time]`) reads as the same trials as
//! the time-first file it was transposed from, so every result is the same bit for bit, in
//! every mode; an unknown `dimord` is refused naming it; `info` shows the axes.

mod common;

use std::path::Path;

use common::*;
use ndarray::Array2;

/// Copies the time-first container `from` to `to` with `data` stored channel first, as
/// Syncopy writes it with `dimord=["channel", "time"]`.
fn channel_first_copy(dir: &Path, from: &str, to: &str) {
    init();
    std::fs::create_dir(dir.join(to)).unwrap();
    for entry in std::fs::read_dir(dir.join(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(to).join(entry.file_name())).unwrap();
    }
    let object = dir.join(to).join("in_raw.analog");
    let shape;
    {
        let file = h5_open_rw(&object).unwrap();
        let data: Array2<f32> = file.dataset("data").unwrap().read_2d().unwrap();
        shape = [data.ncols(), data.nrows()];
        file.unlink("data").unwrap();
        let transposed = data.t().as_standard_layout().to_owned();
        file.new_dataset_builder()
            .with_data(&transposed)
            .create("data")
            .unwrap();
    }
    edit_info(&object, |info| {
        info.insert("dimord".into(), serde_json::json!(["channel", "time"]));
        info.insert("data_shape".into(), serde_json::json!(shape));
    });
}

#[test]
fn channel_first_data_gives_the_time_first_results_bit_for_bit() {
    let tmp = TempDir::new("dimord");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "7",
            "--samples",
            "300",
            "--channels",
            "6",
            "--unequal",
        ],
    )
    .ok();
    channel_first_copy(&tmp.path, "in.spy", "cf.spy");
    let info = trialflow(&tmp.path, &["info", "cf.spy"]).ok();
    assert!(info.stdout.contains("(channel x time)"), "{}", info.stdout);
    assert!(info.stdout.contains("channels    6"), "{}", info.stdout);
    let steps =
        "steps:\n  - routine: detrend\n    save: true\n  - routine: find_peaks\n    height: 0.5\n";
    for (name, input, execution) in [
        ("tf", "in.spy", "  mode: sequential"),
        ("cf", "cf.spy", "  mode: sequential"),
        (
            "cfpar",
            "cf.spy",
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 4",
        ),
    ] {
        write_file(
            &tmp.path,
            &format!("{name}.yaml"),
            &format!("input: {input}\noutput: {name}_out.spy\nexecution:\n{execution}\n{steps}"),
        );
        trialflow(&tmp.path, &["run", &format!("{name}.yaml"), "-q"]).ok();
    }
    assert_same_results(
        &tmp.join("cf_out.spy"),
        &tmp.join("tf_out.spy"),
        "channel first",
    );
    assert_same_results(
        &tmp.join("cfpar_out.spy"),
        &tmp.join("tf_out.spy"),
        "channel first, parallel",
    );
}

#[test]
fn an_unknown_dimord_is_refused_naming_it() {
    let tmp = TempDir::new("dimord-bad");
    generate(&tmp.path, "in.spy", false);
    edit_info(&tmp.join("in.spy/in_raw.analog"), |info| {
        info.insert("dimord".into(), serde_json::json!(["time", "electrode"]));
    });
    write_file(
        &tmp.path,
        "p.yaml",
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: rectify\n",
    );
    trialflow(&tmp.path, &["run", "p.yaml"]).assert_error(2, &["dimord", "electrode"]);
    assert!(!tmp.join("out.spy").exists());
}
