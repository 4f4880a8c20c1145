//! The caller's numpy array as the engine's input, read in place.
//!
//! `InMemoryRecording` owns its values, so handing it a numpy array costs a copy of the
//! whole input, and for large arrays the fresh pages of that copy cost more than the
//! filtering. This source borrows the array for the duration of one call instead (the
//! Python object is kept alive by the call's arguments). Like numpy's own functions that
//! release the GIL, it assumes no other thread writes into the array meanwhile.
//! It goes away once `InMemoryRecording` can borrow its values.

use ndarray::{ArrayView2, Axis, Slice};
use trialflow_core::engine::TrialSource;
use trialflow_core::error::Result;
use trialflow_core::{DType, DataSchema};

pub struct BorrowedRecording<'a> {
    data: ArrayView2<'a, f64>,
    schema: DataSchema,
}

impl<'a> BorrowedRecording<'a> {
    /// `schema` must describe `data`: its trial definition checked against `data`'s rows
    /// (`TrialDefinition::from_rows`) and one label per column.
    pub fn new(data: ArrayView2<'a, f64>, schema: DataSchema) -> BorrowedRecording<'a> {
        BorrowedRecording { data, schema }
    }

    fn rows(&self, trial: usize) -> ArrayView2<'_, f64> {
        let rows = self.schema.trialdefinition.samples(trial);
        self.data.slice_axis(Axis(0), Slice::from(rows))
    }
}

impl TrialSource for BorrowedRecording<'_> {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, out: &mut Vec<f64>) -> Result<()> {
        let float32 = self.schema.dtype == DType::Float32;
        let block = self.rows(trial);
        out.clear();
        match block.as_slice() {
            Some(values) if !float32 => out.extend_from_slice(values),
            // Values that came from float32 stay exactly those (they are representable).
            _ => out.extend(block.iter().copied()),
        }
        Ok(())
    }

    fn read_trial_f32(&mut self, trial: usize, out: &mut Vec<f32>) -> Result<bool> {
        if self.schema.dtype != DType::Float32 {
            return Ok(false);
        }
        let block = self.rows(trial);
        out.clear();
        out.extend(block.iter().map(|&v| v as f32));
        Ok(true)
    }

    fn describe(&self) -> String {
        "in-memory recording".into()
    }
}
