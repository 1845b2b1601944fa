//! A [`gpu::Device`] over the `sim` crate's virtual GPU, for the workloads' tests.
//!
//! Temporary: `gpu::SimDevice` (behind `gpu::open("sim")`) will do this for every
//! crate; until it lands, this bridge lets the tests run the checked-in PTX now. It maps
//! buffers, arguments and launches one to one and turns a faulted launch into the
//! matching `GpuError`.

use gpu::{Buffer, Device, GpuError, KernelArg, LaunchConfig, LaunchStats, Limits, ModuleHandle};
use sim::{FaultKind, Gpu, GpuProfile, Outcome};
use std::time::Instant;

pub struct SimBridge {
    name: String,
    gpu: Gpu,
    modules: Vec<sim::ModuleId>,
    budget: Option<u64>,
}

impl SimBridge {
    /// `profile`: `sim`, `sim:a100` or `sim:h100`.
    pub fn open(profile: &str) -> SimBridge {
        let gp =
            GpuProfile::by_name(profile).unwrap_or_else(|| panic!("unknown profile {profile}"));
        SimBridge {
            name: profile.to_string(),
            gpu: Gpu::new(gp),
            modules: Vec::new(),
            budget: None,
        }
    }
}

fn err(e: impl std::fmt::Display) -> GpuError {
    GpuError::Invalid {
        detail: e.to_string(),
    }
}

impl Device for SimBridge {
    fn name(&self) -> &str {
        &self.name
    }

    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        let m = self.gpu.load(ptx).map_err(|e| GpuError::ModuleLoad {
            detail: e.to_string(),
        })?;
        self.modules.push(m);
        Ok(ModuleHandle(self.modules.len() as u32 - 1))
    }

    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        let ptr = self.gpu.alloc(len as u64).map_err(err)?;
        Ok(Buffer { ptr, len })
    }

    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        self.gpu.free(buf.ptr).map_err(err)
    }

    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        self.gpu.write(buf.ptr, data).map_err(err)
    }

    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        self.gpu.read(buf.ptr, out).map_err(err)
    }

    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError> {
        self.gpu
            .write_global(self.modules[m.0 as usize], name, data)
            .map_err(err)
    }

    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError> {
        self.gpu
            .read_global(self.modules[m.0 as usize], name, out)
            .map_err(err)
    }

    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        let start = Instant::now();
        let args: Vec<sim::KernelArg> = args
            .iter()
            .map(|a| match *a {
                KernelArg::U8(x) => sim::KernelArg::U8(x),
                KernelArg::U16(x) => sim::KernelArg::U16(x),
                KernelArg::U32(x) => sim::KernelArg::U32(x),
                KernelArg::U64(x) => sim::KernelArg::U64(x),
                KernelArg::I32(x) => sim::KernelArg::I32(x),
                KernelArg::I64(x) => sim::KernelArg::I64(x),
                KernelArg::F32(x) => sim::KernelArg::F32(x),
                KernelArg::F64(x) => sim::KernelArg::F64(x),
                KernelArg::Ptr(b) => sim::KernelArg::Ptr(b.ptr),
            })
            .collect();
        let mut sc = sim::LaunchConfig::new(cfg.grid, cfg.block).shared(cfg.shared_bytes);
        if let Some(b) = self.budget {
            sc = sc.budget(b);
        }
        let module = self.modules[m.0 as usize];
        let report = self.gpu.launch(module, kernel, &sc, &args).map_err(err)?;
        match report.outcome {
            Outcome::Completed => Ok(LaunchStats {
                instructions: Some(report.thread_instructions),
                elapsed: start.elapsed(),
            }),
            Outcome::Faulted(f) => {
                let detail = f.to_string();
                Err(match f.kind {
                    FaultKind::IllegalAddress { .. } => GpuError::IllegalAddress { detail },
                    FaultKind::MisalignedAddress { .. } => GpuError::MisalignedAddress { detail },
                    FaultKind::IllegalInstruction { .. } => GpuError::IllegalInstruction { detail },
                    FaultKind::Trap => GpuError::Trap { detail },
                    FaultKind::BarrierDeadlock { .. } | FaultKind::BudgetExceeded { .. } => {
                        GpuError::Hang { detail }
                    }
                    _ => GpuError::LaunchFailed { detail },
                })
            }
        }
    }

    fn set_limits(&mut self, limits: Limits) {
        self.budget = limits.instructions;
    }
}
