//! A trial source that keeps some channels of another, in a given order (`select.channels`).

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{json, Value};
use trialflow_core::engine::{TrialDecoder, TrialSource};
use trialflow_core::{DataSchema, Error};

/// `inner`'s trials with only the channels `picked` (indices into `inner`'s channels).
pub struct ChannelSubset {
    inner: Box<dyn TrialSource>,
    picked: Vec<usize>,
    schema: DataSchema,
    /// A whole trial of `inner`, reused across trials.
    full: Vec<f64>,
    full_f32: Vec<f32>,
}

impl ChannelSubset {
    pub fn new(inner: Box<dyn TrialSource>, picked: Vec<usize>) -> ChannelSubset {
        let schema = inner.schema().clone();
        let labels = picked.iter().map(|&c| schema.channels[c].clone()).collect();
        let schema = DataSchema::analog(
            schema.dtype,
            schema.samplerate,
            labels,
            schema.trialdefinition,
        );
        ChannelSubset {
            inner,
            picked,
            schema,
            full: Vec::new(),
            full_f32: Vec::new(),
        }
    }
}

/// Copies the picked columns of each row of `full` (rows of `width` values) into `out`.
fn pick<T: Copy>(full: &[T], width: usize, picked: &[usize], out: &mut Vec<T>) {
    out.clear();
    for row in full.chunks_exact(width) {
        out.extend(picked.iter().map(|&c| row[c]));
    }
}

impl TrialSource for ChannelSubset {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<(), Error> {
        self.inner.read_trial(trial, &mut self.full)?;
        let width = self.inner.schema().n_channels();
        pick(&self.full, width, &self.picked, out);
        Ok(())
    }

    fn read_trial_rows(
        &mut self,
        trial: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<f64>,
    ) -> Result<(), Error> {
        self.inner.read_trial_rows(trial, rows, &mut self.full)?;
        let width = self.inner.schema().n_channels();
        pick(&self.full, width, &self.picked, out);
        Ok(())
    }

    fn read_trial_f32(&mut self, trial: usize, out: &mut Vec<f32>) -> Result<bool, Error> {
        if !self.inner.read_trial_f32(trial, &mut self.full_f32)? {
            return Ok(false);
        }
        let width = self.inner.schema().n_channels();
        pick(&self.full_f32, width, &self.picked, out);
        Ok(true)
    }

    fn decoder(&self) -> Option<Arc<dyn TrialDecoder>> {
        let inner = self.inner.decoder()?;
        Some(Arc::new(PickedDecoder {
            inner,
            width: self.inner.schema().n_channels(),
            picked: self.picked.clone(),
        }))
    }

    fn read_trial_encoded(&mut self, trial: usize, out: &mut Vec<u8>) -> Result<bool, Error> {
        self.inner.read_trial_encoded(trial, out)
    }

    fn log(&self) -> String {
        self.inner.log()
    }

    fn cfg(&self) -> Value {
        self.inner.cfg()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn identity(&self) -> Value {
        json!({ "source": self.inner.identity(), "channels": self.picked })
    }
}

/// The inner source's decoder, keeping the picked channels.
struct PickedDecoder {
    inner: Arc<dyn TrialDecoder>,
    width: usize,
    picked: Vec<usize>,
}

thread_local! {
    /// A whole decoded trial of the inner source, reused across trials on each worker.
    static FULL: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl TrialDecoder for PickedDecoder {
    fn decode(&self, bytes: &[u8], out: &mut Vec<f64>) -> Result<(), Error> {
        FULL.with(|full| {
            let mut full = full.borrow_mut();
            self.inner.decode(bytes, &mut full)?;
            pick(&full, self.width, &self.picked, out);
            Ok(())
        })
    }
}
