/// How a row-aligned event property is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventColumnKind {
    /// A float property such as `peak_heights`.
    Float,
    /// An integer property such as `plateau_sizes`.
    Int,
    /// A sample index within the trial (such as `left_bases`); stored shifted into the
    /// recording's sample space, like the event's own `sample`.
    SampleIndex,
    /// A fractional sample position within the trial (such as `left_ips`); stored shifted
    /// into the recording's sample space as a float.
    SamplePosition,
}

/// A property stored beside each event row, named as SciPy names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventColumn {
    pub name: String,
    pub kind: EventColumnKind,
}

impl EventColumn {
    pub fn new(name: impl Into<String>, kind: EventColumnKind) -> Self {
        EventColumn {
            name: name.into(),
            kind,
        }
    }

    /// Whether the stored values are integers.
    pub fn is_integer(&self) -> bool {
        matches!(
            self.kind,
            EventColumnKind::Int | EventColumnKind::SampleIndex
        )
    }
}

/// Events found in one task: rows `[sample, channel, unit]` plus row-aligned properties.
///
/// Routines push samples relative to the trial start and absolute channel indices (a task
/// knows its channel range). The engine shifts samples into the recording's sample space and
/// orders rows by (sample, channel) within each trial.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventBlock {
    pub sample: Vec<i64>,
    pub channel: Vec<i64>,
    pub unit: Vec<i64>,
    /// One vector per declared [`EventColumn`], all stored as f64 in memory (integer columns
    /// hold whole numbers) and converted on write.
    pub columns: Vec<Vec<f64>>,
}

impl EventBlock {
    pub fn with_columns(n: usize) -> Self {
        EventBlock {
            columns: vec![Vec::new(); n],
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.sample.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sample.is_empty()
    }

    /// Empties the block but keeps its capacity, so a worker reuses it without allocating.
    pub fn clear(&mut self) {
        self.sample.clear();
        self.channel.clear();
        self.unit.clear();
        for c in &mut self.columns {
            c.clear();
        }
    }

    /// Appends one event; `props` must hold one value per declared column.
    pub fn push(&mut self, sample: i64, channel: i64, unit: i64, props: &[f64]) {
        debug_assert_eq!(props.len(), self.columns.len());
        self.sample.push(sample);
        self.channel.push(channel);
        self.unit.push(unit);
        for (col, &v) in self.columns.iter_mut().zip(props) {
            col.push(v);
        }
    }

    /// Appends all rows of `other`.
    pub fn extend_from(&mut self, other: &EventBlock) {
        self.sample.extend_from_slice(&other.sample);
        self.channel.extend_from_slice(&other.channel);
        self.unit.extend_from_slice(&other.unit);
        if self.columns.len() < other.columns.len() {
            self.columns.resize(other.columns.len(), Vec::new());
        }
        for (col, src) in self.columns.iter_mut().zip(&other.columns) {
            col.extend_from_slice(src);
        }
    }

    /// Orders rows by (sample, channel, unit), stable, so that results do not depend on how
    /// channels were grouped into tasks.
    pub fn sort_rows(&mut self) {
        self.sort_rows_with(&mut EventSortScratch::default());
    }

    /// [`sort_rows`](Self::sort_rows) with caller-owned buffers, so a worker that sorts every
    /// task's events allocates nothing once the buffers have grown. Already ordered rows
    /// (the common case) cost one pass.
    pub fn sort_rows_with(&mut self, scratch: &mut EventSortScratch) {
        let key = |i: usize| (self.sample[i], self.channel[i], self.unit[i]);
        if (1..self.len()).all(|i| key(i - 1) <= key(i)) {
            return;
        }
        let order = &mut scratch.order;
        order.clear();
        order.extend(0..self.len());
        // The row index as last key makes the unstable (allocation-free) sort stable.
        order.sort_unstable_by_key(|&i| (self.sample[i], self.channel[i], self.unit[i], i));
        for column in [&mut self.sample, &mut self.channel, &mut self.unit] {
            scratch.ints.clear();
            scratch.ints.extend(order.iter().map(|&i| column[i]));
            column.copy_from_slice(&scratch.ints);
        }
        for column in &mut self.columns {
            scratch.floats.clear();
            scratch.floats.extend(order.iter().map(|&i| column[i]));
            column.copy_from_slice(&scratch.floats);
        }
    }

    /// Replaces `out`'s rows with this block's rows whose channel lies in `channels` (a
    /// channel group's share of a trial's events), keeping their order and reusing `out`'s
    /// capacity.
    pub fn select_channels_into(&self, channels: std::ops::Range<usize>, out: &mut EventBlock) {
        out.clear();
        out.columns.resize(self.columns.len(), Vec::new());
        let (lo, hi) = (channels.start as i64, channels.end as i64);
        for i in 0..self.len() {
            let c = self.channel[i];
            if c >= lo && c < hi {
                out.sample.push(self.sample[i]);
                out.channel.push(c);
                out.unit.push(self.unit[i]);
                for (dst, src) in out.columns.iter_mut().zip(&self.columns) {
                    dst.push(src[i]);
                }
            }
        }
    }
}

/// Reusable buffers for [`EventBlock::sort_rows_with`].
#[derive(Debug, Clone, Default)]
pub struct EventSortScratch {
    order: Vec<usize>,
    ints: Vec<i64>,
    floats: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_with_scratch_is_stable_and_keeps_columns_aligned() {
        let mut block = EventBlock::with_columns(1);
        for (s, c, v) in [
            (5, 1, 0.0),
            (2, 0, 1.0),
            (5, 0, 2.0),
            (2, 0, 3.0),
            (9, 2, 4.0),
        ] {
            block.push(s, c, 0, &[v]);
        }
        let mut expected = block.clone();
        expected.sort_rows();
        let mut scratch = EventSortScratch::default();
        block.sort_rows_with(&mut scratch);
        assert_eq!(block, expected);
        assert_eq!(block.sample, [2, 2, 5, 5, 9]);
        assert_eq!(block.columns[0], [1.0, 3.0, 2.0, 0.0, 4.0]);
        let mut group = EventBlock::default();
        block.select_channels_into(0..1, &mut group);
        assert_eq!(group.sample, [2, 2, 5]);
        assert_eq!(group.columns[0], [1.0, 3.0, 2.0]);
    }
}
