//! Integer `data` (amplifier counts) in Syncopy containers: every integer type reads as the
//! exact values widened to f64, contiguous (read with `pread`) and chunked-compressed
//! (through HDF5) give the same bits, results are float32 unless a step sets `dtype`, and
//! every mode agrees.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Copies `original` to `<name>.spy` with `data` replaced by `values` stored as `T`.
fn variant<T: hdf5::H5Type + Copy>(
    original: &Path,
    dir: &Path,
    name: &str,
    values: &[T],
    shape: (usize, usize),
    chunked: bool,
) -> PathBuf {
    init();
    let container = dir.join(format!("{name}.spy"));
    std::fs::create_dir_all(&container).unwrap();
    for entry in std::fs::read_dir(original).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), container.join(entry.file_name())).unwrap();
    }
    let file = h5_open_rw(container.join("rec_raw.analog")).unwrap();
    file.unlink("data").unwrap();
    let builder = file.new_dataset::<T>().shape(shape);
    let builder = if chunked {
        builder.chunk((5, 2)).deflate(3)
    } else {
        builder
    };
    builder.create("data").unwrap().write_raw(values).unwrap();
    container
}

#[test]
fn integer_data_reads_exactly_in_every_type_layout_and_mode() {
    let tmp = TempDir::new("integers");
    generate(&tmp.path, "rec.spy", true);
    let original = tmp.join("rec.spy");
    let floats = read_data(&original.join("rec_raw.analog"));
    let shape = (floats.shape[0], floats.shape[1]);
    let counts: Vec<i64> = floats
        .values
        .iter()
        .map(|v| (v * 1000.0).round() as i64)
        .collect();
    assert!(
        counts.iter().any(|&c| c < 0),
        "the test needs negative counts"
    );
    let i16s: Vec<i16> = counts.iter().map(|&c| c as i16).collect();
    let i32s: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
    let i64s: Vec<i64> = counts.clone();
    let u16s: Vec<u16> = counts.iter().map(|&c| (c + 40_000) as u16).collect();
    variant(&original, &tmp.path, "i16", &i16s, shape, false);
    variant(&original, &tmp.path, "i16z", &i16s, shape, true);
    variant(&original, &tmp.path, "i32", &i32s, shape, false);
    variant(&original, &tmp.path, "i64", &i64s, shape, true);
    variant(&original, &tmp.path, "u16", &u16s, shape, false);

    let run = |input: &str, output: &str, execution: &str, dtype: &str| {
        write_file(
            &tmp.path,
            &format!("{output}.yaml"),
            &format!("input: {input}.spy\noutput: {output}.spy\nexecution:\n{execution}\nsteps:\n  - routine: rectify\n{dtype}"),
        );
        trialflow(&tmp.path, &["run", &format!("{output}.yaml"), "-q"]).ok();
        read_data(&tmp.join(format!("{output}.spy/{output}_rectify.analog")))
    };
    let wide = "    dtype: float64\n";
    for (input, expect) in [
        (
            "i16",
            counts
                .iter()
                .map(|&c| (c as f64).abs())
                .collect::<Vec<f64>>(),
        ),
        ("i16z", counts.iter().map(|&c| (c as f64).abs()).collect()),
        ("i32", counts.iter().map(|&c| (c as f64).abs()).collect()),
        ("i64", counts.iter().map(|&c| (c as f64).abs()).collect()),
        ("u16", u16s.iter().map(|&c| f64::from(c)).collect()),
    ] {
        let out = run(input, &format!("{input}_seq"), "  mode: sequential", wide);
        assert_eq!(out.dtype, "float64");
        assert!(
            out.values == expect,
            "{input}: values are the exact integers"
        );
        let par = run(
            input,
            &format!("{input}_par"),
            "  mode: parallel\n  workers: 2\n  chan_per_worker: 2",
            wide,
        );
        assert!(par.bits == out.bits, "{input}: parallel equals sequential");
    }
    let narrow = run("i16", "i16_f32", "  mode: parallel", "");
    assert_eq!(
        narrow.dtype, "float32",
        "integer input gives float32 results by default"
    );
    let narrow_z = run("i16z", "i16z_f32", "  mode: sequential", "");
    assert!(
        narrow.bits == narrow_z.bits,
        "contiguous and chunked int16 agree"
    );

    // info names the stored type.
    let info = trialflow(&tmp.path, &["info", "i16.spy"]).ok();
    assert!(
        info.stdout.contains("int16") || info.stdout.contains("i16"),
        "{}",
        info.stdout
    );
}
