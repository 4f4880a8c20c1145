//! A recording and a result store held in RAM: for tests, benchmarks of the engine alone,
//! and library users who already have their data in memory.

use std::collections::HashMap;

use ndarray::{Array2, ArrayD, Axis, IxDyn, Slice};

use crate::engine::{
    DenseBlock, ObjectId, ObjectMetadata, ObjectSpec, ResultSink, TaskPlacement, TrialSource,
};
use crate::error::{Error, ErrorClass, Result};
use crate::model::{DType, DataSchema, EventBlock, TrialDefinition};

/// An analog recording in memory: samples x channels, with a trial definition.
#[derive(Debug, Clone)]
pub struct InMemoryRecording {
    data: Array2<f64>,
    schema: DataSchema,
}

impl InMemoryRecording {
    pub fn new(
        data: Array2<f64>,
        samplerate: f64,
        trialdefinition: TrialDefinition,
    ) -> Result<InMemoryRecording> {
        let channels = (0..data.ncols())
            .map(|c| format!("channel{c:03}"))
            .collect();
        InMemoryRecording::with_channels(data, samplerate, trialdefinition, channels)
    }

    pub fn with_channels(
        data: Array2<f64>,
        samplerate: f64,
        trialdefinition: TrialDefinition,
        channels: Vec<String>,
    ) -> Result<InMemoryRecording> {
        if channels.len() != data.ncols() {
            return Err(Error::invalid(format!(
                "{} channel labels for {} channels",
                channels.len(),
                data.ncols()
            )));
        }
        let checked = TrialDefinition::from_rows(
            trialdefinition.values().to_vec(),
            trialdefinition.columns(),
            data.nrows(),
        )
        .map_err(Error::invalid)?;
        let schema = DataSchema::analog(DType::Float64, samplerate, channels, checked);
        Ok(InMemoryRecording { data, schema })
    }

    /// Trials of the given lengths laid back to back, offset 0.
    pub fn contiguous(data: Array2<f64>, samplerate: f64, lengths: &[usize]) -> Result<Self> {
        let mut trials = Vec::new();
        let mut start = 0;
        for &len in lengths {
            trials.push((start, start + len, 0.0));
            start += len;
        }
        InMemoryRecording::new(data, samplerate, TrialDefinition::from_trials(&trials, &[]))
    }

    pub fn data(&self) -> &Array2<f64> {
        &self.data
    }

    /// Declares the storage dtype the values came from (outputs follow it), as if read from
    /// a file. Values should already be representable in that dtype.
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.schema.dtype = dtype;
        self
    }
}

impl TrialSource for InMemoryRecording {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<()> {
        let len = self.schema.trialdefinition.trial_len(trial);
        self.read_trial_rows(trial, 0..len, out)
    }

    fn read_trial_rows(
        &mut self,
        trial: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        let start = self.schema.trialdefinition.start(trial);
        let rows = start + rows.start..start + rows.end;
        let block = self.data.slice_axis(Axis(0), Slice::from(rows));
        out.clear();
        if self.schema.dtype == DType::Float32 {
            // As a float32 file would give them, and as `read_trial_f32` does.
            out.extend(block.iter().map(|&v| f64::from(v as f32)));
            return Ok(());
        }
        // Rows of a row-major recording are contiguous: one slice copy, not per element.
        match block.as_slice() {
            Some(values) => out.extend_from_slice(values),
            None => out.extend(block.iter().copied()),
        }
        Ok(())
    }

    /// A recording declared float32 (`with_dtype`) hands its values over as float32, as a
    /// float32 file does, so in-memory runs take the engine's float32 path too.
    fn read_trial_f32(&mut self, trial: usize, out: &mut Vec<f32>) -> Result<bool> {
        if self.schema.dtype != DType::Float32 {
            return Ok(false);
        }
        let rows = self.schema.trialdefinition.samples(trial);
        let block = self.data.slice_axis(Axis(0), Slice::from(rows));
        out.clear();
        out.extend(block.iter().map(|&v| v as f32));
        Ok(true)
    }

    fn describe(&self) -> String {
        "in-memory recording".into()
    }
}

/// One object a [`MemorySink`] received.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub spec: ObjectSpec,
    /// Dense values (stacked shape), as f64 after conversion to the storage dtype; complex
    /// values have one more trailing axis of length 2 (re, im).
    pub data: Option<ArrayD<f64>>,
    pub events: EventBlock,
    pub metadata: Option<ObjectMetadata>,
}

/// Keeps results in memory, rounding values to the storage dtype as a file would.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub objects: Vec<StoredObject>,
    pub committed: bool,
    /// Tasks written per object, for tests of write order.
    pub write_order: HashMap<usize, Vec<usize>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// The committed object with this tag.
    pub fn object(&self, tag: &str) -> Option<&StoredObject> {
        self.objects.iter().find(|o| o.spec.tag == tag)
    }
}

impl ResultSink for MemorySink {
    /// Every dense result, as f64 (complex values twice). Event rows are not known before
    /// the run, so they are not counted.
    fn resident_bytes(&self, objects: &[ObjectSpec]) -> u64 {
        objects
            .iter()
            .filter(|o| o.schema.kind.is_dense())
            .map(|o| {
                let values: usize = o.schema.stacked_shape().iter().product();
                values as u64 * 8 * o.schema.dtype.components() as u64
            })
            .sum()
    }

    fn preallocate(&mut self, spec: &ObjectSpec) -> Result<ObjectId> {
        let data = spec.schema.kind.is_dense().then(|| {
            let mut shape = spec.schema.stacked_shape();
            if spec.schema.dtype.is_complex() {
                shape.push(2);
            }
            ArrayD::from_elem(IxDyn(&shape), f64::NAN)
        });
        self.objects.push(StoredObject {
            spec: spec.clone(),
            data,
            events: EventBlock::with_columns(spec.schema.event_columns.len()),
            metadata: None,
        });
        Ok(ObjectId(self.objects.len() - 1))
    }

    fn write_dense(
        &mut self,
        id: ObjectId,
        placement: &TaskPlacement,
        block: DenseBlock<'_>,
    ) -> Result<()> {
        let object = &mut self.objects[id.0];
        let dtype = object.spec.schema.dtype;
        let data = object.data.as_mut().ok_or_else(|| {
            Error::input(
                "memory sink",
                "dense write to event object",
                ErrorClass::Runtime,
            )
        })?;
        let last = Axis(data.ndim() - 1 - usize::from(dtype.is_complex()));
        let mut target = data.slice_axis_mut(Axis(0), Slice::from(placement.rows.clone()));
        let mut target = target.slice_axis_mut(last, Slice::from(placement.channels.clone()));
        match block {
            DenseBlock::F32(block) => target.zip_mut_with(&block, |t, &v| *t = f64::from(v)),
            DenseBlock::F64(block) if matches!(dtype, DType::Float32 | DType::Complex64) => {
                target.zip_mut_with(&block, |t, &v| *t = v as f32 as f64)
            }
            DenseBlock::F64(block) => target.assign(&block),
        }
        self.write_order
            .entry(id.0)
            .or_default()
            .push(placement.task);
        Ok(())
    }

    fn append_events(&mut self, id: ObjectId, _trial: usize, events: &EventBlock) -> Result<()> {
        self.objects[id.0].events.extend_from(events);
        Ok(())
    }

    fn finalize(&mut self, id: ObjectId, metadata: &ObjectMetadata) -> Result<()> {
        self.objects[id.0].metadata = Some(metadata.clone());
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.committed = true;
        Ok(())
    }

    fn abort(&mut self) {
        self.objects.clear();
    }
}
