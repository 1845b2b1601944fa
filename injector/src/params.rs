//! The parameter kit of the fault models: how each kind of parameter value is read from
//! the compact form and from JSON, checked and written back ([`Codec`]), and
//! [`param_set!`], which turns a list of keys into a model's typed parameter struct.
//!
//! A model's parameters are a struct of `Option`s, one per key, in the order the compact
//! and JSON forms write them; `None` is a key the spec leaves out (the model's default
//! applies when it is encoded, and the spec is written back without it).

use crate::spec::{SpecError, SUBSTITUTES};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// How a value is corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Stuck-at-0 on the mask bits.
    Sa0,
    /// Stuck-at-1 on the mask bits.
    Sa1,
    /// Bit flip of the mask bits.
    Xor,
}

/// A parameter whose value is one of a few names.
pub(crate) trait Named: Copy + PartialEq + 'static {
    /// Every value with its name.
    const NAMES: &'static [(&'static str, Self)];
    /// The allowed names, for errors (`sa0, sa1 or xor`).
    const WHY: &'static str;

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(n, _)| n)
    }

    fn from_name(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
    }
}

impl Named for Policy {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("sa0", Policy::Sa0),
        ("sa1", Policy::Sa1),
        ("xor", Policy::Xor),
    ];
    const WHY: &'static str = "sa0, sa1 or xor";
}

/// How the values of one kind of parameter are read, checked and written.
pub(crate) trait Codec {
    /// The typed value.
    type Value;
    /// Parses `text` of `key=text` in the compact form (ranges are checked apart).
    fn parse(key: &str, text: &str) -> Result<Self::Value, SpecError>;
    /// Reads the JSON form; `None` when it has the wrong type.
    fn from_json(v: &Value) -> Option<Self::Value>;
    /// What the JSON form holds, for errors (`an unsigned 64-bit integer`).
    fn json_expected() -> String;
    /// Checks the range of a value (also of values built in code).
    fn check(key: &str, v: &Self::Value) -> Result<(), SpecError>;
    /// Writes the value as the compact form does.
    fn write(v: &Self::Value, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

pub(crate) fn out_of_range(key: &str, value: impl fmt::Display, why: &str) -> SpecError {
    SpecError::OutOfRange {
        key: key.into(),
        value: value.to_string(),
        why: why.into(),
    }
}

/// An integer in decimal, `0x` hex or `0b` binary, `_` allowed between digits.
pub(crate) fn parse_u64(key: &str, v: &str) -> Result<u64, SpecError> {
    let r = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(&h.replace('_', ""), 16)
    } else if let Some(b) = v.strip_prefix("0b") {
        u64::from_str_radix(&b.replace('_', ""), 2)
    } else {
        v.replace('_', "").parse::<u64>()
    };
    r.map_err(|e| SpecError::BadItem {
        item: format!("{key}={v}"),
        why: format!("not an integer ({e})"),
    })
}

pub(crate) fn parse_u32(key: &str, v: &str) -> Result<u32, SpecError> {
    let x = parse_u64(key, v)?;
    u32::try_from(x).map_err(|_| out_of_range(key, v, "must fit in 32 bits"))
}

/// `dim`: a mask of dimensions, written as letters of `x`, `y`, `z` (JSON: the number,
/// bit 0 = x, bit 1 = y, bit 2 = z).
pub(crate) struct Dims;

impl Codec for Dims {
    type Value = u8;
    fn parse(key: &str, v: &str) -> Result<u8, SpecError> {
        let mut d = 0u8;
        for c in v.chars() {
            d |= match c {
                'x' => 1,
                'y' => 2,
                'z' => 4,
                _ => return Err(out_of_range(key, v, "letters of x, y, z")),
            };
        }
        if d == 0 {
            return Err(out_of_range(key, v, "at least one of x, y, z"));
        }
        Ok(d)
    }
    fn from_json(v: &Value) -> Option<u8> {
        v.as_u64().and_then(|x| u8::try_from(x).ok())
    }
    fn json_expected() -> String {
        "a dimension mask 1..7 (1 = x, 2 = y, 4 = z)".into()
    }
    fn check(key: &str, v: &u8) -> Result<(), SpecError> {
        if (1..=7).contains(v) {
            Ok(())
        } else {
            Err(out_of_range(key, v, "1..7 (1 = x, 2 = y, 4 = z)"))
        }
    }
    fn write(v: &u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(1, "x"), (2, "y"), (4, "z")] {
            if v & bit != 0 {
                f.write_str(c)?;
            }
        }
        Ok(())
    }
}

/// `mask`: the bits a fault corrupts, non-zero (written in hex).
pub(crate) struct Mask;

impl Codec for Mask {
    type Value = u64;
    fn parse(key: &str, v: &str) -> Result<u64, SpecError> {
        parse_u64(key, v)
    }
    fn from_json(v: &Value) -> Option<u64> {
        v.as_u64()
    }
    fn json_expected() -> String {
        "a non-zero unsigned 64-bit integer".into()
    }
    fn check(key: &str, v: &u64) -> Result<(), SpecError> {
        if *v == 0 {
            return Err(out_of_range(key, 0, "a non-zero mask"));
        }
        Ok(())
    }
    fn write(v: &u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{v:#x}")
    }
}

/// A parameter that is one of a few names ([`Named`]).
pub(crate) struct Name<T>(std::marker::PhantomData<T>);

impl<T: Named> Codec for Name<T> {
    type Value = T;
    fn parse(key: &str, v: &str) -> Result<T, SpecError> {
        T::from_name(v).ok_or_else(|| out_of_range(key, v, T::WHY))
    }
    fn from_json(v: &Value) -> Option<T> {
        v.as_str().and_then(T::from_name)
    }
    fn json_expected() -> String {
        format!("one of the strings {}", T::WHY)
    }
    fn check(_: &str, _: &T) -> Result<(), SpecError> {
        Ok(())
    }
    fn write(v: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(v.name())
    }
}

/// `force`: `0` or `1` (JSON: a boolean).
pub(crate) struct Flag;

impl Codec for Flag {
    type Value = bool;
    fn parse(key: &str, v: &str) -> Result<bool, SpecError> {
        match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(out_of_range(key, v, "0 or 1")),
        }
    }
    fn from_json(v: &Value) -> Option<bool> {
        v.as_bool()
    }
    fn json_expected() -> String {
        "a boolean".into()
    }
    fn check(_: &str, _: &bool) -> Result<(), SpecError> {
        Ok(())
    }
    fn write(v: &bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", u8::from(*v))
    }
}

/// A small number `0..=MAX` (`field`, `bit`).
pub(crate) struct Upto<const MAX: u8>;

impl<const MAX: u8> Codec for Upto<MAX> {
    type Value = u8;
    fn parse(key: &str, v: &str) -> Result<u8, SpecError> {
        // out of `u8` range is reported with the key's own range, never wrapped
        let x = parse_u64(key, v)?;
        u8::try_from(x).map_err(|_| out_of_range(key, v, &format!("0..{MAX}")))
    }
    fn from_json(v: &Value) -> Option<u8> {
        v.as_u64().and_then(|x| u8::try_from(x).ok())
    }
    fn json_expected() -> String {
        format!("an integer 0..{MAX}")
    }
    fn check(key: &str, v: &u8) -> Result<(), SpecError> {
        if *v > MAX {
            return Err(out_of_range(key, v, &format!("0..{MAX}")));
        }
        Ok(())
    }
    fn write(v: &u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{v}")
    }
}

/// Text parameters, kept as written and checked by `ok`.
pub(crate) trait TextRule {
    const WHY: &'static str;
    fn ok(s: &str) -> bool;
}

pub(crate) struct Text<R>(std::marker::PhantomData<R>);

impl<R: TextRule> Codec for Text<R> {
    type Value = String;
    fn parse(_: &str, v: &str) -> Result<String, SpecError> {
        Ok(v.into())
    }
    fn from_json(v: &Value) -> Option<String> {
        v.as_str().map(String::from)
    }
    fn json_expected() -> String {
        format!("a string ({})", R::WHY)
    }
    fn check(key: &str, v: &String) -> Result<(), SpecError> {
        if R::ok(v) {
            Ok(())
        } else {
            Err(out_of_range(key, v, R::WHY))
        }
    }
    fn write(v: &String, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(v)
    }
}

/// `op`: an opcode group such as `add.s32` (see [`crate::op_group`]).
pub(crate) struct OpRule;

impl TextRule for OpRule {
    const WHY: &'static str = "an opcode group such as add.s32";
    fn ok(op: &str) -> bool {
        !op.is_empty()
            && op
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    }
}

pub(crate) type OpGroup = Text<OpRule>;

/// `spaces`: letters of `s` (shared), `l` (local), `g` (global and generic).
pub(crate) struct SpacesRule;

impl TextRule for SpacesRule {
    const WHY: &'static str = "letters of s, l, g";
    fn ok(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| matches!(c, 's' | 'l' | 'g'))
    }
}

pub(crate) type Spaces = Text<SpacesRule>;

/// `subst`: a substitute operation of [`SUBSTITUTES`].
pub(crate) struct SubstRule;

impl TextRule for SubstRule {
    // the list, joined: kept in step with SUBSTITUTES by a test
    const WHY: &'static str = "add, sub, mul, and, or, xor, min, max, shl, shr";
    fn ok(s: &str) -> bool {
        SUBSTITUTES.contains(&s)
    }
}

pub(crate) type Subst = Text<SubstRule>;

/// A model's typed parameters, as generated by [`param_set!`].
pub(crate) trait ParamSet {
    /// Its keys, in the order the compact and JSON forms write them.
    fn keys(&self) -> &'static [&'static str];
    /// Sets `key` from the compact form; `Ok(false)` when `key` is not one of its keys.
    fn set(&mut self, key: &str, text: &str) -> Result<bool, SpecError>;
    /// Sets `key` from the JSON form; `Ok(false)` when `key` is not one of its keys.
    fn set_json(&mut self, key: &str, v: &Value) -> Result<bool, SpecError>;
    /// Whether `key` is given.
    fn has(&self, key: &str) -> bool;
    /// Checks the range of every given value.
    fn check(&self) -> Result<(), SpecError>;
    /// Writes `,key=value` for every given key.
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// The error for a JSON value of the wrong type.
pub(crate) fn json_type(field: &str, expected: &str, got: &Value) -> SpecError {
    SpecError::JsonField {
        field: field.into(),
        why: format!("expected {expected}, got {}", describe(got)),
    }
}

/// A JSON value in words: `the number 5`, `the string "x"`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Declares a model's typed parameter struct: one `Option` per key, each read, checked
/// and written by its [`Codec`], serialised (JSON form) with the keys left out that are
/// `None`.
///
/// ```text
/// param_set! {
///     /// Parameters of `wv`.
///     pub struct WvParams {
///         /// Corruption policy.
///         pol: Policy as Name<Policy>,
///     }
/// }
/// ```
macro_rules! param_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $key:ident: $ty:ty as $codec:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $key: Option<$ty>,
            )*
        }

        impl $crate::params::ParamSet for $name {
            fn keys(&self) -> &'static [&'static str] {
                &[$(stringify!($key)),*]
            }

            fn set(&mut self, key: &str, _text: &str) -> Result<bool, $crate::spec::SpecError> {
                #[allow(unused_imports)]
                use $crate::params::Codec as _;
                match key {
                    $(stringify!($key) => {
                        let v = <$codec>::parse(key, _text)?;
                        <$codec>::check(key, &v)?;
                        self.$key = Some(v);
                        Ok(true)
                    })*
                    _ => Ok(false),
                }
            }

            fn set_json(
                &mut self,
                key: &str,
                _v: &serde_json::Value,
            ) -> Result<bool, $crate::spec::SpecError> {
                #[allow(unused_imports)]
                use $crate::params::Codec as _;
                match key {
                    $(stringify!($key) => {
                        let x = <$codec>::from_json(_v).ok_or_else(|| {
                            $crate::params::json_type(
                                &format!("params.{key}"),
                                &<$codec>::json_expected(),
                                _v,
                            )
                        })?;
                        <$codec>::check(key, &x)?;
                        self.$key = Some(x);
                        Ok(true)
                    })*
                    _ => Ok(false),
                }
            }

            fn has(&self, key: &str) -> bool {
                match key {
                    $(stringify!($key) => self.$key.is_some(),)*
                    _ => false,
                }
            }

            fn check(&self) -> Result<(), $crate::spec::SpecError> {
                #[allow(unused_imports)]
                use $crate::params::Codec as _;
                $(
                    if let Some(v) = &self.$key {
                        <$codec>::check(stringify!($key), v)?;
                    }
                )*
                Ok(())
            }

            fn write(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                #[allow(unused_imports)]
                use $crate::params::Codec as _;
                $(
                    if let Some(v) = &self.$key {
                        _f.write_str(concat!(",", stringify!($key), "="))?;
                        <$codec>::write(v, _f)?;
                    }
                )*
                Ok(())
            }
        }
    };
}

pub(crate) use param_set;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_substitute_list_in_messages_is_the_list() {
        assert_eq!(SubstRule::WHY, SUBSTITUTES.join(", "));
    }

    #[test]
    fn json_values_are_described_in_words() {
        assert_eq!(describe(&serde_json::json!(5)), "the number 5");
        assert_eq!(
            describe(&serde_json::json!("a\"b")),
            "the string \"a\\\"b\""
        );
        assert_eq!(describe(&serde_json::json!([1])), "an array");
    }
}
