//! Reading counts (minutes, failures) from JSON as the API documents them.
//!
//! The OpenAPI document types a count as JSON Schema's `integer`, which is any number without
//! a fractional part: `63.0` as well as `63`. serde's `u32` takes only the latter, so a
//! client (or a generator) keeping to the document would be refused; counts are read here.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

/// A whole number from 0 to `u32::MAX`, written with or without a zero fraction.
struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        let whole = n.as_u64().or_else(|| {
            n.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f)).map(|f| f as u64)
        });
        whole.and_then(|w| u32::try_from(w).ok()).map(Count).ok_or_else(|| {
            D::Error::custom(format!("invalid value: {n}, expected a whole number from 0 to {}", u32::MAX))
        })
    }
}

/// An optional count (`null` or absent: `None`).
pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(Option::<Count>::deserialize(d)?.map(|c| c.0))
}

/// A count in a change: `Some(None)` when sent as `null`, `None` when absent (with `default`).
pub(super) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    optional(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::optional")]
        n: Option<u32>,
    }

    fn read(json: &str) -> Result<Option<u32>, String> {
        serde_json::from_str::<Body>(json).map(|b| b.n).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_are_read_with_or_without_a_zero_fraction_and_nothing_else() {
        assert_eq!(read(r#"{"n": 63}"#), Ok(Some(63)));
        assert_eq!(read(r#"{"n": 63.0}"#), Ok(Some(63)));
        assert_eq!(read(r#"{"n": 4294967295}"#), Ok(Some(u32::MAX)));
        assert_eq!(read(r#"{"n": null}"#), Ok(None));
        assert_eq!(read("{}"), Ok(None));
        for bad in [r#"{"n": 63.5}"#, r#"{"n": -1}"#, r#"{"n": -1.0}"#, r#"{"n": 4294967296}"#, r#"{"n": 1e300}"#] {
            let e = read(bad).expect_err(bad);
            assert!(e.contains("invalid value"), "{bad}: {e}");
        }
        assert!(read(r#"{"n": "5"}"#).expect_err("a string").contains("invalid type"));
    }
}
