//! The reader moves the values of plain contiguous datasets with `pread`, and the writer
//! with `pwrite`, outside HDF5 (`crates/storage/src/raw_io.rs`); every other storage form
//! goes through HDF5. These tests store one recording in several forms (contiguous float32
//! at a new offset, chunked and compressed, big-endian, float64) and check that every form
//! reads as the same values and gives the same results, bit for bit, in every engine mode.

mod common;

use std::path::{Path, PathBuf};

use common::{generate, init, read_data, results, trialflow, write_file, Dense, TempDir};
use trialflow::engine::TrialSource;
use trialflow::hdf5::SpyReader;

/// How a variant stores the recording's `data`.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// Contiguous float32, rewritten, so its values sit at a different file offset.
    Contiguous,
    ChunkedDeflate,
    BigEndian,
    Float64,
}

/// Copies the generated container and replaces its `data` with `values` stored as `form`.
fn variant(original: &Path, dir: &Path, form: Form, values: &[f32], shape: &[usize]) -> PathBuf {
    let container = dir.join(format!("{form:?}.spy").to_lowercase());
    std::fs::create_dir_all(&container).unwrap();
    for entry in std::fs::read_dir(original).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), container.join(entry.file_name())).unwrap();
    }
    let object = container.join("rec_raw.analog");
    let file = common::h5_open_rw(&object).unwrap();
    file.unlink("data").unwrap();
    let shape = (shape[0], shape[1]);
    match form {
        Form::Contiguous => {
            file.new_dataset::<f32>()
                .shape(shape)
                .create("data")
                .unwrap()
                .write_raw(values)
                .unwrap();
        }
        Form::ChunkedDeflate => {
            file.new_dataset::<f32>()
                .shape(shape)
                .chunk((7, 3))
                .deflate(4)
                .create("data")
                .unwrap()
                .write_raw(values)
                .unwrap();
        }
        Form::BigEndian => {
            // SAFETY: H5Tcopy returns a new datatype id that `from_id` takes ownership of.
            let big_endian: hdf5::Datatype = unsafe {
                hdf5::from_id(hdf5_sys::h5t::H5Tcopy(*hdf5_sys::h5t::H5T_IEEE_F32BE)).unwrap()
            };
            let ds = file
                .new_dataset_builder()
                .empty_as(big_endian)
                .shape(shape)
                .create("data")
                .unwrap();
            assert_eq!(
                ds.dtype().unwrap().byte_order(),
                hdf5::datatype::ByteOrder::BigEndian
            );
            ds.write_raw(values).unwrap();
        }
        Form::Float64 => {
            let wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
            file.new_dataset::<f64>()
                .shape(shape)
                .create("data")
                .unwrap()
                .write_raw(&wide)
                .unwrap();
        }
    }
    file.close().unwrap();
    container
}

const FORMS: [Form; 4] = [
    Form::Contiguous,
    Form::ChunkedDeflate,
    Form::BigEndian,
    Form::Float64,
];

/// A generated float32 recording with unequal trials: its container, its stored `data` and
/// those values as f32.
fn recording(tmp: &TempDir) -> (PathBuf, Dense, Vec<f32>) {
    let original = generate(&tmp.path, "rec.spy", true);
    let stored = read_data(&original.join("rec_raw.analog"));
    let values = stored.values.iter().map(|&v| v as f32).collect();
    (original, stored, values)
}

#[test]
fn every_storage_form_reads_as_the_same_values() {
    init();
    let tmp = TempDir::new("layouts-read");
    let (original, stored, values) = recording(&tmp);
    for form in FORMS {
        let container = variant(&original, &tmp.path, form, &values, &stored.shape);
        let mut reader = SpyReader::open(&container).unwrap();
        let trials = reader.schema().trialdefinition.clone();
        let channels = stored.shape[1];
        let (mut wide, mut narrow) = (Vec::new(), Vec::new());
        for trial in 0..trials.len() {
            let rows = trials.samples(trial);
            let expected = &stored.values[rows.start * channels..rows.end * channels];
            reader.read_trial(trial, &mut wide).unwrap();
            assert!(wide == expected, "{form:?}: read_trial of trial {trial}");
            let as_f32 = reader.read_trial_f32(trial, &mut narrow).unwrap();
            assert_eq!(as_f32, !matches!(form, Form::Float64), "{form:?}");
            if as_f32 {
                let widened: Vec<f64> = narrow.iter().map(|&v| f64::from(v)).collect();
                assert!(
                    widened == expected,
                    "{form:?}: read_trial_f32 of trial {trial}"
                );
            }
        }
        // Consecutive trials in one read (the parallel engine's batches of tiny trials):
        // plain contiguous float32 only, and then the trials' values back to back.
        let mut grouped = 0;
        for first in 0..trials.len() - 2 {
            let group = first..first + 3;
            let rows = trials.start(first)..trials.stop(first + 2);
            let back_to_back = group
                .clone()
                .skip(1)
                .all(|t| trials.start(t) == trials.stop(t - 1));
            let read = reader.read_trials_f32(group, &mut narrow).unwrap();
            assert_eq!(
                read,
                matches!(form, Form::Contiguous) && back_to_back,
                "{form:?}"
            );
            if read {
                grouped += 1;
                let widened: Vec<f64> = narrow.iter().map(|&v| f64::from(v)).collect();
                let expected = &stored.values[rows.start * channels..rows.end * channels];
                assert!(
                    widened == expected,
                    "{form:?}: trials {first} to {}",
                    first + 2
                );
            }
        }
        if matches!(form, Form::Contiguous) {
            assert!(grouped > 0, "no trials of the recording follow one another");
        }
    }
}

#[test]
fn every_storage_form_gives_the_same_results_in_every_mode() {
    init();
    let tmp = TempDir::new("layouts-run");
    let (original, stored, values) = recording(&tmp);
    let expected: Vec<f64> = values.iter().map(|v| f64::from(v.abs())).collect();
    let executions = [
        ("sequential", "{mode: sequential, parallel_store: false}"),
        ("parallel", "{mode: parallel, workers: 2}"),
        (
            "grouped",
            "{mode: parallel, workers: 2, chan_per_worker: 2, parallel_store: false}",
        ),
        ("grouped_per_task", "{mode: sequential, chan_per_worker: 2}"),
    ];
    for form in FORMS {
        let container = variant(&original, &tmp.path, form, &values, &stored.shape);
        for (label, execution) in executions {
            let out = format!("{form:?}-{label}.spy").to_lowercase();
            let yaml = format!(
                "input: {}\noutput: {out}\nexecution: {execution}\nsteps:\n  - routine: rectify\n",
                container.display()
            );
            write_file(&tmp.path, "p.yaml", &yaml);
            trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
            let written = results(&tmp.join(&out));
            assert_eq!(written.len(), 1);
            let data = &written[0].1;
            let dtype = if matches!(form, Form::Float64) {
                "float64"
            } else {
                "float32"
            };
            assert_eq!(data.dtype, dtype, "{form:?} {label}");
            assert_eq!(data.shape, stored.shape, "{form:?} {label}");
            assert!(data.values == expected, "{form:?} {label}: values differ");
        }
    }
}

/// Many tiny trials (issue 17): in the per-task layout, a part's lane file holds its
/// tasks' blocks stacked in one dataset, mapped into the virtual dataset by strided
/// selections; the values are bit for bit those of the contiguous layout, for equal and
/// unequal trial lengths, in every mode.
#[test]
fn tiny_trials_are_stacked_into_few_datasets_with_the_same_bits() {
    init();
    let tmp = TempDir::new("layouts-tiny");
    for unequal in [false, true] {
        let name = if unequal { "unequal.spy" } else { "equal.spy" };
        let mut args = vec![
            "generate",
            name,
            "--trials",
            "3000",
            "--samples",
            "20",
            "--channels",
            "3",
        ];
        if unequal {
            args.push("--unequal");
        }
        trialflow(&tmp.path, &args).ok();
        let input = std::fs::read_dir(tmp.join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "analog"))
            .unwrap();
        let executions = [
            ("contiguous", "{mode: sequential, parallel_store: false}"),
            ("parallel", "{mode: parallel, workers: 2}"),
            ("pertask", "{mode: sequential, parallel_store: true}"),
        ];
        for (label, execution) in executions {
            let yaml = format!(
                "input: {}\noutput: {label}-{name}\nexecution: {execution}\nsteps:\n  - routine: rectify\n",
                input.display()
            );
            write_file(&tmp.path, "p.yaml", &yaml);
            trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
        }
        let contiguous = tmp.join(format!("contiguous-{name}"));
        for label in ["parallel", "pertask"] {
            let out = tmp.join(format!("{label}-{name}"));
            common::assert_same_results(&contiguous, &out, &format!("{label} {name}"));
            let parts = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.extension().is_some_and(|e| e == "parts"))
                .expect("a per-task layout has a parts folder");
            let files: Vec<String> = std::fs::read_dir(&parts)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            assert!(
                files.iter().all(|f| f.contains('x')),
                "{label} {name}: every lane file is stacked: {files:?}"
            );
            assert!(
                files.len() < 300,
                "{label} {name}: 3000 trials in {} files",
                files.len()
            );
            let data = read_data(&out.join(format!(
                "{label}-{}_rectify.analog",
                name.trim_end_matches(".spy")
            )));
            assert!(data.is_virtual, "{label} {name}: a virtual dataset");
        }
    }
}
