//! `method` and what each method requires of its input before anything runs (Syncopy's
//! up-front checks in `connectivityanalysis`, and the factorisation's needs).

use super::{CoherenceOutput, ConnectivityError};

/// Syncopy's `method` (with `output` for coherence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Coh(CoherenceOutput),
    Csd,
    Ppc,
    Granger,
    Corr,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Coh(_) => "coh",
            Method::Csd => "csd",
            Method::Ppc => "ppc",
            Method::Granger => "granger",
            Method::Corr => "corr",
        }
    }

    /// Syncopy demeans each tapered trial for Granger only (`demean_taper`).
    pub fn demean_taper(self) -> bool {
        self == Method::Granger
    }

    /// Refuses, naming the problem, an input this method cannot reduce: `lens` are the
    /// trial lengths, `n_tapers` the tapers per trial (each adds a rank to the averaged
    /// cross-spectra), `selects_frequencies` whether `foi`/`foilim` are set, `padded`
    /// whether `pad` differs from `maxperlen`.
    pub fn check_input(
        self,
        lens: &[usize],
        channels: usize,
        n_tapers: usize,
        selects_frequencies: bool,
        padded: bool,
    ) -> Result<(), ConnectivityError> {
        let method = self.name();
        let n_trials = lens.len();
        match self {
            Method::Corr => {
                if padded {
                    return Err(ConnectivityError::PadWithCorr);
                }
                if let Some(t) = lens.iter().position(|&n| n != lens[0]) {
                    return Err(ConnectivityError::UnequalTrials {
                        trial: t,
                        samples: lens[t],
                        first: lens[0],
                    });
                }
            }
            // Syncopy: spectral measures "critically depend on trial averaging".
            Method::Coh(_) | Method::Csd | Method::Ppc | Method::Granger if n_trials < 2 => {
                return Err(ConnectivityError::TooFewTrials {
                    method,
                    needed: 2,
                    got: n_trials,
                });
            }
            Method::Granger => {
                if channels < 2 {
                    return Err(ConnectivityError::TooFewChannels {
                        method,
                        needed: 2,
                        got: channels,
                    });
                }
                if selects_frequencies {
                    return Err(ConnectivityError::GrangerFrequencies);
                }
                // The averaged matrices have rank at most trials x tapers; the
                // factorisation needs them positive definite.
                let needed = channels.div_ceil(n_tapers.max(1));
                if n_trials < needed {
                    return Err(ConnectivityError::TooFewTrials {
                        method,
                        needed,
                        got: n_trials,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_a_method_cannot_reduce_are_named() {
        let ok = Method::Coh(CoherenceOutput::Abs).check_input(&[100, 90], 3, 1, false, false);
        assert!(ok.is_ok());
        let cases = [
            (
                Method::Csd,
                vec![100],
                3,
                1,
                false,
                false,
                "at least 2 trials",
            ),
            (
                Method::Granger,
                vec![100; 4],
                1,
                1,
                false,
                false,
                "at least 2 channels",
            ),
            (
                Method::Granger,
                vec![100; 4],
                2,
                1,
                true,
                false,
                "foi/foilim",
            ),
            (
                Method::Granger,
                vec![100; 4],
                6,
                1,
                false,
                false,
                "at least 6 trials",
            ),
            (
                Method::Corr,
                vec![100, 99],
                2,
                1,
                false,
                false,
                "trial 1 has 99",
            ),
            (Method::Corr, vec![100, 100], 2, 1, false, true, "pad"),
        ];
        for (method, lens, channels, tapers, foi, pad, want) in cases {
            let msg = method
                .check_input(&lens, channels, tapers, foi, pad)
                .unwrap_err()
                .to_string();
            assert!(msg.contains(want), "{method:?}: {msg}");
            assert!(!msg.contains('\n'));
        }
        // more tapers make up for trials
        assert!(Method::Granger
            .check_input(&[100; 2], 6, 3, false, false)
            .is_ok());
    }
}
