//! Frequency axes and Syncopy's frequency selection (`foi`, `foilim`).

/// `numpy.fft.rfftfreq(n, 1 / fs)`, with numpy's operations (`k * (1 / (n * d))`), so the
/// labels are numpy's bit for bit.
pub fn rfftfreq(n: usize, samplerate: f64) -> Vec<f64> {
    let d = 1.0 / samplerate;
    let val = 1.0 / (n as f64 * d);
    (0..n / 2 + 1).map(|k| k as f64 * val).collect()
}

/// Syncopy's `best_match(freqs, foi, squash_duplicates=True)`: the nearest bin for each
/// requested frequency (a tie goes to the higher bin), repeated bins dropped, first
/// occurrences kept in request order. `freqs` is ascending.
pub fn nearest_bins(freqs: &[f64], foi: &[f64]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(foi.len());
    for &f in foi {
        // numpy.searchsorted(side='left'): the first index with freqs[idx] >= f.
        let idx = freqs.partition_point(|&v| v < f);
        let left = (f - freqs[idx.saturating_sub(1)]).abs();
        let right = (f - freqs[idx.min(freqs.len() - 1)]).abs();
        let pick = if idx == freqs.len() || left < right {
            idx - 1
        } else {
            idx
        };
        if !out.contains(&pick) {
            out.push(pick);
        }
    }
    out
}

/// Syncopy's `best_match(freqs, foilim, span=True)`: every bin with `lo <= f <= hi`.
pub fn bins_within(freqs: &[f64], lo: f64, hi: f64) -> Vec<usize> {
    (0..freqs.len())
        .filter(|&i| freqs[i] >= lo && freqs[i] <= hi)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foi_picks_nearest_bins_like_syncopy() {
        let freqs = rfftfreq(1000, 1000.0);
        assert_eq!(freqs.len(), 501);
        let bins = nearest_bins(&freqs, &[10.3, 10.4, 50.2, 70.0]);
        assert_eq!(bins, vec![10, 50, 70]);
        // a tie goes up; order of the request is kept
        assert_eq!(nearest_bins(&freqs, &[20.5, 3.0, 600.0]), vec![21, 3, 500]);
        assert_eq!(bins_within(&freqs, 2.5, 5.0), vec![3, 4, 5]);
    }
}
