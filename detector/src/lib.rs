//! The GPU health check (design.md §2.6): signature kernels aimed at the control units
//! of design.md §3, run on every SM and warp slot of a GPU, whose every word is compared
//! bit for bit with a value computed on the CPU and names the SM, sub-partition, warp
//! slot and lane that produced it; plus NVML health rules (DCGM level-1 parity). The
//! verdict per GPU is healthy, degraded, faulty or unknown (`reports::check`).
//!
//! It does not inject faults (the injector does, to measure this check's coverage) and
//! does not quarantine GPUs (the training guard does).
#![deny(missing_docs)]

mod geometry;
mod suite;

pub use geometry::{Geometry, Level};
pub use suite::{LaunchRecord, Suite, SuiteRun};
