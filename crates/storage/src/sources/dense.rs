//! A dense object (SpectralData, CrossSpectralData) as a trial source.

use std::ops::Range;

use num_complex::Complex64;
use serde_json::Value;
use trialflow_core::engine::TrialSource;
use trialflow_core::{DataSchema, Error, ErrorClass};

use super::provenance;
use crate::error::StorageError;
use crate::identity::file_identity;
use crate::objects::{DenseObject, ObjectHeader};

/// Reads whole trials of a dense object through [`DenseObject::read_block`]: the kind's
/// axis order (time, then e.g. taper, freq, channel), complex values as (re, im) pairs.
pub struct DenseSource {
    object: DenseObject,
    schema: DataSchema,
    /// Per axis of the kind, the range read: the trial's rows (set per trial), then every
    /// index of the other axes.
    ranges: Vec<Range<usize>>,
    complex: bool,
    log: String,
    cfg: Value,
}

impl DenseSource {
    pub fn new(header: ObjectHeader) -> Result<DenseSource, StorageError> {
        let schema = header.schema();
        let (log, cfg) = provenance(&header);
        let complex = header.complex;
        let object = DenseObject::from_header(header)?;
        let ranges = match schema.trial_shapes.first() {
            Some(shape) => shape.iter().map(|&n| 0..n).collect(),
            None => vec![0..0; schema.kind.dimord().len()],
        };
        Ok(DenseSource {
            object,
            schema,
            ranges,
            complex,
            log,
            cfg,
        })
    }

    fn fail(&self, trial: usize, e: StorageError) -> Error {
        Error::input(
            format!("{} (trial {trial})", self.describe()),
            e,
            ErrorClass::Runtime,
        )
    }
}

impl TrialSource for DenseSource {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        self.ranges[0] = 0..self.schema.trialdefinition.trial_len(trial);
        out.clear();
        if self.complex {
            let block = self
                .object
                .read_block::<Complex64>(trial, &self.ranges)
                .map_err(|e| self.fail(trial, e))?;
            out.reserve(2 * block.len());
            for v in block.iter() {
                out.push(v.re);
                out.push(v.im);
            }
        } else {
            let block = self
                .object
                .read_block::<f64>(trial, &self.ranges)
                .map_err(|e| self.fail(trial, e))?;
            match block.as_slice() {
                Some(values) => out.extend_from_slice(values),
                None => out.extend(block.iter().copied()),
            }
        }
        Ok(())
    }

    fn log(&self) -> String {
        self.log.clone()
    }

    fn cfg(&self) -> Value {
        self.cfg.clone()
    }

    fn describe(&self) -> String {
        self.object.header().path.display().to_string()
    }

    fn identity(&self) -> Value {
        file_identity(&self.object.header().path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5_util::create_file;

    /// A complex SpectralData stored channel first (`dimord` reversed, as Syncopy allows)
    /// reads as (time, taper, freq, channel) trials with (re, im) pairs.
    #[test]
    fn trials_come_in_the_kinds_axis_order_whatever_the_files_dimord() {
        let dir =
            std::env::temp_dir().join(format!("trialflow-dense-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.spectral");
        // Stored (channel 2, freq 3, taper 1, time 3): value = 1000 t + 100 f + 10 c, im = -re.
        let (channels, freqs, times) = (2, 3, 3);
        let mut stored = Vec::new();
        for c in 0..channels {
            for f in 0..freqs {
                for t in 0..times {
                    let re = (1000 * t + 100 * f + 10 * c) as f64;
                    stored.push(Complex64::new(re, -re));
                }
            }
        }
        let file = create_file(&path).unwrap();
        file.new_dataset::<Complex64>()
            .shape((channels, freqs, 1, times))
            .create("data")
            .unwrap()
            .write_raw(&stored)
            .unwrap();
        file.new_dataset::<f64>()
            .shape((2, 3))
            .create("trialdefinition")
            .unwrap()
            .write_raw(&[0.0, 2.0, 0.0, 2.0, 3.0, -1.0])
            .unwrap();
        file.close().unwrap();
        let info = r#"{"dataclass": "SpectralData", "samplerate": 10.0, "channel": ["a", "b"],
            "freq": [1.0, 2.0, 3.0], "taper": ["hann"], "dimord": ["channel", "freq", "taper", "time"]}"#;
        std::fs::write(dir.join("x.spectral.info"), info).unwrap();

        let mut source = DenseSource::new(ObjectHeader::open(&path).unwrap()).unwrap();
        let schema = source.schema().clone();
        assert_eq!(schema.trial_shapes, [vec![2, 1, 3, 2], vec![1, 1, 3, 2]]);
        assert_eq!(schema.trial_values_shape(1), [1, 1, 3, 2, 2]);
        let mut out = Vec::new();
        source.read_trial(1, &mut out).unwrap();
        // Trial 1 is time row 2: (freq, channel) in row-major order, then (re, im).
        let expected: Vec<f64> = (0..freqs)
            .flat_map(|f| (0..channels).map(move |c| (2000 + 100 * f + 10 * c) as f64))
            .flat_map(|re| [re, -re])
            .collect();
        assert_eq!(out, expected);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
