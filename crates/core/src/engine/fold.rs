//! The fixed-order fold behind every cross-trial result (trial-reducing steps and
//! `keeptrials: false`): bitwise the same whether one process folds every trial, or shards
//! and MPI ranks fold slices that a merge combines, or a run resumes from a checkpoint.
//!
//! Floating-point addition is not associative, so the result depends on how the trials'
//! contributions are grouped. The grouping here is a fixed binary tree over trial indices:
//! the node covering trials `[s, s + 2^j)` (with `s` a multiple of `2^j`) is the sum of its
//! two halves, a leaf is one trial's contribution, and the total over `n` trials joins the
//! complete subtrees of `[0, n)` (its binary decomposition) from right to left, which is
//! exactly the tree's root with empty subtrees left out. The tree depends on trial indices
//! only, so any process folding any contiguous slice computes the same nodes:
//!
//! - a streaming fold keeps a stack of complete subtrees (a binary counter): a new leaf is
//!   pushed, and the top two are joined while they are sibling halves. The stack never holds
//!   more than `log2(n) + 1` states, so memory does not grow with the trial count;
//! - a shard (or MPI rank) folding trials `[lo, hi)` ends with the maximal complete subtrees
//!   inside its slice, at most `2 log2(n)` of them, which it records in its checkpoint;
//! - the merge pushes every shard's subtrees in trial order through the same binary counter
//!   (a complete subtree pushed onto the stack of the trials before it behaves like its
//!   leaves pushed one by one) and joins the stack as a whole run does;
//! - a checkpoint records the stack, and a resumed run continues pushing onto it.
//!
//! Subtrees are recorded as flat f64 runs `[start, len, values...]`, so a checkpoint's state
//! is a plain vector of numbers and a merge may simply concatenate the shards' vectors.

use crate::error::{Error, Result};

use super::huge_pages::vec_with_capacity;

/// A complete subtree of the reduction tree: the sum of trials `start..start + len`.
#[derive(Debug)]
struct Node {
    start: usize,
    len: usize,
    values: Vec<f64>,
}

/// A streaming fold of one object's per-trial contributions (each `state_len` values, laid
/// out as rows of `channels` channels of `parts` values each: 2 for complex (re, im)).
#[derive(Debug)]
pub(crate) struct TreeFold {
    state_len: usize,
    channels: usize,
    parts: usize,
    stack: Vec<Node>,
    /// The trial whose contribution is being filled (one channel group at a time).
    open: Option<Node>,
    /// Buffers of joined nodes, reused so that a warmed-up fold allocates nothing.
    spare: Vec<Vec<f64>>,
}

impl TreeFold {
    pub fn new(state_len: usize, channels: usize, parts: usize) -> TreeFold {
        TreeFold {
            state_len,
            channels,
            parts,
            stack: Vec::new(),
            open: None,
            spare: Vec::new(),
        }
    }

    /// The contribution of `trial` being filled: a fresh one when the trial changes (its
    /// values are unspecified until every channel group has written its slice).
    pub fn leaf_mut(&mut self, trial: usize) -> &mut [f64] {
        if self.open.as_ref().map(|n| n.start) != Some(trial) {
            let mut values = self
                .spare
                .pop()
                .unwrap_or_else(|| vec_with_capacity(self.state_len));
            values.resize(self.state_len, 0.0);
            self.open = Some(Node {
                start: trial,
                len: 1,
                values,
            });
        }
        &mut self.open.as_mut().expect("opened above").values
    }

    /// The length of the contribution's last axis (channels, or channel pairs of a
    /// cross-channel step).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Writes one task's block (channels `channels` of `trial`'s contribution, row-major
    /// with the same rows) into the contribution; the trial is folded when `last` (its last
    /// channel group) is set. Copies row by row, so nothing is allocated per task.
    pub fn fill(
        &mut self,
        trial: usize,
        channels: std::ops::Range<usize>,
        block: &[f64],
        last: bool,
    ) {
        let (row, parts) = (self.channels * self.parts, self.parts);
        let width = channels.len() * parts;
        if last
            && width == row
            && block.len() == self.state_len
            && self.join_into_siblings(trial, block)
        {
            return;
        }
        let leaf = self.leaf_mut(trial);
        for (r, values) in block.chunks_exact(width.max(1)).enumerate() {
            let at = r * row + channels.start * parts;
            leaf[at..at + width].copy_from_slice(values);
        }
        if last {
            self.close_leaf();
        }
    }

    /// [`fill`](Self::fill) of a trial's whole contribution handed over in its buffer: kept
    /// as the leaf where `fill` would copy it (no pass over tens of MB), or added to its left
    /// siblings where they lie. Returns a buffer for the caller's pool: the one given, or
    /// one the fold no longer needs (empty when it has none).
    pub fn fill_owned(&mut self, trial: usize, block: Vec<f64>) -> Vec<f64> {
        if block.len() != self.state_len || self.open.is_some() {
            self.fill(trial, 0..self.channels, &block, true);
            return block;
        }
        if self.join_into_siblings(trial, &block) {
            return block;
        }
        let back = self.spare.pop().unwrap_or_default();
        self.push(Node {
            start: trial,
            len: 1,
            values: block,
        });
        back
    }

    /// How many nodes on top of the stack a leaf for `trial` would be joined with when
    /// pushed: the left siblings of the leaf, then of their sum, and so on (trailing ones of
    /// `trial` in binary, as far as the stack holds them).
    fn siblings_of(&self, trial: usize) -> usize {
        let (mut start, mut len, mut k) = (trial, 1, 0);
        for left in self.stack.iter().rev() {
            let siblings =
                left.len == len && left.start.is_multiple_of(2 * len) && left.start + len == start;
            if !siblings {
                break;
            }
            (start, len, k) = (left.start, 2 * len, k + 1);
        }
        k
    }

    /// A whole contribution whose left sibling (the one trial before it) tops the stack is
    /// added where it lies, instead of being copied into a leaf first, and so are the sums it
    /// then completes: for trial `t` whose sibling chain holds `k` nodes `S1` (top) to `Sk`,
    /// each value becomes `Sk + (... + (S2 + (S1 + b)))`, which is what pushing the leaf
    /// computes one join at a time (the same additions, each `left + right`, in the same
    /// order), in one pass over the values instead of `k` passes that each write their sum
    /// back (tens of MB per trial for cross-spectra of 64 channels). Returns whether it did.
    fn join_into_siblings(&mut self, trial: usize, block: &[f64]) -> bool {
        let k = if self.open.is_some() {
            0
        } else {
            self.siblings_of(trial)
        };
        if k == 0 {
            return false;
        }
        let at = self.stack.len() - k;
        let (root, above) = self.stack[at..].split_first_mut().expect("k >= 1");
        join_chain(&mut root.values, above, block);
        root.len *= 2;
        for node in self.stack.drain(at + 1..) {
            self.spare.push(node.values);
        }
        true
    }

    /// Folds the trial being filled into the tree.
    pub fn close_leaf(&mut self) {
        if let Some(leaf) = self.open.take() {
            self.push(leaf);
        }
    }

    /// Pushes a complete subtree and joins sibling halves on top of the stack.
    fn push(&mut self, node: Node) {
        self.stack.push(node);
        while let [.., left, right] = &mut self.stack[..] {
            let siblings = left.len == right.len
                && left.start.is_multiple_of(2 * left.len)
                && left.start + left.len == right.start;
            if !siblings {
                break;
            }
            join(&mut left.values, &right.values);
            left.len *= 2;
            let right = self.stack.pop().expect("two nodes on the stack");
            self.spare.push(right.values);
        }
    }

    /// The trials the fold covers so far, `None` when empty.
    pub fn covered(&self) -> Option<std::ops::Range<usize>> {
        let first = self.stack.first()?;
        let last = self.stack.last()?;
        Some(first.start..last.start + last.len)
    }

    /// The stack as flat runs `[start, len, values...]` (what a checkpoint records).
    pub fn encode(&self) -> Vec<f64> {
        let mut flat = vec_with_capacity(self.stack.len() * (self.state_len + 2));
        for node in &self.stack {
            flat.push(node.start as f64);
            flat.push(node.len as f64);
            flat.extend_from_slice(&node.values);
        }
        flat
    }

    /// Takes recorded subtrees (one run's stack, or every shard's concatenated), which must
    /// cover exactly `expected` (trial indices) without gap or overlap: a recorded state
    /// that covers other trials would drop or double some of them.
    pub fn restore(&mut self, flat: &[f64], expected: std::ops::Range<usize>) -> Result<()> {
        let record = self.state_len + 2;
        if !flat.len().is_multiple_of(record) {
            return Err(Error::invalid(format!(
                "the recorded reduction state holds {} values, which is not a whole number of subtrees of {} values",
                flat.len(),
                record
            )));
        }
        let mut nodes: Vec<Node> = flat
            .chunks_exact(record)
            .map(|run| Node {
                start: run[0] as usize,
                len: run[1] as usize,
                values: run[2..].to_vec(),
            })
            .collect();
        nodes.sort_by_key(|n| n.start);
        let mut at = expected.start;
        for node in &nodes {
            let aligned = node.len.is_power_of_two() && node.start.is_multiple_of(node.len);
            if node.start != at || !aligned {
                return Err(Error::invalid(format!(
                    "the recorded reduction state does not cover trials {}..{} exactly (a subtree of trials {}..{} where trial {at} was due)",
                    expected.start,
                    expected.end,
                    node.start,
                    node.start + node.len
                )));
            }
            at += node.len;
        }
        if at != expected.end {
            return Err(Error::invalid(format!(
                "the recorded reduction state covers trials {}..{at}, not {}..{}",
                expected.start, expected.start, expected.end
            )));
        }
        self.stack.clear();
        self.open = None;
        for node in nodes {
            self.push(node);
        }
        Ok(())
    }

    /// Joins the stack into the tree's root; `n_trials` is what it must cover.
    pub fn total(&mut self, n_trials: usize) -> Result<Vec<f64>> {
        if self.covered() != Some(0..n_trials) {
            return Err(Error::output(
                "the reduction",
                format!(
                    "covers trials {:?} of 0..{n_trials}; no trial may be left out or counted twice",
                    self.covered()
                ),
            ));
        }
        // Joined from the right, `S0 + (S1 + (... + (Sm-1 + Sm)))`, in one pass over the
        // nodes (`join_chain`: the same additions as joining them one by one).
        let last = self.stack.pop().expect("covered is not empty");
        if self.stack.is_empty() {
            return Ok(last.values);
        }
        let (root, above) = self.stack.split_first_mut().expect("not empty");
        join_chain(&mut root.values, above, &last.values);
        self.spare.push(last.values);
        let mut nodes = self.stack.drain(..);
        let root = nodes.next().expect("not empty");
        self.spare.extend(nodes.map(|n| n.values));
        Ok(root.values)
    }
}

/// `left += right`, elementwise: the one arithmetic operation of every fold.
fn join(left: &mut [f64], right: &[f64]) {
    for (l, r) in left.iter_mut().zip(right) {
        *l += r;
    }
}

/// Values a chained join sums at a time: a few KB, so the running sums stay in L1.
const CHAIN_CHUNK: usize = 512;

/// `root = root + (... + (s2 + (s1 + leaf)))` elementwise, with `above` the nodes over
/// `root` on the stack (`s1` its top, last): the joins of a leaf pushed onto that stack,
/// each `left + right` exactly as [`join`] computes it, in one pass over every buffer.
fn join_chain(root: &mut [f64], above: &[Node], leaf: &[f64]) {
    if above.is_empty() {
        return join(root, leaf);
    }
    let mut acc = [0.0; CHAIN_CHUNK];
    for (c, (root, leaf)) in root
        .chunks_mut(CHAIN_CHUNK)
        .zip(leaf.chunks(CHAIN_CHUNK))
        .enumerate()
    {
        let acc = &mut acc[..leaf.len()];
        acc.copy_from_slice(leaf);
        let at = c * CHAIN_CHUNK;
        for left in above.iter().rev() {
            for (a, l) in acc.iter_mut().zip(&left.values[at..at + leaf.len()]) {
                // `left + right` as `join` adds, not `+=`, which would swap the operands
                // (the same sum, but not the same NaN when both are NaN).
                #[allow(clippy::assign_op_pattern)]
                {
                    *a = *l + *a;
                }
            }
        }
        join(root, acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose sums depend on grouping (large and small magnitudes mixed).
    fn contribution(trial: usize) -> [f64; 2] {
        let t = trial as f64;
        [
            1e16 * (t % 3.0 - 1.0) + 0.1 * t,
            (t * 0.7).sin() * 1e-3 + 1.0 / (t + 3.0),
        ]
    }

    fn fold_range(range: std::ops::Range<usize>) -> TreeFold {
        let mut fold = TreeFold::new(2, 2, 1);
        for t in range {
            fold.leaf_mut(t).copy_from_slice(&contribution(t));
            fold.close_leaf();
        }
        fold
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn any_split_into_shards_gives_the_same_bits() {
        for n in [1, 2, 3, 5, 8, 13, 31, 64, 100] {
            let whole = bits(&fold_range(0..n).total(n).unwrap());
            for shards in 1..=7.min(n) {
                let mut flat = Vec::new();
                // Shards in reverse order: the merge must not depend on it.
                for i in (0..shards).rev() {
                    let (lo, hi) = (i * n / shards, (i + 1) * n / shards);
                    flat.extend(fold_range(lo..hi).encode());
                }
                let mut merged = TreeFold::new(2, 2, 1);
                merged.restore(&flat, 0..n).unwrap();
                assert_eq!(
                    bits(&merged.total(n).unwrap()),
                    whole,
                    "n {n}, shards {shards}"
                );
            }
        }
    }

    #[test]
    fn whole_blocks_added_to_their_sibling_give_the_bits_of_leaves() {
        let by_blocks = |range: std::ops::Range<usize>| {
            let mut fold = TreeFold::new(2, 2, 1);
            for t in range {
                fold.fill(t, 0..2, &contribution(t), true);
            }
            fold
        };
        for range in [0..1, 0..2, 0..3, 0..7, 0..16, 0..37, 5..23, 1..2] {
            assert_eq!(
                bits(&by_blocks(range.clone()).encode()),
                bits(&fold_range(range.clone()).encode()),
                "{range:?}"
            );
        }
    }

    #[test]
    fn chained_joins_of_long_contributions_give_the_bits_of_leaves() {
        // Longer than a few chain chunks, not a multiple of one; magnitudes mixed so that
        // any other grouping or operand order would show in the bits.
        let len = 2 * CHAIN_CHUNK + 77;
        let values = |t: usize| -> Vec<f64> {
            (0..len)
                .map(|i| {
                    let x = (t * 31 + i * 7) as f64;
                    (x * 0.37).sin() * 10f64.powi((t * 5 + i) as i32 % 17 - 8)
                })
                .collect()
        };
        for range in [0..64, 0..37, 5..23, 3..40, 1..2] {
            let mut leaves = TreeFold::new(len, len, 1);
            let mut blocks = TreeFold::new(len, len, 1);
            for t in range.clone() {
                leaves.leaf_mut(t).copy_from_slice(&values(t));
                leaves.close_leaf();
                if t % 3 == 2 {
                    // A trial filled by channel groups never joins where it lies.
                    blocks.fill(t, 0..10, &values(t)[..10], false);
                    blocks.fill(t, 10..len, &values(t)[10..], true);
                } else {
                    blocks.fill(t, 0..len, &values(t), true);
                }
            }
            let same = bits(&blocks.encode()) == bits(&leaves.encode());
            assert!(same, "{range:?}");
            if range.start == 0 {
                let n = range.end;
                let same = bits(&blocks.total(n).unwrap()) == bits(&leaves.total(n).unwrap());
                assert!(same, "{range:?}: total");
            }
        }
    }

    #[test]
    fn the_total_joins_the_stack_from_the_right() {
        for n in [1, 2, 3, 7, 13, 15, 31, 100, 127, 200] {
            let mut fold = fold_range(0..n);
            let nodes: Vec<Vec<f64>> = fold.stack.iter().map(|n| n.values.clone()).collect();
            let mut want = nodes.last().unwrap().clone();
            for left in nodes.iter().rev().skip(1) {
                want = left.iter().zip(&want).map(|(l, r)| l + r).collect();
            }
            assert_eq!(bits(&fold.total(n).unwrap()), bits(&want), "n {n}");
        }
    }

    #[test]
    fn owned_contributions_give_the_bits_of_leaves_and_return_buffers() {
        for range in [0..1, 0..2, 0..7, 0..16, 0..37, 5..23, 1..2] {
            let mut owned = TreeFold::new(2, 2, 1);
            for t in range.clone() {
                if t % 5 == 4 {
                    owned.fill(t, 0..1, &contribution(t)[..1], false);
                    owned.fill(t, 1..2, &contribution(t)[1..], true);
                } else {
                    let back = owned.fill_owned(t, contribution(t).to_vec());
                    assert!(back.is_empty() || back.len() == 2, "{range:?}");
                }
            }
            assert_eq!(
                bits(&owned.encode()),
                bits(&fold_range(range.clone()).encode()),
                "{range:?}"
            );
        }
    }

    #[test]
    fn resuming_from_a_recorded_stack_gives_the_same_bits() {
        let n = 37;
        let whole = bits(&fold_range(0..n).total(n).unwrap());
        for stop in [1, 6, 16, 23] {
            let mut resumed = TreeFold::new(2, 2, 1);
            resumed
                .restore(&fold_range(0..stop).encode(), 0..stop)
                .unwrap();
            for t in stop..n {
                resumed.leaf_mut(t).copy_from_slice(&contribution(t));
                resumed.close_leaf();
            }
            assert_eq!(bits(&resumed.total(n).unwrap()), whole, "stop {stop}");
        }
    }

    #[test]
    fn the_stack_stays_logarithmic() {
        let mut fold = TreeFold::new(1, 1, 1);
        let mut deepest = 0;
        for t in 0..1000 {
            fold.leaf_mut(t)[0] = 1.0;
            fold.close_leaf();
            deepest = deepest.max(fold.stack.len());
        }
        assert!(deepest <= 10, "{deepest}");
        assert_eq!(fold.total(1000).unwrap(), vec![1000.0]);
    }

    #[test]
    fn channel_groups_fill_their_slices_of_a_contribution() {
        // 2 rows x 3 channels x (re, im); groups of channels 0..2 and 2..3.
        let mut fold = TreeFold::new(12, 3, 2);
        fold.fill(0, 0..2, &[1., 2., 3., 4., 5., 6., 7., 8.], false);
        fold.fill(0, 2..3, &[9., 10., 11., 12.], true);
        let want = [1., 2., 3., 4., 9., 10., 5., 6., 7., 8., 11., 12.];
        assert_eq!(fold.total(1).unwrap(), want);
    }

    #[test]
    fn gaps_overlaps_and_missing_trials_are_refused() {
        let mut a = fold_range(0..3).encode();
        a.extend(fold_range(4..6).encode());
        assert!(TreeFold::new(2, 2, 1).restore(&a, 0..6).is_err(), "gap");
        let mut b = fold_range(0..4).encode();
        b.extend(fold_range(3..6).encode());
        assert!(TreeFold::new(2, 2, 1).restore(&b, 0..6).is_err(), "overlap");
        let c = fold_range(0..5).encode();
        assert!(TreeFold::new(2, 2, 1).restore(&c, 0..6).is_err(), "short");
        assert!(
            TreeFold::new(2, 2, 1).restore(&c[..5], 0..5).is_err(),
            "torn"
        );
        assert!(fold_range(0..5).total(6).is_err(), "total of too few");
    }
}
