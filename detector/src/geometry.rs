//! What the check needs to know of a device to fill it, and how thorough to be.

use serde::{Deserialize, Serialize};

/// The parallel structure of a device that the signature kernels fill: every warp slot
/// of every SM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    /// SMs.
    pub sms: u32,
    /// Warp slots per SM (resident warps).
    pub warp_slots: u32,
}

impl Geometry {
    /// The geometry a device reports.
    pub fn of(info: &gpu::DeviceInfo) -> Geometry {
        Geometry {
            sms: info.sm_count,
            warp_slots: info.warp_slots(),
        }
    }
}

/// How thorough a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The default: every kernel once, in seconds on a real GPU.
    #[default]
    Quick,
    /// More patterns and iterations.
    Full,
}

impl Level {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Quick => "quick",
            Level::Full => "full",
        }
    }
}
