//! Per-warp ALU instructions: integer, floating point, comparisons, selection and
//! conversions. Each handler reads its operands into 32-lane arrays, computes every lane
//! with a closure monomorphised for the decoded type (no per-lane type dispatch), and
//! writes back the lanes of the active mask. Every lane function is total (wrapping
//! arithmetic, defined division by zero), so computing inactive lanes is harmless.
//!
//! Integer instructions and the lane helpers are here; floating point in `fp`,
//! comparisons, conversions and video instructions in `cmp_cvt`.

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

/// Lanes of a source operand: a register's borrowed (no copy), others built in `tmp`.
#[inline(always)]
pub(crate) fn lanes<'a>(regs: &'a [u64], s: Src, tmp: &'a mut [u64; 32]) -> &'a [u64; 32] {
    match s {
        Src::Reg(r) => view(regs, r),
        _ => {
            *tmp = rd(regs, s);
            tmp
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

// After `by_int!`, which they use.
mod cmp_cvt;
mod fp;

use cmp_cvt::*;
use fp::*;
pub(crate) use fp::{fbin, fma};

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
    let (mut ta, mut tb) = ([0u64; 32], [0u64; 32]);
    let r = compare(
        cmp,
        t,
        ftz,
        lanes(regs, a, &mut ta),
        lanes(regs, b, &mut tb),
    );
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
