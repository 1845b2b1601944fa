//! Comparators: verdicts and SDC magnitude.

use std::fmt;

use crate::data::{Arrays, Data};

/// How close a device result must be to the expected one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Every element bit-identical (NaN payloads included).
    Exact,
    /// Floats: `|got - expected| <= abs + rel * |expected|`, NaN matches NaN, infinities
    /// must match exactly. Integers are always compared exactly.
    Close {
        /// Absolute slack.
        abs: f64,
        /// Relative slack.
        rel: f64,
    },
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

/// How large a difference is, over the elements judged different (outside tolerance).
///
/// `max_abs_error` and `max_rel_error` cover the elements whose expected and actual
/// values are both finite; elements that became NaN or infinite are counted in
/// `nan_inf` instead. The relative error of an element whose expected value is zero is
/// infinite.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SdcMagnitude {
    /// Elements compared (the expected outputs' element count).
    pub total_elements: u64,
    /// Elements out of tolerance (for exact comparisons: with any bit different),
    /// including elements missing from or added to an array of the wrong length.
    pub elements: u64,
    /// Sum over the different elements of the number of differing bits.
    pub bits_flipped: u64,
    /// Largest absolute error.
    pub max_abs_error: f64,
    /// Largest relative error.
    pub max_rel_error: f64,
    /// Different elements whose actual value is NaN or infinite.
    pub nan_inf: u64,
    /// Whether an array was missing, extra, of another type or of another length.
    pub shape_mismatch: bool,
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
            m.total_elements,
            m.bits_flipped,
            m.max_abs_error,
            m.max_rel_error,
            m.nan_inf,
            if m.shape_mismatch {
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
            } else if a.magnitude.shape_mismatch {
                write!(f, "; `{}`: shape differs", a.name)?;
            }
        }
        Ok(())
    }
}

/// Compares `got` against `expected`, array by array, each with the tolerance that
/// `tolerance_of(name)` gives.
pub fn compare_arrays(
    expected: &Arrays,
    got: &Arrays,
    tolerance_of: impl Fn(&str) -> Tolerance,
) -> Comparison {
    let mut arrays = Vec::new();
    for (name, e) in expected.iter() {
        let c = match got.get(name) {
            Some(g) => compare_data(name, e, g, tolerance_of(name)),
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
    for a in &arrays {
        verdict = worse(verdict, a.verdict);
        let m = &a.magnitude;
        magnitude.total_elements += m.total_elements;
        magnitude.elements += m.elements;
        magnitude.bits_flipped += m.bits_flipped;
        magnitude.nan_inf += m.nan_inf;
        magnitude.max_abs_error = magnitude.max_abs_error.max(m.max_abs_error);
        magnitude.max_rel_error = magnitude.max_rel_error.max(m.max_rel_error);
        magnitude.shape_mismatch |= m.shape_mismatch;
    }
    Comparison {
        verdict,
        magnitude,
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
            total_elements: expected_len,
            elements: expected_len,
            shape_mismatch: true,
            ..SdcMagnitude::default()
        },
        first: None,
    }
}

/// One element seen through the comparator: its bits, its value as `f64`, and whether
/// it is a float.
trait Element: Copy + fmt::Debug {
    const FLOAT: bool;
    fn bits(self) -> u64;
    fn value(self) -> f64;
}

macro_rules! element {
    ($t:ty, $float:expr, $bits:expr) => {
        impl Element for $t {
            const FLOAT: bool = $float;
            fn bits(self) -> u64 {
                $bits(self)
            }
            fn value(self) -> f64 {
                self as f64
            }
        }
    };
}
element!(u32, false, |x: u32| x as u64);
element!(i32, false, |x: i32| x as u32 as u64);
element!(f32, true, |x: f32| x.to_bits() as u64);
element!(f64, true, |x: f64| x.to_bits());

fn compare_data(name: &str, expected: &Data, got: &Data, tol: Tolerance) -> ArrayComparison {
    match (expected, got) {
        (Data::U32(e), Data::U32(g)) => compare_slices(name, e, g, tol),
        (Data::I32(e), Data::I32(g)) => compare_slices(name, e, g, tol),
        (Data::F32(e), Data::F32(g)) => compare_slices(name, e, g, tol),
        (Data::F64(e), Data::F64(g)) => compare_slices(name, e, g, tol),
        _ => missing(name, expected.len() as u64),
    }
}

fn within(e: f64, g: f64, tol: Tolerance) -> bool {
    match tol {
        Tolerance::Exact => false,
        Tolerance::Close { abs, rel } => {
            if e.is_nan() || g.is_nan() {
                e.is_nan() && g.is_nan()
            } else if e.is_infinite() || g.is_infinite() {
                e == g
            } else {
                (g - e).abs() <= abs + rel * e.abs()
            }
        }
    }
}

fn compare_slices<T: Element>(name: &str, e: &[T], g: &[T], tol: Tolerance) -> ArrayComparison {
    let mut m = SdcMagnitude {
        total_elements: e.len() as u64,
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
        let (ev, gv) = (x.value(), y.value());
        if T::FLOAT && within(ev, gv, tol) {
            continue;
        }
        m.elements += 1;
        m.bits_flipped += u64::from(diff_bits.count_ones());
        if T::FLOAT && !gv.is_finite() {
            m.nan_inf += 1;
        } else if ev.is_finite() {
            let abs = (gv - ev).abs();
            let rel = if ev == 0.0 {
                f64::INFINITY
            } else {
                abs / ev.abs()
            };
            m.max_abs_error = m.max_abs_error.max(abs);
            m.max_rel_error = m.max_rel_error.max(rel);
        }
        if first.is_none() {
            first = Some(FirstDifference {
                index: i,
                expected: format!("{x:?}"),
                got: format!("{y:?}"),
            });
        }
    }
    if e.len() != g.len() {
        m.shape_mismatch = true;
        m.elements += e.len().abs_diff(g.len()) as u64;
    }
    let verdict = if m.elements > 0 || m.shape_mismatch {
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
        assert_eq!(c.magnitude.total_elements, 3);
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
        assert_eq!(m.bits_flipped, u64::from(bits));
        assert_eq!(m.max_abs_error, 8.0);
        assert_eq!(m.max_rel_error, f64::INFINITY);
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
        assert!((c.magnitude.max_rel_error - 2e-3).abs() < 1e-9);
    }

    #[test]
    fn new_nan_and_inf_are_counted_and_keep_errors_finite() {
        let tol = Tolerance::Close { abs: 1.0, rel: 1.0 };
        let e = f32s(&[1.0, 2.0, f32::NAN, f32::INFINITY]);
        let g = f32s(&[f32::NAN, f32::INFINITY, f32::NAN, f32::INFINITY]);
        let c = compare_arrays(&e, &g, |_| tol);
        assert_eq!(c.magnitude.elements, 2);
        assert_eq!(c.magnitude.nan_inf, 2);
        assert_eq!(c.magnitude.max_abs_error, 0.0);
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
        assert_eq!(c.magnitude.bits_flipped, 32);
        assert_eq!(c.magnitude.max_abs_error, 1.0);
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
        assert!(c.magnitude.shape_mismatch);
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
                .bits_flipped,
            1
        );
        let c = compare_arrays(&e, &g, |_| Tolerance::Close {
            abs: 0.0,
            rel: 1e-15,
        });
        assert_eq!(c.verdict, Verdict::WithinTolerance);
    }
}
