//! Per-warp ALU instructions: integer, floating point, comparisons, selection and
//! conversions. Each handler reads its operands into 32-lane arrays, computes every lane
//! with a closure monomorphised for the decoded type (no per-lane type dispatch), and
//! writes back the lanes of the active mask. Every lane function is total (wrapping
//! arithmetic, defined division by zero), so computing inactive lanes is harmless.

// Lane loops index several 32-lane arrays in lockstep (and vectorise that way).
#![allow(clippy::needless_range_loop)]

use super::ExecResult;
use crate::float::{self, Rnd, BF16, E4M3, E5M2, F16};
use crate::ir::*;

/// Lanes of a source operand.
#[inline(always)]
pub(crate) fn rd(regs: &[u64], s: Src) -> [u64; 32] {
    match s {
        Src::Reg(r) => {
            let b = r as usize * 32;
            let mut out = [0u64; 32];
            out.copy_from_slice(&regs[b..b + 32]);
            out
        }
        Src::Imm(v) => [v; 32],
        Src::RegOff(r, k) => {
            let b = r as usize * 32;
            let mut out = [0u64; 32];
            for (o, x) in out.iter_mut().zip(&regs[b..b + 32]) {
                *o = x.wrapping_add(k as u64);
            }
            out
        }
    }
}

/// Writes the lanes of `mask`.
#[inline(always)]
pub(crate) fn write(regs: &mut [u64], d: R, v: &[u64; 32], mask: u32) {
    let b = d as usize * 32;
    let dst: &mut [u64] = &mut regs[b..b + 32];
    if mask == u32::MAX {
        dst.copy_from_slice(v);
    } else {
        for l in 0..32 {
            if mask >> l & 1 == 1 {
                dst[l] = v[l];
            }
        }
    }
}

/// Writes one value to the lanes of `mask`.
#[inline(always)]
pub(crate) fn splat(regs: &mut [u64], d: R, v: u64, mask: u32) {
    write(regs, d, &[v; 32], mask);
}

/// A register's lanes, borrowed (no copy).
#[inline(always)]
pub(crate) fn view(regs: &[u64], r: R) -> &[u64; 32] {
    let b = r as usize * 32;
    regs[b..b + 32].try_into().expect("32 lanes")
}

#[inline(always)]
pub(crate) fn map1(regs: &mut [u64], d: R, a: Src, mask: u32, f: impl Fn(u64) -> u64) {
    let mut o = [0u64; 32];
    match a {
        Src::Reg(x) => {
            let a = view(regs, x);
            for l in 0..32 {
                o[l] = f(a[l]);
            }
        }
        _ => {
            let a = rd(regs, a);
            for l in 0..32 {
                o[l] = f(a[l]);
            }
        }
    }
    write(regs, d, &o, mask);
}

#[inline(always)]
fn map2(regs: &mut [u64], d: R, a: Src, b: Src, mask: u32, f: impl Fn(u64, u64) -> u64) {
    let mut o = [0u64; 32];
    // Register operands are read in place; the common register/immediate shapes get
    // their own loops.
    match (a, b) {
        (Src::Reg(x), Src::Reg(y)) => {
            let (a, b) = (view(regs, x), view(regs, y));
            for l in 0..32 {
                o[l] = f(a[l], b[l]);
            }
        }
        (Src::Reg(x), Src::Imm(k)) => {
            let a = view(regs, x);
            for l in 0..32 {
                o[l] = f(a[l], k);
            }
        }
        _ => {
            let (a, b) = (rd(regs, a), rd(regs, b));
            for l in 0..32 {
                o[l] = f(a[l], b[l]);
            }
        }
    }
    write(regs, d, &o, mask);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn map3(
    regs: &mut [u64],
    d: R,
    a: Src,
    b: Src,
    c: Src,
    mask: u32,
    f: impl Fn(u64, u64, u64) -> u64,
) {
    let mut o = [0u64; 32];
    match (a, b, c) {
        (Src::Reg(x), Src::Reg(y), Src::Reg(z)) => {
            let (a, b, c) = (view(regs, x), view(regs, y), view(regs, z));
            for l in 0..32 {
                o[l] = f(a[l], b[l], c[l]);
            }
        }
        (Src::Reg(x), Src::Imm(k), Src::Reg(z)) => {
            let (a, c) = (view(regs, x), view(regs, z));
            for l in 0..32 {
                o[l] = f(a[l], k, c[l]);
            }
        }
        _ => {
            let (a, b, c) = (rd(regs, a), rd(regs, b), rd(regs, c));
            for l in 0..32 {
                o[l] = f(a[l], b[l], c[l]);
            }
        }
    }
    write(regs, d, &o, mask);
}

/// Reads a predicate operand as a lane mask.
#[inline(always)]
pub(crate) fn pget(preds: &[u32], s: PSrc) -> u32 {
    match s {
        PSrc::Reg { p, neg } => {
            let v = preds[p as usize];
            if neg {
                !v
            } else {
                v
            }
        }
        PSrc::Imm(b) => {
            if b {
                u32::MAX
            } else {
                0
            }
        }
    }
}

/// Writes predicate `p` in the lanes of `mask`.
#[inline(always)]
pub(crate) fn pset(preds: &mut [u32], p: P, v: u32, mask: u32) {
    let x = &mut preds[p as usize];
    *x = (*x & !mask) | (v & mask);
}

/// Applies `f` per integer type: `$s` is the signed/unsigned Rust type of the width,
/// `$u` the unsigned one, `$w` the double-width type of the same signedness.
macro_rules! by_int {
    ($t:expr, $m:ident) => {
        match $t {
            IT::U8 => $m!(u8, u8, u16),
            IT::U16 => $m!(u16, u16, u32),
            IT::U32 => $m!(u32, u32, u64),
            IT::U64 => $m!(u64, u64, u128),
            IT::S8 => $m!(i8, u8, i16),
            IT::S16 => $m!(i16, u16, i32),
            IT::S32 => $m!(i32, u32, i64),
            IT::S64 => $m!(i64, u64, i128),
        }
    };
}

#[inline(always)]
fn f32v(x: u64) -> f32 {
    f32::from_bits(x as u32)
}

#[inline(always)]
fn f64v(x: u64) -> f64 {
    f64::from_bits(x)
}

/// Executes an ALU instruction for the lanes of `mask`.
pub(crate) fn exec(op: &Op, regs: &mut [u64], preds: &mut [u32], mask: u32) -> ExecResult<()> {
    match *op {
        Op::Mov { d, a } => map1(regs, d, a, mask, |x| x),
        Op::MovPred { d, a } => {
            let v = pget(preds, a);
            pset(preds, d, v, mask);
        }
        Op::Pack { d, ref parts, bits } => {
            // At most 8 parts (decode checks that the parts fill 64 bits or fewer).
            let m = (1u64 << bits) - 1;
            let mut o = [0u64; 32];
            for (i, p) in parts.iter().enumerate().take(8) {
                let v = rd(regs, *p);
                for l in 0..32 {
                    o[l] |= (v[l] & m) << (i * bits as usize);
                }
            }
            write(regs, d, &o, mask);
        }
        Op::Unpack { ref ds, a, bits } => {
            let a = rd(regs, a);
            let m = (1u64 << bits) - 1;
            for (i, d) in ds.iter().enumerate() {
                if let Some(d) = d {
                    let mut o = [0u64; 32];
                    for l in 0..32 {
                        o[l] = (a[l] >> (i * bits as usize)) & m;
                    }
                    write(regs, *d, &o, mask);
                }
            }
        }
        Op::MovN { ref d, ref s } => {
            // A parallel copy of at most 8 registers (`mov.vN`).
            let mut vals = [[0u64; 32]; 8];
            for (v, x) in vals.iter_mut().zip(s.iter()) {
                *v = rd(regs, *x);
            }
            for (d, v) in d.iter().zip(vals.iter()) {
                write(regs, *d, v, mask);
            }
        }
        Op::IBin { op, t, d, a, b } => ibin(op, t, regs, d, a, b, mask),
        Op::IUn { op, t, d, a } => iun(op, t, regs, d, a, mask),
        Op::ITer { op, t, d, a, b, c } => iter(op, t, regs, d, a, b, c, mask),
        Op::Bfi {
            t,
            d,
            f,
            b,
            pos,
            len,
        } => bfi(t, regs, d, f, b, pos, len, mask),
        Op::Lop3 { d, a, b, c, lut } => map3(regs, d, a, b, c, mask, |a, b, c| {
            let (a, b, c) = (a as u32, b as u32, c as u32);
            let mut r = 0u32;
            for i in 0..8 {
                if lut >> i & 1 == 1 {
                    let x = if i & 4 != 0 { a } else { !a };
                    let y = if i & 2 != 0 { b } else { !b };
                    let z = if i & 1 != 0 { c } else { !c };
                    r |= x & y & z;
                }
            }
            r as u64
        }),
        Op::Dp {
            four,
            hi,
            sa,
            sb,
            d,
            a,
            b,
            c,
        } => map3(regs, d, a, b, c, mask, |a, b, c| {
            let byte = |v: u64, i: u32, s: bool| {
                let x = (v >> (8 * i)) as u8;
                if s {
                    x as i8 as i64
                } else {
                    x as i64
                }
            };
            let half = |v: u64, i: u32, s: bool| {
                let x = (v >> (16 * i)) as u16;
                if s {
                    x as i16 as i64
                } else {
                    x as i64
                }
            };
            let mut acc = c as u32 as i64;
            if four {
                for i in 0..4 {
                    acc = acc.wrapping_add(byte(a, i, sa) * byte(b, i, sb));
                }
            } else {
                let sel = if hi { 2 } else { 0 };
                for i in 0..2 {
                    acc = acc.wrapping_add(half(a, i, sa) * byte(b, sel + i, sb));
                }
            }
            acc as u32 as u64
        }),
        Op::Carry {
            sub,
            cin,
            cout,
            wide,
            d,
            a,
            b,
            cc,
        } => {
            let (av, bv) = (rd(regs, a), rd(regs, b));
            let cf = preds[cc as usize];
            let mut o = [0u64; 32];
            let mut flags = 0u32;
            for l in 0..32 {
                // Subtraction is a + !b + 1 (a + !b + CF with borrow-in), and CF is
                // the carry out: 1 means "no borrow", as on the hardware.
                let bits = if wide { 64 } else { 32 };
                let m = (1u128 << bits) - 1;
                let (x, y) = (av[l] as u128 & m, bv[l] as u128 & m);
                let c = match (cin, sub) {
                    (true, _) => (cf >> l & 1) as u128,
                    (false, true) => 1,
                    (false, false) => 0,
                };
                let y = if sub { !y & m } else { y };
                let r = x + y + c;
                let (r, carry) = (r & m, (r >> bits) as u32 & 1);
                o[l] = r as u64;
                flags |= carry << l;
            }
            write(regs, d, &o, mask);
            if cout {
                pset(preds, cc, flags, mask);
            }
        }
        Op::MadCarry {
            hi,
            cin,
            cout,
            wide,
            signed,
            d,
            a,
            b,
            c,
            cc,
        } => {
            let (av, bv, cv) = (rd(regs, a), rd(regs, b), rd(regs, c));
            let cf = preds[cc as usize];
            let mut o = [0u64; 32];
            let mut flags = 0u32;
            let bits = if wide { 64 } else { 32 };
            let m = (1u128 << bits) - 1;
            for l in 0..32 {
                let prod: u128 = if signed {
                    let (x, y) = if wide {
                        (av[l] as i64 as i128, bv[l] as i64 as i128)
                    } else {
                        (av[l] as i32 as i128, bv[l] as i32 as i128)
                    };
                    (x * y) as u128
                } else {
                    (av[l] as u128 & m) * (bv[l] as u128 & m)
                };
                let part = if hi { (prod >> bits) & m } else { prod & m };
                let ci = if cin { (cf >> l & 1) as u128 } else { 0 };
                let r = part + (cv[l] as u128 & m) + ci;
                o[l] = (r & m) as u64;
                flags |= ((r >> bits) as u32 & 1) << l;
            }
            write(regs, d, &o, mask);
            if cout {
                pset(preds, cc, flags, mask);
            }
        }
        Op::FBin {
            op,
            t,
            rnd,
            ftz,
            sat,
            d,
            a,
            b,
        } => fbin(op, t, rnd, ftz, sat, regs, d, a, b, mask),
        Op::FUn {
            op,
            t,
            rnd,
            ftz,
            sat,
            d,
            a,
        } => fun(op, t, rnd, ftz, sat, regs, d, a, mask),
        Op::Fma {
            t,
            rnd,
            ftz,
            sat,
            relu,
            d,
            a,
            b,
            c,
        } => fma(t, rnd, ftz, sat, relu, regs, d, a, b, c, mask),
        Op::Testp { op, wide, d, a } => {
            let a = rd(regs, a);
            let mut v = 0u32;
            for l in 0..32 {
                let x = if wide { f64v(a[l]) } else { f32v(a[l]) as f64 };
                let sub = if wide {
                    f64v(a[l]).is_subnormal()
                } else {
                    f32v(a[l]).is_subnormal()
                };
                let r = match op {
                    0 => x.is_finite(),
                    1 => x.is_infinite(),
                    2 => !x.is_nan(),
                    3 => x.is_nan(),
                    4 => x.is_finite() && x != 0.0 && !sub,
                    _ => sub,
                };
                v |= (r as u32) << l;
            }
            pset(preds, d, v, mask);
        }
        Op::Setp {
            cmp,
            t,
            ftz,
            d,
            dn,
            a,
            b,
            comb,
        } => setp(cmp, t, ftz, d, dn, a, b, comb, regs, preds, mask),
        Op::Set {
            cmp,
            t,
            ftz,
            dt,
            d,
            a,
            b,
            comb,
        } => set(cmp, t, ftz, dt, regs, preds, d, a, b, comb, mask),
        Op::Selp { d, a, b, p } => {
            let pv = pget(preds, p);
            let (a, b) = (rd(regs, a), rd(regs, b));
            let mut o = [0u64; 32];
            for l in 0..32 {
                o[l] = if pv >> l & 1 == 1 { a[l] } else { b[l] };
            }
            write(regs, d, &o, mask);
        }
        Op::Slct {
            float_c,
            ftz,
            d,
            a,
            b,
            c,
        } => map3(regs, d, a, b, c, mask, |a, b, c| {
            let take_a = if float_c {
                let mut f = f32v(c);
                if ftz {
                    f = float::ftz32(f);
                }
                f >= 0.0 || (f == 0.0)
            } else {
                c as u32 as i32 >= 0
            };
            if take_a {
                a
            } else {
                b
            }
        }),
        Op::PredBin { op, d, a, b } => {
            let v = boolop(op, pget(preds, a), pget(preds, b));
            pset(preds, d, v, mask);
        }
        Op::PredNot { d, a } => {
            let v = !pget(preds, a);
            pset(preds, d, v, mask);
        }
        Op::Cvt {
            dt,
            st,
            rnd,
            irnd,
            sat,
            ftz,
            relu,
            satfinite,
            d,
            a,
        } => cvt(
            dt, st, rnd, irnd, sat, ftz, relu, satfinite, regs, d, a, mask,
        ),
        Op::CvtPair {
            dt,
            rnd,
            relu,
            satfinite,
            d,
            a,
            b,
        } => map2(regs, d, a, b, mask, |a, b| {
            let conv = |x: u64| -> u64 {
                let x = f32v(x) as f64;
                (match dt {
                    CvtPair::F16x2 => F16.encode(x, rnd, satfinite, relu),
                    CvtPair::Bf16x2 => BF16.encode(x, rnd, satfinite, relu),
                    CvtPair::E4m3x2 => E4M3.encode(x, rnd, satfinite, relu),
                    CvtPair::E5m2x2 => E5M2.encode(x, rnd, satfinite, relu),
                }) as u64
            };
            let sh = match dt {
                CvtPair::F16x2 | CvtPair::Bf16x2 => 16,
                _ => 8,
            };
            (conv(a) << sh) | conv(b)
        }),
        Op::CvtFromF8x2 { e5m2, relu, d, a } => map1(regs, d, a, mask, |a| {
            let fmt = if e5m2 { E5M2 } else { E4M3 };
            let conv =
                |x: u64| F16.encode(fmt.decode(x as u32 & 0xff), Rnd::Rn, false, relu) as u64;
            (conv(a >> 8) << 16) | conv(a)
        }),
        Op::CvtPack { dt, d, a, b, c } => map3(regs, d, a, b, c, mask, |a, b, c| {
            let (lo, hi): (i64, i64) = match dt {
                IT::U8 => (0, 255),
                IT::S8 => (-128, 127),
                IT::U16 => (0, 65535),
                _ => (-32768, 32767),
            };
            let s = |x: u64| (x as u32 as i32 as i64).clamp(lo, hi) as u64;
            if dt.bits() == 8 {
                ((c & 0xffff) << 16) | ((s(a) & 0xff) << 8) | (s(b) & 0xff)
            } else {
                ((s(a) & 0xffff) << 16) | (s(b) & 0xffff)
            }
        }),
        Op::Video(ref v) => video(v, regs, mask),
        _ => unreachable!("not an ALU instruction: {op:?}"),
    }
    Ok(())
}

/// `setp`: compares lanes, combines with a predicate, writes one or two predicates.
#[allow(clippy::too_many_arguments)]
pub(crate) fn setp(
    cmp: Cmp,
    t: VT,
    ftz: bool,
    d: P,
    dn: Option<P>,
    a: Src,
    b: Src,
    comb: Option<(BoolOp, PSrc)>,
    regs: &[u64],
    preds: &mut [u32],
    mask: u32,
) {
    let r = compare(cmp, t, ftz, &rd(regs, a), &rd(regs, b));
    let (v, vn) = match comb {
        None => (r, !r),
        Some((op, c)) => {
            let c = pget(preds, c);
            (boolop(op, r, c), boolop(op, !r, c))
        }
    };
    pset(preds, d, v, mask);
    if let Some(dn) = dn {
        pset(preds, dn, vn, mask);
    }
}

#[inline(always)]
fn boolop(op: BoolOp, a: u32, b: u32) -> u32 {
    match op {
        BoolOp::And => a & b,
        BoolOp::Or => a | b,
        BoolOp::Xor => a ^ b,
    }
}

#[inline(always)]
fn shift_clamp(b: u64, w: u32) -> u32 {
    (b as u32).min(w)
}

pub(crate) fn ibin(op: IBin, t: IT, regs: &mut [u64], d: R, a: Src, b: Src, mask: u32) {
    let w = t.bits();
    macro_rules! go {
        ($s:ty, $u:ty, $wd:ty) => {{
            let f = |x: u64| x as $s;
            let z = |x: $s| x as i64 as u64;
            match op {
                IBin::Add => map2(regs, d, a, b, mask, |x, y| z(f(x).wrapping_add(f(y)))),
                IBin::Sub => map2(regs, d, a, b, mask, |x, y| z(f(x).wrapping_sub(f(y)))),
                IBin::MulLo => map2(regs, d, a, b, mask, |x, y| z(f(x).wrapping_mul(f(y)))),
                IBin::MulHi => map2(regs, d, a, b, mask, |x, y| {
                    let p = (f(x) as $wd).wrapping_mul(f(y) as $wd);
                    z((p >> w) as $s)
                }),
                IBin::MulWide => map2(regs, d, a, b, mask, |x, y| {
                    let p = (f(x) as $wd).wrapping_mul(f(y) as $wd);
                    p as u64
                }),
                IBin::Div => map2(regs, d, a, b, mask, |x, y| {
                    let (x, y) = (f(x), f(y));
                    if y == 0 {
                        z(!0)
                    } else {
                        z(x.wrapping_div(y))
                    }
                }),
                IBin::Rem => map2(regs, d, a, b, mask, |x, y| {
                    let (x, y) = (f(x), f(y));
                    if y == 0 {
                        z(x)
                    } else {
                        z(x.wrapping_rem(y))
                    }
                }),
                IBin::Min => map2(regs, d, a, b, mask, |x, y| z(f(x).min(f(y)))),
                IBin::Max => map2(regs, d, a, b, mask, |x, y| z(f(x).max(f(y)))),
                IBin::And => map2(regs, d, a, b, mask, |x, y| z(f(x) & f(y))),
                IBin::Or => map2(regs, d, a, b, mask, |x, y| z(f(x) | f(y))),
                IBin::Xor => map2(regs, d, a, b, mask, |x, y| z(f(x) ^ f(y))),
                IBin::Shl => map2(regs, d, a, b, mask, |x, y| {
                    let n = shift_clamp(y, w);
                    if n >= w {
                        0
                    } else {
                        z(f(x) << n)
                    }
                }),
                IBin::Shr => {
                    // Arithmetic for signed types (sign fill), logical otherwise; shift
                    // amounts above the width are clamped to it.
                    let signed = t.signed();
                    map2(regs, d, a, b, mask, |x, y| {
                        let n = shift_clamp(y, w);
                        if n >= w && !signed {
                            0
                        } else {
                            z(f(x) >> n.min(w - 1))
                        }
                    })
                }
                IBin::AddSat => map2(regs, d, a, b, mask, |x, y| z(f(x).saturating_add(f(y)))),
                IBin::SubSat => map2(regs, d, a, b, mask, |x, y| z(f(x).saturating_sub(f(y)))),
                IBin::Mul24Lo | IBin::Mul24Hi => {
                    let hi = op == IBin::Mul24Hi;
                    let signed = t.signed();
                    map2(regs, d, a, b, mask, |x, y| {
                        let e = |v: u64| -> i64 {
                            if signed {
                                ((v as u32) << 8) as i32 as i64 >> 8
                            } else {
                                (v & 0xff_ffff) as i64
                            }
                        };
                        let p = e(x) * e(y);
                        if hi {
                            (p >> 16) as u32 as u64
                        } else {
                            p as u32 as u64
                        }
                    })
                }
                IBin::BmskClamp | IBin::BmskWrap => {
                    let clamp = op == IBin::BmskClamp;
                    map2(regs, d, a, b, mask, |a, b| {
                        let (a, b) = (a as u32, b as u32);
                        let a1 = a & 31;
                        let b1 = b & 31;
                        let mut mask0 = u32::MAX << a1;
                        let sum = a1 + b1;
                        let mut mask1 = if sum >= 32 { 0 } else { u32::MAX << sum };
                        let mut over = sum >= 32;
                        if clamp {
                            if a >= 32 {
                                over = true;
                                mask0 = 0;
                            }
                            if b >= 32 {
                                over = true;
                            }
                        }
                        if over {
                            mask1 = 0;
                        } else if b1 == 0 {
                            mask1 = u32::MAX;
                        }
                        (mask0 & !mask1) as u64
                    })
                }
                IBin::SzextClamp | IBin::SzextWrap => {
                    let clamp = op == IBin::SzextClamp;
                    let signed = t.signed();
                    map2(regs, d, a, b, mask, |a, b| {
                        let (a, b) = (a as u32, b as u32);
                        let b1 = b & 31;
                        let too_large = b >= 32 && clamp;
                        let m = if too_large { 0 } else { u32::MAX << b1 };
                        let sign_pos = b1.wrapping_sub(1) & 31;
                        let sign = !(b1 == 0 || too_large || !signed) && (a >> sign_pos) & 1 == 1;
                        ((a & !m) | if sign { m } else { 0 }) as u64
                    })
                }
            }
        }};
    }
    by_int!(t, go)
}

fn iun(op: IUn, t: IT, regs: &mut [u64], d: R, a: Src, mask: u32) {
    let w = t.bits();
    macro_rules! go {
        ($s:ty, $u:ty, $wd:ty) => {{
            let f = |x: u64| x as $s;
            let z = |x: $s| x as i64 as u64;
            match op {
                IUn::Not => map1(regs, d, a, mask, |x| z(!f(x))),
                IUn::Cnot => map1(regs, d, a, mask, |x| (f(x) == 0) as u64),
                IUn::Neg => map1(regs, d, a, mask, |x| z((0 as $s).wrapping_sub(f(x)))),
                IUn::Abs => map1(regs, d, a, mask, |x| {
                    let v = f(x);
                    #[allow(unused_comparisons)]
                    let neg = v < (0 as $s);
                    if neg {
                        z((0 as $s).wrapping_sub(v))
                    } else {
                        z(v)
                    }
                }),
                IUn::Popc => map1(regs, d, a, mask, |x| (x as $u).count_ones() as u64),
                IUn::Clz => map1(regs, d, a, mask, |x| (x as $u).leading_zeros() as u64),
                IUn::Brev => map1(regs, d, a, mask, |x| (x as $u).reverse_bits() as u64),
                IUn::Bfind | IUn::BfindShiftAmt => {
                    let shift = op == IUn::BfindShiftAmt;
                    let signed = t.signed();
                    map1(regs, d, a, mask, |x| {
                        let mut v = x as $u;
                        if signed && (v >> (w - 1)) & 1 == 1 {
                            v = !v;
                        }
                        if v == 0 {
                            0xffff_ffff
                        } else {
                            let pos = w - 1 - v.leading_zeros();
                            if shift {
                                (w - 1 - pos) as u64
                            } else {
                                pos as u64
                            }
                        }
                    })
                }
            }
        }};
    }
    by_int!(t, go)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn iter(op: ITer, t: IT, regs: &mut [u64], d: R, a: Src, b: Src, c: Src, mask: u32) {
    let w = t.bits();
    macro_rules! go {
        ($s:ty, $u:ty, $wd:ty) => {{
            let f = |x: u64| x as $s;
            let z = |x: $s| x as i64 as u64;
            match op {
                ITer::MadLo => map3(regs, d, a, b, c, mask, |x, y, c| {
                    z(f(x).wrapping_mul(f(y)).wrapping_add(f(c)))
                }),
                ITer::MadHi => map3(regs, d, a, b, c, mask, |x, y, c| {
                    let p = (f(x) as $wd).wrapping_mul(f(y) as $wd);
                    z(((p >> w) as $s).wrapping_add(f(c)))
                }),
                ITer::MadWide => map3(regs, d, a, b, c, mask, |x, y, c| {
                    let p = (f(x) as $wd).wrapping_mul(f(y) as $wd);
                    (p as u64).wrapping_add(c)
                }),
                ITer::Mad24Lo | ITer::Mad24Hi => {
                    let hi = op == ITer::Mad24Hi;
                    let signed = t.signed();
                    map3(regs, d, a, b, c, mask, |x, y, c| {
                        let e = |v: u64| -> i64 {
                            if signed {
                                ((v as u32) << 8) as i32 as i64 >> 8
                            } else {
                                (v & 0xff_ffff) as i64
                            }
                        };
                        let p = e(x) * e(y);
                        let part = if hi { (p >> 16) as u32 } else { p as u32 };
                        part.wrapping_add(c as u32) as u64
                    })
                }
                ITer::Sad => map3(regs, d, a, b, c, mask, |x, y, c| {
                    let (x, y) = (f(x), f(y));
                    let diff = if x > y {
                        (x as $u).wrapping_sub(y as $u)
                    } else {
                        (y as $u).wrapping_sub(x as $u)
                    };
                    (c as $u).wrapping_add(diff) as u64
                }),
                ITer::Bfe => {
                    let signed = t.signed();
                    map3(regs, d, a, b, c, mask, |x, pos, len| {
                        let msb = w - 1;
                        let pos = (pos & 0xff) as u32;
                        let len = (len & 0xff) as u32;
                        let v = x as $u as u64;
                        if len == 0 {
                            return 0;
                        }
                        let sbit = if signed {
                            let i = (pos + len - 1).min(msb);
                            (v >> i) & 1
                        } else {
                            0
                        };
                        let mut r = 0u64;
                        for i in 0..=msb {
                            let bit = if i < len && pos + i <= msb {
                                (v >> (pos + i)) & 1
                            } else {
                                sbit
                            };
                            r |= bit << i;
                        }
                        r
                    })
                }
                ITer::Prmt
                | ITer::PrmtF4e
                | ITer::PrmtB4e
                | ITer::PrmtRc8
                | ITer::PrmtEcl
                | ITer::PrmtEcr
                | ITer::PrmtRc16 => map3(regs, d, a, b, c, mask, |a, b, c| {
                    prmt(op, a as u32, b as u32, c as u32) as u64
                }),
                ITer::ShfLClamp | ITer::ShfLWrap | ITer::ShfRClamp | ITer::ShfRWrap => {
                    map3(regs, d, a, b, c, mask, |lo, hi, n| {
                        let n = match op {
                            ITer::ShfLClamp | ITer::ShfRClamp => (n as u32).min(32),
                            _ => n as u32 & 31,
                        };
                        let v = ((hi as u32 as u64) << 32) | lo as u32 as u64;
                        match op {
                            ITer::ShfLClamp | ITer::ShfLWrap => ((v << n) >> 32) as u32 as u64,
                            _ => (v >> n) as u32 as u64,
                        }
                    })
                }
            }
        }};
    }
    by_int!(t, go)
}

fn prmt(op: ITer, a: u32, b: u32, c: u32) -> u32 {
    let src = ((b as u64) << 32) | a as u64;
    let byte = |i: u32| ((src >> (8 * (i & 7))) & 0xff) as u32;
    if op == ITer::Prmt {
        let mut r = 0u32;
        for k in 0..4 {
            let sel = (c >> (4 * k)) & 0xf;
            let mut v = byte(sel & 7);
            if sel & 8 != 0 {
                v = if v & 0x80 != 0 { 0xff } else { 0 };
            }
            r |= v << (8 * k);
        }
        return r;
    }
    let s = c & 3;
    // Source byte index for result bytes 0..3.
    let idx: [u32; 4] = match op {
        ITer::PrmtF4e => [s, s + 1, s + 2, s + 3],
        ITer::PrmtB4e => [s, (s + 7) & 7, (s + 6) & 7, (s + 5) & 7],
        ITer::PrmtRc8 => [s; 4],
        ITer::PrmtEcl => [s, s.max(1), s.max(2), 3],
        ITer::PrmtEcr => [0, s.min(1), s.min(2), s],
        _ => {
            let lo = (s & 1) * 2;
            [lo, lo + 1, lo, lo + 1]
        }
    };
    let mut r = 0u32;
    for (k, &i) in idx.iter().enumerate() {
        r |= byte(i) << (8 * k);
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn bfi(t: IT, regs: &mut [u64], d: R, f: Src, b: Src, pos: Src, len: Src, mask: u32) {
    let w = t.bits();
    let (fv, bv, pv, lv) = (rd(regs, f), rd(regs, b), rd(regs, pos), rd(regs, len));
    let mut o = [0u64; 32];
    let wm = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    for l in 0..32 {
        let pos = (pv[l] & 0xff) as u32;
        let len = (lv[l] & 0xff) as u32;
        let mut r = bv[l] & wm;
        for i in 0..len {
            if pos + i >= w {
                break;
            }
            let bit = (fv[l] >> i) & 1;
            r = (r & !(1u64 << (pos + i))) | (bit << (pos + i));
        }
        o[l] = r;
    }
    write(regs, d, &o, mask);
}

// ----- floating point ---------------------------------------------------------------

#[inline(always)]
fn fmin32(a: f32, b: f32) -> f32 {
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
fn fmax32(a: f32, b: f32) -> f32 {
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

fn fmin64(a: f64, b: f64) -> f64 {
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

fn fmax64(a: f64, b: f64) -> f64 {
    -fmin64(-a, -b)
}

/// One f32 binary operation with all modifiers.
#[inline(always)]
fn f32_bin(op: FBin, rnd: Rnd, ftz: bool, sat: bool, a: f32, b: f32) -> u32 {
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
fn f64_bin(op: FBin, rnd: Rnd, ftz: bool, sat: bool, a: f64, b: f64) -> u64 {
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
fn h_bin(fmt: float::Fmt, op: FBin, rnd: Rnd, ftz: bool, sat: bool, a: u64, b: u64) -> u64 {
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
fn have_hw_fma() -> bool {
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
                let (av, bv, cv) = (rd(regs, a), rd(regs, b), rd(regs, c));
                let (av, bv, cv) = (&av, &bv, &cv);
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
fn approx(op: FUn, x: f64) -> f64 {
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
fn fun(op: FUn, t: FT, rnd: Rnd, ftz: bool, sat: bool, regs: &mut [u64], d: R, a: Src, mask: u32) {
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
fn round_int64(v: f64, irnd: IRnd) -> f64 {
    match irnd {
        IRnd::Rni => v.round_ties_even(),
        IRnd::Rzi => v.trunc(),
        IRnd::Rmi => v.floor(),
        IRnd::Rpi => v.ceil(),
    }
}

// ----- comparisons ----------------------------------------------------------------------

#[inline(always)]
fn cmp_ord(cmp: Cmp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (cmp, o) {
        (Cmp::Num, o) => o.is_some(),
        (Cmp::Nan, o) => o.is_none(),
        (Cmp::Equ | Cmp::Neu | Cmp::Ltu | Cmp::Leu | Cmp::Gtu | Cmp::Geu, None) => true,
        (_, None) => false,
        (Cmp::Eq | Cmp::Equ, Some(o)) => o == Equal,
        (Cmp::Ne | Cmp::Neu, Some(o)) => o != Equal,
        (Cmp::Lt | Cmp::Ltu | Cmp::Lo, Some(o)) => o == Less,
        (Cmp::Le | Cmp::Leu | Cmp::Ls, Some(o)) => o != Greater,
        (Cmp::Gt | Cmp::Gtu | Cmp::Hi, Some(o)) => o == Greater,
        (Cmp::Ge | Cmp::Geu | Cmp::Hs, Some(o)) => o != Less,
    }
}

/// Compares lanes; returns the lane mask of true results.
fn compare(cmp: Cmp, t: VT, ftz: bool, a: &[u64; 32], b: &[u64; 32]) -> u32 {
    let mut r = 0u32;
    // One loop per operator (no per-lane dispatch); lo/ls/hi/hs compare unsigned.
    macro_rules! lanes {
        ($ty:ty, $op:tt) => {{
            for l in 0..32 {
                r |= (((a[l] as $ty) $op (b[l] as $ty)) as u32) << l;
            }
        }};
    }
    macro_rules! ints {
        ($s:ty, $u:ty, $wd:ty) => {{
            match cmp {
                Cmp::Eq => lanes!($u, ==),
                Cmp::Ne => lanes!($u, !=),
                Cmp::Lt => lanes!($s, <),
                Cmp::Le => lanes!($s, <=),
                Cmp::Gt => lanes!($s, >),
                Cmp::Ge => lanes!($s, >=),
                Cmp::Lo => lanes!($u, <),
                Cmp::Ls => lanes!($u, <=),
                Cmp::Hi => lanes!($u, >),
                Cmp::Hs => lanes!($u, >=),
                // Unordered and NaN tests have no meaning for integers: as ordered.
                _ => {
                    for l in 0..32 {
                        let o = (a[l] as $s).cmp(&(b[l] as $s));
                        r |= (cmp_ord(cmp, Some(o)) as u32) << l;
                    }
                }
            }
        }};
    }
    match t {
        VT::I(it) => by_int!(it, ints),
        VT::F(FT::F32) => {
            for l in 0..32 {
                let (mut x, mut y) = (f32v(a[l]), f32v(b[l]));
                if ftz {
                    x = float::ftz32(x);
                    y = float::ftz32(y);
                }
                r |= (cmp_ord(cmp, x.partial_cmp(&y)) as u32) << l;
            }
        }
        VT::F(FT::F64) => {
            for l in 0..32 {
                r |= (cmp_ord(cmp, f64v(a[l]).partial_cmp(&f64v(b[l]))) as u32) << l;
            }
        }
        VT::F(FT::F16 | FT::F16x2) => {
            for l in 0..32 {
                let x = F16.decode(a[l] as u32 & 0xffff);
                let y = F16.decode(b[l] as u32 & 0xffff);
                r |= (cmp_ord(cmp, x.partial_cmp(&y)) as u32) << l;
            }
        }
        VT::F(FT::Bf16 | FT::Bf16x2) => {
            for l in 0..32 {
                let x = BF16.decode(a[l] as u32 & 0xffff);
                let y = BF16.decode(b[l] as u32 & 0xffff);
                r |= (cmp_ord(cmp, x.partial_cmp(&y)) as u32) << l;
            }
        }
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn set(
    cmp: Cmp,
    t: VT,
    ftz: bool,
    dt: SetDst,
    regs: &mut [u64],
    preds: &[u32],
    d: R,
    a: Src,
    b: Src,
    comb: Option<(BoolOp, PSrc)>,
    mask: u32,
) {
    let (av, bv) = (rd(regs, a), rd(regs, b));
    let combine = |r: u32| match comb {
        None => r,
        Some((op, c)) => boolop(op, r, pget(preds, c)),
    };
    let one16 = |fmt: float::Fmt| fmt.encode(1.0, Rnd::Rn, false, false) as u64;
    let val = |bit: bool, dt: SetDst| -> u64 {
        match (dt, bit) {
            (_, false) => 0,
            (SetDst::Mask32, true) => 0xffff_ffff,
            (SetDst::F32, true) => 1.0f32.to_bits() as u64,
            (SetDst::F16 | SetDst::F16x2, true) => one16(F16),
            (SetDst::Bf16 | SetDst::Bf16x2, true) => one16(BF16),
            (SetDst::Mask16x2, true) => 0xffff,
        }
    };
    let mut o = [0u64; 32];
    if matches!(dt, SetDst::Mask16x2 | SetDst::F16x2 | SetDst::Bf16x2) {
        let (mut alo, mut blo, mut ahi, mut bhi) = ([0u64; 32], [0u64; 32], [0u64; 32], [0u64; 32]);
        for l in 0..32 {
            alo[l] = av[l] & 0xffff;
            blo[l] = bv[l] & 0xffff;
            ahi[l] = (av[l] >> 16) & 0xffff;
            bhi[l] = (bv[l] >> 16) & 0xffff;
        }
        let lo = combine(compare(cmp, t, ftz, &alo, &blo));
        let hi = combine(compare(cmp, t, ftz, &ahi, &bhi));
        for (l, out) in o.iter_mut().enumerate() {
            *out = (val(hi >> l & 1 == 1, dt) << 16) | val(lo >> l & 1 == 1, dt);
        }
    } else {
        let r = combine(compare(cmp, t, ftz, &av, &bv));
        for (l, out) in o.iter_mut().enumerate() {
            *out = val(r >> l & 1 == 1, dt);
        }
    }
    write(regs, d, &o, mask);
}

// ----- conversions ------------------------------------------------------------------------

/// The exact value of an integer of type `t` held in `v`, as an i128.
#[inline(always)]
fn int_value(t: IT, v: u64) -> i128 {
    let e = t.ext(v);
    if t.signed() {
        e as i64 as i128
    } else {
        e as i128
    }
}

fn int_range(t: IT) -> (i128, i128) {
    let w = t.bits();
    if t.signed() {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// An integer value as an f64 `hi` plus the error sign folded by rounding to odd.
fn int_to_f64_ro(v: i128) -> f64 {
    let hi = v as f64;
    let back = hi as i128; // exact (|hi| < 2^65)
    let err = v - back;
    float::round_to_odd(hi, err.signum() as f64)
}

#[allow(clippy::too_many_arguments)]
fn cvt(
    dt: CT,
    st: CT,
    rnd: Rnd,
    irnd: Option<IRnd>,
    sat: bool,
    ftz: bool,
    relu: bool,
    satfinite: bool,
    regs: &mut [u64],
    d: R,
    a: Src,
    mask: u32,
) {
    // Fast paths for the integer widenings NVRTC emits everywhere.
    match (dt, st, sat) {
        (CT::I(IT::U64 | IT::S64), CT::I(IT::U32), _) => {
            return map1(regs, d, a, mask, |x| x as u32 as u64)
        }
        (CT::I(IT::U64 | IT::S64), CT::I(IT::S32), false) => {
            return map1(regs, d, a, mask, |x| x as u32 as i32 as i64 as u64)
        }
        _ => {}
    }
    let tf32 = float::Fmt {
        ebits: 8,
        mbits: 10,
        ieee: true,
    };
    map1(regs, d, a, mask, |x| {
        // Source value as an f64 (exact for every float source) or an integer.
        let fsrc: Option<f64> = match st {
            CT::I(_) => None,
            CT::F16 => Some(F16.decode(x as u32 & 0xffff)),
            CT::Bf16 => Some(BF16.decode(x as u32 & 0xffff)),
            CT::F32 | CT::Tf32 => {
                let mut f = f32v(x);
                if ftz {
                    f = float::ftz32(f);
                }
                Some(f as f64)
            }
            CT::F64 => Some(f64v(x)),
        };
        match (dt, fsrc) {
            (CT::I(di), None) => {
                let CT::I(si) = st else { unreachable!() };
                let v = int_value(si, x);
                let v = if sat {
                    let (lo, hi) = int_range(di);
                    v.clamp(lo, hi)
                } else {
                    v
                };
                // Signed results are sign-extended into wider registers.
                di.ext(v as u64)
            }
            (CT::I(di), Some(f)) => {
                // Float to integer: round, then saturate; NaN converts to 0.
                if f.is_nan() {
                    return 0;
                }
                let r = round_int64(f, irnd.unwrap_or(IRnd::Rzi));
                let (lo, hi) = int_range(di);
                let v = if r <= lo as f64 {
                    lo
                } else if r >= hi as f64 {
                    hi
                } else {
                    r as i128
                };
                di.ext(v as u64)
            }
            (fd, src) => {
                // To a float type.
                let (value, exact) = match src {
                    Some(f) => (f, true),
                    None => {
                        let CT::I(si) = st else { unreachable!() };
                        let v = int_value(si, x);
                        let ro = int_to_f64_ro(v);
                        (ro, ro as i128 == v)
                    }
                };
                let mut value = value;
                if let (Some(ir), Some(_)) = (irnd, src) {
                    value = round_int64(value, ir);
                }
                if sat {
                    value = float::sat64(value);
                }
                match fd {
                    CT::F64 => {
                        if value.is_nan() {
                            return float::NAN64;
                        }
                        let r = if exact || rnd == Rnd::Rn {
                            value
                        } else {
                            // value is round-to-odd of the integer: adjust.
                            let CT::I(si) = st else { unreachable!() };
                            let v = int_value(si, x);
                            let hi = v as f64;
                            float::adjust64(hi, (v - hi as i128).signum() as f64, rnd)
                        };
                        let r = if ftz { float::ftz64(r) } else { r };
                        float::bits64(r)
                    }
                    CT::F32 => {
                        if value.is_nan() {
                            return float::NAN32 as u64;
                        }
                        let mut r = float::f64_to_f32(value, rnd);
                        if ftz {
                            r = float::ftz32(r);
                        }
                        if satfinite && r.is_infinite() {
                            r = f32::MAX.copysign(r);
                        }
                        if relu && r <= 0.0 {
                            r = 0.0;
                        }
                        float::bits32(r) as u64
                    }
                    CT::F16 => F16.encode(value, rnd, satfinite, relu) as u64,
                    CT::Bf16 => BF16.encode(value, rnd, satfinite, relu) as u64,
                    CT::Tf32 => {
                        let e = tf32.encode(value, rnd, satfinite, relu) as u64;
                        if value.is_nan() {
                            float::NAN32 as u64
                        } else {
                            e << 13
                        }
                    }
                    CT::I(_) => unreachable!(),
                }
            }
        }
    })
}

fn video(v: &Video, regs: &mut [u64], mask: u32) {
    let (av, bv, cv) = (rd(regs, v.a), rd(regs, v.b), rd(regs, v.c));
    let mut o = [0u64; 32];
    let ext = |x: u64, s: bool| -> i64 {
        if s {
            x as u32 as i32 as i64
        } else {
            x as u32 as i64
        }
    };
    for l in 0..32 {
        let (a, b) = (ext(av[l], v.sa), ext(bv[l], v.sb));
        let n = if v.wrap {
            (b as u32 & 31) as i64
        } else {
            (b as u64).min(32) as i64
        };
        let mut r: i64 = match v.op {
            VideoOp::Add => a + b,
            VideoOp::Sub => a - b,
            VideoOp::Absdiff => (a - b).abs(),
            VideoOp::Min => a.min(b),
            VideoOp::Max => a.max(b),
            VideoOp::Shl => {
                if n >= 32 {
                    0
                } else {
                    ((a as u32) << n) as i64
                }
            }
            VideoOp::Shr => {
                if v.sa {
                    (a as i32 >> n.min(31)) as i64
                } else if n >= 32 {
                    0
                } else {
                    ((a as u32) >> n) as i64
                }
            }
        };
        if let Some(op2) = v.op2 {
            let c = ext(cv[l], v.sd);
            r = match op2 {
                VideoOp2::Add => r + c,
                VideoOp2::Min => r.min(c),
                VideoOp2::Max => r.max(c),
            };
        }
        if v.sat {
            r = if v.sd {
                r.clamp(i32::MIN as i64, i32::MAX as i64)
            } else {
                r.clamp(0, u32::MAX as i64)
            };
        }
        o[l] = r as u32 as u64;
    }
    write(regs, v.d, &o, mask);
}
