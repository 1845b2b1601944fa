//! Devices: one interface over the virtual GPU and real NVIDIA GPUs, with identity and
//! NVML telemetry.
//!
//! Everything above this crate runs kernels through the [`Device`] trait: load a module
//! from PTX text, allocate and copy buffers, read and write module globals by name,
//! launch a kernel and wait for it under [`Limits`]. Errors are [`GpuError`] values whose
//! kernel-fault variants map one-to-one to the outcome causes of a fault campaign
//! (illegal address, misaligned address, illegal instruction, trap, launch failure,
//! hang, …).
//!
//! - [`DeviceSpec`]: device names: `sim`, `sim:h100`, `sim:h100*8` (a virtual node),
//!   `sim:h100#3`, `cuda:0`, `cuda:GPU-<uuid>`, `auto`.
//! - [`Platform`]: opens devices ([`open`]), lists them ([`enumerate`]) with
//!   [`DeviceInfo`] and [`Telemetry`], subscribes to XID events ([`XidWatch`]); carries a
//!   [`NodeConfig`] that makes virtual GPUs faulty (telemetry overrides and a
//!   [`ModuleTransform`] from a registered [`FaultFactory`]).
//! - [`SimDevice`] (the `sim` crate's virtual GPU) and [`CudaDevice`] (cudarc's driver
//!   API; libcuda and NVML are opened at run time and their absence is
//!   [`GpuError::Unavailable`], never a panic).
//! - [`WorkerDevice`]: a device served by a child process (`gpufault __worker`) that the
//!   parent kills and replaces when a launch misses its deadline or poisons the CUDA
//!   context.
//!
//! This crate does not interpret fault specs, judge health (the detector applies the
//! health rules to [`Telemetry`]) or compare outputs (the workloads do).
//!
//! ```
//! use gpu::{DeviceExt, KernelArg, LaunchConfig, Platform};
//!
//! let ptx = r#"
//! .version 7.0
//! .target sm_70
//! .address_size 64
//! .visible .global .u32 g_add = 5;
//! .visible .entry add(.param .u64 out)
//! {
//!     .reg .b32 %r<4>;
//!     .reg .b64 %rd<4>;
//!     ld.param.u64 %rd1, [out];
//!     cvta.to.global.u64 %rd1, %rd1;
//!     mov.u32 %r1, %tid.x;
//!     ld.global.u32 %r2, [g_add];
//!     add.u32 %r3, %r1, %r2;
//!     mul.wide.u32 %rd2, %r1, 4;
//!     add.s64 %rd3, %rd1, %rd2;
//!     st.global.u32 [%rd3], %r3;
//!     ret;
//! }
//! "#;
//! let platform = Platform::new();
//! let mut dev = platform.open(&"sim:h100".parse()?)?;
//! let module = dev.load(ptx)?;
//! dev.write_global(module, "g_add", &100u32.to_le_bytes())?;
//! let out = dev.alloc_zeroed::<u32>(4)?;
//! dev.launch(module, "add", &LaunchConfig::linear(1, 4), &[KernelArg::Ptr(out.ptr)])?;
//! assert_eq!(dev.download::<u32>(out, 4)?, [100, 101, 102, 103]);
//!
//! // Every device `auto` could pick, and why there is no CUDA device if there is none.
//! let listing = platform.enumerate();
//! assert!(listing.devices.iter().any(|d| d.device == "sim:h100"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod cuda;
mod device;
mod info;
mod node;
mod nvml;
mod platform;
mod sim_device;
mod spec;
mod worker;

pub use cuda::CudaDevice;
pub use device::{
    Buffer, Device, DeviceExt, DeviceWrapper, GpuError, HangKind, KernelArg, LaunchConfig,
    LaunchStats, Limits, ModuleHandle, Pod,
};
pub use info::{
    Clocks, DeviceInfo, DeviceKind, DriverInfo, Ecc, EccCounts, Enumeration, Pcie, RemappedRows,
    RetiredPages, Telemetry, INFO_SCHEMA_VERSION,
};
pub use node::{
    DormantModule, FaultFactory, FaultTarget, GpuFaults, ModuleTransform, NodeConfig,
    NodeConfigError, Transformed,
};
pub use nvml::{XidEvent, XidWatch};
pub use platform::{enumerate, open, Platform, VISIBLE_DEVICES_ENV};
pub use sim_device::{LaunchProfile, SimDevice};
pub use spec::{CudaSelector, DeviceSpec, SimSpec, SpecError, MAX_NODE_GPUS};
pub use worker::{
    serve_worker, WorkerCommand, WorkerDevice, WorkerOptions, WORKER_EXIT_PROTOCOL,
    WORKER_EXIT_UNAVAILABLE,
};
