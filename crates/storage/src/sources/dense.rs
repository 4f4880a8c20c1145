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
