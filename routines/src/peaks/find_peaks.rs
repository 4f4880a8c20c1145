use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use trialflow_core::model::{EventColumn, EventColumnKind};

use trialflow_core::{
    ChunkContext, ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan,
    Planner, RoutineError, Scratch, ScratchSize, TimeSupport, TrialInput,
};

use super::interval::Interval;
use super::kernel::{self, ix, val, Conditions};
use super::{copy_channel, PeaksError};
use crate::params::setters;

/// Parameters of `find_peaks` (SciPy's names): what a pipeline step deserialises into, and
/// the typed builder (`FindPeaksParams::new().height(1.0).prominence(Interval::between(0.5,
/// 2.0))`). A bound given as a number is its minimum.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindPeaksParams {
    pub height: Option<Interval>,
    pub threshold: Option<Interval>,
    pub distance: Option<f64>,
    pub prominence: Option<Interval>,
    pub width: Option<Interval>,
    pub wlen: Option<f64>,
    pub rel_height: Option<f64>,
    pub plateau_size: Option<Interval>,
}

setters!(FindPeaksParams {
    height: Interval,
    threshold: Interval,
    distance: f64,
    prominence: Interval,
    width: Interval,
    wlen: f64,
    rel_height: f64,
    plateau_size: Interval,
});

impl FindPeaksParams {
    /// Validates the parameters: bounds have `min <= max`, `distance >= 1`, `wlen > 1`,
    /// `rel_height >= 0`. `wlen` and `rel_height` are checked even when no condition uses
    /// them (SciPy checks them only when it does).
    pub fn check(self) -> Result<FindPeaks, PeaksError> {
        let bound = |name: &'static str, v: Option<Interval>| -> Result<_, PeaksError> {
            v.map(|i| i.check(name).map(|()| i)).transpose()
        };
        if let Some(d) = self.distance {
            if !(1.0..f64::INFINITY).contains(&d) {
                return Err(PeaksError::Distance(d));
            }
        }
        if let Some(w) = self.wlen {
            if w.is_nan() || w <= 1.0 {
                return Err(PeaksError::Wlen(w));
            }
        }
        let rel_height = self.rel_height.unwrap_or(0.5);
        if !(0.0..f64::INFINITY).contains(&rel_height) {
            return Err(PeaksError::RelHeight(rel_height));
        }
        Ok(FindPeaks {
            height: bound("height", self.height)?,
            threshold: bound("threshold", self.threshold)?,
            distance: self.distance,
            prominence: bound("prominence", self.prominence)?,
            width: bound("width", self.width)?,
            wlen: self.wlen,
            rel_height,
            plateau_size: bound("plateau_size", self.plateau_size)?,
        })
    }
}

/// One property SciPy may return, in the order its `properties` dict holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    PlateauSizes,
    LeftEdges,
    RightEdges,
    PeakHeights,
    LeftThresholds,
    RightThresholds,
    Prominences,
    LeftBases,
    RightBases,
    Widths,
    WidthHeights,
    LeftIps,
    RightIps,
}

impl Property {
    fn column(self) -> EventColumn {
        use EventColumnKind::{Float, Int, SampleIndex, SamplePosition};
        let (name, kind) = match self {
            Property::PlateauSizes => ("plateau_sizes", Int),
            Property::LeftEdges => ("left_edges", SampleIndex),
            Property::RightEdges => ("right_edges", SampleIndex),
            Property::PeakHeights => ("peak_heights", Float),
            Property::LeftThresholds => ("left_thresholds", Float),
            Property::RightThresholds => ("right_thresholds", Float),
            Property::Prominences => ("prominences", Float),
            Property::LeftBases => ("left_bases", SampleIndex),
            Property::RightBases => ("right_bases", SampleIndex),
            Property::Widths => ("widths", Float),
            Property::WidthHeights => ("width_heights", Float),
            Property::LeftIps => ("left_ips", SamplePosition),
            Property::RightIps => ("right_ips", SamplePosition),
        };
        EventColumn::new(name, kind)
    }

    /// The property's value for peak `i` of `t` in the signal `x`.
    #[inline]
    fn value(self, x: &[f64], t: &kernel::PeakTable<'_>, i: usize, origin: usize) -> f64 {
        let p = t.peak(i);
        let at = |sample: usize| (sample + origin) as f64;
        match self {
            Property::PlateauSizes => {
                (t.index(ix::RIGHT_EDGE, i) - t.index(ix::LEFT_EDGE, i) + 1) as f64
            }
            Property::LeftEdges => at(t.index(ix::LEFT_EDGE, i)),
            Property::RightEdges => at(t.index(ix::RIGHT_EDGE, i)),
            Property::PeakHeights => x[p],
            Property::LeftThresholds => x[p] - x[p - 1],
            Property::RightThresholds => x[p] - x[p + 1],
            Property::Prominences => t.value(val::PROMINENCE, i),
            Property::LeftBases => at(t.index(ix::LEFT_BASE, i)),
            Property::RightBases => at(t.index(ix::RIGHT_BASE, i)),
            Property::Widths => t.value(val::WIDTH, i),
            Property::WidthHeights => t.value(val::WIDTH_HEIGHT, i),
            Property::LeftIps => t.value(val::LEFT_IP, i),
            Property::RightIps => t.value(val::RIGHT_IP, i),
        }
    }
}

/// The largest number of properties a peak can carry.
const MAX_PROPERTIES: usize = 13;

/// Where a run of equal samples reaches an edge of the block that is not the trial's own
/// and is at least `margin` long: a plateau that may continue beyond the block, whose
/// peak (at its middle) could then fall among the samples the engine keeps. The engine's
/// margin cannot bound a plateau's length, so such a chunk is refused, never guessed.
fn cut_plateau(x: &[f64], chunk: &ChunkContext, margin: usize) -> Option<usize> {
    let n = x.len();
    if n == 0 || margin == 0 {
        return None;
    }
    let run =
        |it: &mut dyn Iterator<Item = &f64>, first: f64| it.take_while(|&&v| v == first).count();
    if !chunk.at_trial_start && run(&mut x.iter(), x[0]) >= margin {
        return Some(0);
    }
    if !chunk.at_trial_end && run(&mut x.iter().rev(), x[n - 1]) >= margin {
        return Some(n - 1);
    }
    None
}

/// Channels copied out of the time-major block at once: one cache line of each row, so the
/// copy reads the block sequentially and the group's signals stay in cache while searched.
const CHANNEL_GROUP: usize = 8;

/// Channels per group for trials of `n` samples: one for trials so long that eight copies
/// would cost real memory (and no longer fit in cache anyway).
fn channel_group(n: usize) -> usize {
    if n <= 1 << 16 {
        CHANNEL_GROUP
    } else {
        1
    }
}

/// Channels `g..g + width` of the row-major `n x channels` block `s` into `out`, one
/// contiguous signal per channel.
fn transpose_group(s: &[f64], channels: usize, g: usize, width: usize, out: &mut [f64]) {
    let n = s.len() / channels;
    if width == CHANNEL_GROUP && n > 0 {
        // A full group: each row's values read as one array and written to the group's
        // lines, with no index checks inside the row.
        let mut lines: [&mut [f64]; CHANNEL_GROUP] = {
            let mut it = out.chunks_exact_mut(n).map(|l| &mut l[..n]);
            std::array::from_fn(|_| it.next().expect("a line per channel"))
        };
        for (r, row) in s.chunks_exact(channels).enumerate() {
            let v: &[f64; CHANNEL_GROUP] =
                row[g..g + CHANNEL_GROUP].try_into().expect("a full group");
            for (line, &v) in lines.iter_mut().zip(v) {
                line[r] = v;
            }
        }
        return;
    }
    for (r, row) in s.chunks_exact(channels).enumerate() {
        for (c, &v) in row[g..g + width].iter().enumerate() {
            out[c * n + r] = v;
        }
    }
}

/// `scipy.signal.find_peaks(x, height, threshold, distance, prominence, width, wlen,
/// rel_height, plateau_size)` per trial and channel (AnalogData in, SpikeData out).
///
/// Each peak becomes an event row `[sample, channel, 0]`; the properties SciPy returns for
/// the given conditions are stored beside the rows under SciPy's names. The input is
/// computed in f64 (SciPy casts to float64 too, so float32 data gives the same peaks).
/// Peaks with a prominence or width of 0 (SciPy's `PeakPropertyWarning`) are reported as
/// kernel warnings, one per channel and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct FindPeaks {
    height: Option<Interval>,
    threshold: Option<Interval>,
    distance: Option<f64>,
    prominence: Option<Interval>,
    width: Option<Interval>,
    wlen: Option<f64>,
    rel_height: f64,
    plateau_size: Option<Interval>,
}

impl FindPeaks {
    fn conditions(&self) -> Conditions {
        Conditions {
            plateau_size: self.plateau_size,
            height: self.height,
            threshold: self.threshold,
            distance: self.distance.map(f64::ceil),
            prominence: self.prominence,
            width: self.width,
            // A float wlen is rounded up; below 2 SciPy's kernel uses the whole signal (only
            // reachable by building the struct directly). `as` saturates for huge values.
            wlen_half: self
                .wlen
                .map(f64::ceil)
                .filter(|&w| w >= 2.0)
                .map(|w| (w as usize) / 2),
            rel_height: self.rel_height,
            origin: 0,
        }
    }

    /// The properties SciPy returns for these conditions, in its order.
    fn properties(&self) -> Vec<Property> {
        use Property::*;
        let mut props = Vec::new();
        if self.plateau_size.is_some() {
            props.extend([PlateauSizes, LeftEdges, RightEdges]);
        }
        if self.height.is_some() {
            props.push(PeakHeights);
        }
        if self.threshold.is_some() {
            props.extend([LeftThresholds, RightThresholds]);
        }
        if self.prominence.is_some() || self.width.is_some() {
            props.extend([Prominences, LeftBases, RightBases]);
        }
        if self.width.is_some() {
            props.extend([Widths, WidthHeights, LeftIps, RightIps]);
        }
        props
    }
}

/// `find_peaks` for trials of `samples` samples: the conditions and the property list, so
/// the kernel does not rebuild them per task.
#[derive(Debug)]
struct FindPeaksKernel {
    conditions: Conditions,
    /// Channels copied out at once ([`channel_group`]).
    group: usize,
    properties: Vec<Property>,
    samples: usize,
    /// Channels of the task shape this plan is for (sizes the row-ordering scratch).
    channels: usize,
    /// What [`FindPeaks::time_support`] declares (0 when it needs the whole trial).
    margin: usize,
}

impl ComputationalRoutine for FindPeaks {
    fn name(&self) -> &str {
        "find_peaks"
    }

    fn cfg(&self) -> Value {
        let b = |i: Option<Interval>| i.map_or(Value::Null, Interval::to_json);
        serde_json::json!({
            "height": b(self.height),
            "threshold": b(self.threshold),
            "distance": self.distance,
            "prominence": b(self.prominence),
            "width": b(self.width),
            "wlen": self.wlen,
            "rel_height": self.rel_height,
            "plateau_size": b(self.plateau_size),
        })
    }

    /// Peaks, thresholds, plateaus and (with `wlen`) prominences and widths look only a
    /// window around each peak. `distance` is not local: SciPy keeps peaks by height over
    /// the whole trial, so which one a peak defers to can chain arbitrarily far; and
    /// prominence without `wlen` searches the whole trial for its bases.
    fn time_support(&self) -> TimeSupport {
        let conditions = self.conditions();
        let needs_bases = self.prominence.is_some() || self.width.is_some();
        match conditions.wlen_half {
            _ if self.distance.is_some() => TimeSupport::WholeTrial,
            None if needs_bases => TimeSupport::WholeTrial,
            wlen_half => TimeSupport::Margin(wlen_half.unwrap_or(0) + 2),
        }
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        let columns = self
            .properties()
            .into_iter()
            .map(Property::column)
            .collect();
        Ok(OutputShape::events(input.n_trials(), columns))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let n = task_shape[0];
        Ok(Arc::new(FindPeaksKernel {
            conditions: self.conditions(),
            group: channel_group(n),
            properties: self.properties(),
            samples: n,
            channels: task_shape[1],
            margin: self.time_support().margin(),
        }))
    }
}

impl Kernel for FindPeaksKernel {
    fn scratch_size(&self) -> ScratchSize {
        let n = self.samples;
        // Room to order the rows (`order_by_sample`): about 1.5 times the task's own f64
        // block, so only for trials short enough to be copied out in groups; longer ones
        // leave the ordering to the engine.
        let rows = if channel_group(n) > 1 {
            self.channels * kernel::max_peaks(n)
        } else {
            0
        };
        ScratchSize {
            real: (channel_group(n) * n + kernel::work_len(n)).max(rows),
            index: kernel::index_len(n).max(n + 1 + 2 * rows),
            ..ScratchSize::default()
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        self.run(input, output, scratch, &ChunkContext::whole())
    }

    fn compute_chunk(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
        chunk: &mut ChunkContext,
    ) -> Result<(), RoutineError> {
        self.run(input, output, scratch, chunk)
    }
}

impl FindPeaksKernel {
    /// Peaks of a block at `chunk.first_sample` of its trial, reported at trial positions;
    /// only those in `chunk.keep` (the rows the engine keeps) are emitted.
    fn run(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
        chunk: &ChunkContext,
    ) -> Result<(), RoutineError> {
        let plan = self;
        let origin = chunk.first_sample;
        let conditions = Conditions {
            origin,
            ..plan.conditions
        };
        let data = input.samples();
        let n = data.nrows();
        let events = output.events_mut();
        let first_row = events.len();
        let mut props = [0.0; MAX_PROPERTIES];
        let props = &mut props[..plan.properties.len()];
        let contiguous = data.as_slice();
        for g in (0..data.ncols()).step_by(plan.group) {
            let width = plan.group.min(data.ncols() - g);
            let mut zero = [(0, 0); CHANNEL_GROUP];
            let (group, work) = scratch.real.split_at_mut(plan.group * n);
            let work = &mut work[..kernel::work_len(n)];
            let index = &mut scratch.index[..kernel::index_len(n)];
            match contiguous {
                Some(s) => transpose_group(s, data.ncols(), g, width, group),
                None => {
                    for (c, x) in group.chunks_exact_mut(n.max(1)).take(width).enumerate() {
                        copy_channel(data.column(g + c), x);
                    }
                }
            }
            for c in 0..width {
                let channel = input.channels.start + g + c;
                let x = &group[c * n..(c + 1) * n];
                if let Some(sample) = cut_plateau(x, chunk, plan.margin) {
                    return Err(PeaksError::PlateauAtChunkEdge {
                        channel,
                        sample: sample + origin,
                        margin: plan.margin,
                    }
                    .into());
                }
                let table = kernel::find_peaks(x, &conditions, work, index);
                for i in 0..table.len() {
                    let peak = table.peak(i) + origin;
                    if !chunk.keep.contains(&peak) {
                        continue;
                    }
                    for (v, p) in props.iter_mut().zip(&plan.properties) {
                        *v = p.value(x, &table, i, origin);
                    }
                    events.push(peak as i64, channel as i64, 0, props);
                }
                // Counted over the block: a chunk's count includes peaks of its margins.
                zero[c] = (table.zero_prominences, table.zero_widths);
            }
            for (c, &(zero_prominences, zero_widths)) in zero[..width].iter().enumerate() {
                let channel = input.channels.start + g + c;
                if zero_prominences > 0 {
                    scratch.warn(format!(
                        "channel {channel}: {zero_prominences} peak(s) have a prominence of 0 \
                         (SciPy PeakPropertyWarning: some peaks have a prominence of 0)"
                    ));
                }
                if zero_widths > 0 {
                    scratch.warn(format!(
                        "channel {channel}: {zero_widths} peak(s) have a width of 0 \
                         (SciPy PeakPropertyWarning: some peaks have a width of 0)"
                    ));
                }
            }
        }
        order_by_sample(events, first_row, origin, n, scratch);
        Ok(())
    }
}

/// Puts the rows from `first` on (found channel after channel, each channel's peaks in
/// ascending order) into ascending (sample, channel) order: a stable counting sort by sample
/// over the block's `n` samples from `origin`, so channels stay ascending within a sample.
/// The engine orders every task's events by (sample, channel, unit); rows already in that
/// order cost it one pass instead of a comparison sort on its collector thread. The rows
/// are the same either way, only their order before the engine's sort changes.
///
/// Uses the task's scratch (sized in `scratch_size` for the most peaks a task of short
/// trials can have), and leaves the rows as they are when it is too small: long trials,
/// whose rows the engine sorts.
fn order_by_sample(
    events: &mut trialflow_core::model::EventBlock,
    first: usize,
    origin: usize,
    n: usize,
    scratch: &mut Scratch,
) {
    let rows = events.len() - first;
    if rows < 2 || scratch.index.len() < n + 1 + 2 * rows || scratch.real.len() < rows {
        return;
    }
    let (count, rest) = scratch.index.split_at_mut(n + 1);
    let (dest, rest) = rest.split_at_mut(rows);
    let moved_ix = &mut rest[..rows];
    let moved = &mut scratch.real[..rows];
    let samples = &events.sample[first..];
    // count[s + 1] = rows at sample s; then count[s] = first position of sample s.
    count.fill(0);
    for &s in samples {
        count[(s as usize - origin) + 1] += 1;
    }
    let mut total = 0;
    for c in count.iter_mut() {
        total += *c;
        *c = total;
    }
    for (d, &s) in dest.iter_mut().zip(samples) {
        let slot = &mut count[s as usize - origin];
        *d = *slot;
        *slot += 1;
    }
    for column in [&mut events.sample, &mut events.channel, &mut events.unit] {
        let column = &mut column[first..];
        for (&d, &v) in dest.iter().zip(column.iter()) {
            moved_ix[d] = v as usize;
        }
        for (c, &v) in column.iter_mut().zip(moved_ix.iter()) {
            *c = v as i64;
        }
    }
    for column in &mut events.columns {
        let column = &mut column[first..];
        for (&d, &v) in dest.iter().zip(column.iter()) {
            moved[d] = v;
        }
        column.copy_from_slice(moved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> FindPeaksParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn transposes_groups_of_any_length() {
        // Full and partial groups, at any offset: every line is its channel.
        let channels = 19;
        for n in [0, 1, 7, 8, 9, 23, 64] {
            let s: Vec<f64> = (0..n * channels).map(|i| i as f64).collect();
            for (g, width) in [(0, 8), (8, 8), (11, 8), (16, 3)] {
                let mut out = vec![-1.0; 8 * n];
                transpose_group(&s, channels, g, width, &mut out);
                for c in 0..width {
                    for r in 0..n {
                        assert_eq!(out[c * n + r], s[r * channels + g + c], "n {n} g {g} c {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn columns_follow_the_conditions_given() {
        let r = params(json!({"width": [null, null], "height": 0}))
            .check()
            .unwrap();
        let names: Vec<_> = r.properties().iter().map(|p| p.column().name).collect();
        assert_eq!(
            names,
            [
                "peak_heights",
                "prominences",
                "left_bases",
                "right_bases",
                "widths",
                "width_heights",
                "left_ips",
                "right_ips"
            ]
        );
        assert!(FindPeaksParams::default()
            .check()
            .unwrap()
            .properties()
            .is_empty());
    }

    #[test]
    fn invalid_values_are_refused() {
        for (v, needle) in [
            (json!({"distance": 0.5}), "distance"),
            (json!({"wlen": 1}), "wlen"),
            (json!({"rel_height": -0.1}), "rel_height"),
            (json!({"height": [2, 1]}), "height"),
        ] {
            let err = params(v).check().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let shape: Result<FindPeaksParams, _> = serde_json::from_value(json!({"width": [[1, 2]]}));
        let err = shape.unwrap_err().to_string();
        assert!(err.contains("array-valued"), "{err}");
        let typed = FindPeaksParams::new()
            .height(Interval::between(2.0, 1.0))
            .check();
        assert!(typed
            .unwrap_err()
            .to_string()
            .contains("larger than the maximum"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<FindPeaksParams, _> = serde_json::from_value(json!({"heigth": 1}));
        assert!(r.unwrap_err().to_string().contains("unknown field"));
    }

    /// Every channel of a task gives what the kernel gives on that channel alone, whether
    /// channels are copied out in groups (short trials) or one by one (long ones).
    #[test]
    fn channels_of_a_task_match_the_kernel_alone() {
        use ndarray::Array2;
        use trialflow_core::model::EventBlock;
        use trialflow_core::{DType, TrialDefinition};

        let r = params(json!({"height": 0.0, "distance": 3, "prominence": 0.1}))
            .check()
            .unwrap();
        for n in [1000, (1 << 16) + 10] {
            let ch = 11;
            let data = Array2::from_shape_fn((n, ch), |(i, c)| {
                ((i * (c + 3)) as f64 * 0.37).sin() + ((i * 7 + c) % 13) as f64 * 0.05
            });
            let schema = DataSchema::analog(
                DType::Float64,
                1000.0,
                (0..ch).map(|c| format!("c{c}")).collect(),
                TrialDefinition::from_trials(&[(0, n, 0.0)], &[]),
            );
            let plan = r.plan(&[n, ch], &schema, &mut Planner::new()).unwrap();
            let mut scratch = Scratch::default();
            scratch.reserve(plan.scratch_size());
            let mut events = EventBlock::with_columns(4);
            let task = TrialInput {
                data: data.view().into_dyn(),
                data_f32: None,
                events: None,
                trial_len: data.nrows(),
                trial: 0,
                channels: 0..ch,
                samplerate: 1000.0,
                offset: 0.0,
            };
            plan.compute(&task, &mut OutputBlock::Events(&mut events), &mut scratch)
                .unwrap();
            let mut want = Vec::new();
            for c in 0..ch {
                let x: Vec<f64> = data.column(c).to_vec();
                let mut work = vec![0.0; kernel::work_len(n)];
                let mut index = vec![0; kernel::index_len(n)];
                let t = kernel::find_peaks(&x, &r.conditions(), &mut work, &mut index);
                want.extend((0..t.len()).map(|i| (t.peak(i) as i64, c as i64)));
            }
            want.sort_unstable();
            let got: Vec<_> = events
                .sample
                .iter()
                .copied()
                .zip(events.channel.iter().copied())
                .collect();
            assert!(!want.is_empty());
            let mut rows = got.clone();
            rows.sort_unstable();
            assert_eq!(rows, want, "n = {n}");
            if channel_group(n) > 1 {
                // Short trials' rows come in (sample, channel) order, as the engine stores them.
                assert_eq!(got, want, "n = {n}");
            }
        }
    }
}
