//! The workloads, one module each, and what they share: [`Bundled`], the part of
//! [`Workload`] each of them writes itself.

pub(crate) mod bfs;
pub(crate) mod bitonic_sort;
pub(crate) mod gaussian;
pub(crate) mod gemm;
pub(crate) mod histogram;
pub(crate) mod hotspot;
pub(crate) mod lavamd;
pub(crate) mod lenet;
pub(crate) mod lud;
pub(crate) mod mlp_train;
pub(crate) mod nw;
pub(crate) mod quicksort;
pub(crate) mod reduction;
pub(crate) mod scan;
pub(crate) mod vecadd;

use gpu::{Device, ModuleHandle};

use crate::data::{Arrays, Inputs, Outputs};
use crate::error::{InputError, RunError};
use crate::meta::Meta;
use crate::rng::Rng;
use crate::session::Session;
use crate::workload::Workload;

/// Every workload, in the order of the crate documentation.
pub(crate) static ALL: &[&dyn Workload] = &[
    &vecadd::VecAdd,
    &gemm::Gemm::<false>,
    &gemm::Gemm::<true>,
    &reduction::Reduction,
    &scan::Scan,
    &histogram::Histogram,
    &bfs::Bfs,
    &gaussian::Gaussian,
    &lud::Lud,
    &nw::Nw,
    &hotspot::Hotspot,
    &bitonic_sort::BitonicSort,
    &quicksort::Quicksort,
    &lavamd::LavaMd,
    &lenet::LeNet,
    &mlp_train::MlpTrain,
];

/// What a bundled workload writes itself: its metadata, its inputs, its host driver and
/// its CPU reference, each on plain [`Arrays`].
///
/// The rest of [`Workload`] is written once, in the blanket impl below: the size check
/// before generating, the [`Session`] that owns a run's buffers (freed on every path)
/// and sums its launch statistics, and the wrapping into [`Inputs`] and [`Outputs`].
pub(crate) trait Bundled: Sync {
    /// Name, kind, kernels, sizes, outputs and tolerances.
    const META: &'static Meta;

    /// The input arrays at `size` (already checked against the size spec), drawn from
    /// `r`: stream 0 of the input seed (other streams of that seed through
    /// [`Rng::stream`]).
    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays;

    /// The host driver: uploads `inputs` through `s`, launches the kernels in the
    /// algorithm's order and downloads the output arrays.
    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError>;

    /// The CPU reference's output arrays.
    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError>;
}

impl<B: Bundled> Workload for B {
    fn meta(&self) -> &'static Meta {
        B::META
    }

    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError> {
        B::META.size.check(B::META.name, size)?;
        let arrays = self.input_arrays(size, &mut Rng::new(seed, 0));
        Ok(Inputs { size, seed, arrays })
    }

    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError> {
        let mut s = Session::new(dev, module);
        let arrays = self.drive(&mut s, inputs)?;
        Ok(s.finish(arrays))
    }

    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError> {
        self.reference_arrays(inputs).map(Outputs::from_arrays)
    }
}

/// Hand-made inputs of `size` (seed 0), for unit tests of the references.
#[cfg(test)]
pub(crate) fn test_inputs(size: usize, arrays: Arrays) -> Inputs {
    Inputs {
        size,
        seed: 0,
        arrays,
    }
}
