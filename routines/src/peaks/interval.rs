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

impl Interval {
    /// Parses a bound as written in a pipeline (already turned into JSON). Array-valued
    /// bounds (SciPy's "array matching `x`") are refused: a trial-independent pipeline
    /// parameter cannot hold one value per sample.
    pub fn parse(param: &'static str, value: &Value) -> Result<Interval, PeaksError> {
        let refuse = |reason| PeaksError::Bound {
            param,
            reason,
            got: value.to_string(),
        };
        let side = |v: &Value| -> Result<Option<f64>, PeaksError> {
            match v {
                Value::Null => Ok(None),
                Value::Number(n) => n
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| refuse("not a representable number")),
                Value::Array(_) => Err(refuse(
                    "array-valued bounds (one value per sample) are not supported",
                )),
                _ => Err(refuse("each side must be a number or null")),
            }
        };
        let interval = match value {
            Value::Number(_) => Interval {
                min: side(value)?,
                max: None,
            },
            Value::Array(items) if items.iter().any(Value::is_array) || items.len() > 2 => {
                return Err(refuse(
                    "array-valued bounds (one value per sample) are not supported",
                ))
            }
            Value::Array(items) if items.len() == 2 => Interval {
                min: side(&items[0])?,
                max: side(&items[1])?,
            },
            Value::Array(_) => return Err(refuse("a list bound needs exactly two entries")),
            _ => return Err(refuse("not a number or a list")),
        };
        if let (Some(min), Some(max)) = (interval.min, interval.max) {
            if min > max {
                return Err(PeaksError::EmptyBound { param, min, max });
            }
        }
        Ok(interval)
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
