use std::fmt;
use std::ops::{Index, Range};
use std::sync::Arc;

/// Every trial's shape, stored as runs of consecutive trials that share one shape and
/// shared between clones.
///
/// Most recordings have one trial shape, and a schema is cloned several times per run
/// (each step's input and output, each saved object, the writer's copy): one `Vec` per
/// trial made 200 000 tiny trials cost about 60 MB and a tenth of a second before the
/// first task ran. Here a recording of equal trials is one run whatever its trial count,
/// and a clone is a reference count. It reads like the `Vec<Vec<usize>>` it replaces:
/// `shapes[t]`, `iter()`, `first()`, `len()`, comparisons with vectors and arrays.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrialShapes {
    /// Runs in trial order, each ending (exclusively) at `end`; neighbours differ in shape.
    runs: Arc<[ShapeRun]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ShapeRun {
    end: usize,
    shape: Vec<usize>,
}

impl TrialShapes {
    /// `n` trials of one shape.
    pub fn uniform(shape: Vec<usize>, n: usize) -> TrialShapes {
        if n == 0 {
            return TrialShapes::default();
        }
        TrialShapes {
            runs: Arc::from([ShapeRun { end: n, shape }]),
        }
    }

    /// The shapes of trials whose shape `shape_of` gives, without a vector per trial.
    pub fn from_fn(n: usize, mut shape_of: impl FnMut(usize) -> Vec<usize>) -> TrialShapes {
        let mut builder = Builder::default();
        for t in 0..n {
            builder.push(shape_of(t));
        }
        builder.finish()
    }

    /// Shapes `[rows, rest...]`, one per trial's row count, as runs: no vector per trial
    /// (an analog recording's 200 000 trial lengths make one run when they are equal).
    pub fn from_rows(rows: impl IntoIterator<Item = usize>, rest: &[usize]) -> TrialShapes {
        let mut runs: Vec<ShapeRun> = Vec::new();
        for n in rows {
            match runs.last_mut() {
                Some(run) if run.shape[0] == n => run.end += 1,
                last => {
                    let end = last.map_or(0, |r| r.end) + 1;
                    let mut shape = Vec::with_capacity(1 + rest.len());
                    shape.push(n);
                    shape.extend_from_slice(rest);
                    runs.push(ShapeRun { end, shape });
                }
            }
        }
        TrialShapes { runs: runs.into() }
    }

    pub fn len(&self) -> usize {
        self.runs.last().map_or(0, |r| r.end)
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The run holding trial `t` (which must be below `len()`): two trials with the same
    /// run index have the same shape.
    pub fn run_of(&self, t: usize) -> usize {
        if self.runs.len() == 1 {
            return 0;
        }
        self.runs.partition_point(|r| r.end <= t)
    }

    pub fn get(&self, t: usize) -> Option<&Vec<usize>> {
        (t < self.len()).then(|| &self.runs[self.run_of(t)].shape)
    }

    pub fn first(&self) -> Option<&Vec<usize>> {
        self.runs.first().map(|r| &r.shape)
    }

    pub fn last(&self) -> Option<&Vec<usize>> {
        self.runs.last().map(|r| &r.shape)
    }

    /// Every trial's shape, in trial order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            runs: &self.runs,
            run: 0,
            trial: 0,
            end: self.len(),
        }
    }

    /// The runs of trials sharing a shape: (trials, shape), in trial order. What code that
    /// does the same for every trial of a shape iterates, instead of every trial.
    pub fn runs(&self) -> impl ExactSizeIterator<Item = (Range<usize>, &[usize])> + '_ {
        self.runs.iter().enumerate().map(|(i, r)| {
            let start = if i == 0 { 0 } else { self.runs[i - 1].end };
            (start..r.end, r.shape.as_slice())
        })
    }

    /// The sum of every trial's first axis (the rows of the trials stacked).
    pub fn total_rows(&self) -> usize {
        self.runs()
            .map(|(trials, shape)| trials.len() * shape.first().copied().unwrap_or(0))
            .sum()
    }

    pub fn to_vec(&self) -> Vec<Vec<usize>> {
        self.iter().cloned().collect()
    }
}

/// Collects shapes into runs.
#[derive(Default)]
struct Builder {
    runs: Vec<ShapeRun>,
}

impl Builder {
    fn push(&mut self, shape: Vec<usize>) {
        match self.runs.last_mut() {
            Some(run) if run.shape == shape => run.end += 1,
            last => {
                let end = last.map_or(0, |r| r.end) + 1;
                self.runs.push(ShapeRun { end, shape });
            }
        }
    }

    fn finish(self) -> TrialShapes {
        TrialShapes {
            runs: self.runs.into(),
        }
    }
}

impl Index<usize> for TrialShapes {
    type Output = Vec<usize>;

    fn index(&self, t: usize) -> &Vec<usize> {
        match self.get(t) {
            Some(shape) => shape,
            None => panic!("trial {t} out of range for {} trials", self.len()),
        }
    }
}

/// Iterator over every trial's shape (see [`TrialShapes::iter`]).
#[derive(Clone)]
pub struct Iter<'a> {
    runs: &'a [ShapeRun],
    run: usize,
    trial: usize,
    end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Vec<usize>;

    fn next(&mut self) -> Option<&'a Vec<usize>> {
        if self.trial >= self.end {
            return None;
        }
        while self.runs[self.run].end <= self.trial {
            self.run += 1;
        }
        self.trial += 1;
        Some(&self.runs[self.run].shape)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.trial;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a TrialShapes {
    type Item = &'a Vec<usize>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<Vec<usize>> for TrialShapes {
    fn from_iter<I: IntoIterator<Item = Vec<usize>>>(iter: I) -> TrialShapes {
        let mut builder = Builder::default();
        for shape in iter {
            builder.push(shape);
        }
        builder.finish()
    }
}

impl From<Vec<Vec<usize>>> for TrialShapes {
    fn from(shapes: Vec<Vec<usize>>) -> TrialShapes {
        shapes.into_iter().collect()
    }
}

impl fmt::Debug for TrialShapes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<U> PartialEq<Vec<U>> for TrialShapes
where
    Vec<usize>: PartialEq<U>,
{
    fn eq(&self, other: &Vec<U>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b)
    }
}

impl<U, const N: usize> PartialEq<[U; N]> for TrialShapes
where
    Vec<usize>: PartialEq<U>,
{
    fn eq(&self, other: &[U; N]) -> bool {
        self.len() == N && self.iter().zip(other).all(|(a, b)| a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_trials_are_one_run_and_read_like_a_vector() {
        let shapes: TrialShapes = (0..5).map(|_| vec![200, 8]).collect();
        assert_eq!(shapes.runs.len(), 1);
        assert_eq!(shapes.len(), 5);
        assert_eq!(shapes[4], [200, 8]);
        assert_eq!(shapes, vec![vec![200, 8]; 5]);
        assert_eq!(shapes.total_rows(), 1000);
        assert_eq!(shapes, TrialShapes::uniform(vec![200, 8], 5));
    }

    #[test]
    fn runs_keep_every_trial_in_order() {
        let list = vec![vec![3, 2], vec![3, 2], vec![5, 2], vec![3, 2], vec![0, 2]];
        let shapes = TrialShapes::from(list.clone());
        assert_eq!(shapes.runs.len(), 4);
        assert_eq!(shapes.to_vec(), list);
        for (t, shape) in list.iter().enumerate() {
            assert_eq!(&shapes[t], shape);
            assert_eq!(shapes.get(t), Some(shape));
        }
        assert_eq!(shapes.get(5), None);
        assert_eq!(shapes.iter().len(), 5);
        let runs: Vec<_> = shapes.runs().map(|(t, s)| (t, s.to_vec())).collect();
        assert_eq!(
            runs,
            [
                (0..2, vec![3, 2]),
                (2..3, vec![5, 2]),
                (3..4, vec![3, 2]),
                (4..5, vec![0, 2])
            ]
        );
        assert_eq!(shapes.total_rows(), 14);
        assert_eq!(format!("{shapes:?}"), format!("{list:?}"));
        assert_ne!(shapes, TrialShapes::from(list[..4].to_vec()));
    }

    #[test]
    fn rows_and_trailing_axes_make_the_same_runs() {
        let rows = [200, 200, 100, 200];
        let shapes = TrialShapes::from_rows(rows, &[8]);
        assert_eq!(shapes, TrialShapes::from_fn(4, |t| vec![rows[t], 8]));
        assert_eq!(shapes.runs.len(), 3);
        assert_eq!(TrialShapes::from_rows([], &[8]), TrialShapes::default());
    }

    #[test]
    fn empty_shapes() {
        let none = TrialShapes::default();
        assert!(none.is_empty() && none.first().is_none() && none.iter().next().is_none());
        assert_eq!(TrialShapes::uniform(vec![1], 0), none);
        assert_eq!(TrialShapes::from(Vec::new()), none);
    }

    #[test]
    #[should_panic(expected = "trial 2 out of range")]
    fn indexing_past_the_end_panics_like_a_vector() {
        let _ = &TrialShapes::uniform(vec![1, 1], 2)[2];
    }
}
