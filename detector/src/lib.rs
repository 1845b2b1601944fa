//! The GPU health check (design.md §2.6): signature kernels aimed at the control units
//! of design.md §3, run on every SM and warp slot of a GPU, whose every word is compared
//! bit for bit with a value computed on the CPU and names the SM, sub-partition, warp
//! slot and lane that produced it; plus NVML health rules (DCGM level-1 parity). The
//! verdict per GPU is healthy, degraded, faulty or unknown (`reports::check`).
//!
//! It does not inject faults (the injector does, to measure this check's coverage) and
//! does not quarantine GPUs (the training guard does).
//!
//! - [`check_node`] / [`check_device`]: the check of a node's GPUs in parallel (one
//!   thread and worker process each, a timeout per GPU) → one
//!   [`reports::check::DeviceCheck`] each; [`judge`] gives the verdict; [`select_devices`]
//!   says which GPUs `auto` means.
//! - [`rules`]: the NVML health rules, each a named function of the telemetry.
//! - [`SuiteSubject`], [`register_suite`], [`coverage_config`]: the check as the subject
//!   of coverage campaigns on the injector's engine (its measured coverage per fault
//!   model, `docs/coverage.md`).
#![deny(missing_docs)]

mod check;
mod coverage;
mod geometry;
pub mod rules;
mod suite;

pub use check::{
    check_device, check_node, judge, nvidia_gpus_on_pci, select_devices, CheckOptions, Progress,
    Selection, DEFAULT_TIMEOUT,
};
pub use coverage::diagnosis::{FaultDictionary, ModelEntry};
pub use coverage::features::features as diagnosis_features;
pub use coverage::{coverage_config, register as register_suite, SuiteSubject, SUITE_KIND};
pub use geometry::{Geometry, Level};
pub use suite::{LaunchRecord, Suite, SuiteRun};
