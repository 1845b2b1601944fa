//! Virtual GPUs: the `Device` over the `sim` crate, and the identity and healthy
//! telemetry each virtual GPU profile reports.

use crate::device::{
    Buffer, Device, GpuError, HangKind, KernelArg, LaunchConfig, LaunchStats, Limits, ModuleHandle,
};
use crate::info::{
    virtual_pci_bus_id, virtual_uuid, Clocks, DeviceInfo, DeviceKind, Ecc, Pcie, RemappedRows,
    RetiredPages, Telemetry,
};
use crate::spec::SimSpec;

/// What a virtual GPU profile reports beyond the parallel structure the `sim` crate
/// models: product identity and the values of a healthy, idle device of that kind.
struct VirtualFacts {
    /// The profile name after `sim:` (`""` for the default profile).
    profile: &'static str,
    product: &'static str,
    compute_capability: &'static str,
    sm_clock_mhz: u32,
    memory_clock_mhz: u32,
    idle_power_w: f64,
    power_limit_w: f64,
    pcie_generation: u32,
}

/// The virtual GPU profiles, default first; each must be a profile of the `sim` crate,
/// which fixes the parallel structure (SM count, warp slots, shared memory).
const FACTS: [VirtualFacts; 3] = [
    VirtualFacts {
        profile: "",
        product: "gpufault virtual GPU",
        compute_capability: "8.0",
        sm_clock_mhz: 1410,
        memory_clock_mhz: 1215,
        idle_power_w: 50.0,
        power_limit_w: 250.0,
        pcie_generation: 4,
    },
    VirtualFacts {
        profile: "a100",
        product: "gpufault virtual A100",
        compute_capability: "8.0",
        sm_clock_mhz: 1410,
        memory_clock_mhz: 1215,
        idle_power_w: 60.0,
        power_limit_w: 400.0,
        pcie_generation: 4,
    },
    VirtualFacts {
        profile: "h100",
        product: "gpufault virtual H100",
        compute_capability: "9.0",
        sm_clock_mhz: 1980,
        memory_clock_mhz: 2619,
        idle_power_w: 70.0,
        power_limit_w: 700.0,
        pcie_generation: 5,
    },
];

/// Global memory a virtual GPU can hold (the `sim` crate's limit on live allocations).
const VIRTUAL_MEMORY_BYTES: u64 = 16 << 30;

/// The facts of a profile and its ordinal (0 = the default profile).
fn facts(profile: Option<&str>) -> (u32, &'static VirtualFacts) {
    let p = profile.unwrap_or("");
    FACTS
        .iter()
        .enumerate()
        .find(|(_, f)| f.profile == p)
        .map(|(i, f)| (i as u32, f))
        .unwrap_or((0, &FACTS[0]))
}

/// The profile names a `sim:PROFILE` device name accepts.
pub(crate) fn profile_names() -> Vec<&'static str> {
    FACTS
        .iter()
        .filter(|f| !f.profile.is_empty())
        .map(|f| f.profile)
        .collect()
}

/// The device names of the virtual profiles, default first (`sim`, `sim:a100`, …).
pub(crate) fn profile_specs() -> Vec<SimSpec> {
    FACTS
        .iter()
        .map(|f| SimSpec {
            profile: (!f.profile.is_empty()).then(|| f.profile.to_string()),
            count: None,
            index: None,
            scheduling_seed: None,
        })
        .collect()
}

/// The telemetry of a healthy, idle virtual GPU of `profile`.
pub(crate) fn healthy_telemetry(profile: Option<&str>) -> Telemetry {
    let (_, f) = facts(profile);
    Telemetry {
        ecc: Some(Ecc::default()),
        retired_pages: Some(RetiredPages::default()),
        remapped_rows: Some(RemappedRows::default()),
        xid_events: Vec::new(),
        throttle_reasons: Some(Vec::new()),
        clocks: Some(Clocks {
            sm_mhz: f.sm_clock_mhz,
            memory_mhz: f.memory_clock_mhz,
            sm_max_mhz: f.sm_clock_mhz,
            memory_max_mhz: f.memory_clock_mhz,
        }),
        temperature_c: Some(35),
        power_w: Some(f.idle_power_w),
        power_limit_w: Some(f.power_limit_w),
        pcie: Some(Pcie {
            generation: f.pcie_generation,
            max_generation: f.pcie_generation,
            width: 16,
            max_width: 16,
        }),
        recovery_action: Some("none".into()),
        unavailable: Default::default(),
    }
}

/// Identity and telemetry of a virtual GPU, with the node config's overrides and
/// scheduling seed applied (a seed in `spec` takes precedence).
pub(crate) fn info(
    spec: &SimSpec,
    node: Option<&crate::node::NodeConfig>,
) -> Result<DeviceInfo, GpuError> {
    let spec = &crate::node::seeded(spec, node);
    let (ordinal, f) = facts(spec.profile.as_deref());
    let (profile_key, position) = crate::node::sim_key(spec);
    let faults = node.and_then(|n| n.lookup(spec));
    let mut telemetry = healthy_telemetry(spec.profile.as_deref());
    if let Some(faults) = faults {
        telemetry = crate::node::apply_overrides(&telemetry, &faults.telemetry).map_err(|e| {
            GpuError::Invalid {
                detail: format!("node config telemetry of {}: {e}", spec_name(spec)),
            }
        })?;
    }
    Ok(DeviceInfo {
        device: spec_name(spec),
        kind: DeviceKind::Sim,
        name: match spec.profile.as_deref() {
            Some(p) => format!("{} (sim:{p})", f.product),
            None => format!("{} (sim)", f.product),
        },
        uuid: virtual_uuid(&profile_key, position),
        pci_bus_id: virtual_pci_bus_id(ordinal, position),
        compute_capability: f.compute_capability.to_string(),
        sm_count: sim_profile(spec).sms,
        memory_bytes: VIRTUAL_MEMORY_BYTES,
        driver: None,
        fault: faults.and_then(|x| x.fault.clone()),
        fault_arrives_at: faults.and_then(|x| x.fault_arrives_at),
        scheduling_seed: spec.scheduling_seed,
        telemetry,
    })
}

fn spec_name(spec: &SimSpec) -> String {
    crate::spec::DeviceSpec::Sim(spec.clone()).to_string()
}

/// The `sim` crate's profile of a virtual GPU name.
pub(crate) fn sim_profile(spec: &SimSpec) -> sim::GpuProfile {
    let name = match &spec.profile {
        Some(p) => format!("sim:{p}"),
        None => "sim".to_string(),
    };
    sim::GpuProfile::by_name(&name).unwrap_or_default()
}

/// A virtual GPU: the `sim` crate's PTX emulator behind the [`Device`] interface.
///
/// Deterministic: the same inputs give the same outputs and instruction counts on every
/// run. [`Limits::instructions`] is the launch's thread-instruction budget (default
/// [`sim::DEFAULT_BUDGET`]); [`Limits::wall`] is not enforced in-process (a
/// [`WorkerDevice`](crate::WorkerDevice) enforces it). Kernel faults never poison it.
///
/// A name with a seed (`sim:h100@7`) opens a GPU that schedules its launches from that
/// seed ([`sim::Scheduling::Seeded`]); [`SimDevice::set_scheduling_seed`] changes it on
/// an open device, so a campaign can vary the schedule per run without reloading
/// modules:
///
/// ```
/// use gpu::{Device, SimDevice};
/// let gpu::DeviceSpec::Sim(spec) = "sim:h100#2@7".parse()? else { unreachable!() };
/// let mut dev = SimDevice::open(&spec)?;
/// assert_eq!(dev.scheduling_seed(), Some(7));
/// dev.set_scheduling_seed(Some(8));
/// assert_eq!(dev.name(), "sim:h100#2@8");
/// dev.set_scheduling_seed(None);
/// assert_eq!(dev.name(), "sim:h100#2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimDevice {
    spec: SimSpec,
    name: String,
    gpu: sim::Gpu,
    modules: Vec<sim::ModuleId>,
    limits: Limits,
    /// `Some` while profiling: the execution profile of every launch since.
    profiles: Option<Vec<LaunchProfile>>,
}

/// The execution profile of one launch made while profiling
/// ([`SimDevice::start_profiling`]).
#[derive(Debug, Clone)]
pub struct LaunchProfile {
    /// The module launched.
    pub module: ModuleHandle,
    /// The kernel launched.
    pub kernel: String,
    /// Grid dimensions in CTAs.
    pub grid: [u32; 3],
    /// Block dimensions in threads.
    pub block: [u32; 3],
    /// Which static instructions ran on which SM, warp slot and lanes.
    pub profile: sim::ExecProfile,
}

impl SimDevice {
    /// A fresh virtual GPU of the profile `spec` names (one GPU, not a node).
    pub fn open(spec: &SimSpec) -> Result<SimDevice, GpuError> {
        if spec.is_node() {
            return Err(GpuError::Invalid {
                detail: format!("{} names a node; open one GPU of it", spec_name(spec)),
            });
        }
        let mut gpu = sim::Gpu::new(sim_profile(spec));
        gpu.set_scheduling(sim::Scheduling::from_seed(spec.scheduling_seed));
        Ok(SimDevice {
            spec: spec.clone(),
            name: spec_name(spec),
            gpu,
            modules: Vec::new(),
            limits: Limits::default(),
            profiles: None,
        })
    }

    /// Schedules the following launches from `seed` (`None`: the fixed scheduling); the
    /// device's name follows (`sim:h100#2@8`). Loaded modules and memory stay.
    pub fn set_scheduling_seed(&mut self, seed: Option<u64>) {
        self.spec.scheduling_seed = seed;
        self.name = spec_name(&self.spec);
        self.gpu.set_scheduling(sim::Scheduling::from_seed(seed));
    }

    /// The scheduling seed of the following launches (`None`: the fixed scheduling).
    pub fn scheduling_seed(&self) -> Option<u64> {
        self.spec.scheduling_seed
    }

    /// Records an execution profile of every following launch (slower) until
    /// [`SimDevice::take_profiles`].
    pub fn start_profiling(&mut self) {
        self.profiles = Some(Vec::new());
    }

    /// Stops profiling and returns the profiles of the launches made since
    /// [`SimDevice::start_profiling`], in launch order.
    pub fn take_profiles(&mut self) -> Vec<LaunchProfile> {
        self.profiles.take().unwrap_or_default()
    }

    /// The underlying virtual GPU (profiling launches, diagnostics).
    pub fn gpu(&mut self) -> &mut sim::Gpu {
        &mut self.gpu
    }

    fn module(&self, m: ModuleHandle) -> Result<sim::ModuleId, GpuError> {
        self.modules
            .get(m.0 as usize)
            .copied()
            .ok_or_else(|| GpuError::Invalid {
                detail: format!("no module {} on {}", m.0, self.name),
            })
    }

    fn sim_error(&self, e: sim::SimError) -> GpuError {
        match e {
            sim::SimError::OutOfMemory { requested } => GpuError::OutOfMemory {
                bytes: requested as usize,
            },
            sim::SimError::InvalidLaunch { .. } => GpuError::LaunchFailed {
                detail: format!("{e} on {}", self.name),
            },
            e => GpuError::Invalid {
                detail: format!("{e} on {}", self.name),
            },
        }
    }

    fn check_len(&self, buf: Buffer, len: usize, what: &str) -> Result<(), GpuError> {
        if len > buf.len {
            return Err(GpuError::Invalid {
                detail: format!(
                    "{what} of {len} bytes into a buffer of {} bytes at {:#x} on {}",
                    buf.len, buf.ptr, self.name
                ),
            });
        }
        Ok(())
    }
}

/// The device error of a kernel fault: the outcome cause it stands for, with where it
/// happened.
fn fault_error(fault: &sim::Fault) -> GpuError {
    // The error's message names the kind (`illegal address: …`): the detail does not
    // say it again.
    let detail = fault.detail();
    match fault.kind {
        sim::FaultKind::IllegalAddress { .. } => GpuError::IllegalAddress { detail },
        sim::FaultKind::MisalignedAddress { .. } => GpuError::MisalignedAddress { detail },
        sim::FaultKind::IllegalInstruction { .. } => GpuError::IllegalInstruction { detail },
        sim::FaultKind::Trap => GpuError::Trap { detail },
        sim::FaultKind::BarrierDeadlock { .. } => GpuError::Hang {
            kind: HangKind::Deadlock,
            detail,
        },
        sim::FaultKind::BudgetExceeded { .. } => GpuError::Hang {
            kind: HangKind::Budget,
            detail,
        },
        // A call stack overflow, as CUDA's hardware stack error, is a launch failure.
        _ => GpuError::LaunchFailed { detail },
    }
}

impl Device for SimDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        let id = self.gpu.load(ptx).map_err(|e| match e {
            sim::LoadError::OutOfMemory { requested } => GpuError::OutOfMemory {
                bytes: requested as usize,
            },
            e => GpuError::ModuleLoad {
                detail: format!("{e} (on {})", self.name),
            },
        })?;
        self.modules.push(id);
        Ok(ModuleHandle(self.modules.len() as u32 - 1))
    }

    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        let ptr = self.gpu.alloc(len as u64).map_err(|e| self.sim_error(e))?;
        Ok(Buffer { ptr, len })
    }

    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        self.gpu.free(buf.ptr).map_err(|e| self.sim_error(e))
    }

    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        self.check_len(buf, data.len(), "write")?;
        self.gpu.write(buf.ptr, data).map_err(|e| self.sim_error(e))
    }

    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        self.check_len(buf, out.len(), "read")?;
        self.gpu.read(buf.ptr, out).map_err(|e| self.sim_error(e))
    }

    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError> {
        let id = self.module(m)?;
        self.gpu
            .write_global(id, name, data)
            .map_err(|e| self.sim_error(e))
    }

    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError> {
        let id = self.module(m)?;
        self.gpu
            .read_global(id, name, out)
            .map_err(|e| self.sim_error(e))
    }

    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        let id = self.module(m)?;
        let config = sim::LaunchConfig::new(cfg.grid, cfg.block)
            .shared(cfg.shared_bytes)
            .budget(self.limits.instructions.unwrap_or(sim::DEFAULT_BUDGET))
            .profiling(self.profiles.is_some());
        let start = std::time::Instant::now();
        let mut report = self
            .gpu
            .launch(id, kernel, &config, args)
            .map_err(|e| self.sim_error(e))?;
        if let (Some(list), Some(profile)) = (self.profiles.as_mut(), report.profile.take()) {
            list.push(LaunchProfile {
                module: m,
                kernel: kernel.to_string(),
                grid: cfg.grid,
                block: cfg.block,
                profile,
            });
        }
        match report.fault() {
            Some(fault) => Err(fault_error(fault)),
            None => Ok(LaunchStats {
                instructions: Some(report.thread_instructions),
                elapsed: start.elapsed(),
            }),
        }
    }

    fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_healthy_and_complete() {
        for spec in profile_specs() {
            let i = info(&spec, None).unwrap();
            let t = &i.telemetry;
            assert!(t.unavailable.is_empty());
            assert_eq!(t.ecc, Some(Ecc::default()));
            assert_eq!(t.remapped_rows, Some(RemappedRows::default()));
            assert!(t.xid_events.is_empty());
            let pcie = t.pcie.unwrap();
            assert_eq!(
                (pcie.generation, pcie.width),
                (pcie.max_generation, pcie.max_width)
            );
            assert_eq!(t.recovery_action.as_deref(), Some("none"));
            assert!(i.fault.is_none());
            assert_eq!(i.kind, DeviceKind::Sim);
        }
    }

    #[test]
    fn every_profile_is_one_of_the_sims() {
        for spec in profile_specs() {
            let name = crate::spec::DeviceSpec::Sim(spec.clone()).to_string();
            let p = sim::GpuProfile::by_name(&name).expect(&name);
            assert_eq!(p.name, name);
            assert_eq!(info(&spec, None).unwrap().sm_count, p.sms);
        }
    }

    #[test]
    fn a_lone_gpu_is_gpu_zero_of_its_node() {
        let lone = SimSpec {
            profile: Some("h100".into()),
            count: None,
            index: None,
            scheduling_seed: None,
        };
        let first = SimSpec {
            index: Some(0),
            ..lone.clone()
        };
        let second = SimSpec {
            index: Some(1),
            ..lone.clone()
        };
        let (a, b, c) = (
            info(&lone, None).unwrap(),
            info(&first, None).unwrap(),
            info(&second, None).unwrap(),
        );
        assert_eq!(a.uuid, b.uuid);
        assert_eq!(a.pci_bus_id, b.pci_bus_id);
        assert_ne!(a.uuid, c.uuid);
        assert_ne!(a.pci_bus_id, c.pci_bus_id);
        assert_eq!(a.device, "sim:h100");
        assert_eq!(c.device, "sim:h100#1");
        assert_eq!(c.name, "gpufault virtual H100 (sim:h100)");
        assert_eq!(c.compute_capability, "9.0");
        assert_eq!(c.sm_count, 132);
    }

    #[test]
    fn fault_errors_name_their_kind_once() {
        // An out-of-bounds load, or a trap when the second argument is not 0.
        let ptx = ".version 8.0\n.target sm_80\n.address_size 64\n\
            .visible .entry k(.param .u64 p, .param .u32 t)\n{\n\
            .reg .b64 %rd<2>;\n.reg .b32 %r<2>;\n.reg .pred %q;\n\
            ld.param.u64 %rd1, [p];\nld.param.u32 %r1, [t];\n\
            setp.ne.u32 %q, %r1, 0;\n@%q trap;\n\
            ld.global.u32 %r1, [%rd1+4096];\nret;\n}\n";
        let mut dev = SimDevice::open(&SimSpec {
            profile: None,
            count: None,
            index: None,
            scheduling_seed: None,
        })
        .unwrap();
        let m = dev.load(ptx).unwrap();
        let buf = dev.alloc(16).unwrap();
        let mut run = |t: u32| {
            dev.launch(
                m,
                "k",
                &LaunchConfig::linear(1, 1),
                &[KernelArg::Ptr(buf.ptr), KernelArg::U32(t)],
            )
            .unwrap_err()
            .to_string()
        };
        let e = run(0);
        assert!(
            e.starts_with(&format!(
                "illegal address: 4-byte global access at {:#x} in kernel `k` (function `k`, line 13)",
                buf.ptr + 4096
            )),
            "{e}"
        );
        assert_eq!(e.matches("illegal address").count(), 1, "{e}");
        let e = run(1);
        assert!(
            e.starts_with("trap: in kernel `k` (function `k`, line 12)"),
            "{e}"
        );
    }
}
