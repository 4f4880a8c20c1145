//! The selection flags (`--trials`, `--channels`, `--latency`, `--foilim`) checked against
//! an object: errors name the flag and what the object has, so a typo is fixed at once.

use std::ops::Range;

use trialflow_core::TrialDefinition;

use crate::error::PlotError;

/// Parses `all`, or a list of 0-based indices and inclusive ranges: `0,3,5-9`.
pub fn parse_trials(
    text: Option<&str>,
    n_trials: usize,
    default: &[usize],
) -> Result<Vec<usize>, PlotError> {
    let Some(text) = text else {
        return Ok(default.to_vec());
    };
    if text.trim() == "all" {
        return Ok((0..n_trials).collect());
    }
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim) {
        let bad = || {
            PlotError::selection(
                "--trials",
                format!("'{item}' is not a trial index or range (e.g. 0,3,5-9 or all)"),
            )
        };
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let i = item.parse::<usize>().map_err(|_| bad())?;
                (i, i)
            }
        };
        if a > b || b >= n_trials {
            return Err(PlotError::selection(
                "--trials",
                format!(
                    "'{item}' is outside the object's trials 0-{}",
                    n_trials.saturating_sub(1)
                ),
            ));
        }
        out.extend(a..=b);
    }
    out.dedup();
    Ok(out)
}

/// Parses channel labels or 0-based indices and inclusive index ranges: `channel003,5-7`.
/// A label wins over an index when a channel is literally named `3`.
pub fn parse_channels(text: Option<&str>, labels: &[String]) -> Result<Vec<usize>, PlotError> {
    let Some(text) = text else {
        return Ok((0..labels.len()).collect());
    };
    let mut out: Vec<usize> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(i) = labels.iter().position(|l| l == item) {
            out.push(i);
            continue;
        }
        let range = match item.split_once('-') {
            Some((a, b)) => a
                .trim()
                .parse::<usize>()
                .ok()
                .zip(b.trim().parse::<usize>().ok()),
            None => item.parse::<usize>().ok().map(|i| (i, i)),
        };
        match range {
            Some((a, b)) if a <= b && b < labels.len() => out.extend(a..=b),
            _ => {
                return Err(PlotError::selection(
                    "--channels",
                    format!(
                        "no channel '{item}'; the object has {} ({})",
                        labels.len(),
                        preview(labels)
                    ),
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(PlotError::selection("--channels", "selects no channel"));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(*c));
    Ok(out)
}

/// Rows of `trial` whose time `(row + offset) / rate` lies in `latency` (all rows without
/// one).
pub fn time_rows(
    def: &TrialDefinition,
    trial: usize,
    rate: f64,
    latency: Option<(f64, f64)>,
) -> Range<usize> {
    let len = def.trial_len(trial);
    let Some((t0, t1)) = latency else {
        return 0..len;
    };
    let offset = def.offset(trial);
    let first = (t0 * rate - offset - 1e-9).ceil().max(0.0);
    let last = (t1 * rate - offset + 1e-9).floor();
    if last < first || first >= len as f64 {
        return 0..0;
    }
    first as usize..((last as usize) + 1).min(len)
}

/// Checks `--latency` is an interval and overlaps at least one selected trial; trials it
/// misses are dropped.
pub fn apply_latency(
    def: &TrialDefinition,
    trials: Vec<usize>,
    rate: f64,
    latency: Option<(f64, f64)>,
) -> Result<Vec<usize>, PlotError> {
    let Some((t0, t1)) = latency else {
        return Ok(trials);
    };
    if !(t0.is_finite() && t1.is_finite() && t0 < t1) {
        return Err(PlotError::selection(
            "--latency",
            format!("{t0} {t1}: need T0 < T1 (seconds)"),
        ));
    }
    let kept: Vec<usize> = trials
        .iter()
        .copied()
        .filter(|&t| !time_rows(def, t, rate, latency).is_empty())
        .collect();
    if kept.is_empty() {
        let span = trials
            .iter()
            .map(|&t| {
                (
                    def.offset(t) / rate,
                    (def.trial_len(t) as f64 - 1.0 + def.offset(t)) / rate,
                )
            })
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, b| {
                (a.0.min(b.0), a.1.max(b.1))
            });
        return Err(PlotError::selection(
            "--latency",
            format!(
                "{t0} s to {t1} s lies outside every selected trial (they span {:.4} s to {:.4} s)",
                span.0, span.1
            ),
        ));
    }
    Ok(kept)
}

/// Frequencies of `freq` inside `foilim` (all without one), as an index range.
pub fn freq_range(freq: &[f64], foilim: Option<(f64, f64)>) -> Result<Range<usize>, PlotError> {
    let Some((f0, f1)) = foilim else {
        return Ok(0..freq.len());
    };
    if !(f0.is_finite() && f1.is_finite() && f0 < f1) {
        return Err(PlotError::selection(
            "--foilim",
            format!("{f0} {f1}: need F0 < F1 (Hz)"),
        ));
    }
    let first = freq.iter().position(|&f| f >= f0).unwrap_or(freq.len());
    let end = freq.iter().rposition(|&f| f <= f1).map_or(0, |i| i + 1);
    if first >= end {
        return Err(PlotError::selection(
            "--foilim",
            format!(
                "{f0} Hz to {f1} Hz holds no frequency of the object ({} to {} Hz)",
                freq.first().copied().unwrap_or(f64::NAN),
                freq.last().copied().unwrap_or(f64::NAN)
            ),
        ));
    }
    Ok(first..end)
}

/// Indices as maximal runs of consecutive values, so each run is one hyperslab read.
pub fn runs(indices: &[usize]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for &i in indices {
        match out.last_mut() {
            Some(r) if r.end == i => r.end += 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// `0-4,7` for a title.
pub fn compact(indices: &[usize]) -> String {
    runs(indices)
        .iter()
        .map(|r| {
            if r.len() == 1 {
                r.start.to_string()
            } else {
                format!("{}-{}", r.start, r.end - 1)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn preview(labels: &[String]) -> String {
    if labels.len() <= 6 {
        labels.join(", ")
    } else {
        format!(
            "{}, ..., {}",
            labels[..3].join(", "),
            labels[labels.len() - 2..].join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_and_channels_parse_and_refuse() {
        assert_eq!(
            parse_trials(Some("0,2-4"), 5, &[0]).unwrap(),
            vec![0, 2, 3, 4]
        );
        assert!(parse_trials(Some("5"), 5, &[0]).is_err());
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_channels(Some("c,0-1"), &labels).unwrap(),
            vec![2, 0, 1]
        );
        let e = parse_channels(Some("zz"), &labels).unwrap_err().to_string();
        assert!(e.starts_with("--channels: no channel 'zz'"), "{e}");
        assert_eq!(runs(&[0, 1, 2, 5, 6, 9]), vec![0..3, 5..7, 9..10]);
    }

    #[test]
    fn latency_rows_follow_the_offset() {
        // 10 samples at 10 Hz, t = 0 at the third sample: times -0.2 .. 0.7.
        let def = TrialDefinition::from_trials(&[(0, 10, -2.0)], &[]);
        assert_eq!(time_rows(&def, 0, 10.0, Some((0.0, 0.3))), 2..6);
        assert!(apply_latency(&def, vec![0], 10.0, Some((5.0, 6.0))).is_err());
        assert_eq!(
            freq_range(&[0.0, 1.0, 2.0, 3.0], Some((0.5, 2.0))).unwrap(),
            1..3
        );
    }
}
