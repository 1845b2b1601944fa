//! Comparisons (`setp`, `set`), conversions (`cvt`) and video instructions.

// Lane loops index several 32-lane arrays in lockstep (and vectorise that way).
#![allow(clippy::needless_range_loop)]

use super::*;

#[inline(always)]
pub(super) fn cmp_ord(cmp: Cmp, o: Option<std::cmp::Ordering>) -> bool {
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
pub(super) fn compare(cmp: Cmp, t: VT, ftz: bool, a: &[u64; 32], b: &[u64; 32]) -> u32 {
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
pub(super) fn set(
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
pub(super) fn int_value(t: IT, v: u64) -> i128 {
    let e = t.ext(v);
    if t.signed() {
        e as i64 as i128
    } else {
        e as i128
    }
}

pub(super) fn int_range(t: IT) -> (i128, i128) {
    let w = t.bits();
    if t.signed() {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// An integer value as an f64 `hi` plus the error sign folded by rounding to odd.
pub(super) fn int_to_f64_ro(v: i128) -> f64 {
    let hi = v as f64;
    let back = hi as i128; // exact (|hi| < 2^65)
    let err = v - back;
    float::round_to_odd(hi, err.signum() as f64)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn cvt(
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

pub(super) fn video(v: &Video, regs: &mut [u64], mask: u32) {
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
