//! The signature suite: kernels aimed at the control units, run on every SM and warp
//! slot, each word checked against its CPU-computed value.
//!
//! (Being built: until its kernels land, a run observes nothing, which the check
//! reports as `unknown`, never as healthy.)

use crate::geometry::{Geometry, Level};
use gpu::{Device, GpuError, ModuleHandle};
use reports::check::{Coverage, Finding};

/// The signature suite: one PTX module of signature kernels and their expectations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Suite;

/// What one run of the suite on one device found and observed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SuiteRun {
    /// Every disagreeing word (grouped per kernel, SM and warp slot) and every kernel that
    /// did not complete.
    pub findings: Vec<Finding>,
    /// The SMs and warp slots every kernel reached.
    pub coverage: Coverage,
    /// Thread-instructions executed (virtual GPU).
    pub instructions: Option<u64>,
}

impl Suite {
    /// The suite's PTX module (load it, or an instrumented copy of it, and pass the
    /// handle to [`Suite::run_on`]).
    pub fn ptx(&self) -> &'static str {
        ".version 7.0\n.target sm_70\n.address_size 64\n"
    }

    /// Runs every kernel of the suite at `level` on `dev`, with the module `module`
    /// (the suite's PTX as loaded by the caller), filling `geometry`.
    pub fn run_on(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        geometry: &Geometry,
        level: Level,
    ) -> Result<SuiteRun, GpuError> {
        let _ = (dev, module, level);
        Ok(SuiteRun {
            findings: Vec::new(),
            coverage: Coverage {
                sms: geometry.sms,
                warp_slots: geometry.warp_slots,
                sms_unobserved: (0..geometry.sms).collect(),
                ..Coverage::default()
            },
            instructions: None,
        })
    }
}
