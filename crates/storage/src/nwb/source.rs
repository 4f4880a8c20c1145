//! An NWB ElectricalSeries as a trial source: trials are windows of the continuous series
//! (cut by the pipeline's `trials:` section), read one at a time and scaled to the series'
//! unit with NWB's formula.

use std::path::PathBuf;

use ndarray::s;
use serde_json::{json, Value};
use trialflow_core::engine::TrialSource;
use trialflow_core::{DType, DataSchema, Error, ErrorClass, TrialDefinition};

use super::catalog::{NwbFile, NwbSeries};
use crate::error::StorageError;
use crate::hdf5_util::one_line;
use crate::identity::file_identity;

/// Values in the series' unit, or as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `data x conversion x channel_conversion[channel] + offset` (NWB's defaults where an
    /// attribute is absent): volts for an ElectricalSeries.
    Unit,
    /// The stored values, unscaled.
    Raw,
}

/// A series of an open [`NwbFile`] with a trial definition over its samples.
pub struct NwbSource {
    path: PathBuf,
    series: NwbSeries,
    data: hdf5::Dataset,
    scale: Scale,
    schema: DataSchema,
    cfg: Value,
    log: String,
}

impl std::fmt::Debug for NwbSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NwbSource")
            .field("path", &self.path)
            .field("series", &self.series.path)
            .finish()
    }
}

impl NwbSource {
    /// `trials` are `[start, stop, offset, trialinfo...]` rows over the series' samples
    /// (already checked to lie inside it); `labels` one per channel. `cfg` and `log` describe
    /// how the trials were cut, and travel into every result.
    pub fn new(
        file: &NwbFile,
        series: &NwbSeries,
        trials: TrialDefinition,
        labels: Vec<String>,
        scale: Scale,
        cfg: Value,
        log: String,
    ) -> Result<NwbSource, StorageError> {
        let data = file
            .hdf5()
            .dataset(&format!("{}/data", series.path))
            .map_err(|e| {
                StorageError::format(
                    file.path(),
                    format!("{}/data cannot be opened: {}", series.path, one_line(&e)),
                )
            })?;
        // Integer recordings and float32 series are stored as float32 unless a step asks for
        // float64: amplifier integers carry far fewer than float32's 24 bits.
        let dtype = match series.stored {
            super::StoredType::F64 => DType::Float64,
            _ => DType::Float32,
        };
        let schema = DataSchema::analog(dtype, series.time.rate(), labels, trials);
        Ok(NwbSource {
            path: file.path().to_path_buf(),
            series: series.clone(),
            data,
            scale,
            schema,
            cfg,
            log,
        })
    }

    /// Reads samples `rows` of every channel, scaled, into `out` (row-major).
    fn read_rows(
        &self,
        rows: std::ops::Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<(), hdf5::Error> {
        let block = if self.data.ndim() == 1 {
            self.data
                .read_slice_1d::<f64, _>(s![rows.start..rows.end])?
                .into_raw_vec_and_offset()
                .0
        } else {
            self.data
                .read_slice_2d::<f64, _>(s![rows.start..rows.end, ..])?
                .into_raw_vec_and_offset()
                .0
        };
        *out = block;
        if self.scale == Scale::Unit && !self.series.is_unscaled() {
            // numpy's order for `data.astype(float64) * conversion * channel_conversion +
            // offset`: ((v * conversion) * cc) + offset, so values match pynwb bit for bit.
            let conversion = self.series.conversion;
            let offset = self.series.offset;
            let channels = self.series.shape[1];
            match &self.series.channel_conversion {
                Some(cc) => {
                    for row in out.chunks_exact_mut(channels) {
                        for (v, c) in row.iter_mut().zip(cc) {
                            *v = *v * conversion * c + offset;
                        }
                    }
                }
                None => out.iter_mut().for_each(|v| *v = *v * conversion + offset),
            }
        }
        Ok(())
    }
}

impl TrialSource for NwbSource {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        let rows = self.schema.trialdefinition.samples(trial);
        self.read_rows(rows, out).map_err(|e| {
            Error::input(
                format!(
                    "{} {} (trial {trial})",
                    self.path.display(),
                    self.series.path
                ),
                one_line(&e),
                ErrorClass::Runtime,
            )
        })
    }

    fn log(&self) -> String {
        self.log.clone()
    }

    fn cfg(&self) -> Value {
        self.cfg.clone()
    }

    fn describe(&self) -> String {
        format!("{} {}", self.path.display(), self.series.path)
    }

    /// The file (path, size, modification time), the series and the scaling: a changed
    /// input or another series is never mixed with results of the old one. The trial cutting
    /// is part of `cfg`, which resume compares too.
    fn identity(&self) -> Value {
        let mut identity = file_identity(&self.path);
        identity["series"] = json!(self.series.path);
        identity["scale"] = json!(match self.scale {
            Scale::Unit => "unit",
            Scale::Raw => "raw",
        });
        identity
    }
}
