//! What a workload is: its metadata.

use crate::compare::Tolerance;
use crate::data::DType;
use crate::error::InputError;

/// The kind of program, after the application classes of the SC'23 study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Element-wise streaming (vector add).
    Streaming,
    /// Dense linear algebra (GEMM, Gaussian elimination, LU).
    DenseLinearAlgebra,
    /// Parallel reduction or scan.
    Reduction,
    /// Data-dependent scatter with atomics (histogram).
    Atomics,
    /// Irregular graph traversal (BFS).
    Graph,
    /// Dynamic programming over a wavefront (Needleman-Wunsch).
    DynamicProgramming,
    /// Structured-grid stencil (HotSpot).
    Stencil,
    /// Sorting (bitonic, quicksort).
    Sort,
    /// Particle interactions (LavaMD).
    NBody,
    /// Neural-network inference (CNN).
    Inference,
    /// Neural-network training (MLP step).
    Training,
}

/// What the size parameter of [`Workload::generate`](crate::Workload::generate) means
/// and which values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeSpec {
    /// What the size counts, e.g. "matrix dimension n".
    pub meaning: &'static str,
    /// The default: small, well under a second on the virtual GPU.
    pub default: usize,
    /// A larger size for runs on real GPUs.
    pub gpu: usize,
    /// Smallest valid size.
    pub min: usize,
    /// Largest valid size.
    pub max: usize,
    /// Valid sizes are multiples of this.
    pub multiple_of: usize,
}

impl SizeSpec {
    /// A count of elements, as the one-dimensional workloads take it: any `n` from 1 to
    /// 2^26, 2^24 for runs on real GPUs.
    pub(crate) const fn elements(meaning: &'static str, default: usize) -> SizeSpec {
        SizeSpec {
            meaning,
            default,
            gpu: 1 << 24,
            min: 1,
            max: 1 << 26,
            multiple_of: 1,
        }
    }

    /// Checks `size` for the workload `workload`.
    pub fn check(&self, workload: &'static str, size: usize) -> Result<(), InputError> {
        if size < self.min || size > self.max || !size.is_multiple_of(self.multiple_of) {
            return Err(InputError::Size {
                workload,
                size,
                requirement: if self.multiple_of > 1 {
                    format!(
                        "{} must be a multiple of {} in {}..={}",
                        self.meaning, self.multiple_of, self.min, self.max
                    )
                } else {
                    format!("{} must be in {}..={}", self.meaning, self.min, self.max)
                },
            });
        }
        Ok(())
    }
}

/// One output array: its type and how it is compared with the CPU reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputSpec {
    /// The array's name in [`Outputs`](crate::Outputs).
    pub name: &'static str,
    /// Its element type.
    pub dtype: DType,
    /// The tolerance against the CPU reference.
    pub tolerance: Tolerance,
    /// Why this tolerance: what makes the arithmetic exact or not.
    pub why: &'static str,
}

impl OutputSpec {
    /// An output compared bit for bit with the CPU reference, exact for the reason `why`.
    pub(crate) const fn exact(name: &'static str, dtype: DType, why: &'static str) -> Self {
        OutputSpec {
            name,
            dtype,
            tolerance: Tolerance::Exact,
            why,
        }
    }
}

/// A workload's metadata.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Short unique name (also the name of its `.cu` and `.ptx` files).
    pub name: &'static str,
    /// The kind of program.
    pub kind: Kind,
    /// One sentence on what it computes and how.
    pub description: &'static str,
    /// The SC'23 application it stands for.
    pub paper_analogue: &'static str,
    /// Its kernels' (unmangled) names, in launch order.
    pub kernels: &'static [&'static str],
    /// Its size parameter.
    pub size: SizeSpec,
    /// The instruction classes it exercises most, most important first.
    pub stresses: &'static [ptx::Class],
    /// Its output arrays.
    pub outputs: &'static [OutputSpec],
    /// The CUDA C++ source.
    pub source: &'static str,
    /// The checked-in PTX (NVRTC 12.9, `compute_80`).
    pub ptx: &'static str,
}

impl Meta {
    /// The tolerance of output `name` against the CPU reference (exact if unknown).
    pub fn tolerance(&self, name: &str) -> Tolerance {
        self.outputs
            .iter()
            .find(|o| o.name == name)
            .map_or(Tolerance::Exact, |o| o.tolerance)
    }
}
