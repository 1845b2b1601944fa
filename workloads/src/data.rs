//! Named typed arrays: what a workload takes in and gives back.

use std::fmt;
use std::time::Duration;

use crate::error::InputError;

/// The element type of a [`Data`] array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit unsigned integer.
    U32,
    /// 32-bit signed integer.
    I32,
    /// IEEE-754 single precision.
    F32,
    /// IEEE-754 double precision.
    F64,
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// One typed array.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Unsigned 32-bit integers.
    U32(Vec<u32>),
    /// Signed 32-bit integers.
    I32(Vec<i32>),
    /// Single-precision floats.
    F32(Vec<f32>),
    /// Double-precision floats.
    F64(Vec<f64>),
}

impl Data {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::U32(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::U32(_) => DType::U32,
            Data::I32(_) => DType::I32,
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
        }
    }
}

/// An ordered list of named arrays (names are unique).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrays {
    items: Vec<(String, Data)>,
}

macro_rules! typed_getter {
    ($fn:ident, $variant:ident, $t:ty) => {
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

    typed_getter!(u32s, U32, u32);
    typed_getter!(i32s, I32, i32);
    typed_getter!(f32s, F32, f32);
    typed_getter!(f64s, F64, f64);
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
