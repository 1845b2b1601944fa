//! Floating-point semantics that Rust does not give directly: IEEE rounding modes other
//! than round-to-nearest-even, flush-to-zero, the small formats (f16, bf16, e4m3, e5m2,
//! tf32) with their rounding and saturation rules, and NVIDIA's canonical NaNs.
//!
//! The method for directed rounding: compute the exact result as an f64 `hi` plus the
//! sign of the error `lo` (error-free transformations: TwoSum, the FMA remainder of a
//! product, a quotient or a square root), fold that into a *round-to-odd* f64 (odd last
//! bit when inexact), then round that once more to the target format in the wanted mode.
//! Round-to-odd at 53 bits followed by any rounding to at most 51 bits is exact rounding,
//! so every result here is the correctly rounded one.

/// A rounding mode of a floating-point result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rnd {
    /// To nearest, ties to even.
    Rn,
    /// Toward zero.
    Rz,
    /// Toward minus infinity.
    Rm,
    /// Toward plus infinity.
    Rp,
    /// To nearest, ties away from zero (`cvt.rna.tf32`).
    Rna,
}

/// The canonical f32 NaN that NVIDIA GPUs produce.
pub(crate) const NAN32: u32 = 0x7fff_ffff;
/// The canonical f64 NaN.
pub(crate) const NAN64: u64 = 0x7fff_ffff_ffff_ffff;

/// `(s, e)` with `s = fl(a + b)` and `a + b = s + e` exactly (Knuth's TwoSum); `e` is 0
/// when the sum overflows.
#[inline(always)]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    if e.is_finite() {
        (s, e)
    } else {
        (s, 0.0)
    }
}

/// Folds the error `lo` of an exact value `hi + lo` into `hi` by rounding to odd: when
/// `lo != 0` and `hi` has an even last bit, `hi` moves one ulp toward the exact value.
#[inline(always)]
pub(crate) fn round_to_odd(hi: f64, lo: f64) -> f64 {
    if lo == 0.0 || !hi.is_finite() || hi == 0.0 {
        return hi;
    }
    let b = hi.to_bits();
    if b & 1 == 1 {
        return hi;
    }
    // Same sign: the exact magnitude is larger than |hi|.
    if (lo > 0.0) == (hi > 0.0) {
        f64::from_bits(b + 1)
    } else {
        f64::from_bits(b - 1)
    }
}

/// The next f32 toward +infinity.
pub(crate) fn next_up32(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let b = x.to_bits();
    f32::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// The next f32 toward -infinity.
pub(crate) fn next_down32(x: f32) -> f32 {
    -next_up32(-x)
}

/// The next f64 toward +infinity.
pub(crate) fn next_up64(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// The next f64 toward -infinity.
pub(crate) fn next_down64(x: f64) -> f64 {
    -next_up64(-x)
}

/// Rounds an f64 to f32 in `mode` (exact when `x` is a round-to-odd value of the true
/// result, see the module doc).
#[inline]
pub(crate) fn f64_to_f32(x: f64, mode: Rnd) -> f32 {
    let r = x as f32;
    match mode {
        Rnd::Rn => r,
        _ if x.is_nan() => r,
        Rnd::Rna => {
            // Ties away: only differs from Rn on an exact tie.
            let r64 = r as f64;
            if r64 == x {
                return r;
            }
            let other = if r64 < x {
                next_up32(r)
            } else {
                next_down32(r)
            };
            let o64 = other as f64;
            if (x - r64).abs() == (o64 - x).abs() {
                if r.abs() > other.abs() {
                    r
                } else {
                    other
                }
            } else {
                r
            }
        }
        Rnd::Rz => {
            let r64 = r as f64;
            if r64.abs() > x.abs() {
                if x > 0.0 {
                    next_down32(r)
                } else {
                    next_up32(r)
                }
            } else {
                r
            }
        }
        Rnd::Rm => {
            if (r as f64) > x {
                next_down32(r)
            } else {
                r
            }
        }
        Rnd::Rp => {
            if (r as f64) < x {
                next_up32(r)
            } else {
                r
            }
        }
    }
}

/// Adjusts the round-to-nearest f64 result `r` of an exact value `r + e` (only the sign
/// of `e` matters) to `mode`. `overflowed` says that `r` is an infinity produced from
/// finite operands.
#[inline]
pub(crate) fn adjust64(r: f64, e: f64, mode: Rnd) -> f64 {
    if r.is_nan() {
        return r;
    }
    if r.is_infinite() {
        // Infinite from finite operands (the caller checks): directed modes may stop
        // at the largest finite value.
        return match mode {
            Rnd::Rz => f64::MAX.copysign(r),
            Rnd::Rm if r > 0.0 => f64::MAX,
            Rnd::Rp if r < 0.0 => -f64::MAX,
            _ => r,
        };
    }
    match mode {
        Rnd::Rn | Rnd::Rna => r,
        Rnd::Rz => {
            if e != 0.0 && (e > 0.0) != (r > 0.0) && r != 0.0 {
                if r > 0.0 {
                    next_down64(r)
                } else {
                    next_up64(r)
                }
            } else {
                r
            }
        }
        Rnd::Rm => {
            if e < 0.0 {
                next_down64(r)
            } else {
                r
            }
        }
        Rnd::Rp => {
            if e > 0.0 {
                next_up64(r)
            } else {
                r
            }
        }
    }
}

/// Flushes an f32 subnormal to a zero of the same sign.
#[inline(always)]
pub(crate) fn ftz32(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// Flushes an f64 subnormal to a zero of the same sign.
#[inline(always)]
pub(crate) fn ftz64(x: f64) -> f64 {
    if x.is_subnormal() {
        0.0f64.copysign(x)
    } else {
        x
    }
}

/// The bits of an f32 result, NaNs made canonical.
#[inline(always)]
pub(crate) fn bits32(x: f32) -> u32 {
    if x.is_nan() {
        NAN32
    } else {
        x.to_bits()
    }
}

/// The bits of an f64 result, NaNs made canonical.
#[inline(always)]
pub(crate) fn bits64(x: f64) -> u64 {
    if x.is_nan() {
        NAN64
    } else {
        x.to_bits()
    }
}

/// Clamps to [0, 1]; NaN becomes +0 (the `.sat` modifier).
#[inline(always)]
pub(crate) fn sat32(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// Clamps to [0, 1]; NaN becomes +0 (the `.sat` modifier).
#[inline(always)]
pub(crate) fn sat64(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// The exact sum of two f64 as the round-to-odd f64 (see the module doc); the sign of
/// an exact zero follows IEEE (`-0` only in round-down mode or for `-0 + -0`).
#[inline]
pub(crate) fn add_exact(a: f64, b: f64, mode: Rnd) -> f64 {
    let (s, e) = two_sum(a, b);
    if s == 0.0 {
        return zero_sum_sign(a, b, mode);
    }
    round_to_odd(s, e)
}

/// The sign of an exact zero sum `a + b` under IEEE rules.
#[inline]
pub(crate) fn zero_sum_sign(a: f64, b: f64, mode: Rnd) -> f64 {
    if a == 0.0 && b == 0.0 && a.is_sign_negative() == b.is_sign_negative() {
        a
    } else if mode == Rnd::Rm {
        -0.0
    } else {
        0.0
    }
}

/// f32 `a + b` rounded in `mode`.
#[inline]
pub(crate) fn add32(a: f32, b: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a + b;
    }
    let (a64, b64) = (a as f64, b as f64);
    if !(a64 + b64).is_finite() {
        return a + b;
    }
    f64_to_f32(add_exact(a64, b64, mode), mode)
}

/// f32 `a * b` rounded in `mode` (the f64 product of two f32 is exact).
#[inline]
pub(crate) fn mul32(a: f32, b: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a * b;
    }
    f64_to_f32(a as f64 * b as f64, mode)
}

/// f32 `a * b + c` with one rounding in `mode`, without relying on a hardware FMA.
#[inline(always)]
pub(crate) fn fma32_soft(a: f32, b: f32, c: f32, mode: Rnd) -> f32 {
    let p = a as f64 * b as f64;
    let c64 = c as f64;
    let (s, e) = two_sum(p, c64);
    if !s.is_finite() {
        // Infinities and NaNs: the f64 computation gives the IEEE special result.
        return s as f32;
    }
    if s == 0.0 {
        if p == 0.0 && c64 == 0.0 {
            return f64_to_f32(zero_sum_sign(p, c64, mode), mode);
        }
        return if mode == Rnd::Rm { -0.0 } else { 0.0 };
    }
    f64_to_f32(round_to_odd(s, e), mode)
}

/// f32 `a / b` rounded in `mode`.
#[inline]
pub(crate) fn div32(a: f32, b: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a / b;
    }
    let (a64, b64) = (a as f64, b as f64);
    let q = a64 / b64;
    if !q.is_finite() || q == 0.0 {
        return a / b;
    }
    let r = (-q).mul_add(b64, a64);
    let lo = if r == 0.0 {
        0.0
    } else {
        r.signum() * b64.signum()
    };
    f64_to_f32(round_to_odd(q, lo), mode)
}

/// f32 square root rounded in `mode`.
#[inline]
pub(crate) fn sqrt32(a: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn || a.is_nan() || a <= 0.0 || a.is_infinite() {
        return a.sqrt();
    }
    let a64 = a as f64;
    let s = a64.sqrt();
    let r = (-s).mul_add(s, a64);
    f64_to_f32(round_to_odd(s, r.signum() * (r != 0.0) as u8 as f64), mode)
}

/// f64 `a + b` rounded in `mode`.
#[inline]
pub(crate) fn add64(a: f64, b: f64, mode: Rnd) -> f64 {
    let s = a + b;
    if mode == Rnd::Rn || s.is_nan() || (s.is_infinite() && (a.is_infinite() || b.is_infinite())) {
        return s;
    }
    if s == 0.0 {
        return zero_sum_sign(a, b, mode);
    }
    let (s, e) = two_sum(a, b);
    adjust64(s, e, mode)
}

/// f64 `a * b` rounded in `mode`.
#[inline]
pub(crate) fn mul64(a: f64, b: f64, mode: Rnd) -> f64 {
    let p = a * b;
    if mode == Rnd::Rn || p.is_nan() || (p.is_infinite() && (a.is_infinite() || b.is_infinite())) {
        return p;
    }
    let e = if p.is_infinite() {
        0.0
    } else {
        a.mul_add(b, -p)
    };
    adjust64(p, e, mode)
}

/// f64 `a * b + c` rounded once in `mode`. The error sign for directed modes comes from
/// a double-double evaluation of the exact value.
#[inline]
pub(crate) fn fma64(a: f64, b: f64, c: f64, mode: Rnd) -> f64 {
    let r = a.mul_add(b, c);
    if mode == Rnd::Rn || r.is_nan() {
        return r;
    }
    if r.is_infinite() {
        if a.is_infinite() || b.is_infinite() || c.is_infinite() {
            return r;
        }
        return adjust64(r, 0.0, mode);
    }
    let p = a * b;
    let pe = if p.is_finite() { a.mul_add(b, -p) } else { 0.0 };
    let (s1, e1) = two_sum(p, c);
    let (s2, e2) = two_sum(s1, pe);
    // exact = s2 + e1 + e2; error of r:
    let d = (s2 - r) + (e1 + e2);
    if r == 0.0 && d == 0.0 {
        return if mode == Rnd::Rm && !(p == 0.0 && c == 0.0) {
            -0.0
        } else {
            r
        };
    }
    adjust64(r, d, mode)
}

/// f64 `a / b` rounded in `mode`.
#[inline]
pub(crate) fn div64(a: f64, b: f64, mode: Rnd) -> f64 {
    let q = a / b;
    let finite_operands = a.is_finite() && b.is_finite() && b != 0.0;
    if mode == Rnd::Rn || !(q.is_finite() || finite_operands) {
        return q;
    }
    if q.is_infinite() || q == 0.0 {
        // Overflow, or an underflow to zero: the sign of the remainder is the sign of q.
        if q == 0.0 && a != 0.0 {
            let e = if (a > 0.0) == (b > 0.0) { 1.0 } else { -1.0 };
            return adjust_zero(q, e, mode);
        }
        return adjust64(q, 0.0, mode);
    }
    let r = (-q).mul_add(b, a);
    adjust64(q, r * b.signum(), mode)
}

/// Directed rounding of a result that rounded to a zero while the exact value has sign
/// `e`.
fn adjust_zero(q: f64, e: f64, mode: Rnd) -> f64 {
    match mode {
        Rnd::Rp if e > 0.0 => f64::from_bits(1),
        Rnd::Rm if e < 0.0 => -f64::from_bits(1),
        _ => q,
    }
}

/// f64 square root rounded in `mode`.
#[inline]
pub(crate) fn sqrt64(a: f64, mode: Rnd) -> f64 {
    let s = a.sqrt();
    if mode == Rnd::Rn || a.is_nan() || a <= 0.0 || a.is_infinite() {
        return s;
    }
    let r = (-s).mul_add(s, a);
    adjust64(s, r, mode)
}

/// A small binary floating-point format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fmt {
    /// Exponent bits.
    pub ebits: u32,
    /// Fraction (explicit mantissa) bits.
    pub mbits: u32,
    /// Whether the all-ones exponent encodes infinities and NaNs (IEEE style). When
    /// false (e4m3), only `S.1111.111` is NaN and there is no infinity.
    pub ieee: bool,
}

/// IEEE half precision.
pub(crate) const F16: Fmt = Fmt {
    ebits: 5,
    mbits: 10,
    ieee: true,
};
/// bfloat16.
pub(crate) const BF16: Fmt = Fmt {
    ebits: 8,
    mbits: 7,
    ieee: true,
};
/// FP8 e4m3 (no infinities, NaN = S.1111.111, max 448).
pub(crate) const E4M3: Fmt = Fmt {
    ebits: 4,
    mbits: 3,
    ieee: false,
};
/// FP8 e5m2 (IEEE style).
pub(crate) const E5M2: Fmt = Fmt {
    ebits: 5,
    mbits: 2,
    ieee: true,
};

impl Fmt {
    fn bias(self) -> i32 {
        (1 << (self.ebits - 1)) - 1
    }

    fn sign_bit(self) -> u32 {
        1 << (self.ebits + self.mbits)
    }

    /// The encoding of the largest finite magnitude.
    fn max_finite(self) -> u32 {
        let all = (1u32 << (self.ebits + self.mbits)) - 1;
        if self.ieee {
            all - (1 << self.mbits) // exponent all-ones minus one, fraction all ones
        } else {
            all - 1
        }
    }

    fn inf(self) -> u32 {
        ((1u32 << self.ebits) - 1) << self.mbits
    }

    /// The canonical NaN (positive, all fraction bits set).
    pub(crate) fn nan(self) -> u32 {
        (1u32 << (self.ebits + self.mbits)) - 1
    }

    /// Decodes bits of this format to an f64 (exact).
    pub(crate) fn decode(self, bits: u32) -> f64 {
        let sign = bits & self.sign_bit() != 0;
        let e = (bits >> self.mbits) & ((1 << self.ebits) - 1);
        let f = bits & ((1 << self.mbits) - 1);
        let emax = (1 << self.ebits) - 1;
        let mag = if self.ieee && e == emax {
            if f == 0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        } else if !self.ieee && e == emax && f == (1 << self.mbits) - 1 {
            f64::NAN
        } else if e == 0 {
            f as f64 * 2f64.powi(1 - self.bias() - self.mbits as i32)
        } else {
            (f | (1 << self.mbits)) as f64 * 2f64.powi(e as i32 - self.bias() - self.mbits as i32)
        };
        if sign {
            -mag
        } else {
            mag
        }
    }

    /// Rounds an f64 to this format in `mode`. `satfinite` turns infinities and
    /// overflows into the largest finite value (NaN stays NaN); `relu` turns negative
    /// results (not NaN) into +0.
    pub(crate) fn encode(self, x: f64, mode: Rnd, satfinite: bool, relu: bool) -> u32 {
        if x.is_nan() {
            return self.nan();
        }
        let neg = x.is_sign_negative();
        if relu && (neg || x == 0.0) {
            return 0;
        }
        let sign = if neg { self.sign_bit() } else { 0 };
        if x.is_infinite() {
            if satfinite || !self.ieee {
                return sign | self.max_finite();
            }
            return sign | self.inf();
        }
        if x == 0.0 {
            return sign;
        }
        // |x| = m * 2^q exactly.
        let b = x.to_bits();
        let fexp = ((b >> 52) & 0x7ff) as i32;
        let (m, q) = if fexp == 0 {
            (b & ((1 << 52) - 1), -1074)
        } else {
            ((b & ((1 << 52) - 1)) | (1 << 52), fexp - 1075)
        };
        // floor(log2 |x|)
        let lg = 63 - m.leading_zeros() as i32 + q;
        let emin = 1 - self.bias();
        let mb = self.mbits as i32;
        let qt = lg.max(emin) - mb; // quantum exponent of the result
        let shift = qt - q;
        let (mut mm, up) = if shift <= 0 {
            (m << (-shift).min(63), false)
        } else if shift > 60 {
            // Far below the smallest quantum: truncates to 0 with a nonzero remainder.
            (0u64, round_up(mode, neg, false, false, false))
        } else {
            let mm = m >> shift;
            let rem = m & ((1u64 << shift) - 1);
            let half = 1u64 << (shift - 1);
            (
                mm,
                round_up(mode, neg, mm & 1 == 1, rem == half, rem > half)
                    && rem != 0
                    && (rem >= half || !matches!(mode, Rnd::Rn | Rnd::Rna)),
            )
        };
        if up {
            mm += 1;
        }
        let mut qt = qt;
        if mm >= 1u64 << (mb + 1) {
            mm >>= 1;
            qt += 1;
        }
        if mm == 0 {
            return sign;
        }
        let (biased, frac) = if mm >= 1u64 << mb {
            (qt + mb + self.bias(), (mm - (1u64 << mb)) as u32)
        } else {
            (0, mm as u32)
        };
        let enc = ((biased as u32) << self.mbits) | frac;
        let overflow = if self.ieee {
            biased >= (1 << self.ebits) - 1
        } else {
            biased > (1 << self.ebits) - 1 || enc > self.max_finite()
        };
        if overflow {
            let to_max = satfinite
                || !self.ieee
                || match mode {
                    Rnd::Rz => true,
                    Rnd::Rm => !neg,
                    Rnd::Rp => neg,
                    Rnd::Rn | Rnd::Rna => false,
                };
            return sign
                | if to_max {
                    self.max_finite()
                } else {
                    self.inf()
                };
        }
        sign | enc
    }
}

/// Whether a truncated magnitude is rounded up (away from zero) in `mode`: `odd` is the
/// last kept bit, `tie`/`above` say whether the remainder is exactly half or more than
/// half a quantum, `inexact` whether anything was dropped (only for the far case).
#[inline]
fn round_up(mode: Rnd, neg: bool, odd: bool, tie: bool, above: bool) -> bool {
    match mode {
        Rnd::Rn => above || (tie && odd),
        Rnd::Rna => above || tie,
        Rnd::Rz => false,
        Rnd::Rm => neg,
        Rnd::Rp => !neg,
    }
}

/// f16 bits to f32 (exact).
#[cfg(test)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    F16.decode(h as u32) as f32
}

/// f32 to f16 bits, round to nearest even.
#[cfg(test)]
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    F16.encode(x as f64, Rnd::Rn, false, false) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trip_and_known_values() {
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds to inf
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(5.960_464_5e-8), 0x0001); // smallest subnormal
        assert_eq!(f32_to_f16(2.980_232_2e-8), 0x0000); // tie to even → 0
        assert_eq!(f32_to_f16(f32::NAN), 0x7fff);
        for h in 0..=0xffffu32 {
            let f = f16_to_f32(h as u16);
            if f.is_nan() {
                continue;
            }
            assert_eq!(f32_to_f16(f) as u32, h, "{h:#x}");
        }
    }

    #[test]
    fn bf16_rounding_matches_bit_rounding() {
        // bf16 RN from f32 is the classic bit trick; compare on many values.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..100_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let f = f32::from_bits(x);
            if f.is_nan() {
                continue;
            }
            let lsb = (x >> 16) & 1;
            let mut r = (x.wrapping_add(0x7fff + lsb)) >> 16;
            if f.is_infinite() {
                r = x >> 16;
            }
            assert_eq!(BF16.encode(f as f64, Rnd::Rn, false, false), r, "{x:#x}");
        }
    }

    #[test]
    fn e4m3_and_e5m2() {
        assert_eq!(E4M3.encode(448.0, Rnd::Rn, true, false), 0x7e);
        assert_eq!(E4M3.encode(1000.0, Rnd::Rn, true, false), 0x7e);
        assert_eq!(E4M3.encode(-1000.0, Rnd::Rn, true, false), 0xfe);
        assert_eq!(E4M3.encode(1.0, Rnd::Rn, true, false), 0x38);
        assert_eq!(E4M3.decode(0x7e), 448.0);
        assert!(E4M3.decode(0x7f).is_nan());
        assert_eq!(E5M2.encode(57344.0, Rnd::Rn, true, false), 0x7b);
        assert_eq!(E5M2.encode(1e9, Rnd::Rn, true, false), 0x7b);
        assert_eq!(E5M2.encode(1e9, Rnd::Rn, false, false), 0x7c);
        assert_eq!(E5M2.decode(0x3c), 1.0);
    }

    #[test]
    fn directed_f32_rounding_brackets_the_exact_value() {
        let mut x: u64 = 42;
        for _ in 0..50_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let a = f32::from_bits((x >> 32) as u32 & 0x3fff_ffff | 0x3000_0000);
            let b = f32::from_bits(x as u32 & 0x3fff_ffff | 0x3000_0000);
            let b = if x & 1 == 0 { -b } else { b };
            for (rm, rp, rz, exact) in [
                (
                    add32(a, b, Rnd::Rm),
                    add32(a, b, Rnd::Rp),
                    add32(a, b, Rnd::Rz),
                    a as f64 + b as f64,
                ),
                (
                    mul32(a, b, Rnd::Rm),
                    mul32(a, b, Rnd::Rp),
                    mul32(a, b, Rnd::Rz),
                    a as f64 * b as f64,
                ),
            ] {
                assert!(rm as f64 <= exact && exact <= rp as f64);
                assert!(rp == rm || next_up32(rm) == rp);
                assert!((rz as f64).abs() <= exact.abs());
            }
            let q = div32(a, b, Rnd::Rn);
            assert_eq!(q, a / b);
            let (qm, qp) = (div32(a, b, Rnd::Rm), div32(a, b, Rnd::Rp));
            assert!(qm <= q && q <= qp && (qm == qp || next_up32(qm) == qp));
            let f = fma32_soft(a, b, 1.5, Rnd::Rn);
            assert_eq!(f, a.mul_add(b, 1.5));
        }
    }

    #[test]
    fn f64_directed() {
        let a = 1.0f64;
        let b = 1e-30;
        assert_eq!(add64(a, b, Rnd::Rp), next_up64(1.0));
        assert_eq!(add64(a, b, Rnd::Rm), 1.0);
        assert_eq!(add64(a, -b, Rnd::Rz), next_down64(1.0));
        assert_eq!(div64(1.0, 3.0, Rnd::Rz), 1.0 / 3.0);
        assert_eq!(div64(1.0, 3.0, Rnd::Rp), next_up64(1.0 / 3.0));
        assert!(add64(1.0, -1.0, Rnd::Rm).is_sign_negative());
        assert_eq!(fma64(1.0, 1.0, 1e-30, Rnd::Rp), next_up64(1.0));
    }
}
