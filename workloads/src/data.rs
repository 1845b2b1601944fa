//! Named typed arrays: what a workload takes in and gives back.

use std::fmt;
use std::time::Duration;

use crate::error::InputError;

/// Declares [`DType`] and [`Data`] from one list of (variant, Rust type, name, float?),
/// with the per-type methods that only differ in the element type.
macro_rules! element_types {
    ($($v:ident($t:ty) $name:literal $float:literal, $doc:literal;)*) => {
        /// The element type of a [`Data`] array.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DType {
            $(#[doc = $doc] $v,)*
        }

        impl DType {
            /// Every element type, in declaration order.
            pub const ALL: &'static [DType] = &[$(DType::$v),*];

            /// The type's name (`u8` … `f64`), as manifests and messages write it.
            pub fn name(self) -> &'static str {
                match self {
                    $(DType::$v => $name,)*
                }
            }

            /// The type called `name` ([`DType::name`]).
            pub fn from_name(name: &str) -> Option<DType> {
                DType::ALL.iter().copied().find(|t| t.name() == name)
            }

            /// Size of one element in bytes.
            pub fn size(self) -> usize {
                match self {
                    $(DType::$v => std::mem::size_of::<$t>(),)*
                }
            }

            /// Whether it is a floating-point type.
            pub fn is_float(self) -> bool {
                match self {
                    $(DType::$v => $float,)*
                }
            }
        }

        /// One typed array.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Data {
            $(#[doc = $doc] $v(Vec<$t>),)*
        }

        impl Data {
            /// Number of elements.
            pub fn len(&self) -> usize {
                match self {
                    $(Data::$v(v) => v.len(),)*
                }
            }

            /// The element type.
            pub fn dtype(&self) -> DType {
                match self {
                    $(Data::$v(_) => DType::$v,)*
                }
            }

            /// `n` zeros of type `dtype`.
            pub fn zeros(dtype: DType, n: usize) -> Data {
                match dtype {
                    $(DType::$v => Data::$v(vec![<$t>::default(); n]),)*
                }
            }

            /// The elements as little-endian bytes (what a device buffer holds).
            pub fn to_le_bytes(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(self.len() * self.dtype().size());
                match self {
                    $(Data::$v(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),)*
                }
                out
            }

            /// Elements of type `dtype` from little-endian `bytes`; `None` when the
            /// length is not a multiple of the element size.
            pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<Data> {
                if bytes.len() % dtype.size() != 0 {
                    return None;
                }
                Some(match dtype {
                    $(DType::$v => Data::$v(
                        bytes
                            .chunks_exact(std::mem::size_of::<$t>())
                            .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                            .collect(),
                    ),)*
                })
            }
        }
    };
}

element_types! {
    U8(u8) "u8" false, "8-bit unsigned integers.";
    I8(i8) "i8" false, "8-bit signed integers.";
    U16(u16) "u16" false, "16-bit unsigned integers.";
    I16(i16) "i16" false, "16-bit signed integers.";
    U32(u32) "u32" false, "32-bit unsigned integers.";
    I32(i32) "i32" false, "32-bit signed integers.";
    U64(u64) "u64" false, "64-bit unsigned integers.";
    I64(i64) "i64" false, "64-bit signed integers.";
    F32(f32) "f32" true, "IEEE-754 single precision.";
    F64(f64) "f64" true, "IEEE-754 double precision.";
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Data {
    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An ordered list of named arrays (names are unique).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrays {
    items: Vec<(String, Data)>,
}

macro_rules! typed_getter {
    ($fn:ident, $fn_of:ident, $variant:ident, $t:ty) => {
        #[doc = concat!("The `", stringify!($t), "` array called `name`.")]
        pub fn $fn(&self, name: &str) -> Result<&[$t], InputError> {
            match self.get(name) {
                Some(Data::$variant(v)) => Ok(v),
                Some(other) => Err(InputError::WrongType {
                    name: name.to_string(),
                    expected: DType::$variant,
                    found: other.dtype(),
                }),
                None => Err(InputError::MissingArray {
                    name: name.to_string(),
                }),
            }
        }

        #[doc = concat!("The `", stringify!($t), "` array called `name`, of `len` elements.")]
        pub(crate) fn $fn_of(&self, name: &str, len: usize) -> Result<&[$t], InputError> {
            let v = self.$fn(name)?;
            check_len(name, v, len)?;
            Ok(v)
        }
    };
}

impl Arrays {
    /// An empty list.
    pub fn new() -> Arrays {
        Arrays::default()
    }

    /// Adds (or replaces) the array `name`; returns `self` for chaining.
    pub fn with(mut self, name: &str, data: Data) -> Arrays {
        self.insert(name, data);
        self
    }

    /// Adds (or replaces) the array `name`.
    pub fn insert(&mut self, name: &str, data: Data) {
        match self.items.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = data,
            None => self.items.push((name.to_string(), data)),
        }
    }

    /// The array called `name`.
    pub fn get(&self, name: &str) -> Option<&Data> {
        self.items.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    /// The arrays in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Data)> {
        self.items.iter().map(|(n, d)| (n.as_str(), d))
    }

    /// Number of arrays.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no arrays.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    typed_getter!(u32s, u32s_of, U32, u32);
    typed_getter!(i32s, i32s_of, I32, i32);
    typed_getter!(f32s, f32s_of, F32, f32);
    typed_getter!(f64s, f64s_of, F64, f64);
}

/// The generated inputs of one workload run.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// The size parameter they were generated for (see [`SizeSpec`](crate::SizeSpec)).
    pub size: usize,
    /// The seed they were generated from.
    pub seed: u64,
    /// The input arrays.
    pub arrays: Arrays,
}

/// What a device run (or the CPU reference) produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// The output arrays: the only thing comparators look at.
    pub arrays: Arrays,
    /// How the run went (launch count, instructions); empty for the CPU reference.
    pub stats: RunStats,
}

impl Outputs {
    /// Outputs with empty statistics (the CPU reference's).
    pub fn from_arrays(arrays: Arrays) -> Outputs {
        Outputs {
            arrays,
            stats: RunStats::default(),
        }
    }
}

/// Statistics of one device run, summed over its launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunStats {
    /// Kernel launches made.
    pub launches: u32,
    /// Thread-instructions executed, when every launch reported them (virtual GPU).
    pub instructions: Option<u64>,
    /// Wall time of the launches.
    pub elapsed: Duration,
}

/// Checks that the input array `name` has `expected` elements.
pub(crate) fn check_len<T>(name: &str, v: &[T], expected: usize) -> Result<(), InputError> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(InputError::Length {
            name: name.to_string(),
            len: v.len(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_little_endian_bytes() {
        let arrays = [
            Data::U8(vec![0, 255]),
            Data::I8(vec![-128, 127]),
            Data::U16(vec![0x1234]),
            Data::I16(vec![-2]),
            Data::U32(vec![0xdead_beef]),
            Data::I32(vec![-7]),
            Data::U64(vec![u64::MAX]),
            Data::I64(vec![i64::MIN]),
            Data::F32(vec![1.5, -0.0]),
            Data::F64(vec![f64::INFINITY]),
        ];
        assert_eq!(arrays.len(), DType::ALL.len());
        for d in arrays {
            let t = d.dtype();
            assert_eq!(DType::from_name(t.name()), Some(t));
            let bytes = d.to_le_bytes();
            assert_eq!(bytes.len(), d.len() * t.size());
            assert_eq!(Data::from_le_bytes(t, &bytes), Some(d.clone()));
            assert_eq!(Data::zeros(t, 3).len(), 3);
        }
        assert_eq!(Data::I16(vec![-2]).to_le_bytes(), [0xfe, 0xff]);
        assert_eq!(Data::from_le_bytes(DType::U32, &[1, 2, 3]), None);
        assert!(DType::F32.is_float() && !DType::I64.is_float());
    }
}
