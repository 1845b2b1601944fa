//! Floating-point instructions: binary operations, fused multiply-add and the
//! unary and approximate functions, for f32, f64 and the 16-bit formats.

// Lane loops index several 32-lane arrays in lockstep (and vectorise that way).
#![allow(clippy::needless_range_loop)]

use super::*;

#[inline(always)]
pub(super) fn fmin32(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else if a == b {
        // -0 is smaller than +0.
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

#[inline(always)]
pub(super) fn fmax32(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else if a == b {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

pub(super) fn fmin64(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else if b.is_nan() {
        a
    } else if a == b {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

pub(super) fn fmax64(a: f64, b: f64) -> f64 {
    -fmin64(-a, -b)
}

/// One f32 binary operation with all modifiers.
#[inline(always)]
pub(super) fn f32_bin(op: FBin, rnd: Rnd, ftz: bool, sat: bool, a: f32, b: f32) -> u32 {
    let (a, b) = if ftz {
        (float::ftz32(a), float::ftz32(b))
    } else {
        (a, b)
    };
    let mut r = match op {
        FBin::Add => float::add32(a, b, rnd),
        FBin::Sub => float::add32(a, -b, rnd),
        FBin::Mul => float::mul32(a, b, rnd),
        FBin::Div => float::div32(a, b, rnd),
        FBin::DivApprox => a / b,
        FBin::Min => fmin32(a, b),
        FBin::Max => fmax32(a, b),
        FBin::MinNan => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                fmin32(a, b)
            }
        }
        FBin::MaxNan => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                fmax32(a, b)
            }
        }
        FBin::Copysign => return (b.to_bits() & 0x7fff_ffff) | (a.to_bits() & 0x8000_0000),
    };
    if ftz {
        r = float::ftz32(r);
    }
    if sat {
        r = float::sat32(r);
    }
    float::bits32(r)
}

#[inline(always)]
pub(super) fn f64_bin(op: FBin, rnd: Rnd, ftz: bool, sat: bool, a: f64, b: f64) -> u64 {
    let (a, b) = if ftz {
        (float::ftz64(a), float::ftz64(b))
    } else {
        (a, b)
    };
    let mut r = match op {
        FBin::Add => float::add64(a, b, rnd),
        FBin::Sub => float::add64(a, -b, rnd),
        FBin::Mul => float::mul64(a, b, rnd),
        FBin::Div => float::div64(a, b, rnd),
        FBin::DivApprox => a / b,
        FBin::Min => fmin64(a, b),
        FBin::Max => fmax64(a, b),
        FBin::MinNan => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                fmin64(a, b)
            }
        }
        FBin::MaxNan => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                fmax64(a, b)
            }
        }
        FBin::Copysign => return (b.to_bits() & 0x7fff_ffff_ffff_ffff) | (a.to_bits() & (1 << 63)),
    };
    if ftz {
        r = float::ftz64(r);
    }
    if sat {
        r = float::sat64(r);
    }
    float::bits64(r)
}

/// A 16-bit float format's operations via exact f64 arithmetic and one rounding.
#[inline(always)]
pub(super) fn h_bin(
    fmt: float::Fmt,
    op: FBin,
    rnd: Rnd,
    ftz: bool,
    sat: bool,
    a: u64,
    b: u64,
) -> u64 {
    let to = |x: u64| {
        let v = fmt.decode(x as u32 & 0xffff);
        if ftz && v != 0.0 && v.abs() < 2f64.powi(1 - ((1 << (fmt.ebits - 1)) - 1)) {
            0.0f64.copysign(v)
        } else {
            v
        }
    };
    let (x, y) = (to(a), to(b));
    let r = match op {
        FBin::Add => x + y,
        FBin::Sub => x - y,
        FBin::Mul => x * y,
        FBin::Div | FBin::DivApprox => {
            let q = x / y;
            if q.is_finite() && q != 0.0 {
                let rem = (-q).mul_add(y, x);
                float::round_to_odd(q, rem * y.signum())
            } else {
                q
            }
        }
        FBin::Min => fmin64(x, y),
        FBin::Max => fmax64(x, y),
        FBin::MinNan | FBin::MaxNan => {
            if x.is_nan() || y.is_nan() {
                f64::NAN
            } else if op == FBin::MinNan {
                fmin64(x, y)
            } else {
                fmax64(x, y)
            }
        }
        FBin::Copysign => {
            let s = 1u64 << (fmt.ebits + fmt.mbits);
            return (b & (s - 1)) | (a & s);
        }
    };
    let r = if sat { float::sat64(r) } else { r };
    let mut bits = fmt.encode(r, rnd, false, false) as u64;
    if ftz {
        let e = (bits >> fmt.mbits) & ((1 << fmt.ebits) - 1);
        if e == 0 {
            bits &= 1 << (fmt.ebits + fmt.mbits);
        }
    }
    bits
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn fbin(
    op: FBin,
    t: FT,
    rnd: Rnd,
    ftz: bool,
    sat: bool,
    regs: &mut [u64],
    d: R,
    a: Src,
    b: Src,
    mask: u32,
) {
    let plain = rnd == Rnd::Rn && !ftz && !sat;
    match t {
        FT::F32 => match op {
            FBin::Add if plain => map2(regs, d, a, b, mask, |x, y| {
                float::bits32(f32v(x) + f32v(y)) as u64
            }),
            FBin::Sub if plain => map2(regs, d, a, b, mask, |x, y| {
                float::bits32(f32v(x) - f32v(y)) as u64
            }),
            FBin::Mul if plain => map2(regs, d, a, b, mask, |x, y| {
                float::bits32(f32v(x) * f32v(y)) as u64
            }),
            _ => map2(regs, d, a, b, mask, |x, y| {
                f32_bin(op, rnd, ftz, sat, f32v(x), f32v(y)) as u64
            }),
        },
        FT::F64 => match op {
            FBin::Add if plain => {
                map2(regs, d, a, b, mask, |x, y| float::bits64(f64v(x) + f64v(y)))
            }
            FBin::Mul if plain => {
                map2(regs, d, a, b, mask, |x, y| float::bits64(f64v(x) * f64v(y)))
            }
            _ => map2(regs, d, a, b, mask, |x, y| {
                f64_bin(op, rnd, ftz, sat, f64v(x), f64v(y))
            }),
        },
        FT::F16 => map2(regs, d, a, b, mask, |x, y| {
            h_bin(F16, op, rnd, ftz, sat, x, y)
        }),
        FT::Bf16 => map2(regs, d, a, b, mask, |x, y| {
            h_bin(BF16, op, rnd, ftz, sat, x, y)
        }),
        FT::F16x2 | FT::Bf16x2 => {
            let fmt = if t == FT::F16x2 { F16 } else { BF16 };
            map2(regs, d, a, b, mask, |x, y| {
                let lo = h_bin(fmt, op, rnd, ftz, sat, x & 0xffff, y & 0xffff);
                let hi = h_bin(
                    fmt,
                    op,
                    rnd,
                    ftz,
                    sat,
                    (x >> 16) & 0xffff,
                    (y >> 16) & 0xffff,
                );
                (hi << 16) | lo
            })
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn fma32_hw_lanes(a: &[u64; 32], b: &[u64; 32], c: &[u64; 32], o: &mut [u64; 32]) {
    for l in 0..32 {
        o[l] = float::bits32(f32v(a[l]).mul_add(f32v(b[l]), f32v(c[l]))) as u64;
    }
}

/// Whether the host CPU has a fused multiply-add (then f32 FMA uses it; results are the
/// same either way, both are exactly rounded).
#[inline]
pub(super) fn have_hw_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn fma(
    t: FT,
    rnd: Rnd,
    ftz: bool,
    sat: bool,
    relu: bool,
    regs: &mut [u64],
    d: R,
    a: Src,
    b: Src,
    c: Src,
    mask: u32,
) {
    match t {
        FT::F32 => {
            if rnd == Rnd::Rn && !ftz && !sat {
                let (mut ta, mut tb, mut tc) = ([0u64; 32], [0u64; 32], [0u64; 32]);
                let (av, bv, cv) = (
                    lanes(regs, a, &mut ta),
                    lanes(regs, b, &mut tb),
                    lanes(regs, c, &mut tc),
                );
                let mut o = [0u64; 32];
                #[cfg(target_arch = "x86_64")]
                if have_hw_fma() {
                    // SAFETY: the CPU supports FMA (checked above).
                    unsafe { fma32_hw_lanes(av, bv, cv, &mut o) };
                    write(regs, d, &o, mask);
                    return;
                }
                for l in 0..32 {
                    o[l] = float::bits32(float::fma32_soft(
                        f32v(av[l]),
                        f32v(bv[l]),
                        f32v(cv[l]),
                        Rnd::Rn,
                    )) as u64;
                }
                write(regs, d, &o, mask);
                return;
            }
            map3(regs, d, a, b, c, mask, |x, y, z| {
                let f = |v: u64| {
                    let v = f32v(v);
                    if ftz {
                        float::ftz32(v)
                    } else {
                        v
                    }
                };
                let mut r = float::fma32_soft(f(x), f(y), f(z), rnd);
                if ftz {
                    r = float::ftz32(r);
                }
                if sat {
                    r = float::sat32(r);
                }
                float::bits32(r) as u64
            })
        }
        FT::F64 => map3(regs, d, a, b, c, mask, |x, y, z| {
            let mut r = float::fma64(f64v(x), f64v(y), f64v(z), rnd);
            if sat {
                r = float::sat64(r);
            }
            float::bits64(r)
        }),
        FT::F16 | FT::Bf16 | FT::F16x2 | FT::Bf16x2 => {
            let fmt = if matches!(t, FT::F16 | FT::F16x2) {
                F16
            } else {
                BF16
            };
            let one = move |x: u64, y: u64, z: u64| -> u64 {
                let (x, y, z) = (
                    fmt.decode(x as u32 & 0xffff),
                    fmt.decode(y as u32 & 0xffff),
                    fmt.decode(z as u32 & 0xffff),
                );
                let p = x * y; // exact
                let (s, e) = float::two_sum(p, z);
                let mut r = if s.is_finite() {
                    float::round_to_odd(s, e)
                } else {
                    p + z
                };
                if sat {
                    r = float::sat64(r);
                }
                fmt.encode(r, rnd, false, relu) as u64
            };
            if matches!(t, FT::F16x2 | FT::Bf16x2) {
                map3(regs, d, a, b, c, mask, |x, y, z| {
                    let lo = one(x & 0xffff, y & 0xffff, z & 0xffff);
                    let hi = one((x >> 16) & 0xffff, (y >> 16) & 0xffff, (z >> 16) & 0xffff);
                    (hi << 16) | lo
                })
            } else {
                map3(regs, d, a, b, c, mask, one)
            }
        }
    }
}

/// f64 value of the approximate functions; the caller rounds it to the target type.
/// The transcendental functions come from `libm` (a pure-Rust port of musl's libm,
/// accurate to under 1 ulp of f64), so their bits are the same on every machine; std's
/// versions call the platform's libm. `sqrt` and division are IEEE correctly rounded.
pub(super) fn approx(op: FUn, x: f64) -> f64 {
    match op {
        FUn::Sin => libm::sin(x),
        FUn::Cos => libm::cos(x),
        FUn::Lg2 => libm::log2(x),
        FUn::Ex2 => libm::exp2(x),
        FUn::Tanh => libm::tanh(x),
        FUn::Rsqrt => 1.0 / x.sqrt(),
        FUn::RcpApprox => 1.0 / x,
        FUn::SqrtApprox => x.sqrt(),
        _ => x,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn fun(
    op: FUn,
    t: FT,
    rnd: Rnd,
    ftz: bool,
    sat: bool,
    regs: &mut [u64],
    d: R,
    a: Src,
    mask: u32,
) {
    match t {
        FT::F32 => map1(regs, d, a, mask, |x| {
            let mut v = f32v(x);
            if ftz {
                v = float::ftz32(v);
            }
            let mut r = match op {
                FUn::Abs => {
                    return (x as u32 & 0x7fff_ffff) as u64
                        & if ftz && f32v(x).is_subnormal() { 0 } else { !0 }
                }
                FUn::Neg => {
                    let v = if ftz { float::ftz32(f32v(x)) } else { f32v(x) };
                    return (v.to_bits() ^ 0x8000_0000) as u64;
                }
                FUn::Sqrt => float::sqrt32(v, rnd),
                FUn::Rcp => float::div32(1.0, v, rnd),
                _ => approx(op, v as f64) as f32,
            };
            if ftz {
                r = float::ftz32(r);
            }
            if sat {
                r = float::sat32(r);
            }
            float::bits32(r) as u64
        }),
        FT::F64 => map1(regs, d, a, mask, |x| {
            let mut v = f64v(x);
            if ftz {
                v = float::ftz64(v);
            }
            let mut r = match op {
                FUn::Abs => return x & 0x7fff_ffff_ffff_ffff,
                FUn::Neg => return x ^ (1 << 63),
                FUn::Sqrt => float::sqrt64(v, rnd),
                FUn::Rcp => float::div64(1.0, v, rnd),
                _ => approx(op, v),
            };
            if sat {
                r = float::sat64(r);
            }
            float::bits64(r)
        }),
        _ => {
            let fmt = if matches!(t, FT::F16 | FT::F16x2) {
                F16
            } else {
                BF16
            };
            let sign = 1u64 << (fmt.ebits + fmt.mbits);
            let one = move |x: u64| -> u64 {
                let x = x & 0xffff;
                match op {
                    FUn::Abs => return x & (sign - 1),
                    FUn::Neg => return x ^ sign,
                    _ => {}
                }
                let v = fmt.decode(x as u32);
                let mut r = match op {
                    FUn::Sqrt | FUn::SqrtApprox => v.sqrt(),
                    FUn::Rcp => 1.0 / v,
                    _ => approx(op, v),
                };
                if sat {
                    r = float::sat64(r);
                }
                fmt.encode(r, Rnd::Rn, false, false) as u64
            };
            if matches!(t, FT::F16x2 | FT::Bf16x2) {
                map1(regs, d, a, mask, |x| (one(x >> 16) << 16) | one(x))
            } else {
                map1(regs, d, a, mask, one)
            }
        }
    }
}

/// Rounds to an integral value (exact in f64 for any f32 or f64 input).
pub(super) fn round_int64(v: f64, irnd: IRnd) -> f64 {
    match irnd {
        IRnd::Rni => v.round_ties_even(),
        IRnd::Rzi => v.trunc(),
        IRnd::Rmi => v.floor(),
        IRnd::Rpi => v.ceil(),
    }
}
