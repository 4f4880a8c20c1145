use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, Plan, Planner, RoutineError, Scratch,
    ScratchSize, TimeSupport, TrialInput,
};

use super::boundary::ExtendMode;
use super::correlate::{Correlation, Simd};
use crate::params::{setters, Keyword};

use super::{pairwise_sum, row_scratch, row_task, SmoothingError, MAX_TAPS};

/// Parameters of `gaussian` (SciPy's names): what a pipeline step deserialises into, and the
/// typed builder (`GaussianParams::new().sigma(3.0).mode(ExtendMode::Wrap)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianParams {
    pub sigma: Option<f64>,
    pub order: Option<i64>,
    pub mode: Option<ExtendMode>,
    pub cval: Option<f64>,
    pub truncate: Option<f64>,
    pub radius: Option<i64>,
}

setters!(GaussianParams {
    sigma: f64,
    order: i64,
    mode: ExtendMode,
    cval: f64,
    truncate: f64,
    radius: i64,
});

impl GaussianParams {
    pub fn check(self) -> Result<Gaussian, SmoothingError> {
        let sigma = self.sigma.ok_or(SmoothingError::Missing("sigma"))?;
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(SmoothingError::range("sigma", "a finite number > 0", sigma));
        }
        if !(-0.5 / (sigma * sigma)).is_finite() {
            // SciPy: ZeroDivisionError when sigma**2 underflows to 0, an all-NaN kernel when
            // -0.5 / sigma**2 overflows.
            return Err(SmoothingError::range(
                "sigma",
                "large enough that 1 / sigma**2 is finite (sigma >= 1e-154; SciPy fails below that)",
                sigma,
            ));
        }
        let order = self.order.unwrap_or(0);
        if !(0..=3).contains(&order) {
            return Err(SmoothingError::range("order", "0, 1, 2 or 3", order));
        }
        let mode = self.mode.unwrap_or_default();
        let cval = self.cval.unwrap_or(0.0);
        let truncate = self.truncate.unwrap_or(4.0);
        if !(truncate.is_finite() && truncate > 0.0) {
            return Err(SmoothingError::range(
                "truncate",
                "a finite number > 0",
                truncate,
            ));
        }
        let max_radius = (MAX_TAPS - 1) / 2;
        let lw = match self.radius {
            Some(r) if r < 0 => {
                return Err(SmoothingError::range("radius", "a nonnegative integer", r));
            }
            Some(r) => {
                if r as u64 > max_radius as u64 {
                    return Err(SmoothingError::KernelTooLong {
                        what: format!("radius {r}"),
                        taps: format!("{}", 2 * (r as u128) + 1),
                        limit: MAX_TAPS,
                        hint: "use a smaller radius",
                    });
                }
                r as usize
            }
            None => {
                // SciPy: lw = int(truncate * sd + 0.5), truncating toward zero.
                let lw = truncate * sigma + 0.5;
                if lw >= (max_radius + 1) as f64 {
                    return Err(SmoothingError::KernelTooLong {
                        what: format!(
                            "sigma {sigma} with truncate {truncate} (radius {:.0})",
                            lw.trunc()
                        ),
                        taps: format!("{:.0}", 2.0 * lw.trunc() + 1.0),
                        limit: MAX_TAPS,
                        hint: "set `radius`, or a smaller sigma or truncate",
                    });
                }
                lw as usize
            }
        };
        Ok(Gaussian {
            sigma,
            order: order as u32,
            mode,
            cval,
            truncate,
            radius: self.radius.map(|r| r as usize),
            lw,
            kernel: OnceLock::new(),
            simd: None,
        })
    }
}

/// `scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, order, mode, cval, truncate, radius)`
/// per trial and channel.
///
/// The kernel is SciPy's (`_gaussian_kernel1d`: `exp(-x²/(2σ²))` normalised by numpy's
/// pairwise sum, times the derivative polynomial for `order > 0`), reversed and applied as
/// `correlate1d`, with `NI_Correlate1D`'s summation order and `NI_ExtendLine`'s boundary
/// extension (periodic reflection for kernels longer than the trial).
#[derive(Debug, Clone)]
pub struct Gaussian {
    sigma: f64,
    order: u32,
    mode: ExtendMode,
    cval: f64,
    truncate: f64,
    radius: Option<usize>,
    lw: usize,
    kernel: OnceLock<Arc<Correlation>>,
    /// The instruction set of the interior loop; `None` picks the widest the CPU has. It
    /// never changes a result (every path gives the same bits), so `cfg` leaves it out.
    simd: Option<Simd>,
}

impl Gaussian {
    /// The kernel radius in samples (`radius`, or `int(truncate * sigma + 0.5)`).
    pub fn kernel_radius(&self) -> usize {
        self.lw
    }

    /// The same routine with its inner loop on the `simd` path, or `None` if this CPU cannot
    /// run it: how tests and benchmarks compare the run-time dispatch's paths on one machine.
    pub fn force_simd(mut self, simd: Simd) -> Option<Gaussian> {
        if !simd.available() {
            return None;
        }
        self.simd = Some(simd);
        Some(self)
    }

    /// The correlation weights SciPy passes to `correlate1d` (the kernel reversed).
    pub fn weights(&self) -> Vec<f64> {
        self.correlation().taps().to_vec()
    }

    fn correlation(&self) -> Arc<Correlation> {
        self.kernel
            .get_or_init(|| {
                let mut taps = gaussian_kernel(self.sigma, self.order, self.lw);
                taps.reverse();
                Arc::new(Correlation::new(taps, 0))
            })
            .clone()
    }
}

/// `scipy.ndimage._filters._gaussian_kernel1d(sigma, order, radius)`.
pub(crate) fn gaussian_kernel(sigma: f64, order: u32, radius: usize) -> Vec<f64> {
    let sigma2 = sigma * sigma;
    let r = radius as i64;
    let a = -0.5 / sigma2;
    let mut phi: Vec<f64> = (-r..=r).map(|x| (a * (x * x) as f64).exp()).collect();
    let sum = pairwise_sum(&phi);
    phi.iter_mut().for_each(|p| *p /= sum);
    if order == 0 {
        return phi;
    }
    // q(x) with f^(k)(x) = q(x) phi(x): q <- q' + q p', p'(x) = -x / sigma², applied `order`
    // times to the coefficient vector (SciPy's (D + P) @ q).
    let k = order as usize;
    let mut q = vec![0.0; k + 1];
    q[0] = 1.0;
    let p = 1.0 / -sigma2;
    for _ in 0..k {
        let mut next = vec![0.0; k + 1];
        for (i, nx) in next.iter_mut().enumerate() {
            let mut v = 0.0;
            if i >= 1 {
                v += p * q[i - 1];
            }
            if i < k {
                v += (i + 1) as f64 * q[i + 1];
            }
            *nx = v;
        }
        q = next;
    }
    (-r..=r)
        .zip(phi)
        .map(|(x, ph)| {
            let mut poly = 0.0;
            let mut xp = 1.0;
            for &qi in &q {
                poly += xp * qi;
                xp *= x as f64;
            }
            poly * ph
        })
        .collect()
}

impl ComputationalRoutine for Gaussian {
    fn name(&self) -> &str {
        "gaussian"
    }

    /// Each output is a correlation over `radius` samples each side; `wrap` reads the far
    /// end of the trial at its edges, so it needs the whole trial.
    fn time_support(&self) -> TimeSupport {
        self.mode.time_support(self.lw + 1)
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "sigma": self.sigma,
            "order": self.order,
            "mode": self.mode.as_str(),
            "cval": self.cval,
            "truncate": self.truncate,
            "radius": self.radius,
        })
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        Ok(Arc::new(GaussianKernel {
            correlation: self.correlation(),
            simd: self.simd.unwrap_or_else(Simd::detect),
            mode: self.mode,
            cval: self.cval,
            scratch: row_scratch(task_shape[0], task_shape[1], 0),
        }))
    }
}

/// The Gaussian's correlation weights (shared by every shape) and its boundary.
struct GaussianKernel {
    correlation: Arc<Correlation>,
    simd: Simd,
    mode: ExtendMode,
    cval: f64,
    scratch: ScratchSize,
}

impl Kernel for GaussianKernel {
    fn state_bytes(&self) -> usize {
        self.correlation.state_bytes()
    }

    fn scratch_size(&self) -> ScratchSize {
        self.scratch
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let (corr, simd) = (&self.correlation, self.simd);
        row_task(
            input,
            output,
            scratch,
            self.mode,
            self.cval,
            0,
            |lines, i0, dst, _| corr.rows_with(simd, lines, i0, dst),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(sigma: f64) -> GaussianParams {
        GaussianParams {
            sigma: Some(sigma),
            ..Default::default()
        }
    }

    #[test]
    fn radius_follows_truncate_like_scipy() {
        assert_eq!(params(1.0).check().unwrap().kernel_radius(), 4);
        assert_eq!(params(2.3).check().unwrap().kernel_radius(), 9); // int(9.7)
        let g = GaussianParams {
            truncate: Some(0.01),
            ..params(1.0)
        };
        assert_eq!(g.check().unwrap().kernel_radius(), 0);
        let g = GaussianParams {
            radius: Some(7),
            ..params(1.0)
        };
        assert_eq!(g.check().unwrap().kernel_radius(), 7);
    }

    #[test]
    fn kernel_sums_to_one_and_derivatives_have_scipy_moments() {
        let k0 = gaussian_kernel(2.0, 0, 8);
        assert!((k0.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // The first-derivative kernel (before reversal) has sum x * k(x) = -sum phi x²/σ² ≈ -1.
        let k1 = gaussian_kernel(2.0, 1, 12);
        let m1: f64 = k1
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 - 12.0) * v)
            .sum();
        assert!((m1 + 1.0).abs() < 1e-6, "{m1}");
        // Second derivative: sum x² k(x) / 2 ≈ 1.
        let k2 = gaussian_kernel(2.0, 2, 16);
        let m2: f64 = k2
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 - 16.0).powi(2) * v)
            .sum();
        assert!((m2 / 2.0 - 1.0).abs() < 1e-6, "{m2}");
    }

    #[test]
    fn invalid_values_name_the_parameter() {
        let msg = |p: GaussianParams| p.check().unwrap_err().to_string();
        assert!(msg(GaussianParams::default()).contains("sigma"));
        assert!(msg(params(0.0)).starts_with("sigma must be"));
        assert!(msg(params(-1.0)).starts_with("sigma must be"));
        assert!(msg(params(1e-160)).starts_with("sigma must be"));
        assert!(msg(GaussianParams {
            order: Some(4),
            ..params(1.0)
        })
        .starts_with("order must be"));
        assert!(msg(GaussianParams {
            truncate: Some(0.0),
            ..params(1.0)
        })
        .starts_with("truncate"));
        assert!(msg(GaussianParams {
            radius: Some(-1),
            ..params(1.0)
        })
        .starts_with("radius"));
        assert!(<ExtendMode as Keyword>::from_word("grid")
            .unwrap_err()
            .contains("'reflect', 'mirror', 'nearest', 'constant', 'wrap'"));
        let huge = msg(params(1e9));
        assert!(
            huge.contains("sigma 1000000000") && huge.contains("limit"),
            "{huge}"
        );
        let huge = msg(GaussianParams {
            radius: Some(1 << 40),
            ..params(1.0)
        });
        assert!(huge.contains("radius"), "{huge}");
    }
}
