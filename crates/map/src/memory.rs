//! Wall time and peak memory of one call, for the dry run.

use std::time::{Duration, Instant};

/// Runs `f` and measures its wall time and the peak resident memory it added. The peak
/// comes from Linux's high-water mark (`VmHWM`), reset before the call by writing `5` to
/// `/proc/self/clear_refs`; where that is not possible the peak is `None` rather than a
/// number that would include earlier, unrelated peaks.
pub(crate) fn measure<R>(f: impl FnOnce() -> R) -> (R, Duration, Option<u64>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    let peak = status_kib("VmHWM:");
    let added = match (reset, before, peak) {
        (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before) * 1024),
        _ => None,
    };
    (value, elapsed, added)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_allocation_shows_in_the_peak() {
        let (_, _, added) = super::measure(|| {
            let v = vec![1u8; 64 << 20];
            std::hint::black_box(&v);
            v.iter().map(|&x| x as u64).sum::<u64>()
        });
        if let Some(added) = added {
            assert!(added >= 60 << 20, "peak increase {added} bytes");
        }
    }
}
