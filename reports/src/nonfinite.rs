//! Serde for `f64` values that may be infinite or NaN, which JSON numbers cannot hold.
//!
//! Finite values are written as numbers; `+∞`, `−∞` and NaN as the strings `"inf"`,
//! `"-inf"` and `"nan"`. Reading accepts those, numbers, and `null` (what `serde_json`
//! writes for a non-finite value by default) as NaN.

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `v` as a number, or as `"inf"` / `"-inf"` / `"nan"`.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("nan")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Num(f64),
    Text(String),
    Null(()),
}

/// Reads what [`serialize`] writes (and `null` as NaN).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Repr::deserialize(d)? {
        Repr::Num(v) => Ok(v),
        Repr::Null(()) => Ok(f64::NAN),
        Repr::Text(t) => match t.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(serde::de::Error::custom(format!(
                "expected a number, \"inf\", \"-inf\" or \"nan\", found \"{other}\""
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct T(#[serde(with = "super")] f64);

    #[test]
    fn non_finite_values_round_trip() {
        for (v, s) in [
            (1.5, "1.5"),
            (f64::INFINITY, "\"inf\""),
            (f64::NEG_INFINITY, "\"-inf\""),
        ] {
            assert_eq!(serde_json::to_string(&T(v)).unwrap(), s);
            assert_eq!(serde_json::from_str::<T>(s).unwrap().0, v);
        }
        assert_eq!(serde_json::to_string(&T(f64::NAN)).unwrap(), "\"nan\"");
        assert!(serde_json::from_str::<T>("\"nan\"").unwrap().0.is_nan());
        assert!(serde_json::from_str::<T>("null").unwrap().0.is_nan());
        let e = serde_json::from_str::<T>("\"big\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("found \"big\""), "{e}");
    }
}
