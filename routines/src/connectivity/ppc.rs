//! Pairwise phase consistency (Vinck et al. 2010), as Syncopy's `ppc`.
//!
//! Syncopy forms every pair of trials (j < k) and averages `cos(arg(z_j conj z_k))` of the
//! single-trial cross-spectra `z`, weighting its column averages so that the result is
//! `2 / (n (n-1)) Σ_{j<k} cos(θ_j - θ_k)`. With unit phasors `u = z / |z|`,
//! `Σ_{j<k} cos(θ_j - θ_k) = (|Σ u|² - n) / 2`, so one pass over the trials suffices: each
//! trial contributes its phasors, the sum is their running sum and the finish step is
//! `(|Σ u|² - n) / (n (n-1))`.

use ndarray::{Array3, ArrayView3, ArrayViewMut3, Zip};
use num_complex::Complex64 as C64;

/// One trial's contribution: the unit phasors of its cross-spectra. A zero cross-spectrum
/// has phase 0 (numpy's `angle(0)`), so its phasor is 1.
pub fn contribution(cross: ArrayView3<'_, C64>, mut out: ArrayViewMut3<'_, C64>) {
    Zip::from(&mut out).and(&cross).for_each(|u, &z| {
        let r = z.norm();
        *u = if r > 0.0 { z / r } else { C64::new(1.0, 0.0) };
    });
}

/// The finish step: PPC from the summed phasors of `n_trials` trials (at least 2).
pub fn finish(sum: &Array3<C64>, n_trials: usize) -> Array3<f64> {
    let n = n_trials as f64;
    sum.mapv(|s| (s.norm_sqr() - n) / (n * (n - 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_equals_syncopys_average_over_trial_pairs() {
        let n = 7;
        let z: Vec<C64> = (0..n)
            .map(|t| C64::from_polar(0.5 + t as f64, 0.9 * t as f64 * t as f64 + 0.3))
            .collect();
        let mut pairs = 0.0;
        for j in 0..n {
            for k in j + 1..n {
                pairs += (z[j] * z[k].conj()).arg().cos();
            }
        }
        let want = 2.0 * pairs / (n * (n - 1)) as f64;
        let mut sum = Array3::<C64>::zeros((1, 1, 1));
        let mut u = Array3::<C64>::zeros((1, 1, 1));
        for &v in &z {
            let trial = Array3::from_elem((1, 1, 1), v);
            contribution(trial.view(), u.view_mut());
            sum += &u;
        }
        let got = finish(&sum, n)[[0, 0, 0]];
        assert!((got - want).abs() < 1e-14, "{got} vs {want}");
    }
}
