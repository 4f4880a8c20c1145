//! An NWB ElectricalSeries as a trial source: trials are windows of the continuous series
//! (cut by the pipeline's `trials:` section), read one at a time and scaled to the series'
//! unit with NWB's formula.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::s;
use serde_json::{json, Value};
use trialflow_core::engine::{TrialDecoder, TrialSource};
use trialflow_core::{DType, DataSchema, Error, ErrorClass, TrialDefinition};

use super::catalog::{NwbFile, NwbSeries};
use crate::encoded::{Scaling, StoredDecoder, StoredLayout};
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
    /// Where the series' bytes lie, when they can be read without HDF5, and how to
    /// decode them.
    raw: Option<(StoredLayout, Arc<StoredDecoder>)>,
    /// An encoded trial, for sequential reads.
    encoded: Vec<u8>,
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
        let shortest = (0..schema.n_trials())
            .map(|t| schema.trialdefinition.trial_len(t))
            .min()
            .unwrap_or(0);
        let raw = StoredLayout::detect(file.path(), &data, series.stored, 2 * shortest).map(
            |(layout, unfilters, chunk)| {
                let scaling = (scale == Scale::Unit && !series.is_unscaled()).then(|| Scaling {
                    conversion: series.conversion,
                    offset: series.offset,
                    channel_conversion: series.channel_conversion.clone(),
                });
                let decoder = StoredDecoder {
                    what: format!("{} {}", file.path().display(), series.path),
                    stored: series.stored,
                    columns: series.shape[1],
                    chunk,
                    unfilters,
                    scaling,
                };
                (layout, Arc::new(decoder))
            },
        );
        Ok(NwbSource {
            raw,
            encoded: Vec::new(),
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
            Scaling {
                conversion: self.series.conversion,
                offset: self.series.offset,
                channel_conversion: self.series.channel_conversion.clone(),
            }
            .apply(out, self.series.shape[1]);
        }
        Ok(())
    }

    fn read_error(&self, trial: usize, message: impl std::fmt::Display) -> Error {
        Error::input(
            format!(
                "{} {} (trial {trial})",
                self.path.display(),
                self.series.path
            ),
            message,
            ErrorClass::Runtime,
        )
    }
}

impl TrialSource for NwbSource {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        if let Some((_, decoder)) = &self.raw {
            let decoder = Arc::clone(decoder);
            let mut encoded = std::mem::take(&mut self.encoded);
            let read = self.read_trial_encoded(trial, &mut encoded);
            let decoded = read.and_then(|_| decoder.decode(&encoded, out));
            self.encoded = encoded;
            return decoded;
        }
        let rows = self.schema.trialdefinition.samples(trial);
        self.read_rows(rows, out)
            .map_err(|e| self.read_error(trial, one_line(&e)))
    }

    /// Part of a trial through HDF5 (the same values the decoder gives): how a trial cut
    /// into time chunks is read.
    fn read_trial_rows(
        &mut self,
        trial: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<(), Error> {
        let start = self.schema.trialdefinition.start(trial);
        NwbSource::read_rows(self, start + rows.start..start + rows.end, out)
            .map_err(|e| self.read_error(trial, one_line(&e)))
    }

    fn decoder(&self) -> Option<Arc<dyn TrialDecoder>> {
        self.raw
            .as_ref()
            .map(|(_, decoder)| Arc::clone(decoder) as Arc<dyn TrialDecoder>)
    }

    /// The trial's stored bytes, read with `pread` (HDF5 only says where chunks lie); a
    /// trial touching a chunk that was never written is read through HDF5 instead, which
    /// supplies the dataset's fill value.
    fn read_trial_encoded(&mut self, trial: usize, out: &mut Vec<u8>) -> Result<bool, Error> {
        let Some((layout, _)) = &self.raw else {
            return Ok(false);
        };
        let rows = self.schema.trialdefinition.samples(trial);
        if layout
            .read(rows.clone(), out)
            .map_err(|e| self.read_error(trial, e))?
        {
            return Ok(true);
        }
        let mut values = Vec::new();
        self.read_rows(rows.clone(), &mut values)
            .map_err(|e| self.read_error(trial, one_line(&e)))?;
        crate::encoded::encode_values(&rows, &values, out);
        Ok(true)
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
