//! A task's share of the trial the reader read: the task's channels of a dense trial of any
//! kind, or the task's channels' events of an event trial. Shared by the sequential and
//! parallel executors so both hand the first step exactly the same input.

use ndarray::{ArrayView2, ArrayViewD, Axis, IxDyn, Slice};

use crate::error::{Error, ErrorClass, Result};
use crate::model::EventBlock;

use super::tasks::Task;

/// The first step's input for one task.
#[derive(Debug, Clone)]
pub(crate) enum TaskData<'a> {
    /// Dense values in the kind's axis order, channel axis narrowed to the task (complex
    /// values with their trailing (re, im) axis).
    Dense(ArrayViewD<'a, f64>),
    /// Float32 AnalogData as stored (samples x the task's channels, a strided view for a
    /// channel group): the worker hands it to a kernel that reads f32
    /// (`Kernel::reads_f32`) and widens it for any other.
    F32(ArrayView2<'a, f32>),
    /// The task's channels' events of the trial, ordered by (sample, channel, unit).
    Events(&'a EventBlock),
}

/// The values `data` holds for event input: none, with the task's channel count as the
/// last axis so that `data.shape()` still names the channels.
pub(crate) fn empty_values(task: &Task) -> ArrayViewD<'static, f64> {
    const NONE: &[f64] = &[];
    ArrayViewD::from_shape(IxDyn(&[0, task.channels.len()]), NONE).expect("an empty block")
}

/// The task's channels of a dense trial whose f64 values (`values`, row-major) have the
/// shape `shape` (the schema's trial values shape). A whole trial is viewed as it is. A
/// channel group of a 2-D real trial (AnalogData) is a strided view, as kernels have always
/// received it; of any other trial (N-d, or complex with its trailing (re, im) axis) the
/// group's values are copied into `scratch`, so such input always arrives contiguous (which
/// `TrialInput::complex_values` relies on).
pub(crate) fn dense_task_view<'b>(
    values: &'b [f64],
    shape: &[usize],
    complex: bool,
    task: &Task,
    scratch: &'b mut Vec<f64>,
    source: &str,
) -> Result<ArrayViewD<'b, f64>> {
    let n: usize = shape.iter().product();
    if values.len() < n {
        return Err(Error::input(
            source,
            format!(
                "trial {} holds {} values, not the {n} of its shape {shape:?}",
                task.trial,
                values.len()
            ),
            ErrorClass::Runtime,
        ));
    }
    let values = &values[..n];
    let whole = ArrayViewD::from_shape(IxDyn(shape), values).expect("sized above");
    if task.n_groups == 1 {
        return Ok(whole);
    }
    let channel_axis = shape.len() - 1 - usize::from(complex);
    if shape.len() == 2 {
        return Ok(whole.slice_axis_move(Axis(1), Slice::from(task.channels.clone())));
    }
    // Copy each run of the group's channels (with their (re, im) parts) row by row.
    let parts: usize = shape[channel_axis + 1..].iter().product();
    let row = shape[channel_axis] * parts;
    let (lo, hi) = (task.channels.start * parts, task.channels.end * parts);
    scratch.clear();
    let rows = ArrayView2::from_shape((n / row.max(1), row), values).expect("whole rows");
    for r in rows.rows() {
        scratch.extend_from_slice(&r.as_slice().expect("row-major")[lo..hi]);
    }
    let mut narrowed = shape.to_vec();
    narrowed[channel_axis] = task.channels.len();
    Ok(ArrayViewD::from_shape(IxDyn(&narrowed), &scratch[..]).expect("sized by the copy"))
}

/// The task's channels of a float32 AnalogData trial (`values`, `len` x `channels`
/// row-major, as the reader read it): the whole trial, or a strided view of a group.
pub(crate) fn f32_task_view<'b>(
    values: &'b [f32],
    channels: usize,
    task: &Task,
) -> ArrayView2<'b, f32> {
    let len = values.len() / channels.max(1);
    let whole =
        ArrayView2::from_shape((len, channels), &values[..len * channels]).expect("whole rows");
    if task.channels.len() == channels {
        return whole;
    }
    whole.slice_axis_move(Axis(1), Slice::from(task.channels.clone()))
}

/// The task's share of a trial's events: all of them for a whole trial, else its channels'
/// rows copied into `scratch` (whose capacity is reused).
pub(crate) fn task_events<'b>(
    all: &'b EventBlock,
    task: &Task,
    scratch: &'b mut EventBlock,
) -> &'b EventBlock {
    if task.n_groups == 1 {
        return all;
    }
    all.select_channels_into(task.channels.clone(), scratch);
    scratch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(channels: std::ops::Range<usize>, n_groups: usize) -> Task {
        Task {
            index: 0,
            trial: 0,
            channels,
            group: 0,
            n_groups,
        }
    }

    #[test]
    fn a_channel_group_of_an_nd_complex_trial_is_copied_contiguous() {
        // [time 1, freq 2, channel 3, (re, im)]: value = 100 f + 10 c + part.
        let shape = [1, 2, 3, 2];
        let values: Vec<f64> = (0..2)
            .flat_map(|f| {
                (0..3).flat_map(move |c| (0..2).map(move |p| (100 * f + 10 * c + p) as f64))
            })
            .collect();
        let mut scratch = Vec::new();
        let view =
            dense_task_view(&values, &shape, true, &task(1..3, 2), &mut scratch, "x").unwrap();
        assert_eq!(view.shape(), [1, 2, 2, 2]);
        assert!(view.is_standard_layout());
        let got: Vec<f64> = view.iter().copied().collect();
        assert_eq!(got, [10., 11., 20., 21., 110., 111., 120., 121.]);
        let mut scratch = Vec::new();
        let whole =
            dense_task_view(&values, &shape, true, &task(0..3, 1), &mut scratch, "x").unwrap();
        assert_eq!(whole.shape(), shape);
    }
}
