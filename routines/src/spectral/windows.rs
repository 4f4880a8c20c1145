//! SciPy's window functions (`scipy.signal.windows`), with their formulas and their
//! symmetric/periodic convention, so tapers match SciPy to rounding.
//!
//! Two ways to name a window exist, because the two routines follow two callers: `mtmfft`
//! takes Syncopy's `taper` (a function name) plus `taper_opt` (its keyword arguments, all
//! required, as Syncopy requires them); `welch` takes `scipy.signal.get_window`'s `window`
//! (a name or alias, or `[name, args...]` for the tuple form).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::dpss::{dpss, DpssNorm};
use super::SpectralError;
use crate::params::Keyword;

/// A window function and its shape parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    Boxcar,
    Triang,
    Parzen,
    Bohman,
    Blackman,
    Nuttall,
    BlackmanHarris,
    Flattop,
    Bartlett,
    Barthann,
    Hamming,
    Hann,
    Cosine,
    Lanczos,
    Kaiser {
        beta: f64,
    },
    Gaussian {
        std: f64,
    },
    GeneralGaussian {
        p: f64,
        sig: f64,
    },
    GeneralHamming {
        alpha: f64,
    },
    GeneralCosine {
        a: Vec<f64>,
    },
    Tukey {
        alpha: f64,
    },
    /// The first Slepian sequence with `get_window`'s "approximate" normalisation (welch
    /// only; mtmfft's multitapering is switched on by `tapsmofrq`).
    Dpss {
        nw: f64,
    },
}

/// `welch`'s `window`: a [`Window`] and the symmetry a `_symmetric` / `_periodic` suffix
/// forces (`None`: periodic, as `get_window` makes it). YAML writes it as `get_window` takes
/// it (`hann`, `[tukey, 0.25]`); code writes `Window::Hann.into()`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetWindow {
    pub window: Window,
    pub symmetric: Option<bool>,
}

impl From<Window> for GetWindow {
    fn from(window: Window) -> Self {
        GetWindow {
            window,
            symmetric: None,
        }
    }
}

impl GetWindow {
    /// The value as `get_window` takes it (for `cfg`): the name, with the suffix that was
    /// given, alone or followed by the window's arguments in SciPy's order.
    pub fn to_value(&self) -> Value {
        let suffix = match self.symmetric {
            None => "",
            Some(true) => "_symmetric",
            Some(false) => "_periodic",
        };
        let name = format!("{}{suffix}", self.window.name());
        let options = self.window.options();
        let kws: &[&str] = match &self.window {
            Window::Dpss { .. } => &["nw"],
            w => lookup(w.name()).map_or(&[], |entry| entry.2),
        };
        if kws.is_empty() {
            return Value::from(name);
        }
        let mut items = vec![Value::from(name)];
        items.extend(
            kws.iter()
                .map(|k| options.get(*k).cloned().unwrap_or(Value::Null)),
        );
        Value::Array(items)
    }
}

impl Serialize for GetWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for GetWindow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let (window, symmetric) =
            Window::from_get_window(&value).map_err(|e| serde::de::Error::custom(e.to_string()))?;
        Ok(GetWindow { window, symmetric })
    }
}

/// `mtmfft`'s `taper`: Syncopy's window names (`None`, written `null`, is no taper at all).
/// Windows with parameters take them from `taper_opt`; `dpss` is switched on by `tapsmofrq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Taper {
    None,
    Barthann,
    Bartlett,
    Blackman,
    Blackmanharris,
    Bohman,
    Boxcar,
    Cosine,
    Flattop,
    Gaussian,
    GeneralCosine,
    GeneralGaussian,
    GeneralHamming,
    Hamming,
    #[default]
    Hann,
    Kaiser,
    Lanczos,
    Nuttall,
    Parzen,
    Triang,
    Tukey,
}

impl Keyword for Taper {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("barthann", Taper::Barthann),
        ("bartlett", Taper::Bartlett),
        ("blackman", Taper::Blackman),
        ("blackmanharris", Taper::Blackmanharris),
        ("bohman", Taper::Bohman),
        ("boxcar", Taper::Boxcar),
        ("cosine", Taper::Cosine),
        ("flattop", Taper::Flattop),
        ("gaussian", Taper::Gaussian),
        ("general_cosine", Taper::GeneralCosine),
        ("general_gaussian", Taper::GeneralGaussian),
        ("general_hamming", Taper::GeneralHamming),
        ("hamming", Taper::Hamming),
        ("hann", Taper::Hann),
        ("kaiser", Taper::Kaiser),
        ("lanczos", Taper::Lanczos),
        ("nuttall", Taper::Nuttall),
        ("parzen", Taper::Parzen),
        ("triang", Taper::Triang),
        ("tukey", Taper::Tukey),
    ];
    const EXPECTED: &'static str = "null or a window name";

    fn as_str(self) -> &'static str {
        Self::SPELLINGS
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("null", |(s, _)| *s)
    }

    fn from_word(word: &str) -> Result<Self, String> {
        match Self::SPELLINGS.iter().find(|(s, _)| *s == word) {
            Some((_, t)) => Ok(*t),
            None if word == "dpss" => Err(DPSS_TAPER.to_string()),
            None => Err(unknown("taper", word).to_string()),
        }
    }
}

impl Serialize for Taper {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Taper::None => s.serialize_none(),
            t => s.serialize_str(t.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for Taper {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Taper::None),
            Some(word) => Taper::from_word(&word).map_err(serde::de::Error::custom),
        }
    }
}

const DPSS_TAPER: &str = "taper: 'dpss' is switched on by tapsmofrq (as in Syncopy); leave taper at 'hann' and set tapsmofrq";

/// `(scipy function name, get_window aliases, keyword arguments)`.
const CATALOGUE: &[(&str, &[&str], &[&str])] = &[
    ("barthann", &["brthan", "bth"], &[]),
    ("bartlett", &["bart", "brt"], &[]),
    ("blackman", &["black", "blk"], &[]),
    ("blackmanharris", &["blackharr", "bkh"], &[]),
    ("bohman", &["bman", "bmn"], &[]),
    ("boxcar", &["box", "ones", "rect", "rectangular"], &[]),
    ("cosine", &["halfcosine"], &[]),
    ("flattop", &["flat", "flt"], &[]),
    ("gaussian", &["gauss", "gss"], &["std"]),
    ("general_cosine", &["general cosine"], &["a"]),
    (
        "general_gaussian",
        &["general gaussian", "general gauss", "general_gauss", "ggs"],
        &["p", "sig"],
    ),
    ("general_hamming", &["general hamming"], &["alpha"]),
    ("hamming", &["hamm", "ham"], &[]),
    ("hann", &["han"], &[]),
    ("kaiser", &["ksr"], &["beta"]),
    ("lanczos", &["sinc"], &[]),
    ("nuttall", &["nutl", "nut"], &[]),
    ("parzen", &["parz", "par"], &[]),
    ("triang", &["triangle", "tri"], &[]),
    ("tukey", &["tuk"], &["alpha"]),
];

/// SciPy windows trialflow does not compute (refused with this list in the message).
const NOT_SUPPORTED: &[&str] = &[
    "chebwin",
    "cheb",
    "taylor",
    "taylorwin",
    "kaiser_bessel_derived",
    "kaiser bessel derived",
    "kbd",
    "exponential",
    "poisson",
];

fn known_names() -> String {
    CATALOGUE
        .iter()
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn lookup(
    name: &str,
) -> Option<&'static (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
)> {
    CATALOGUE
        .iter()
        .find(|(n, aliases, _)| *n == name || aliases.contains(&name))
}

fn finite(param: &'static str, what: &str, v: &Value) -> Result<f64, SpectralError> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(SpectralError::window(
            param,
            format!("{what} must be a finite number, got {v}"),
        )),
    }
}

impl Window {
    /// The SciPy function name.
    pub fn name(&self) -> &'static str {
        match self {
            Window::Boxcar => "boxcar",
            Window::Triang => "triang",
            Window::Parzen => "parzen",
            Window::Bohman => "bohman",
            Window::Blackman => "blackman",
            Window::Nuttall => "nuttall",
            Window::BlackmanHarris => "blackmanharris",
            Window::Flattop => "flattop",
            Window::Bartlett => "bartlett",
            Window::Barthann => "barthann",
            Window::Hamming => "hamming",
            Window::Hann => "hann",
            Window::Cosine => "cosine",
            Window::Lanczos => "lanczos",
            Window::Kaiser { .. } => "kaiser",
            Window::Gaussian { .. } => "gaussian",
            Window::GeneralGaussian { .. } => "general_gaussian",
            Window::GeneralHamming { .. } => "general_hamming",
            Window::GeneralCosine { .. } => "general_cosine",
            Window::Tukey { .. } => "tukey",
            Window::Dpss { .. } => "dpss",
        }
    }

    /// The window's arguments as JSON (for `cfg`): `{"beta": 8.0}`.
    pub fn options(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        match self {
            Window::Kaiser { beta } => put("beta", (*beta).into()),
            Window::Gaussian { std } => put("std", (*std).into()),
            Window::GeneralGaussian { p, sig } => {
                put("p", (*p).into());
                put("sig", (*sig).into());
            }
            Window::GeneralHamming { alpha } | Window::Tukey { alpha } => {
                put("alpha", (*alpha).into())
            }
            Window::GeneralCosine { a } => put("a", a.clone().into()),
            Window::Dpss { nw } => put("NW", (*nw).into()),
            _ => {}
        }
        m
    }

    fn build(
        param: &'static str,
        name: &'static str,
        args: &[(&str, &Value)],
    ) -> Result<Window, SpectralError> {
        let num = |i: usize| finite(param, args[i].0, args[i].1);
        Ok(match name {
            "boxcar" => Window::Boxcar,
            "triang" => Window::Triang,
            "parzen" => Window::Parzen,
            "bohman" => Window::Bohman,
            "blackman" => Window::Blackman,
            "nuttall" => Window::Nuttall,
            "blackmanharris" => Window::BlackmanHarris,
            "flattop" => Window::Flattop,
            "bartlett" => Window::Bartlett,
            "barthann" => Window::Barthann,
            "hamming" => Window::Hamming,
            "hann" => Window::Hann,
            "cosine" => Window::Cosine,
            "lanczos" => Window::Lanczos,
            "kaiser" => Window::Kaiser { beta: num(0)? },
            "gaussian" => {
                let std = num(0)?;
                if std == 0.0 {
                    return Err(SpectralError::window(param, "std must be nonzero"));
                }
                Window::Gaussian { std }
            }
            "general_gaussian" => {
                let (p, sig) = (num(0)?, num(1)?);
                if sig == 0.0 {
                    return Err(SpectralError::window(param, "sig must be nonzero"));
                }
                Window::GeneralGaussian { p, sig }
            }
            "general_hamming" => Window::GeneralHamming { alpha: num(0)? },
            "tukey" => Window::Tukey { alpha: num(0)? },
            "general_cosine" => {
                let a = match args[0].1 {
                    Value::Array(items) if !items.is_empty() => items
                        .iter()
                        .map(|v| finite(param, "a", v))
                        .collect::<Result<Vec<_>, _>>()?,
                    other => {
                        return Err(SpectralError::window(
                            param,
                            format!("a must be a non-empty list of numbers, got {other}"),
                        ))
                    }
                };
                Window::GeneralCosine { a }
            }
            other => unreachable!("window {other} is in the catalogue"),
        })
    }

    /// Syncopy's `taper` + `taper_opt` (`freqanalysis` checks: the name must be a
    /// `scipy.signal.windows` function, and `taper_opt` must give exactly its keyword
    /// arguments, and is refused for windows that take none).
    pub fn from_syncopy(
        name: &str,
        taper_opt: Option<&Map<String, Value>>,
    ) -> Result<Window, SpectralError> {
        let Some(&(canonical, _, kws)) = CATALOGUE.iter().find(|(n, _, _)| *n == name) else {
            return Err(unknown("taper", name));
        };
        match taper_opt {
            None if kws.is_empty() => Window::build("taper", canonical, &[]),
            None => Err(SpectralError::window(
                "taper_opt",
                format!(
                    "taper '{canonical}' needs taper_opt with {}",
                    kws.join(", ")
                ),
            )),
            Some(_) if kws.is_empty() => Err(SpectralError::window(
                "taper_opt",
                format!("taper '{canonical}' takes no parameters; remove taper_opt"),
            )),
            Some(opts) => {
                if let Some(extra) = opts.keys().find(|k| !kws.contains(&k.as_str())) {
                    return Err(SpectralError::window(
                        "taper_opt",
                        format!(
                            "unknown key '{extra}' for taper '{canonical}'; it takes {}",
                            kws.join(", ")
                        ),
                    ));
                }
                let mut args = Vec::new();
                for kw in kws {
                    let v = opts.get(*kw).ok_or_else(|| {
                        SpectralError::window(
                            "taper_opt",
                            format!("taper '{canonical}' needs '{kw}'"),
                        )
                    })?;
                    args.push((*kw, v));
                }
                Window::build("taper_opt", canonical, &args)
            }
        }
    }

    /// `scipy.signal.get_window`'s `window` argument as `welch` takes it: a name (aliases and
    /// the `_periodic` / `_symmetric` suffixes included) or `[name, args...]` for its tuple
    /// form. Returns the window and the symmetry a suffix forces, if any.
    pub fn from_get_window(value: &Value) -> Result<(Window, Option<bool>), SpectralError> {
        const P: &str = "window";
        let (name, args): (&str, &[Value]) = match value {
            Value::String(s) => (s.as_str(), &[]),
            Value::Array(items) => match items.first() {
                Some(Value::String(s)) => (s.as_str(), &items[1..]),
                _ => {
                    return Err(SpectralError::window(
                        P,
                        format!("a list must start with the window name, got {value}"),
                    ))
                }
            },
            other => {
                return Err(SpectralError::window(
                    P,
                    format!("must be a window name or [name, args...] (array windows are not supported), got {other}"),
                ))
            }
        };
        let (base, sym) = if let Some(b) = name.strip_suffix("_symmetric") {
            (b, Some(true))
        } else if let Some(b) = name.strip_suffix("_periodic") {
            (b, Some(false))
        } else {
            (name, None)
        };
        if base == "dpss" {
            if args.len() != 1 {
                return Err(SpectralError::window(
                    P,
                    format!("dpss takes one parameter (NW): [dpss, NW]; got {value}"),
                ));
            }
            let nw = finite(P, "NW", &args[0])?;
            return Ok((Window::Dpss { nw }, sym));
        }
        let Some(&(canonical, _, kws)) = lookup(base) else {
            return Err(unknown(P, base));
        };
        // get_window: tukey's alpha is optional (0.5); other windows take all or nothing.
        let defaults: Vec<Value> = if canonical == "tukey" && args.is_empty() {
            vec![Value::from(0.5)]
        } else {
            args.to_vec()
        };
        if defaults.len() != kws.len() {
            return Err(SpectralError::window(
                P,
                if kws.is_empty() {
                    format!("'{canonical}' does not allow parameters, got {value}")
                } else {
                    format!(
                        "'{canonical}' needs [{canonical}, {}], got {value}",
                        kws.join(", ")
                    )
                },
            ));
        }
        let named: Vec<(&str, &Value)> = kws.iter().copied().zip(defaults.iter()).collect();
        Ok((Window::build(P, canonical, &named)?, sym))
    }

    /// The window of `m` samples: `sym` gives SciPy's default (symmetric, for filter
    /// design and Syncopy's tapers), `!sym` the periodic one `get_window` returns.
    pub fn samples(&self, m: usize, sym: bool) -> Vec<f64> {
        if m <= 1 {
            return vec![1.0; m];
        }
        if let Window::Dpss { nw } = self {
            return dpss(m, *nw, 1, sym, DpssNorm::Approximate)
                .pop()
                .expect("one taper");
        }
        // SciPy's _extend / _truncate: a periodic window is the symmetric one of m + 1
        // samples without its last sample.
        let len = if sym { m } else { m + 1 };
        let mut w = self.symmetric(len);
        w.truncate(m);
        w
    }

    fn symmetric(&self, m: usize) -> Vec<f64> {
        use std::f64::consts::PI;
        let mf = m as f64;
        let idx = || (0..m).map(|i| i as f64);
        match self {
            Window::Boxcar => vec![1.0; m],
            Window::Hann => general_cosine(m, &[0.5, 0.5]),
            Window::Hamming => general_cosine(m, &[0.54, 1.0 - 0.54]),
            Window::GeneralHamming { alpha } => general_cosine(m, &[*alpha, 1.0 - alpha]),
            Window::Blackman => general_cosine(m, &[0.42, 0.50, 0.08]),
            Window::Nuttall => general_cosine(m, &[0.3635819, 0.4891775, 0.1365995, 0.0106411]),
            Window::BlackmanHarris => general_cosine(m, &[0.35875, 0.48829, 0.14128, 0.01168]),
            Window::Flattop => general_cosine(
                m,
                &[
                    0.21557895,
                    0.41663158,
                    0.277263158,
                    0.083578947,
                    0.006947368,
                ],
            ),
            Window::GeneralCosine { a } => general_cosine(m, a),
            Window::Triang => {
                let half: Vec<f64> = (1..=m.div_ceil(2))
                    .map(|n| {
                        let n = n as f64;
                        if m.is_multiple_of(2) {
                            (2.0 * n - 1.0) / mf
                        } else {
                            2.0 * n / (mf + 1.0)
                        }
                    })
                    .collect();
                let mut w = half.clone();
                let tail = if m.is_multiple_of(2) {
                    &half[..]
                } else {
                    &half[..half.len() - 1]
                };
                w.extend(tail.iter().rev());
                w
            }
            Window::Parzen => idx()
                .map(|i| {
                    let n = (-(mf - 1.0) / 2.0 + i).abs();
                    let r = n / (mf / 2.0);
                    if n <= (mf - 1.0) / 4.0 {
                        1.0 - 6.0 * r.powi(2) + 6.0 * r.powi(3)
                    } else {
                        2.0 * (1.0 - r).powi(3)
                    }
                })
                .collect(),
            Window::Bohman => {
                let fac = linspace(-1.0, 1.0, m);
                let mut w = vec![0.0; m];
                for i in 1..m - 1 {
                    let f = fac[i].abs();
                    w[i] = (1.0 - f) * (PI * f).cos() + 1.0 / PI * (PI * f).sin();
                }
                w
            }
            Window::Bartlett => idx()
                .map(|n| {
                    if n <= (mf - 1.0) / 2.0 {
                        2.0 * n / (mf - 1.0)
                    } else {
                        2.0 - 2.0 * n / (mf - 1.0)
                    }
                })
                .collect(),
            Window::Barthann => idx()
                .map(|n| {
                    let fac = (n / (mf - 1.0) - 0.5).abs();
                    0.62 - 0.48 * fac + 0.38 * (2.0 * PI * fac).cos()
                })
                .collect(),
            Window::Cosine => idx().map(|n| (PI / mf * (n + 0.5)).sin()).collect(),
            Window::Lanczos => {
                let sinc = |x: f64| {
                    if x == 0.0 {
                        1.0
                    } else {
                        (PI * x).sin() / (PI * x)
                    }
                };
                let start = m.div_ceil(2);
                let right: Vec<f64> = (start..m)
                    .map(|k| sinc(2.0 * k as f64 / (mf - 1.0) - 1.0))
                    .collect();
                let mut w: Vec<f64> = right.iter().rev().copied().collect();
                if m % 2 == 1 {
                    w.push(1.0);
                }
                w.extend(right);
                w
            }
            Window::Kaiser { beta } => {
                let alpha = (mf - 1.0) / 2.0;
                let denom = bessel_i0(*beta);
                idx()
                    .map(|n| {
                        let r = (n - alpha) / alpha;
                        bessel_i0(beta * (1.0 - r.powi(2)).sqrt()) / denom
                    })
                    .collect()
            }
            Window::Gaussian { std } => {
                let sig2 = 2.0 * std * std;
                idx()
                    .map(|n| {
                        let n = n - (mf - 1.0) / 2.0;
                        (-n.powi(2) / sig2).exp()
                    })
                    .collect()
            }
            Window::GeneralGaussian { p, sig } => idx()
                .map(|n| {
                    let n = n - (mf - 1.0) / 2.0;
                    (-0.5 * (n / sig).abs().powf(2.0 * p)).exp()
                })
                .collect(),
            Window::Tukey { alpha } => tukey(m, *alpha),
            Window::Dpss { .. } => unreachable!("dpss is computed in samples()"),
        }
    }
}

fn unknown(param: &'static str, name: &str) -> SpectralError {
    if NOT_SUPPORTED.contains(&name) {
        return SpectralError::window(
            param,
            format!(
                "window '{name}' is a SciPy window trialflow does not compute; use one of {}",
                known_names()
            ),
        );
    }
    SpectralError::UnknownWindow {
        param,
        got: name.to_string(),
        known: known_names(),
    }
}

/// `numpy.linspace(start, stop, num)`: `arange(num) * step + start`, last value `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `scipy.signal.windows.general_cosine` (symmetric): `Σ a_k cos(k x)`, x = linspace(-π, π).
fn general_cosine(m: usize, a: &[f64]) -> Vec<f64> {
    let fac = linspace(-std::f64::consts::PI, std::f64::consts::PI, m);
    let mut w = vec![0.0; m];
    for (k, &ak) in a.iter().enumerate() {
        for (wi, &f) in w.iter_mut().zip(&fac) {
            *wi += ak * (k as f64 * f).cos();
        }
    }
    w
}

fn tukey(m: usize, alpha: f64) -> Vec<f64> {
    use std::f64::consts::PI;
    if alpha <= 0.0 {
        return vec![1.0; m];
    }
    if alpha >= 1.0 {
        return general_cosine(m, &[0.5, 0.5]);
    }
    let mf = m as f64;
    let width = (alpha * (mf - 1.0) / 2.0).floor() as usize;
    (0..m)
        .map(|i| {
            let n = i as f64;
            if i < width + 1 {
                0.5 * (1.0 + (PI * (-1.0 + 2.0 * n / alpha / (mf - 1.0))).cos())
            } else if i < m - width - 1 {
                1.0
            } else {
                0.5 * (1.0 + (PI * (-2.0 / alpha + 1.0 + 2.0 * n / alpha / (mf - 1.0))).cos())
            }
        })
        .collect()
}

/// The modified Bessel function I0, by its power series `Σ ((x/2)^k / k!)²`: every term
/// is positive, so it is accurate to a few ulps wherever it does not overflow.
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
        if !sum.is_finite() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn known_values_from_scipy() {
        use crate::reference::{cases, float, floats, index};
        // scipy.signal.windows.hann(5), triang(4), ..., get_window('hann', 4) (periodic).
        for case in cases("windows") {
            let window = match case["name"].as_str().unwrap() {
                "hann" => Window::Hann,
                "triang" => Window::Triang,
                "bartlett" => Window::Bartlett,
                other => panic!("no window {other} in this test"),
            };
            let sym = case["sym"].as_bool().unwrap();
            close(
                &window.samples(index(&case["m"]), sym),
                &floats(&case["samples"]),
            );
        }
        // scipy.special.i0
        for case in cases("bessel_i0") {
            let (x, want) = (float(&case["x"]), float(&case["i0"]));
            let got = bessel_i0(x);
            assert!(
                (got - want).abs() <= 1e-15 * want,
                "i0({x}) = {got}, not {want}"
            );
        }
    }

    #[test]
    fn names_follow_syncopy_and_get_window() {
        let opts = json!({"beta": 8.0});
        assert_eq!(
            Window::from_syncopy("kaiser", opts.as_object()).unwrap(),
            Window::Kaiser { beta: 8.0 }
        );
        let msg = |e: SpectralError| e.to_string();
        assert!(msg(Window::from_syncopy("kaiser", None).unwrap_err()).contains("beta"));
        assert!(
            msg(Window::from_syncopy("hann", opts.as_object()).unwrap_err())
                .starts_with("taper_opt")
        );
        assert!(msg(Window::from_syncopy("hanning", None).unwrap_err()).contains("hanning"));
        assert!(Taper::from_word("dpss").unwrap_err().contains("tapsmofrq"));
        let (w, sym) = Window::from_get_window(&json!(["tuk"])).unwrap();
        assert_eq!((w, sym), (Window::Tukey { alpha: 0.5 }, None));
        let (w, sym) = Window::from_get_window(&json!("hann_symmetric")).unwrap();
        assert_eq!((w, sym), (Window::Hann, Some(true)));
        assert!(Window::from_get_window(&json!(8.5)).is_err());
        assert!(
            msg(Window::from_get_window(&json!(["hann", 3])).unwrap_err()).starts_with("window")
        );
        assert!(msg(Window::from_get_window(&json!("chebwin")).unwrap_err())
            .contains("does not compute"));
    }
}
