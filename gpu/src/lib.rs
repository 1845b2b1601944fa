//! Devices: one interface over the virtual GPU and real NVIDIA GPUs (work in progress).
#![deny(missing_docs)]

mod device;

pub use device::*;
