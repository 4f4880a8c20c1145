use std::path::{Path, PathBuf};

use ndarray::Dimension;

use crate::error::{Bytes, Error, Result};
use crate::model::DataSchema;

use super::prepare::{CrossTrial, PreparedStep};
use super::tasks::Task;

/// Estimated peak working set of a run: what one task holds (its trial as read and as f64,
/// every step's output block and the scratch its plans ask for) times the tasks that can be
/// in flight at once, what each worker keeps between tasks, plus the cross-trial
/// accumulators and what the sink keeps in memory. Unlike Syncopy's check, which looks only
/// at the output, this counts input, output and scratch, and once the state every plan holds
/// (coefficients, tapers, FFT tables), which all workers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub per_task: u64,
    pub concurrent_tasks: usize,
    /// What each compute worker keeps besides the tasks in flight: its own output block per
    /// step (a finished block goes to the writer and the worker takes a fresh buffer) and its
    /// scratch.
    pub per_worker: u64,
    pub workers: usize,
    /// The largest task's output blocks (every step), and the scratch of all its steps:
    /// what even a single worker must hold at once.
    pub task_output: u64,
    pub task_scratch: u64,
    /// Cross-trial results (`keeptrials: false`, trial-reducing steps): the fold's stack of
    /// partial states (logarithmic in the trial count) and the finished result.
    pub accumulators: u64,
    /// What the plans hold, once for all workers (`Kernel::state_bytes`).
    pub plans: u64,
    /// What the sink holds in memory until the run ends (all results, for an in-memory
    /// sink; nothing for a file).
    pub sink: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.per_task * self.concurrent_tasks as u64
            + self.per_worker * self.workers as u64
            + self.accumulators
            + self.plans
            + self.sink
    }

    pub(crate) fn for_pipeline(
        input: &DataSchema,
        steps: &[PreparedStep],
        tasks: &[Task],
        window: usize,
        workers: usize,
        cross_trial: &[Option<CrossTrial>],
    ) -> MemoryEstimate {
        let mut per_task = 0u64;
        let mut task_output = 0u64;
        let task_scratch: u64 = steps.iter().map(|s| s.scratch.bytes() as u64).sum();
        // A task's numbers depend only on its shapes and channel group: tasks whose trial
        // lies in the same run of shapes (input and every step's output) as the task
        // before them add nothing, so most runs compute this once, not once per task.
        let mut last_key: Vec<usize> = Vec::new();
        let mut key: Vec<usize> = Vec::with_capacity(steps.len() + 2);
        for task in tasks {
            key.clear();
            key.push(task.group);
            key.push(input.trial_shapes.run_of(task.trial));
            for step in steps {
                key.push(step.output.trial_shapes.run_of(task.trial));
            }
            if key == last_key {
                continue;
            }
            std::mem::swap(&mut key, &mut last_key);
            let trial_elems = input.trial_elements(task.trial) as u64;
            // The f64 values the engine holds (complex ones as (re, im) pairs).
            let trial_values = input.trial_values_len(task.trial) as u64;
            let mut output = 0u64;
            for step in steps {
                if step.output.kind.is_dense() {
                    let elems = step.task_output_values_shape(task).size();
                    output += elems as u64 * 8;
                } else {
                    // Events: at most one per input sample and channel, rarely more than a
                    // small fraction; count a tenth of the input block per property column.
                    let in_elems = step.task_input_shape(task).size();
                    output +=
                        (in_elems as u64 / 10) * 8 * (3 + step.output.event_columns.len() as u64);
                }
            }
            let bytes = trial_values * 8
                + trial_elems * input.dtype.size_bytes() as u64
                + output
                + task_scratch;
            per_task = per_task.max(bytes);
            task_output = task_output.max(output);
        }
        // The fold keeps at most one partial state per level of its tree (twice that for a
        // shard's edges), plus the trial being filled and a spare.
        let levels = (usize::BITS - input.n_trials().leading_zeros()) as u64;
        let accumulators = steps
            .iter()
            .filter_map(|s| Some((s, cross_trial.get(s.object?).copied()??)))
            .map(|(s, fold)| {
                let state = match fold {
                    CrossTrial::Average => s.output.trial_elements(0) * s.output.dtype.components(),
                    CrossTrial::Reduction => s.reduction.as_ref().map_or(0, |r| r.state_len()),
                } as u64;
                let result = (s.output.trial_elements(0) * s.output.dtype.components()) as u64;
                8 * (state * (2 * levels + 2) + result)
            })
            .sum();
        let plans = steps
            .iter()
            .flat_map(|s| s.plans.iter())
            .map(|p| p.state_bytes() as u64)
            .sum();
        MemoryEstimate {
            per_task,
            concurrent_tasks: window,
            per_worker: task_output + task_scratch,
            workers,
            task_output,
            task_scratch,
            accumulators,
            plans,
            sink: 0,
        }
    }

    /// Refuses the run if the estimate exceeds `mem_thresh` x available memory.
    pub fn check(&self, mem_thresh: f64) -> Result<()> {
        self.check_against(available_memory(), mem_thresh)
    }

    /// [`check`](Self::check) against a given amount of available memory (`None`: unknown,
    /// which never refuses). A run whose single task cannot fit is refused with its own
    /// message: fewer workers would not help it.
    pub fn check_against(&self, available: Option<u64>, mem_thresh: f64) -> Result<()> {
        let Some(available) = available else {
            return Ok(());
        };
        let allowed = (available as f64 * mem_thresh) as u64;
        if self.total() <= allowed {
            return Ok(());
        }
        let exceeded = Error::MemoryThreshold {
            needed: Bytes(self.total()),
            available: Bytes(available),
            allowed: Bytes(allowed),
            thresh: mem_thresh,
        };
        if self.task_output + self.task_scratch > allowed {
            // Fewer workers would not help: say what one task alone needs.
            return Err(Error::invalid(format!(
                "{exceeded}; even one trial does not fit: its output block needs {} and its scratch {}, more than the {} allowed, so narrow the output (fewer frequencies or time points) or split channels with execution.chan_per_worker",
                Bytes(self.task_output),
                Bytes(self.task_scratch),
                Bytes(allowed),
            )));
        }
        Err(exceeded)
    }
}

/// Memory available to new allocations: the host's `MemAvailable`, or less when the
/// process's cgroup (a container, a SLURM job, a systemd slice) leaves less room under its
/// limit. `None` where neither is known.
///
/// `TRIALFLOW_AVAILABLE_MEMORY` (bytes) overrides it, so tests can exercise the refusal
/// without filling the machine.
///
/// A reading is reused for [`AVAILABLE_FRESH_FOR`]: one run checks its estimate several
/// times within milliseconds (the dry run, the front end, the engine), and each reading
/// parses `/proc/meminfo` and a chain of cgroup files.
pub fn available_memory() -> Option<u64> {
    if let Ok(v) = std::env::var("TRIALFLOW_AVAILABLE_MEMORY") {
        if let Ok(bytes) = v.trim().parse::<u64>() {
            return Some(bytes);
        }
    }
    static LAST: std::sync::Mutex<Option<(std::time::Instant, Option<u64>)>> =
        std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    match *last {
        Some((at, available)) if at.elapsed() < AVAILABLE_FRESH_FOR => available,
        _ => {
            let available = MemoryProbe::system().available();
            *last = Some((std::time::Instant::now(), available));
            available
        }
    }
}

/// How long a reading of the available memory is reused: far shorter than memory use
/// changes between two runs of a long-lived caller (a Python session).
pub const AVAILABLE_FRESH_FOR: std::time::Duration = std::time::Duration::from_millis(200);

/// Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded down to a page).
const UNLIMITED: u64 = 1 << 60;

/// Reads memory limits from a file-system root: `/` for the running system, a folder of
/// fake `proc/` and `sys/fs/cgroup/` files in tests.
#[derive(Debug, Clone)]
pub struct MemoryProbe {
    root: PathBuf,
}

impl MemoryProbe {
    pub fn system() -> MemoryProbe {
        MemoryProbe::at("/")
    }

    pub fn at(root: impl Into<PathBuf>) -> MemoryProbe {
        MemoryProbe { root: root.into() }
    }

    /// The smaller of the host's available memory and the cgroup's room.
    pub fn available(&self) -> Option<u64> {
        match (self.host_available(), self.cgroup_room()) {
            (Some(host), Some(cgroup)) => Some(host.min(cgroup)),
            (host, cgroup) => host.or(cgroup),
        }
    }

    /// Linux `MemAvailable`.
    pub fn host_available(&self) -> Option<u64> {
        let meminfo = std::fs::read_to_string(self.root.join("proc/meminfo")).ok()?;
        meminfo
            .lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    }

    /// How much more the process's cgroups let it use: limit minus usage, the tightest over
    /// its memory cgroup (v1) or unified cgroup (v2) and their ancestors. `None` when no
    /// limit applies.
    pub fn cgroup_room(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.root.join("proc/self/cgroup")).ok()?;
        let mounts = self.root.join("sys/fs/cgroup");
        let mut room = None;
        for line in text.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let found = if id == "0" && controllers.is_empty() {
                hierarchy_room(&mounts, path, "memory.max", "memory.current")
            } else if controllers.split(',').any(|c| c == "memory") {
                hierarchy_room(
                    &mounts.join("memory"),
                    path,
                    "memory.limit_in_bytes",
                    "memory.usage_in_bytes",
                )
            } else {
                None
            };
            room = min_known(room, found);
        }
        room
    }
}

fn min_known(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The tightest room over a cgroup and its ancestors up to the hierarchy's mount. A path not
/// visible under the mount (a container sees its own cgroup as the root) means the mount
/// itself is the process's cgroup.
fn hierarchy_room(mount: &Path, path: &str, limit_file: &str, usage_file: &str) -> Option<u64> {
    let mut dir = mount.join(path.trim_start_matches('/'));
    if !dir.is_dir() {
        dir = mount.to_path_buf();
    }
    let mut room = None;
    loop {
        if let Some(limit) = read_limit(&dir.join(limit_file)) {
            let usage = read_limit(&dir.join(usage_file)).unwrap_or(0);
            room = min_known(room, Some(limit.saturating_sub(usage)));
        }
        if dir == mount || !dir.pop() || !dir.starts_with(mount) {
            break;
        }
    }
    room
}

/// A byte count from a cgroup file; `None` for "max", a huge value or an unreadable file.
fn read_limit(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let bytes = text.trim().parse::<u64>().ok()?;
    (bytes < UNLIMITED).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;

    /// A fake file-system root, removed when dropped.
    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(label: &str) -> FakeRoot {
            let dir = std::env::temp_dir()
                .join(format!("trialflow-memprobe-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let root = FakeRoot(dir);
            root.write(
                "proc/meminfo",
                "MemTotal: 16777216 kB\nMemAvailable: 8388608 kB\n",
            );
            root
        }

        fn write(&self, rel: &str, text: &str) -> &Self {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn probe(&self) -> MemoryProbe {
            MemoryProbe::at(&self.0)
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn without_cgroups_the_host_decides() {
        let root = FakeRoot::new("host");
        assert_eq!(root.probe().host_available(), Some(8 * GIB));
        assert_eq!(root.probe().cgroup_room(), None);
        assert_eq!(root.probe().available(), Some(8 * GIB));
    }

    #[test]
    fn cgroup_v2_limit_minus_usage_of_the_own_cgroup_and_its_ancestors() {
        let root = FakeRoot::new("v2");
        root.write("proc/self/cgroup", "0::/job.slice/step_0\n")
            .write("sys/fs/cgroup/memory.max", "max\n")
            .write("sys/fs/cgroup/job.slice/memory.max", "max\n")
            .write(
                "sys/fs/cgroup/job.slice/step_0/memory.max",
                &format!("{}\n", GIB),
            )
            .write(
                "sys/fs/cgroup/job.slice/step_0/memory.current",
                &format!("{}\n", 256 * MIB),
            );
        assert_eq!(root.probe().cgroup_room(), Some(768 * MIB));
        assert_eq!(root.probe().available(), Some(768 * MIB));

        // A tighter ancestor wins.
        root.write(
            "sys/fs/cgroup/job.slice/memory.max",
            &format!("{}", 600 * MIB),
        )
        .write(
            "sys/fs/cgroup/job.slice/memory.current",
            &format!("{}", 400 * MIB),
        );
        assert_eq!(root.probe().available(), Some(200 * MIB));

        // Usage over the limit leaves no room, never a wrapped-around huge number.
        root.write(
            "sys/fs/cgroup/job.slice/memory.current",
            &format!("{}", 700 * MIB),
        );
        assert_eq!(root.probe().available(), Some(0));
    }

    #[test]
    fn cgroup_v2_max_means_unlimited() {
        let root = FakeRoot::new("v2max");
        root.write("proc/self/cgroup", "0::/\n")
            .write("sys/fs/cgroup/memory.max", "max\n")
            .write("sys/fs/cgroup/memory.current", "12345\n");
        assert_eq!(root.probe().cgroup_room(), None);
        assert_eq!(root.probe().available(), Some(8 * GIB));
    }

    #[test]
    fn cgroup_v1_limit_minus_usage_and_huge_limits_are_unlimited() {
        let root = FakeRoot::new("v1");
        root.write(
            "proc/self/cgroup",
            "9:name=systemd:/\n5:cpu,cpuacct:/\n4:memory:/process_api/abc\n0::/\n",
        )
        .write(
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        )
        .write(
            "sys/fs/cgroup/memory/memory.usage_in_bytes",
            &format!("{}\n", 15 * GIB),
        )
        .write(
            "sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
            &format!("{}", 2 * GIB),
        )
        .write(
            "sys/fs/cgroup/memory/process_api/abc/memory.usage_in_bytes",
            &format!("{}", 1536 * MIB),
        );
        assert_eq!(root.probe().cgroup_room(), Some(512 * MIB));
        assert_eq!(root.probe().available(), Some(512 * MIB));

        // Unlimited everywhere: the host decides.
        root.write(
            "sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
            "9223372036854771712",
        );
        assert_eq!(root.probe().cgroup_room(), None);
        assert_eq!(root.probe().available(), Some(8 * GIB));
    }

    #[test]
    fn a_cgroup_path_hidden_by_a_container_reads_the_mount_itself() {
        let root = FakeRoot::new("v1ns");
        root.write("proc/self/cgroup", "4:memory:/docker/0123abcd\n")
            .write(
                "sys/fs/cgroup/memory/memory.limit_in_bytes",
                &format!("{}", 3 * GIB),
            )
            .write(
                "sys/fs/cgroup/memory/memory.usage_in_bytes",
                &format!("{}", GIB),
            );
        assert_eq!(root.probe().available(), Some(2 * GIB));
    }

    #[test]
    fn the_check_refuses_what_the_cgroup_cannot_hold() {
        let root = FakeRoot::new("check");
        root.write("proc/self/cgroup", "0::/\n")
            .write("sys/fs/cgroup/memory.max", &format!("{}", GIB))
            .write("sys/fs/cgroup/memory.current", "0");
        let estimate = MemoryEstimate {
            per_task: 100 * MIB,
            concurrent_tasks: 4,
            per_worker: 0,
            workers: 1,
            task_output: 50 * MIB,
            task_scratch: 10 * MIB,
            accumulators: 0,
            plans: 0,
            sink: 200 * MIB,
        };
        let available = root.probe().available();
        // 600 MiB against half of the 1 GiB limit (not half of the host's 8 GiB).
        let error = estimate.check_against(available, 0.5).unwrap_err();
        assert!(error.to_string().contains("1.00 GiB"), "{error}");
        assert!(estimate.check_against(available, 0.9).is_ok());
    }

    #[test]
    fn a_task_that_cannot_fit_alone_is_refused_with_both_numbers() {
        let estimate = MemoryEstimate {
            per_task: 0,
            concurrent_tasks: 1,
            per_worker: 320 * MIB,
            workers: 1,
            task_output: 300 * MIB,
            task_scratch: 20 * MIB,
            accumulators: 0,
            plans: 0,
            sink: 0,
        };
        let error = estimate.check_against(Some(GIB), 0.25).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("300.00 MiB")
                && text.contains("20.00 MiB")
                && text.contains("256.00 MiB"),
            "{text}"
        );
        assert!(estimate.check_against(Some(GIB), 0.5).is_ok());
    }
}
