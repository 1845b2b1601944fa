//! Comparators: verdicts and SDC magnitude.

use std::fmt;

use crate::data::{Arrays, Data};
pub use reports::SdcMagnitude;

/// How close a device result must be to the expected one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Every element bit-identical (NaN payloads included, unless a [`Rule`] says
    /// [`NanMode::Any`]).
    Exact,
    /// Floats: `|got - expected| <= abs + rel * |expected|`, NaN matches NaN, infinities
    /// must match exactly. Integers are always compared exactly.
    Close {
        /// Absolute slack.
        abs: f64,
        /// Relative slack.
        rel: f64,
    },
    /// Floats: at most `ulps` representable values apart (`+0` and `-0` are 0 apart),
    /// NaN matches NaN, infinities must match exactly. Integers are always compared
    /// exactly.
    Ulp {
        /// Largest distance in units in the last place.
        ulps: u64,
    },
}

/// How a comparison treats two NaNs at the same position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NanMode {
    /// A NaN equals a NaN of any payload and sign.
    Any,
    /// NaNs are equal only with identical bits.
    Bits,
}

/// The comparison of one output: a tolerance and a NaN rule. A bare [`Tolerance`]
/// converts with the NaN rule it always had: [`Tolerance::Exact`] compares NaN bits,
/// the others let any NaN match any NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// How close values must be.
    pub tolerance: Tolerance,
    /// How NaNs compare.
    pub nan: NanMode,
}

impl From<Tolerance> for Rule {
    fn from(tolerance: Tolerance) -> Rule {
        let nan = match tolerance {
            Tolerance::Exact => NanMode::Bits,
            Tolerance::Close { .. } | Tolerance::Ulp { .. } => NanMode::Any,
        };
        Rule { tolerance, nan }
    }
}

/// The verdict of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every array bit-identical.
    Identical,
    /// Some bits differ, but every element is within tolerance.
    WithinTolerance,
    /// At least one element is out of tolerance, or the shapes differ: a silent data
    /// corruption when the run itself reported no error.
    Different,
}

/// The first different element of an array, for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstDifference {
    /// Element index.
    pub index: usize,
    /// The expected value, printed.
    pub expected: String,
    /// The actual value, printed.
    pub got: String,
}

/// The comparison of one named array.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayComparison {
    /// The array's name.
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its magnitude.
    pub magnitude: SdcMagnitude,
    /// Whether the array was missing, extra, of another type or of another length.
    pub shape_mismatch: bool,
    /// The first element out of tolerance, if any.
    pub first: Option<FirstDifference>,
}

/// The result of comparing two [`Outputs`](crate::Outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The overall verdict (the worst of the arrays').
    pub verdict: Verdict,
    /// The magnitude summed (counts) or maximised (errors) over all arrays.
    pub magnitude: SdcMagnitude,
    /// Whether any array was missing, extra, of another type or of another length.
    pub shape_mismatch: bool,
    /// Per array, in the expected outputs' order, then arrays only in the actual ones.
    pub arrays: Vec<ArrayComparison>,
}

impl Comparison {
    /// Whether the outputs differ beyond tolerance.
    pub fn is_different(&self) -> bool {
        self.verdict == Verdict::Different
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.magnitude;
        write!(
            f,
            "{:?}: {} of {} elements differ, {} bits flipped, max abs error {:e}, max rel \
             error {:e}, {} NaN/Inf{}",
            self.verdict,
            m.elements,
            m.total,
            m.flipped_bits,
            m.max_abs,
            m.max_rel,
            m.nan_inf,
            if self.shape_mismatch {
                ", shapes differ"
            } else {
                ""
            }
        )?;
        for a in &self.arrays {
            if let Some(d) = &a.first {
                write!(
                    f,
                    "; `{}`: {} differ, first at [{}]: expected {}, got {}",
                    a.name, a.magnitude.elements, d.index, d.expected, d.got
                )?;
            } else if a.shape_mismatch {
                write!(f, "; `{}`: shape differs", a.name)?;
            }
        }
        Ok(())
    }
}

/// Compares `got` against `expected`, array by array, each with the rule (a
/// [`Tolerance`] or a [`Rule`]) that `rule_of(name)` gives.
pub fn compare_arrays<R: Into<Rule>>(
    expected: &Arrays,
    got: &Arrays,
    rule_of: impl Fn(&str) -> R,
) -> Comparison {
    let mut arrays = Vec::new();
    for (name, e) in expected.iter() {
        let c = match got.get(name) {
            Some(g) => compare_data(name, e, g, rule_of(name).into()),
            None => missing(name, e.len() as u64),
        };
        arrays.push(c);
    }
    for (name, g) in got.iter() {
        if expected.get(name).is_none() {
            let mut c = missing(name, 0);
            c.magnitude.elements = g.len() as u64;
            arrays.push(c);
        }
    }
    let mut magnitude = SdcMagnitude::default();
    let mut verdict = Verdict::Identical;
    let mut shape_mismatch = false;
    for a in &arrays {
        verdict = worse(verdict, a.verdict);
        let m = &a.magnitude;
        magnitude.total += m.total;
        magnitude.elements += m.elements;
        magnitude.flipped_bits += m.flipped_bits;
        magnitude.nan_inf += m.nan_inf;
        magnitude.max_abs = magnitude.max_abs.max(m.max_abs);
        magnitude.max_rel = magnitude.max_rel.max(m.max_rel);
        shape_mismatch |= a.shape_mismatch;
    }
    Comparison {
        verdict,
        magnitude,
        shape_mismatch,
        arrays,
    }
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v| match v {
        Verdict::Identical => 0,
        Verdict::WithinTolerance => 1,
        Verdict::Different => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn missing(name: &str, expected_len: u64) -> ArrayComparison {
    ArrayComparison {
        name: name.to_string(),
        verdict: Verdict::Different,
        magnitude: SdcMagnitude {
            total: expected_len,
            elements: expected_len,
            ..SdcMagnitude::default()
        },
        shape_mismatch: true,
        first: None,
    }
}

/// One element seen through the comparator: its bits, its value as `f64`, and whether
/// it is a float.
trait Element: Copy + fmt::Debug {
    const FLOAT: bool;
    fn bits(self) -> u64;
    fn value(self) -> f64;
    /// Floats: the distance in units in the last place (0 for integers).
    fn ulps(self, other: Self) -> u64;
}

macro_rules! int_element {
    ($($t:ty as $u:ty),*) => {$(
        impl Element for $t {
            const FLOAT: bool = false;
            fn bits(self) -> u64 {
                u64::from(self as $u)
            }
            fn value(self) -> f64 {
                self as f64
            }
            fn ulps(self, _: Self) -> u64 {
                0
            }
        }
    )*};
}
int_element!(
    u8 as u8, i8 as u8, u16 as u16, i16 as u16, u32 as u32, i32 as u32, u64 as u64, i64 as u64
);

macro_rules! float_element {
    ($($t:ty, $sign:expr;)*) => {$(
        impl Element for $t {
            const FLOAT: bool = true;
            fn bits(self) -> u64 {
                u64::from(self.to_bits())
            }
            fn value(self) -> f64 {
                f64::from(self)
            }
            fn ulps(self, other: Self) -> u64 {
                // Sign-magnitude bits to a monotonic integer line on which +0 and -0
                // are the same point.
                let line = |x: $t| {
                    let b = i128::from(x.to_bits());
                    if b & $sign != 0 { -(b & ($sign - 1)) } else { b }
                };
                u64::try_from(line(self).abs_diff(line(other))).unwrap_or(u64::MAX)
            }
        }
    )*};
}
float_element! {
    f32, 1i128 << 31;
    f64, 1i128 << 63;
}

fn compare_data(name: &str, expected: &Data, got: &Data, rule: Rule) -> ArrayComparison {
    match (expected, got) {
        (Data::U8(e), Data::U8(g)) => compare_slices(name, e, g, rule),
        (Data::I8(e), Data::I8(g)) => compare_slices(name, e, g, rule),
        (Data::U16(e), Data::U16(g)) => compare_slices(name, e, g, rule),
        (Data::I16(e), Data::I16(g)) => compare_slices(name, e, g, rule),
        (Data::U32(e), Data::U32(g)) => compare_slices(name, e, g, rule),
        (Data::I32(e), Data::I32(g)) => compare_slices(name, e, g, rule),
        (Data::U64(e), Data::U64(g)) => compare_slices(name, e, g, rule),
        (Data::I64(e), Data::I64(g)) => compare_slices(name, e, g, rule),
        (Data::F32(e), Data::F32(g)) => compare_slices(name, e, g, rule),
        (Data::F64(e), Data::F64(g)) => compare_slices(name, e, g, rule),
        _ => missing(name, expected.len() as u64),
    }
}

/// Whether two float elements whose bits differ are equal under `rule`.
fn within<T: Element>(x: T, y: T, rule: Rule) -> bool {
    let (e, g) = (x.value(), y.value());
    if e.is_nan() || g.is_nan() {
        return e.is_nan() && g.is_nan() && rule.nan == NanMode::Any;
    }
    if e.is_infinite() || g.is_infinite() {
        return false;
    }
    match rule.tolerance {
        Tolerance::Exact => false,
        Tolerance::Close { abs, rel } => (g - e).abs() <= abs + rel * e.abs(),
        Tolerance::Ulp { ulps } => x.ulps(y) <= ulps,
    }
}

fn compare_slices<T: Element>(name: &str, e: &[T], g: &[T], rule: Rule) -> ArrayComparison {
    let mut m = SdcMagnitude {
        total: e.len() as u64,
        ..SdcMagnitude::default()
    };
    let mut first = None;
    let mut any_bits = false;
    for (i, (&x, &y)) in e.iter().zip(g).enumerate() {
        let diff_bits = x.bits() ^ y.bits();
        if diff_bits == 0 {
            continue;
        }
        any_bits = true;
        if T::FLOAT && within(x, y, rule) {
            continue;
        }
        let (ev, gv) = (x.value(), y.value());
        m.elements += 1;
        m.flipped_bits += u64::from(diff_bits.count_ones());
        if T::FLOAT && !gv.is_finite() {
            m.nan_inf += 1;
        } else if ev.is_finite() {
            let abs = (gv - ev).abs();
            let rel = if ev == 0.0 {
                f64::INFINITY
            } else {
                abs / ev.abs()
            };
            m.max_abs = m.max_abs.max(abs);
            m.max_rel = m.max_rel.max(rel);
        }
        if first.is_none() {
            first = Some(FirstDifference {
                index: i,
                expected: format!("{x:?}"),
                got: format!("{y:?}"),
            });
        }
    }
    let shape_mismatch = e.len() != g.len();
    if shape_mismatch {
        m.elements += e.len().abs_diff(g.len()) as u64;
    }
    let verdict = if m.elements > 0 || shape_mismatch {
        Verdict::Different
    } else if any_bits {
        Verdict::WithinTolerance
    } else {
        Verdict::Identical
    };
    ArrayComparison {
        name: name.to_string(),
        verdict,
        magnitude: m,
        shape_mismatch,
        first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Arrays {
        Arrays::new().with("x", Data::F32(v.to_vec()))
    }

    #[test]
    fn identical_outputs_are_identical() {
        let a = f32s(&[1.0, f32::NAN, -0.0]);
        let c = compare_arrays(&a, &a.clone(), |_| Tolerance::Exact);
        assert_eq!(c.verdict, Verdict::Identical);
        assert_eq!(c.magnitude.elements, 0);
        assert_eq!(c.magnitude.total, 3);
    }

    #[test]
    fn exact_counts_elements_bits_and_errors() {
        let e = f32s(&[1.0, 2.0, 4.0, 0.0]);
        // 1.0 -> 1.5 flips one mantissa bit; 4.0 -> -4.0 flips the sign bit; 0.0 -> 3.0.
        let g = f32s(&[1.5, 2.0, -4.0, 3.0]);
        let c = compare_arrays(&e, &g, |_| Tolerance::Exact);
        assert_eq!(c.verdict, Verdict::Different);
        let m = c.magnitude;
        assert_eq!(m.elements, 3);
        let bits = (1.0f32.to_bits() ^ 1.5f32.to_bits()).count_ones()
            + 1
            + (0.0f32.to_bits() ^ 3.0f32.to_bits()).count_ones();
        assert_eq!(m.flipped_bits, u64::from(bits));
        assert_eq!(m.max_abs, 8.0);
        assert_eq!(m.max_rel, f64::INFINITY);
        assert_eq!(m.nan_inf, 0);
        assert_eq!(c.arrays[0].first.as_ref().unwrap().index, 0);
    }

    #[test]
    fn tolerance_accepts_small_errors_and_rejects_large_ones() {
        let tol = Tolerance::Close {
            abs: 1e-6,
            rel: 1e-3,
        };
        let e = f32s(&[1000.0, 1.0]);
        let small = f32s(&[1000.5, 1.0]);
        let c = compare_arrays(&e, &small, |_| tol);
        assert_eq!(c.verdict, Verdict::WithinTolerance);
        assert_eq!(c.magnitude.elements, 0);
        let large = f32s(&[1002.0, 1.0]);
        let c = compare_arrays(&e, &large, |_| tol);
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!(c.magnitude.elements, 1);
        assert!((c.magnitude.max_rel - 2e-3).abs() < 1e-9);
    }

    #[test]
    fn new_nan_and_inf_are_counted_and_keep_errors_finite() {
        let tol = Tolerance::Close { abs: 1.0, rel: 1.0 };
        let e = f32s(&[1.0, 2.0, f32::NAN, f32::INFINITY]);
        let g = f32s(&[f32::NAN, f32::INFINITY, f32::NAN, f32::INFINITY]);
        let c = compare_arrays(&e, &g, |_| tol);
        assert_eq!(c.magnitude.elements, 2);
        assert_eq!(c.magnitude.nan_inf, 2);
        assert_eq!(c.magnitude.max_abs, 0.0);
        // NaN vs NaN and inf vs inf match under a tolerance; bitwise they are identical.
        assert_eq!(c.arrays[0].first.as_ref().unwrap().index, 0);
    }

    #[test]
    fn integers_ignore_float_tolerance() {
        let e = Arrays::new().with("k", Data::I32(vec![5, -1]));
        let g = Arrays::new().with("k", Data::I32(vec![5, 0]));
        let c = compare_arrays(&e, &g, |_| Tolerance::Close {
            abs: 10.0,
            rel: 10.0,
        });
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!(c.magnitude.flipped_bits, 32);
        assert_eq!(c.magnitude.max_abs, 1.0);
    }

    #[test]
    fn shape_and_name_mismatches_are_differences() {
        let e = Arrays::new()
            .with("a", Data::U32(vec![1, 2, 3]))
            .with("b", Data::U32(vec![0]));
        let shorter = Arrays::new()
            .with("a", Data::U32(vec![1, 2]))
            .with("b", Data::U32(vec![0]));
        let c = compare_arrays(&e, &shorter, |_| Tolerance::Exact);
        assert_eq!(c.verdict, Verdict::Different);
        assert!(c.shape_mismatch);
        assert_eq!(c.magnitude.elements, 1);
        let renamed = Arrays::new()
            .with("a", Data::U32(vec![1, 2, 3]))
            .with("c", Data::U32(vec![0]));
        let c = compare_arrays(&e, &renamed, |_| Tolerance::Exact);
        assert_eq!(c.magnitude.elements, 2);
        let retyped = Arrays::new()
            .with("a", Data::I32(vec![1, 2, 3]))
            .with("b", Data::U32(vec![0]));
        let c = compare_arrays(&e, &retyped, |_| Tolerance::Exact);
        assert_eq!(c.magnitude.elements, 3);
        assert!(c.to_string().contains("shape"));
    }

    #[test]
    fn f64_arrays_compare_like_f32() {
        let e = Arrays::new().with("d", Data::F64(vec![1.0, 1e-300]));
        let g = Arrays::new().with("d", Data::F64(vec![1.0 + f64::EPSILON, 1e-300]));
        assert_eq!(
            compare_arrays(&e, &g, |_| Tolerance::Exact)
                .magnitude
                .flipped_bits,
            1
        );
        let c = compare_arrays(&e, &g, |_| Tolerance::Close {
            abs: 0.0,
            rel: 1e-15,
        });
        assert_eq!(c.verdict, Verdict::WithinTolerance);
    }

    #[test]
    fn ulp_tolerance_counts_representable_values_across_zero() {
        let next = |x: f32, n: u32| f32::from_bits(x.to_bits() + n);
        let e = f32s(&[1.0, 0.0, -0.0, 3.0]);
        let g = f32s(&[next(1.0, 2), -0.0, f32::from_bits(1), next(3.0, 3)]);
        let rule = |ulps| move |_: &str| Tolerance::Ulp { ulps };
        let c = compare_arrays(&e, &g, rule(2));
        // 3.0 is 3 ulps off; +0/-0 are 0 apart; -0 vs the smallest subnormal is 1.
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!(c.magnitude.elements, 1);
        assert_eq!(c.arrays[0].first.as_ref().unwrap().index, 3);
        assert_eq!(
            compare_arrays(&e, &g, rule(3)).verdict,
            Verdict::WithinTolerance
        );
        // Opposite signs straddle zero: -1 ulp vs +1 ulp is 2 apart.
        let e = f64s(&[-f64::from_bits(1)]);
        let g = f64s(&[f64::from_bits(1)]);
        assert!(compare_arrays(&e, &g, rule(1)).is_different());
        assert!(!compare_arrays(&e, &g, rule(2)).is_different());
    }

    fn f64s(v: &[f64]) -> Arrays {
        Arrays::new().with("x", Data::F64(v.to_vec()))
    }

    #[test]
    fn nan_rules_any_payload_or_identical_bits() {
        let quiet = f32::from_bits(0x7fc0_0000);
        let payload = f32::from_bits(0x7fc0_1234);
        let e = f32s(&[quiet, 1.0]);
        let g = f32s(&[payload, 1.0]);
        let any = Rule {
            tolerance: Tolerance::Exact,
            nan: NanMode::Any,
        };
        let bits = Rule {
            tolerance: Tolerance::Exact,
            nan: NanMode::Bits,
        };
        assert_eq!(
            compare_arrays(&e, &g, |_| any).verdict,
            Verdict::WithinTolerance
        );
        let c = compare_arrays(&e, &g, |_| bits);
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!(c.magnitude.nan_inf, 1);
        // A bare Exact keeps comparing NaN bits; a bare Close lets any NaN match.
        assert!(compare_arrays(&e, &g, |_| Tolerance::Exact).is_different());
        let close = Tolerance::Close { abs: 0.0, rel: 0.0 };
        assert!(!compare_arrays(&e, &g, |_| close).is_different());
        // NaN never matches a number, whatever the rule.
        let g = f32s(&[1.0, quiet]);
        assert_eq!(compare_arrays(&e, &g, |_| any).magnitude.elements, 2);
    }

    #[test]
    fn narrow_and_wide_integers_compare_exactly() {
        let e = Arrays::new()
            .with("a", Data::I8(vec![-1, 5]))
            .with("b", Data::U64(vec![u64::MAX, 0]))
            .with("c", Data::I16(vec![7]));
        let g = Arrays::new()
            .with("a", Data::I8(vec![-2, 5]))
            .with("b", Data::U64(vec![u64::MAX, 1 << 40]))
            .with("c", Data::I16(vec![7]));
        let c = compare_arrays(&e, &g, |_| Tolerance::Ulp { ulps: 100 });
        assert_eq!(c.magnitude.elements, 2);
        // -1 vs -2 as i8 differ in one bit (0xff vs 0xfe); 0 vs 2^40 in one.
        assert_eq!(c.magnitude.flipped_bits, 2);
        assert_eq!(c.magnitude.max_abs, (1u64 << 40) as f64);
        assert_eq!(c.arrays[2].verdict, Verdict::Identical);
    }
}
