//! The workloads, one module each.

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

use crate::workload::Workload;

/// Every workload, in the order of the crate documentation.
pub(crate) static ALL: &[&dyn Workload] = &[
    &vecadd::VecAdd,
    &gemm::GemmNaive,
    &gemm::GemmTiled,
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
