use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use trialflow_core::{
    ComputationalRoutine, DataSchema, Kernel, OutputBlock, OutputShape, Plan, Planner,
    RoutineError, Scratch, ScratchSize, TimeSupport, TrialInput,
};

use super::boundary::{ExtendMode, Lines};
use super::correlate::Correlation;
use super::linalg::ThinQr;
use super::{row_scratch, row_task, SmoothingError, MAX_TAPS};
use crate::params::{keyword_serde, setters, Keyword};

/// The highest `polyorder` accepted. The least-squares fit costs `window_length *
/// (polyorder + 1)²` and its memory `window_length * (polyorder + 1)` (at most `MAX_TAPS`).
pub const MAX_POLYORDER: usize = 100;

/// How `savgol_filter` treats the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SavgolMode {
    #[default]
    /// Fit a polynomial to the first and last `window_length` samples (SciPy's default).
    Interp,
    /// Extend as ndimage does (`mirror`, `nearest`, `constant` or `wrap`; never `reflect`).
    Extend(ExtendMode),
}

impl Keyword for SavgolMode {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("interp", SavgolMode::Interp),
        ("mirror", SavgolMode::Extend(ExtendMode::Mirror)),
        ("nearest", SavgolMode::Extend(ExtendMode::Nearest)),
        ("constant", SavgolMode::Extend(ExtendMode::Constant)),
        ("wrap", SavgolMode::Extend(ExtendMode::Wrap)),
    ];
    const EXPECTED: &'static str = "one of 'interp', 'mirror', 'nearest', 'constant', 'wrap'";

    fn from_word(word: &str) -> Result<Self, String> {
        if word == "reflect" {
            return Err(SmoothingError::SavgolReflect.to_string());
        }
        Self::SPELLINGS
            .iter()
            .find(|(s, _)| *s == word)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("must be {}, got '{word}'", Self::EXPECTED))
    }
}
keyword_serde!(SavgolMode);

/// Parameters of `savgol` (SciPy's names): what a pipeline step deserialises into, and the
/// typed builder (`SavgolParams::new().window_length(11).polyorder(3)`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavgolParams {
    pub window_length: Option<i64>,
    pub polyorder: Option<i64>,
    pub deriv: Option<i64>,
    pub delta: Option<f64>,
    pub mode: Option<SavgolMode>,
    pub cval: Option<f64>,
}

setters!(SavgolParams {
    window_length: i64,
    polyorder: i64,
    deriv: i64,
    delta: f64,
    mode: SavgolMode,
    cval: f64,
});

impl SavgolParams {
    pub fn check(self) -> Result<Savgol, SmoothingError> {
        let wl = self
            .window_length
            .ok_or(SmoothingError::Missing("window_length"))?;
        if wl < 1 {
            return Err(SmoothingError::range(
                "window_length",
                "an integer >= 1",
                wl,
            ));
        }
        if wl as u64 > MAX_TAPS as u64 {
            return Err(SmoothingError::KernelTooLong {
                what: format!("window_length {wl}"),
                taps: wl.to_string(),
                limit: MAX_TAPS,
                hint: "use a shorter window",
            });
        }
        let window_length = wl as usize;
        let polyorder = self.polyorder.ok_or(SmoothingError::Missing("polyorder"))?;
        if polyorder < 0 {
            return Err(SmoothingError::range(
                "polyorder",
                "an integer >= 0",
                polyorder,
            ));
        }
        if polyorder >= wl {
            return Err(SmoothingError::Polyorder {
                polyorder: polyorder as usize,
                window_length,
            });
        }
        let (p, k) = (polyorder as usize, polyorder as usize + 1);
        if p > MAX_POLYORDER || k.saturating_mul(window_length) > MAX_TAPS {
            return Err(SmoothingError::FitTooLarge {
                window_length,
                polyorder: p,
                columns: k,
                limit: MAX_TAPS,
                max_polyorder: MAX_POLYORDER,
            });
        }
        let deriv = self.deriv.unwrap_or(0);
        if deriv < 0 {
            return Err(SmoothingError::range("deriv", "an integer >= 0", deriv));
        }
        let delta = self.delta.unwrap_or(1.0);
        if !delta.is_finite() || (deriv > 0 && delta == 0.0) {
            return Err(SmoothingError::range(
                "delta",
                "a finite number, nonzero when deriv > 0",
                delta,
            ));
        }
        let mode = self.mode.unwrap_or_default();
        Ok(Savgol {
            window_length,
            polyorder: polyorder as usize,
            deriv: deriv as usize,
            delta,
            mode,
            cval: self.cval.unwrap_or(0.0),
            tables: OnceLock::new(),
        })
    }
}

/// `scipy.signal.savgol_filter(x, window_length, polyorder, deriv, delta, axis=0, mode, cval)`
/// per trial and channel.
///
/// The coefficients solve `savgol_coeffs`' least-squares problem with a Householder QR on
/// scaled abscissae (SciPy uses an SVD; both give the minimum-norm solution, to rounding),
/// and are applied as `convolve1d` does (reversed, origin -1 for even windows). In mode
/// `interp` the first and last `window_length // 2` outputs come from a degree-`polyorder`
/// least-squares fit to the first and last `window_length` samples (differentiated and
/// divided by `delta**deriv`), through a pseudo-inverse planned once.
#[derive(Debug, Clone)]
pub struct Savgol {
    window_length: usize,
    polyorder: usize,
    deriv: usize,
    delta: f64,
    mode: SavgolMode,
    cval: f64,
    tables: OnceLock<Arc<SavgolTables>>,
}

/// What `plan` precomputes (independent of the trial shape, so built once and shared).
#[derive(Debug)]
struct SavgolTables {
    filter: Correlation,
    edges: Option<EdgeFit>,
}

/// The interp mode's edge fit: `pinv` (`k x window_length`) gives the polynomial's
/// coefficients (in the scaled variable) from a window; `left` and `right`
/// (`halflen x k`) evaluate its `deriv`-th derivative, divided by `delta**deriv`, at the
/// replaced positions.
#[derive(Debug)]
struct EdgeFit {
    k: usize,
    halflen: usize,
    pinv: Vec<f64>,
    left: Vec<f64>,
    right: Vec<f64>,
}

impl Savgol {
    pub fn mode(&self) -> SavgolMode {
        self.mode
    }

    /// The coefficients `scipy.signal.savgol_coeffs(window_length, polyorder, deriv, delta)`
    /// returns (`use='conv'` order).
    pub fn coeffs(&self) -> Vec<f64> {
        let mut c = self.tables().filter.taps().to_vec();
        c.reverse();
        c
    }

    fn tables(&self) -> Arc<SavgolTables> {
        self.tables
            .get_or_init(|| {
                let taps =
                    savgol_coeffs_dot(self.window_length, self.polyorder, self.deriv, self.delta);
                let origin = if self.window_length.is_multiple_of(2) {
                    -1
                } else {
                    0
                };
                let edges = (self.mode == SavgolMode::Interp && self.window_length >= 2)
                    .then(|| edge_fit(self.window_length, self.polyorder, self.deriv, self.delta));
                Arc::new(SavgolTables {
                    filter: Correlation::new(taps, origin),
                    edges,
                })
            })
            .clone()
    }
}

/// `savgol_coeffs(..., use='dot')`: `out[i] = sum_j c[j] x[i + j - pos]`, the minimum-norm
/// solution of `sum_j (j - pos)^p c[j] = deriv! / delta^deriv` for `p == deriv`, else 0,
/// `p = 0..=polyorder`, with `pos = (window_length - 1) / 2`.
fn savgol_coeffs_dot(wl: usize, polyorder: usize, deriv: usize, delta: f64) -> Vec<f64> {
    if deriv > polyorder {
        return vec![0.0; wl];
    }
    let pos = (wl - 1) as f64 / 2.0;
    // Scaled abscissae u = (j - pos) / s in [-1, 1]: the system for u has the same
    // minimum-norm solution once the right-hand side is divided by s^deriv.
    let s = pos.max(1.0);
    let u: Vec<f64> = (0..wl).map(|j| (j as f64 - pos) / s).collect();
    let qr = ThinQr::new(&powers(&u, polyorder));
    let mut y = vec![0.0; polyorder + 1];
    y[deriv] = factorial(deriv) / delta.powf(deriv as f64) / s.powi(deriv as i32);
    let mut c = qr.min_norm_transposed(&y);
    // The exact solution is even in (j - pos) for even deriv and odd for odd deriv; make the
    // rounding respect that, as NI_Correlate1D's symmetric paths expect.
    for j in 0..wl / 2 {
        let (a, b) = (c[j], c[wl - 1 - j]);
        if deriv.is_multiple_of(2) {
            let m = 0.5 * (a + b);
            c[j] = m;
            c[wl - 1 - j] = m;
        } else {
            let d = 0.5 * (a - b);
            c[j] = d;
            c[wl - 1 - j] = -d;
        }
    }
    if wl % 2 == 1 && deriv % 2 == 1 {
        c[wl / 2] = 0.0;
    }
    c
}

fn edge_fit(wl: usize, polyorder: usize, deriv: usize, delta: f64) -> EdgeFit {
    let k = polyorder + 1;
    let halflen = wl / 2;
    let m = (wl - 1) as f64 / 2.0;
    let h = m.max(1.0);
    let u: Vec<f64> = (0..wl).map(|j| (j as f64 - m) / h).collect();
    let pinv = ThinQr::new(&powers(&u, polyorder)).pinv();
    // d^deriv/dt^deriv of u^i, u = (t - m) / h, divided by delta^deriv.
    let scale = 1.0 / (h.powi(deriv as i32) * delta.powf(deriv as f64));
    let eval = |t: usize| -> Vec<f64> {
        (0..k)
            .map(|i| {
                if i < deriv {
                    0.0
                } else {
                    let falling: f64 = (i - deriv + 1..=i).map(|f| f as f64).product();
                    falling * u[t].powi((i - deriv) as i32) * scale
                }
            })
            .collect()
    };
    let left = (0..halflen).flat_map(eval).collect();
    let right = (wl - halflen..wl).flat_map(eval).collect();
    EdgeFit {
        k,
        halflen,
        pinv,
        left,
        right,
    }
}

/// The columns `u^0, u^1, ..., u^polyorder`.
fn powers(u: &[f64], polyorder: usize) -> Vec<Vec<f64>> {
    let mut cols = vec![vec![1.0; u.len()]];
    for p in 1..=polyorder {
        let next: Vec<f64> = cols[p - 1].iter().zip(u).map(|(a, b)| a * b).collect();
        cols.push(next);
    }
    cols
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|f| f as f64).product()
}

impl EdgeFit {
    /// Least-squares coefficients (`k` rows of `ch`) of the window starting at row `start`.
    fn fit(&self, lines: &Lines<'_>, start: usize, coef: &mut [f64]) {
        let wl = self.pinv.len() / self.k;
        let ch = coef.len() / self.k;
        for (i, ci) in coef.chunks_exact_mut(ch).enumerate() {
            ci.fill(0.0);
            for (j, &w) in self.pinv[i * wl..(i + 1) * wl].iter().enumerate() {
                for (c, &x) in ci.iter_mut().zip(lines.row(start + j)) {
                    *c += w * x;
                }
            }
        }
    }

    /// `dst = sum_i basis[i] * coef[i]`.
    fn eval(&self, basis: &[f64], coef: &[f64], dst: &mut [f64]) {
        dst.fill(0.0);
        for (&b, ci) in basis.iter().zip(coef.chunks_exact(dst.len())) {
            for (d, &c) in dst.iter_mut().zip(ci) {
                *d += b * c;
            }
        }
    }
}

impl ComputationalRoutine for Savgol {
    fn name(&self) -> &str {
        "savgol"
    }

    /// A correlation over the window; `interp` fits the first and last `window_length`
    /// samples at the trial's edges, so the margin is a whole window (a chunk's block
    /// then always holds them); `wrap` needs the whole trial.
    fn time_support(&self) -> TimeSupport {
        match self.mode {
            SavgolMode::Interp => TimeSupport::Margin(self.window_length),
            SavgolMode::Extend(mode) => mode.time_support(self.window_length),
        }
    }

    fn cfg(&self) -> serde_json::Value {
        serde_json::json!({
            "window_length": self.window_length,
            "polyorder": self.polyorder,
            "deriv": self.deriv,
            "delta": self.delta,
            "mode": self.mode.as_str(),
            "cval": self.cval,
        })
    }

    fn initialize(&self, input: &DataSchema) -> Result<OutputShape, RoutineError> {
        if self.mode == SavgolMode::Interp {
            for (trial, shape) in input.trial_shapes.iter().enumerate() {
                let samples = shape.first().copied().unwrap_or(0);
                if self.window_length > samples {
                    return Err(SmoothingError::WindowLongerThanTrial {
                        trial,
                        samples,
                        window_length: self.window_length,
                    }
                    .into());
                }
            }
        }
        Ok(OutputShape::same_as(input))
    }

    fn plan(
        &self,
        task_shape: &[usize],
        _input: &DataSchema,
        _planner: &mut Planner,
    ) -> Result<Plan, RoutineError> {
        let tables = self.tables();
        let (n, ch) = (task_shape[0], task_shape[1]);
        let extra = tables.edges.as_ref().map_or(0, |e| e.k * ch);
        Ok(Arc::new(SavgolKernel {
            routine: self.clone(),
            tables,
            scratch: row_scratch(n, ch, extra),
        }))
    }
}

/// The filter and edge-fit tables (shared by every shape) with the routine's settings.
struct SavgolKernel {
    routine: Savgol,
    tables: Arc<SavgolTables>,
    scratch: ScratchSize,
}

impl Kernel for SavgolKernel {
    fn state_bytes(&self) -> usize {
        let edges = self.tables.edges.as_ref().map_or(0, |e| {
            (e.pinv.len() + e.left.len() + e.right.len()) * std::mem::size_of::<f64>()
        });
        self.tables.filter.state_bytes() + edges
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
        let (routine, tables) = (&self.routine, &self.tables);
        let filter = &tables.filter;
        let mode = match routine.mode {
            SavgolMode::Extend(mode) => {
                row_task(
                    input,
                    output,
                    scratch,
                    mode,
                    routine.cval,
                    0,
                    |lines, i0, dst, _| filter.rows(lines, i0, dst),
                );
                return Ok(());
            }
            SavgolMode::Interp => ExtendMode::Constant,
        };
        let x = input.samples();
        let (n, ch) = x.dim();
        let wl = routine.window_length;
        if n < wl {
            return Err(SmoothingError::WindowLongerThanTrial {
                trial: input.trial,
                samples: n,
                window_length: wl,
            }
            .into());
        }
        // SciPy's polyfit (scipy.linalg.lstsq) refuses NaN and Inf in the edge windows.
        for c in 0..ch {
            let col = x.column(c);
            let head = col.iter().take(wl);
            let tail = col.iter().skip(n - wl);
            if head.chain(tail).any(|v| !v.is_finite()) {
                return Err(SmoothingError::NonFiniteEdge {
                    channel: input.channels.start + c,
                    window_length: wl,
                }
                .into_runtime());
            }
        }
        let Some(edges) = tables.edges.as_ref() else {
            // window_length 1: no edge to replace.
            row_task(input, output, scratch, mode, 0.0, 0, |lines, i0, dst, _| {
                filter.rows(lines, i0, dst)
            });
            return Ok(());
        };
        let (k, halflen) = (edges.k, edges.halflen);
        row_task(
            input,
            output,
            scratch,
            mode,
            0.0,
            k * ch,
            |lines, i0, dst, coef| {
                // Rows i0..end: left edge, interior (the filter), right edge.
                let end = i0 + dst.len() / ch;
                let a = halflen.clamp(i0, end);
                let b = (n - halflen).clamp(a, end);
                for i in (i0..a).chain(b..end) {
                    let row = &mut dst[(i - i0) * ch..(i - i0 + 1) * ch];
                    if i < halflen {
                        if i == 0 {
                            edges.fit(lines, 0, coef);
                        }
                        edges.eval(&edges.left[i * k..(i + 1) * k], coef, row);
                    } else {
                        let r = i - (n - halflen);
                        if r == 0 {
                            edges.fit(lines, n - wl, coef);
                        }
                        edges.eval(&edges.right[r * k..(r + 1) * k], coef, row);
                    }
                }
                if a < b {
                    filter.rows(lines, a, &mut dst[(a - i0) * ch..(b - i0) * ch]);
                }
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn savgol(wl: i64, p: i64, deriv: i64, delta: f64) -> Savgol {
        SavgolParams {
            window_length: Some(wl),
            polyorder: Some(p),
            deriv: Some(deriv),
            delta: Some(delta),
            ..Default::default()
        }
        .check()
        .unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {b:?}");
        }
    }

    fn fixture_savgol(case: &serde_json::Value) -> Savgol {
        use crate::reference::{float, index};
        savgol(
            index(&case["window_length"]) as i64,
            index(&case["polyorder"]) as i64,
            index(&case["deriv"]) as i64,
            float(&case["delta"]),
        )
    }

    /// `scipy.signal.savgol_coeffs`, from the kernel fixture.
    #[test]
    fn coefficients_match_scipy() {
        use crate::reference::{cases, floats};
        let cases = cases("savgol_coeffs");
        assert!(!cases.is_empty());
        for case in cases {
            close(&fixture_savgol(case).coeffs(), &floats(&case["coeffs"]));
        }
    }

    /// Exact rational solutions (Python `fractions`, in the fixture), rounded to f64. SciPy's
    /// SVD on the unscaled Vandermonde matrix is off by 4.6e-11 (relative) for window 21,
    /// polyorder 6; the QR on scaled abscissae stays within a few ulps.
    #[test]
    fn coefficients_are_accurate_for_higher_orders() {
        use crate::reference::{cases, floats};
        let cases = cases("savgol_exact");
        assert!(!cases.is_empty());
        for case in cases {
            let (got, want) = (fixture_savgol(case).coeffs(), floats(&case["coeffs"]));
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-15, "{case}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn invalid_values_name_the_parameter() {
        let msg = |p: SavgolParams| p.check().unwrap_err().to_string();
        let base = SavgolParams {
            window_length: Some(5),
            polyorder: Some(2),
            ..Default::default()
        };
        assert!(msg(SavgolParams {
            window_length: None,
            ..base.clone()
        })
        .contains("window_length"));
        assert!(msg(SavgolParams {
            polyorder: Some(5),
            ..base.clone()
        })
        .starts_with("polyorder must be less"));
        assert!(SavgolMode::from_word("reflect")
            .unwrap_err()
            .contains("'reflect' is not accepted"));
        assert!(msg(SavgolParams {
            deriv: Some(-1),
            ..base.clone()
        })
        .starts_with("deriv"));
        assert!(msg(SavgolParams {
            deriv: Some(1),
            delta: Some(0.0),
            ..base.clone()
        })
        .starts_with("delta"));
        assert!(msg(SavgolParams {
            window_length: Some(5_000_001),
            polyorder: Some(1),
            ..base.clone()
        })
        .contains("least-squares fit"));
        assert!(msg(SavgolParams {
            window_length: Some(20_000_000),
            ..base
        })
        .contains("limit"));
    }
}
