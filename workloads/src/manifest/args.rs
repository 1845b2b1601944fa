//! Kernel arguments, matched against the kernel's PTX parameter list.
//!
//! | argument | parameter |
//! |---|---|
//! | a bare number (or a string holding an integer beyond 2^63) | a scalar, typed by the parameter (`.u8`…`.u64`, `.s8`…`.s64`, `.b8`…`.b64`: any value of the width, signed or unsigned; `.f32`, `.f64`), range checked |
//! | `{ buffer = "x" }` | a 64-bit integer parameter: the buffer's device address |
//! | `{ len = "x" }` | an integer parameter: the buffer's length in elements |
//! | `{ bytes = [1, 2, …] }` / `{ hex = "0102…" }` | any parameter of exactly that many bytes: a by-value aggregate (`.param .align 8 .b8 p[56]`), or raw bits of a scalar (`.f16`) |

use std::ops::Range;

use gpu::KernelArg;
use ptx::{Function, Type, VarDecl};
use toml::{Spanned, Value};

use super::init::{float_of, int_of, show};
use super::load::Ctx;
use super::{Arg, BufferSpec, ManifestError};

/// A kernel parameter as far as arguments are concerned.
struct Param {
    name: String,
    ty: Type,
    /// Bytes.
    size: u64,
    /// An array or vector: only bytes fit it.
    aggregate: bool,
}

impl Param {
    fn of(v: &VarDecl) -> Option<Param> {
        let d = v.names.first()?;
        let mut size = u64::from(v.ty.size()) * u64::from(v.vector.unwrap_or(1));
        for dim in &d.dims {
            size = size.checked_mul((*dim)?)?;
        }
        Some(Param {
            name: d.name.to_string(),
            ty: v.ty,
            size,
            aggregate: !d.dims.is_empty() || v.vector.is_some(),
        })
    }

    /// How the parameter reads in messages: `.u64 n`, `.b8 s[24]`.
    fn describe(&self) -> String {
        if self.aggregate {
            format!(".{} {} ({} bytes)", self.ty.name(), self.name, self.size)
        } else {
            format!(".{} {}", self.ty.name(), self.name)
        }
    }

    /// The integer range of a scalar integer parameter: any value its width holds,
    /// signed or unsigned, because PTX parameter types do not keep C's signedness
    /// (NVRTC declares an `int` parameter `.u32` and a `short` `.u16`).
    fn int_range(&self) -> Option<(i128, i128)> {
        let bits = self.size as u32 * 8;
        let integer = matches!(
            self.ty,
            Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::S8
                | Type::S16
                | Type::S32
                | Type::S64
                | Type::B8
                | Type::B16
                | Type::B32
                | Type::B64
        );
        if self.aggregate || !integer {
            return None;
        }
        let half = 1i128 << (bits - 1);
        Some((-half, 2 * half - 1))
    }

    /// A checked integer as this parameter's argument.
    fn int_arg(&self, n: i128) -> Result<KernelArg, String> {
        let Some((lo, hi)) = self.int_range() else {
            return Err(format!("parameter {} is not an integer", self.describe()));
        };
        if !(lo..=hi).contains(&n) {
            return Err(format!(
                "{n} is out of range for parameter {} ({lo}..={hi})",
                self.describe()
            ));
        }
        let signed = n < 0;
        Ok(match self.size {
            1 => KernelArg::U8(n as u8),
            2 => KernelArg::U16(n as u16),
            4 if signed => KernelArg::I32(n as i32),
            4 => KernelArg::U32(n as u32),
            _ if signed => KernelArg::I64(n as i64),
            _ => KernelArg::U64(n as u64),
        })
    }
}

/// Binds the arguments of launch `field` (`launches[i]`) to `kernel`'s parameters.
pub(super) fn bind(
    cx: &Ctx,
    field: &str,
    span: Range<usize>,
    kernel: &Function,
    args: &[Spanned<Value>],
    buffers: &[BufferSpec],
) -> Result<Vec<Arg>, ManifestError> {
    let params = kernel
        .params
        .iter()
        .map(|p| {
            Param::of(p).ok_or_else(|| {
                cx.invalid(
                    span.clone(),
                    field,
                    format!(
                        "kernel `{}` has a parameter of unknown size (line {} of its PTX)",
                        kernel.name, p.line
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if params.len() != args.len() {
        let list: Vec<String> = params.iter().map(Param::describe).collect();
        return Err(cx.invalid(
            span,
            &format!("{field}.args"),
            format!(
                "kernel `{}` takes {} parameters ({}), {} arguments given",
                kernel.name,
                params.len(),
                list.join(", "),
                args.len()
            ),
        ));
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (p, a))| {
            let f = format!("{field}.args[{i}]");
            one(p, a.get_ref(), buffers)
                .map_err(|m| cx.invalid(a.span(), &f, format!("{m} (kernel `{}`)", kernel.name)))
        })
        .collect()
}

/// One argument for one parameter, or why it does not fit.
fn one(p: &Param, a: &Value, buffers: &[BufferSpec]) -> Result<Arg, String> {
    let buffer = |name: &Value| {
        let name = name.as_str().ok_or("a buffer is named by a string")?;
        buffers
            .iter()
            .position(|b| b.name == name)
            .ok_or_else(|| format!("no buffer `{name}`"))
    };
    let table = match a {
        Value::Table(t) => t,
        Value::Integer(_) | Value::Float(_) | Value::String(_) => return scalar(p, a),
        _ => {
            return Err(format!(
                "expected a number or {{ buffer | len | bytes | hex = … }} for parameter {}, \
                 found {}",
                p.describe(),
                show(a)
            ))
        }
    };
    let (key, v) = match table.iter().collect::<Vec<_>>()[..] {
        [(k, v)] => (k.as_str(), v),
        _ => {
            return Err(format!(
                "an argument table has one key: buffer, len, bytes or hex (found {})",
                table.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        }
    };
    match key {
        "buffer" => {
            let i = buffer(v)?;
            if p.aggregate || p.size != 8 || p.ty.is_float() {
                return Err(format!(
                    "buffer `{}` is a 64-bit device address; parameter {} is not a 64-bit \
                     integer",
                    buffers[i].name,
                    p.describe()
                ));
            }
            Ok(Arg::Buffer(i))
        }
        "len" => {
            let b = &buffers[buffer(v)?];
            p.int_arg(b.len as i128)
                .map(Arg::Value)
                .map_err(|m| format!("length of `{}`: {m}", b.name))
        }
        "bytes" => {
            let list = v
                .as_array()
                .ok_or("`bytes` is an array of integers 0..=255")?;
            let bytes = list
                .iter()
                .map(|b| match b {
                    Value::Integer(n) => u8::try_from(*n).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or("`bytes` is an array of integers 0..=255")?;
            sized(p, bytes)
        }
        "hex" => {
            let s = v.as_str().ok_or("`hex` is a string of hex digit pairs")?;
            let digits: Vec<char> = s
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '_')
                .collect();
            if !digits.len().is_multiple_of(2) {
                return Err(format!(
                    "`hex` has an odd number of digits ({})",
                    digits.len()
                ));
            }
            let bytes = digits
                .chunks(2)
                .map(|pair| {
                    let pair: String = pair.iter().collect();
                    u8::from_str_radix(&pair, 16).map_err(|_| format!("`{pair}` is not hex"))
                })
                .collect::<Result<Vec<u8>, String>>()?;
            sized(p, bytes)
        }
        other => Err(format!(
            "unknown argument key `{other}` (known: buffer, len, bytes, hex)"
        )),
    }
}

fn sized(p: &Param, bytes: Vec<u8>) -> Result<Arg, String> {
    if bytes.len() as u64 != p.size {
        return Err(format!(
            "{} bytes given; parameter {} has {}",
            bytes.len(),
            p.describe(),
            p.size
        ));
    }
    Ok(Arg::Value(KernelArg::Bytes(bytes)))
}

/// A bare value for a scalar parameter.
fn scalar(p: &Param, a: &Value) -> Result<Arg, String> {
    if p.aggregate {
        return Err(format!(
            "parameter {} is an aggregate: give {{ bytes = [...] }} or {{ hex = \"...\" }}",
            p.describe()
        ));
    }
    match p.ty {
        Type::F32 | Type::F64 => {
            let x = float_of(a).ok_or_else(|| {
                format!(
                    "expected a number for parameter {}, found {}",
                    p.describe(),
                    show(a)
                )
            })?;
            Ok(Arg::Value(if p.ty == Type::F64 {
                KernelArg::F64(x)
            } else {
                if x.is_finite() && (x as f32).is_infinite() {
                    return Err(format!(
                        "{x} is out of range for parameter {}",
                        p.describe()
                    ));
                }
                KernelArg::F32(x as f32)
            }))
        }
        _ if p.int_range().is_some() => {
            let n = int_of(a).ok_or_else(|| {
                format!(
                    "expected an integer for parameter {}, found {}",
                    p.describe(),
                    show(a)
                )
            })?;
            p.int_arg(n).map(Arg::Value)
        }
        _ => Err(format!(
            "parameter {} takes {{ bytes = [...] }} or {{ hex = \"...\" }} ({} bytes)",
            p.describe(),
            p.size
        )),
    }
}
