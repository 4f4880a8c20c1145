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
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| (self.sample[i], self.channel[i], self.unit[i]));
        if order.iter().enumerate().all(|(i, &j)| i == j) {
            return;
        }
        let permute_i = |v: &Vec<i64>| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
        self.sample = permute_i(&self.sample);
        self.channel = permute_i(&self.channel);
        self.unit = permute_i(&self.unit);
        for col in &mut self.columns {
            *col = order.iter().map(|&i| col[i]).collect();
        }
    }
}
