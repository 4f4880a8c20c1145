//! The end of a trial-reducing step: its folded contributions, viewed in the declared shape,
//! handed to the routine's `finish_reduction`, which writes the one result.

use ndarray::{ArrayViewD, ArrayViewMutD, Dimension, IxDyn};

use crate::error::{Error, Result};
use crate::model::DataSchema;
use crate::routine::{ComputationalRoutine, OutputBlock, ReducedState};

use super::prepare::PreparedStep;
use super::worker::as_complex;

/// Runs `routine`'s `finish_reduction` on the folded `state` (flat, complex as (re, im)
/// pairs) of all `n_trials` trials; returns the result's values in the object's layout
/// (complex as pairs).
pub(crate) fn finish_reduction(
    routine: &dyn ComputationalRoutine,
    step: &PreparedStep,
    result: &DataSchema,
    state: &mut [f64],
    n_trials: usize,
) -> Result<Vec<f64>> {
    let state_shape = IxDyn(step.reduction.as_ref().expect("a reducing step").shape());
    let result_shape = IxDyn(&result.trial_shapes[0]);
    let complex_out = result.dtype.is_complex();
    let mut out = vec![0.0; result_shape.size() * if complex_out { 2 } else { 1 }];
    let state = if step.block_is_complex() {
        let pairs: &[_] = as_complex(state);
        ReducedState::Complex(
            ArrayViewD::from_shape(state_shape, pairs).expect("state sized to the contribution"),
        )
    } else {
        ReducedState::Real(
            ArrayViewD::from_shape(state_shape, &*state).expect("state sized to the contribution"),
        )
    };
    let mut block = if complex_out {
        OutputBlock::Complex(
            ArrayViewMutD::from_shape(result_shape, as_complex(&mut out))
                .expect("sized to the result"),
        )
    } else {
        OutputBlock::Dense(
            ArrayViewMutD::from_shape(result_shape, &mut out[..]).expect("sized to the result"),
        )
    };
    routine
        .finish_reduction(state, n_trials, &mut block)
        .map_err(|source| Error::Routine {
            context: Box::new(step.context()),
            source,
        })?;
    Ok(out)
}

/// A block's shape with the trailing (re, im) axis of complex values.
pub(crate) fn fold_shape_of(shape: &[usize], complex: bool) -> Vec<usize> {
    let mut shape = shape.to_vec();
    if complex {
        shape.push(2);
    }
    shape
}
