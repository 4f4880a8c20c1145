use serde_json::Value;

use super::PeaksError;

/// An inclusive condition on a peak property, as SciPy's `find_peaks` takes it: a number is
/// the minimum, `[min, max]` gives both sides and `null` leaves a side open. `[null, null]`
/// keeps every peak but still makes SciPy compute (and us store) the property.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Interval {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// What every bound message ends with.
const BOUND_FORM: &str =
    "a bound is a number (the minimum) or [min, max] with null for an open side";

impl Interval {
    /// `[min, +inf)`: the form a single number in a pipeline takes.
    pub fn at_least(min: f64) -> Interval {
        Interval {
            min: Some(min),
            max: None,
        }
    }

    /// `(-inf, max]`.
    pub fn at_most(max: f64) -> Interval {
        Interval {
            min: None,
            max: Some(max),
        }
    }

    /// `[min, max]`.
    pub fn between(min: f64, max: f64) -> Interval {
        Interval {
            min: Some(min),
            max: Some(max),
        }
    }

    /// `[null, null]`: keeps every peak but still computes (and stores) the property.
    pub fn any() -> Interval {
        Interval::default()
    }

    /// Parses a bound as written in a pipeline (already turned into JSON). Array-valued
    /// bounds (SciPy's "array matching `x`") are refused: a trial-independent pipeline
    /// parameter cannot hold one value per sample.
    pub fn parse(param: &'static str, value: &Value) -> Result<Interval, PeaksError> {
        let interval = Interval::from_value(value).map_err(|reason| PeaksError::Bound {
            param,
            reason,
            got: value.to_string(),
        })?;
        interval.check(param)?;
        Ok(interval)
    }

    /// The shape check alone (a number, or a pair of numbers or nulls); the reason on failure.
    fn from_value(value: &Value) -> Result<Interval, &'static str> {
        const ARRAY: &str = "array-valued bounds (one value per sample) are not supported";
        let side = |v: &Value| -> Result<Option<f64>, &'static str> {
            match v {
                Value::Null => Ok(None),
                Value::Number(n) => n.as_f64().map(Some).ok_or("not a representable number"),
                Value::Array(_) => Err(ARRAY),
                _ => Err("each side must be a number or null"),
            }
        };
        match value {
            Value::Number(_) => Ok(Interval {
                min: side(value)?,
                max: None,
            }),
            Value::Array(items) if items.iter().any(Value::is_array) || items.len() > 2 => {
                Err(ARRAY)
            }
            Value::Array(items) if items.len() == 2 => Ok(Interval {
                min: side(&items[0])?,
                max: side(&items[1])?,
            }),
            Value::Array(_) => Err("a list bound needs exactly two entries"),
            _ => Err("not a number or a list"),
        }
    }

    /// Refuses an empty bound (`min > max`), naming the parameter.
    pub fn check(self, param: &'static str) -> Result<(), PeaksError> {
        match (self.min, self.max) {
            (Some(min), Some(max)) if min > max => Err(PeaksError::EmptyBound { param, min, max }),
            _ => Ok(()),
        }
    }

    /// SciPy's `_select_by_property`: `min <= v` and `v <= max` for the sides that are set,
    /// so NaN fails any set side and passes `[null, null]`.
    #[inline]
    pub fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| m <= v) && self.max.is_none_or(|m| v <= m)
    }

    /// The bound as stored in `cfg`: always `[min, max]`, `null` for an open side.
    pub fn to_json(self) -> Value {
        serde_json::json!([self.min, self.max])
    }
}

impl From<f64> for Interval {
    fn from(min: f64) -> Interval {
        Interval::at_least(min)
    }
}

impl<'de> serde::Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Interval::from_value(&value).map_err(|reason| {
            serde::de::Error::custom(format!("{reason}; {BOUND_FORM}, got {value}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_pairs_parse() {
        assert_eq!(
            Interval::parse("height", &json!(2)).unwrap(),
            Interval {
                min: Some(2.0),
                max: None
            }
        );
        assert_eq!(
            Interval::parse("height", &json!([null, 3.5])).unwrap(),
            Interval {
                min: None,
                max: Some(3.5)
            }
        );
        assert_eq!(
            Interval::parse("height", &json!([null, null])).unwrap(),
            Interval::default()
        );
    }

    #[test]
    fn bad_bounds_are_refused_with_the_parameter_named() {
        for (v, needle) in [
            (json!([[1, 2], [3, 4]]), "array-valued"),
            (json!([1, 2, 3]), "array-valued"),
            (json!([1]), "exactly two"),
            (json!("high"), "not a number"),
            (json!([1, "x"]), "number or null"),
            (json!([3, 1]), "larger than the maximum"),
        ] {
            let err = Interval::parse("prominence", &v).unwrap_err().to_string();
            assert!(err.starts_with("prominence: "), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn contains_is_inclusive_and_nan_fails_set_sides() {
        let i = Interval {
            min: Some(1.0),
            max: Some(2.0),
        };
        assert!(i.contains(1.0) && i.contains(2.0) && !i.contains(2.5));
        assert!(!i.contains(f64::NAN));
        assert!(Interval::default().contains(f64::NAN));
    }
}
