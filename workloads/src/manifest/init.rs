//! Initial buffer contents: a data file, a seeded generator, or a pattern.
//!
//! | `init = { … }` | values |
//! |---|---|
//! | `file = "x.npy"` (`format = "npy"\|"raw"`) | the file's elements (dtype and length checked) |
//! | `random = "uniform", min, max, seed` | integers uniform in `[min, max]`, floats in `[min, max)`; ChaCha8 |
//! | `pattern = "iota", start, step` | `start + i * step` (defaults 0 and 1) |
//! | `pattern = "constant", value` | `value` everywhere |
//! | `pattern = "cycle", values = [...]` | `values[i % len(values)]` |
//!
//! A random buffer's stream is ChaCha8 from `seed` (default 0) on a stream chosen by the
//! buffer's name (FNV-1a), so two buffers with one seed still differ, and the values are
//! the same on every machine.

use std::ops::Range;

use toml::{Spanned, Value};

use super::load::Ctx;
use super::schema::InitToml;
use super::ManifestError;
use crate::data::{DType, Data};
use crate::rng::Rng;

/// One element before it is cast to the buffer's type (checked to fit).
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

/// The values of `dtype` a number must lie in (integers), or `None` for floats.
fn int_range(dtype: DType) -> Option<(i128, i128)> {
    let bits = (dtype.size() * 8) as u32;
    match dtype {
        DType::F32 | DType::F64 => None,
        DType::I8 | DType::I16 | DType::I32 | DType::I64 => {
            Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1))
        }
        _ => Some((0, (1i128 << bits) - 1)),
    }
}

/// An integer from a TOML integer, or from a string holding one (decimal or `0x` hex:
/// TOML integers stop at 2^63 - 1).
pub(super) fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        Value::String(s) => {
            let s = s.trim().replace('_', "");
            let (neg, digits) = match s.strip_prefix('-') {
                Some(d) => (true, d.to_string()),
                None => (false, s),
            };
            let n = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(h) => i128::from_str_radix(h, 16).ok()?,
                None => digits.parse::<i128>().ok()?,
            };
            Some(if neg { -n } else { n })
        }
        _ => None,
    }
}

/// A TOML value in a message: the value of a scalar, the kind of anything else.
pub(super) fn show(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(_) => "a date".into(),
        Value::Array(_) => "an array".into(),
        Value::Table(_) => "a table".into(),
    }
}

/// A float from a TOML float or integer.
pub(super) fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// `v` as an element of `dtype`, or why not.
fn num(v: &Value, dtype: DType) -> Result<Num, String> {
    match int_range(dtype) {
        Some((lo, hi)) => match int_of(v) {
            Some(n) if (lo..=hi).contains(&n) => Ok(Num::Int(n)),
            Some(n) => Err(format!("{n} is out of range for {dtype} ({lo}..={hi})")),
            None => Err(format!(
                "expected an integer for {dtype}, found {}",
                show(v)
            )),
        },
        None => match float_of(v) {
            Some(f) if dtype == DType::F32 && f.is_finite() && (f as f32).is_infinite() => {
                Err(format!("{f} is out of range for f32"))
            }
            Some(f) => Ok(Num::Float(f)),
            None => Err(format!("expected a number for {dtype}, found {}", show(v))),
        },
    }
}

/// `len` elements of `dtype`, element `i` being `f(i)` (values already checked).
fn fill(dtype: DType, len: usize, mut f: impl FnMut(usize) -> Num) -> Data {
    let int = |n: Num| match n {
        Num::Int(i) => i,
        Num::Float(x) => x as i128,
    };
    let float = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    };
    match dtype {
        DType::U8 => Data::U8((0..len).map(|i| int(f(i)) as u8).collect()),
        DType::I8 => Data::I8((0..len).map(|i| int(f(i)) as i8).collect()),
        DType::U16 => Data::U16((0..len).map(|i| int(f(i)) as u16).collect()),
        DType::I16 => Data::I16((0..len).map(|i| int(f(i)) as i16).collect()),
        DType::U32 => Data::U32((0..len).map(|i| int(f(i)) as u32).collect()),
        DType::I32 => Data::I32((0..len).map(|i| int(f(i)) as i32).collect()),
        DType::U64 => Data::U64((0..len).map(|i| int(f(i)) as u64).collect()),
        DType::I64 => Data::I64((0..len).map(|i| int(f(i)) as i64).collect()),
        DType::F32 => Data::F32((0..len).map(|i| float(f(i)) as f32).collect()),
        DType::F64 => Data::F64((0..len).map(|i| float(f(i))).collect()),
    }
}

/// FNV-1a of a buffer's name: its random stream.
fn stream_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The initial contents of a buffer from its `init` table.
pub(super) fn initial(
    cx: &mut Ctx,
    field: &str,
    init: &Spanned<InitToml>,
    buffer: &str,
    dtype: DType,
    len: usize,
) -> Result<Data, ManifestError> {
    let span = init.span();
    let t = init.get_ref();
    let given: Vec<&str> = [
        ("file", t.file.is_some()),
        ("format", t.format.is_some()),
        ("random", t.random.is_some()),
        ("min", t.min.is_some()),
        ("max", t.max.is_some()),
        ("seed", t.seed.is_some()),
        ("pattern", t.pattern.is_some()),
        ("start", t.start.is_some()),
        ("step", t.step.is_some()),
        ("value", t.value.is_some()),
        ("values", t.values.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let kinds: Vec<&str> = ["file", "random", "pattern"]
        .into_iter()
        .filter(|k| given.contains(k))
        .collect();
    let [kind] = kinds[..] else {
        return Err(cx.invalid(
            span,
            field,
            "give exactly one of `file`, `random` or `pattern` (or no `init`: zeros)",
        ));
    };
    let allowed: &[&str] = match (kind, t.pattern.as_deref()) {
        ("file", _) => &["file", "format"],
        ("random", _) => &["random", "min", "max", "seed"],
        (_, Some("iota")) => &["pattern", "start", "step"],
        (_, Some("constant")) => &["pattern", "value"],
        (_, Some("cycle")) => &["pattern", "values"],
        (_, Some(other)) => {
            return Err(cx.invalid(
                span,
                &format!("{field}.pattern"),
                format!("unknown pattern `{other}` (known: iota, constant, cycle)"),
            ))
        }
        (_, None) => unreachable!("kind is pattern"),
    };
    if let Some(k) = given.iter().find(|k| !allowed.contains(k)) {
        return Err(cx.invalid(
            span,
            &format!("{field}.{k}"),
            format!(
                "`{k}` does not go with `{kind}` (it takes: {})",
                allowed.join(", ")
            ),
        ));
    }
    let number = |key: &str, v: &Option<Value>, default: Option<i64>| {
        let v = match (v, default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => Value::Integer(d),
            (None, None) => {
                return Err(cx.invalid(span.clone(), &format!("{field}.{key}"), "missing"))
            }
        };
        num(&v, dtype).map_err(|m| cx.invalid(span.clone(), &format!("{field}.{key}"), m))
    };
    match kind {
        "file" => {
            let path = t.file.as_deref().unwrap_or_default();
            cx.read_data(
                span.clone(),
                &format!("{field}.file"),
                path,
                t.format.as_deref(),
                dtype,
                len,
            )
        }
        "random" => {
            if t.random.as_deref() != Some("uniform") {
                return Err(cx.invalid(
                    span,
                    &format!("{field}.random"),
                    format!(
                        "unknown distribution `{}` (known: uniform)",
                        t.random.as_deref().unwrap_or_default()
                    ),
                ));
            }
            let (min, max) = (number("min", &t.min, None)?, number("max", &t.max, None)?);
            let mut rng = Rng::new(t.seed.unwrap_or(0), stream_of(buffer));
            uniform(cx, span, field, dtype, len, min, max, &mut rng)
        }
        _ => match t.pattern.as_deref() {
            Some("iota") => {
                let start = number("start", &t.start, Some(0))?;
                // An integer step is checked through the last element, so an unsigned
                // buffer may count down.
                let step = match (int_range(dtype), &t.step) {
                    (Some(_), Some(v)) => Num::Int(int_of(v).ok_or_else(|| {
                        cx.invalid(
                            span.clone(),
                            &format!("{field}.step"),
                            "expected an integer",
                        )
                    })?),
                    _ => number("step", &t.step, Some(1))?,
                };
                iota(cx, span, field, dtype, len, start, step)
            }
            Some("constant") => {
                let v = number("value", &t.value, None)?;
                Ok(fill(dtype, len, |_| v))
            }
            _ => {
                let list = t.values.as_deref().unwrap_or_default();
                if list.is_empty() {
                    return Err(cx.invalid(span, &format!("{field}.values"), "empty list"));
                }
                let vals = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        num(v, dtype).map_err(|m| {
                            cx.invalid(span.clone(), &format!("{field}.values[{i}]"), m)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(fill(dtype, len, |i| vals[i % vals.len()]))
            }
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn uniform(
    cx: &Ctx,
    span: Range<usize>,
    field: &str,
    dtype: DType,
    len: usize,
    min: Num,
    max: Num,
    rng: &mut Rng,
) -> Result<Data, ManifestError> {
    match (min, max) {
        (Num::Int(lo), Num::Int(hi)) => {
            if lo > hi {
                return Err(cx.invalid(span, field, format!("min {lo} > max {hi}")));
            }
            // Inclusive span, at most 2^64: multiply-shift of a 64-bit draw.
            let width = (hi - lo + 1) as u128;
            Ok(fill(dtype, len, |_| {
                let r = (u64::from(rng.u32()) << 32) | u64::from(rng.u32());
                Num::Int(lo + ((u128::from(r) * width) >> 64) as i128)
            }))
        }
        (Num::Float(lo), Num::Float(hi)) => {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(cx.invalid(
                    span,
                    field,
                    format!("min {lo} and max {hi} must be finite with min < max"),
                ));
            }
            Ok(if dtype == DType::F32 {
                let (lo, hi) = (lo as f32, hi as f32);
                Data::F32((0..len).map(|_| rng.f32_in(lo, hi)).collect())
            } else {
                Data::F64((0..len).map(|_| lo + (hi - lo) * rng.unit_f64()).collect())
            })
        }
        _ => unreachable!("num() types both by dtype"),
    }
}

fn iota(
    cx: &Ctx,
    span: Range<usize>,
    field: &str,
    dtype: DType,
    len: usize,
    start: Num,
    step: Num,
) -> Result<Data, ManifestError> {
    if let (Num::Int(a), Num::Int(d), Some((lo, hi))) = (start, step, int_range(dtype)) {
        // Linear, so both ends in range means every value is.
        let last = a + d * (len as i128 - 1);
        if !(lo..=hi).contains(&last) {
            return Err(cx.invalid(
                span,
                &format!("{field}.step"),
                format!("the last element, {last}, is out of range for {dtype}"),
            ));
        }
        return Ok(fill(dtype, len, |i| Num::Int(a + d * i as i128)));
    }
    let (Num::Float(a), Num::Float(d)) = (start, step) else {
        unreachable!("num() types both by dtype")
    };
    Ok(fill(dtype, len, |i| Num::Float(a + d * i as f64)))
}
