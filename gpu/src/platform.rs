//! What this process can see: device selection (`auto`), opening, enumeration,
//! identity and telemetry, XID subscriptions, with the node config and fault factory
//! that make virtual GPUs faulty.

use crate::cuda::{self, CudaDevice, CudaIdentity};
use crate::device::{Device, GpuError};
use crate::info::{
    DeviceInfo, DeviceKind, DriverInfo, Enumeration, Telemetry, INFO_SCHEMA_VERSION,
};
use crate::node::{FaultFactory, ModuleTransform, NodeConfig, Transformed};
use crate::nvml::{self, XidEvent, XidWatch};
use crate::spec::{CudaSelector, DeviceSpec, SimSpec};
use crate::worker::{WorkerCommand, WorkerDevice, WorkerOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A virtual GPU's fault: its module transform and when it arrives (Unix time in
/// seconds; `None`: there from load on).
type VirtualFault = (Arc<dyn ModuleTransform>, Option<f64>);

/// A real GPU's injected fault: its spec and its module transform.
type InjectedFault = (String, Arc<dyn ModuleTransform>);

/// The environment variable that lists the virtual GPUs a process may see, by UUID,
/// comma-separated: the virtual-GPU equivalent of `CUDA_VISIBLE_DEVICES`. Set (even
/// empty), a virtual node (`sim:h100*4`) stands for its listed GPUs only, and opening or
/// inspecting an unlisted virtual GPU is an error ([`GpuError::Unavailable`]) that says
/// so; GPUs keep their names (`sim:h100#2` stays GPU 2, no renumbering). Unset: every
/// virtual GPU is visible. CUDA devices are filtered by `CUDA_VISIBLE_DEVICES`, which
/// the driver reads itself.
pub const VISIBLE_DEVICES_ENV: &str = "GPUFAULT_VISIBLE_DEVICES";

/// The devices of this process, with an optional virtual node config and the fault
/// factory that interprets its fault specs.
///
/// `Platform::new()` sees the CUDA devices of the machine and healthy virtual GPUs
/// (those [`VISIBLE_DEVICES_ENV`] lists, when it is set); [`gpu::open`](crate::open) and
/// [`gpu::enumerate`](crate::enumerate) use it.
#[derive(Clone)]
pub struct Platform {
    node: Option<Arc<NodeConfig>>,
    faults: Option<Arc<dyn FaultFactory>>,
    /// The UUIDs of the visible virtual GPUs (lower case); `None`: all are.
    visible: Option<Arc<Vec<String>>>,
    /// Real GPUs made faulty by instrumentation ([`Platform::with_injected_fault`]): the
    /// CUDA device's name (`cuda:0`, `cuda:GPU-…`) → its fault's spec and transform.
    injected: Arc<BTreeMap<String, InjectedFault>>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform::new()
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("node", &self.node)
            .field("fault_factory", &self.faults.is_some())
            .field("visible", &self.visible)
            .field("injected", &self.injected.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Platform {
    /// The machine's CUDA devices and healthy virtual GPUs, those of
    /// [`VISIBLE_DEVICES_ENV`] when it is set.
    pub fn new() -> Platform {
        Platform {
            node: None,
            faults: None,
            visible: None,
            injected: Arc::default(),
        }
        .with_visible_devices(std::env::var(VISIBLE_DEVICES_ENV).ok().as_deref())
    }

    /// Only the virtual GPUs whose UUIDs `list` names (comma-separated, as in
    /// [`VISIBLE_DEVICES_ENV`]) are visible; `None`: all of them.
    pub fn with_visible_devices(mut self, list: Option<&str>) -> Platform {
        self.visible = list.map(|l| {
            Arc::new(
                l.split(',')
                    .map(|u| u.trim().to_ascii_lowercase())
                    .filter(|u| !u.is_empty())
                    .collect(),
            )
        });
        self
    }

    /// Whether the virtual GPU `sim` names is visible to this platform.
    pub fn is_visible(&self, sim: &SimSpec) -> bool {
        let Some(list) = &self.visible else {
            return true;
        };
        let (profile, position) = crate::node::sim_key(sim);
        let uuid = crate::info::virtual_uuid(&profile, position).to_ascii_lowercase();
        list.contains(&uuid)
    }

    /// An error unless the virtual GPU `sim` names is visible.
    fn check_visible(&self, sim: &SimSpec) -> Result<(), GpuError> {
        if self.is_visible(sim) {
            return Ok(());
        }
        let (profile, position) = crate::node::sim_key(sim);
        Err(GpuError::Unavailable {
            detail: format!(
                "virtual GPU {} ({}) is not visible: {VISIBLE_DEVICES_ENV} lists {}",
                DeviceSpec::Sim(sim.clone()),
                crate::info::virtual_uuid(&profile, position),
                match self.visible.as_deref() {
                    Some(l) if !l.is_empty() => l.join(","),
                    _ => "no GPU".into(),
                }
            ),
        })
    }

    /// The single devices `spec` stands for (`auto` resolved): a virtual node's visible
    /// GPUs ([`VISIBLE_DEVICES_ENV`]), any other name itself. The one place node names
    /// are expanded.
    pub fn expand(&self, spec: &DeviceSpec) -> Vec<DeviceSpec> {
        let spec = self.resolve(spec);
        let node = spec.is_node();
        spec.expand()
            .into_iter()
            .filter(|one| match one {
                DeviceSpec::Sim(sim) if node => self.is_visible(sim),
                _ => true,
            })
            .collect()
    }

    /// Virtual GPUs get the faults and telemetry `config` gives them.
    pub fn with_node_config(mut self, config: NodeConfig) -> Platform {
        self.node = Some(Arc::new(config));
        self
    }

    /// The CUDA GPU `gpu` names (as given: `cuda:0` and `cuda:GPU-…` are different names
    /// here) loads every module through `transform`, which instruments it with a fault
    /// armed from load on (`fault`: its spec, shown as the device's fault): a real GPU
    /// that behaves as the virtual GPU carrying the same fault does — the same
    /// instrumented code and descriptor — so a health check's verdicts on both can be
    /// compared (`gpufault check cuda:0 --inject SPEC`). Virtual GPUs get their faults
    /// from the node config instead.
    pub fn with_injected_fault(
        mut self,
        gpu: &CudaSelector,
        fault: &str,
        transform: Arc<dyn ModuleTransform>,
    ) -> Platform {
        let mut map = (*self.injected).clone();
        map.insert(
            DeviceSpec::Cuda(gpu.clone()).to_string(),
            (fault.to_string(), transform),
        );
        self.injected = Arc::new(map);
        self
    }

    /// The injected fault of the CUDA GPU `spec` names, if it has one.
    fn injected_for(&self, spec: &DeviceSpec) -> Option<&InjectedFault> {
        match spec {
            DeviceSpec::Cuda(_) => self.injected.get(&spec.to_string()),
            _ => None,
        }
    }

    /// Fault specs of the node config are turned into module transforms by `factory`.
    pub fn with_fault_factory(mut self, factory: Arc<dyn FaultFactory>) -> Platform {
        self.faults = Some(factory);
        self
    }

    /// The node config, if one was given.
    pub fn node_config(&self) -> Option<&NodeConfig> {
        self.node.as_deref()
    }

    /// What `auto` stands for here: `cuda:0` when a usable driver and GPU exist, else
    /// `sim`, with the reason CUDA was not chosen.
    pub fn auto(&self) -> (DeviceSpec, Option<String>) {
        match cuda::probe() {
            Ok(()) => (DeviceSpec::Cuda(CudaSelector::Ordinal(0)), None),
            Err(e) => (DeviceSpec::sim(), Some(unavailable_reason(&e))),
        }
    }

    /// `auto` resolved; every other name unchanged.
    pub fn resolve(&self, spec: &DeviceSpec) -> DeviceSpec {
        match spec {
            DeviceSpec::Auto => self.auto().0,
            other => other.clone(),
        }
    }

    /// The module transform a virtual GPU's fault calls for, if it has one, and when the
    /// fault arrives (`None`: there from load on).
    fn transform_for(&self, sim: &SimSpec) -> Result<Option<VirtualFault>, GpuError> {
        let Some(entry) = self.node.as_deref().and_then(|n| n.lookup(sim)) else {
            return Ok(None);
        };
        let Some(fault) = entry.fault.as_deref() else {
            return Ok(None);
        };
        let name = DeviceSpec::Sim(sim.clone()).to_string();
        let origin = self
            .node
            .as_deref()
            .and_then(NodeConfig::source)
            .map(|p| format!(" (node config {})", p.display()))
            .unwrap_or_default();
        let Some(factory) = &self.faults else {
            return Err(GpuError::Invalid {
                detail: format!(
                    "virtual GPU {name} carries fault `{fault}`{origin} but no fault factory is registered to interpret it"
                ),
            });
        };
        let profile = crate::sim_device::sim_profile(sim);
        let target = crate::node::FaultTarget {
            device: &name,
            sms: profile.sms,
            warp_slots: profile.warp_slots,
        };
        factory
            .create(fault, &target)
            .map(|transform| Some((transform, entry.fault_arrives_at)))
            .map_err(|e| GpuError::Invalid {
                detail: format!("fault `{fault}` of virtual GPU {name}{origin}: {e}"),
            })
    }

    /// Opens one device in this process (`auto` resolved; a node name is an error).
    pub fn open(&self, spec: &DeviceSpec) -> Result<Box<dyn Device + Send>, GpuError> {
        let spec = self.resolve(spec);
        match &spec {
            DeviceSpec::Auto => unreachable!("resolved"),
            DeviceSpec::Cuda(sel) => {
                let device = CudaDevice::open(sel)?;
                Ok(match self.injected_for(&spec) {
                    Some((_, t)) => Box::new(Transformed::new(device, t.clone())),
                    None => Box::new(device),
                })
            }
            DeviceSpec::Sim(sim) => {
                refuse_node(&spec)?;
                self.check_visible(sim)?;
                let transform = self.transform_for(sim)?;
                let sim = crate::node::seeded(sim, self.node.as_deref());
                let device = crate::sim_device::SimDevice::open(&sim)?;
                Ok(match transform {
                    Some((t, None)) => Box::new(Transformed::new(device, t)),
                    Some((t, Some(at))) => Box::new(Transformed::arriving(device, t, at)),
                    None => Box::new(device),
                })
            }
        }
    }

    /// Opens one device in a worker process started with `command` (see
    /// [`WorkerDevice`]); a faulty virtual GPU's transform is applied here, in the
    /// parent, and its node-config scheduling seed goes into the name the child opens,
    /// so the child needs neither the node config nor the factory.
    pub fn open_worker(
        &self,
        spec: &DeviceSpec,
        command: WorkerCommand,
        options: WorkerOptions,
    ) -> Result<WorkerDevice, GpuError> {
        let mut spec = self.resolve(spec);
        refuse_node(&spec)?;
        let transform = match &spec {
            DeviceSpec::Sim(sim) => {
                self.check_visible(sim)?;
                self.transform_for(sim)?
            }
            cuda => self.injected_for(cuda).map(|(_, t)| (t.clone(), None)),
        };
        if let DeviceSpec::Sim(sim) = &spec {
            spec = DeviceSpec::Sim(crate::node::seeded(sim, self.node.as_deref()));
        }
        let worker = WorkerDevice::spawn(&spec, command, options)?;
        Ok(match transform {
            Some((t, None)) => worker.with_transform(t),
            Some((t, Some(at))) => worker.with_arriving_transform(t, at),
            None => worker,
        })
    }

    /// Identity and telemetry of one device.
    pub fn info(&self, spec: &DeviceSpec) -> Result<DeviceInfo, GpuError> {
        let spec = self.resolve(spec);
        match &spec {
            DeviceSpec::Auto => unreachable!("resolved"),
            DeviceSpec::Sim(sim) => {
                refuse_node(&spec)?;
                self.check_visible(sim)?;
                // a fault the factory cannot place on this GPU is an error here too
                if self.faults.is_some() {
                    self.transform_for(sim)?;
                }
                crate::sim_device::info(sim, self.node.as_deref())
            }
            DeviceSpec::Cuda(sel) => {
                let id = cuda::resolve(sel)?;
                let mut info = cuda_info(&id);
                info.fault = self.injected_for(&spec).map(|(f, _)| f.clone());
                Ok(info)
            }
        }
    }

    /// Every device `auto` can see: CUDA devices first, then one virtual GPU of each
    /// profile, with the reason when there is no CUDA device.
    pub fn enumerate(&self) -> Enumeration {
        let mut e = Enumeration {
            schema_version: INFO_SCHEMA_VERSION,
            devices: Vec::new(),
            cuda_unavailable: None,
            errors: BTreeMap::new(),
        };
        match cuda::list_devices() {
            Ok(list) => e.devices.extend(list.iter().map(cuda_info)),
            Err(err) => e.cuda_unavailable = Some(unavailable_reason(&err)),
        }
        for sim in crate::sim_device::profile_specs() {
            if !self.is_visible(&sim) {
                continue;
            }
            match crate::sim_device::info(&sim, self.node.as_deref()) {
                Ok(i) => e.devices.push(i),
                Err(err) => {
                    e.errors
                        .insert(DeviceSpec::Sim(sim).to_string(), err.to_string());
                }
            }
        }
        e
    }

    /// The devices `specs` name (nodes expanded, `auto` resolved), with identity and
    /// telemetry; devices that cannot be inspected are listed in `errors`.
    pub fn inspect(&self, specs: &[DeviceSpec]) -> Enumeration {
        let mut e = Enumeration {
            schema_version: INFO_SCHEMA_VERSION,
            devices: Vec::new(),
            cuda_unavailable: None,
            errors: BTreeMap::new(),
        };
        for spec in specs {
            if *spec == DeviceSpec::Auto {
                let (_, why) = self.auto();
                if why.is_some() {
                    e.cuda_unavailable = why;
                }
            }
            for one in self.expand(spec) {
                match self.info(&one) {
                    Ok(i) => e.devices.push(i),
                    Err(err) => {
                        if matches!(one, DeviceSpec::Cuda(_)) && e.cuda_unavailable.is_none() {
                            if let GpuError::Unavailable { .. } = err {
                                e.cuda_unavailable = Some(unavailable_reason(&err));
                            }
                        }
                        e.errors.insert(one.to_string(), err.to_string());
                    }
                }
            }
        }
        e
    }

    /// Subscribes to the XID events of the devices `specs` name (nodes expanded).
    pub fn xid_watch(&self, specs: &[DeviceSpec]) -> Result<XidWatch, GpuError> {
        let mut virtual_events = Vec::new();
        let mut cuda_devices = Vec::new();
        for spec in specs {
            for one in self.expand(spec) {
                match &one {
                    DeviceSpec::Sim(sim) => {
                        self.check_visible(sim)?;
                        let i = crate::sim_device::info(sim, self.node.as_deref())?;
                        virtual_events.extend(i.telemetry.xid_events.iter().map(|&xid| XidEvent {
                            device: i.device.clone(),
                            uuid: i.uuid.clone(),
                            xid,
                        }));
                    }
                    DeviceSpec::Cuda(sel) => {
                        let id = cuda::resolve(sel)?;
                        cuda_devices.push((format!("cuda:{}", id.ordinal), id.uuid));
                    }
                    DeviceSpec::Auto => unreachable!("resolved"),
                }
            }
        }
        XidWatch::new(virtual_events, &cuda_devices)
    }
}

fn refuse_node(spec: &DeviceSpec) -> Result<(), GpuError> {
    if spec.is_node() {
        return Err(GpuError::Invalid {
            detail: format!(
                "{spec} names a node of several GPUs; open one of them ({})",
                spec.expand()
                    .first()
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// The detail of an `Unavailable` error, or the whole message of another.
fn unavailable_reason(e: &GpuError) -> String {
    match e {
        GpuError::Unavailable { detail } => detail.clone(),
        other => other.to_string(),
    }
}

/// Identity from the driver API, telemetry and driver version from NVML.
fn cuda_info(id: &CudaIdentity) -> DeviceInfo {
    let (telemetry, nvml_version) = match nvml::nvml() {
        Ok(n) => match nvml::telemetry(n, &id.uuid) {
            Ok(t) => (t, nvml::driver_version(n)),
            Err(e) => (telemetry_unavailable(&e), nvml::driver_version(n)),
        },
        Err(e) => (telemetry_unavailable(&e), None),
    };
    let driver = cuda::driver_version().ok().map(|v| DriverInfo {
        version: nvml_version,
        cuda_version: cuda::cuda_version_string(v),
        max_ptx_version: cuda::max_ptx_for_driver(v).map(|(a, b)| format!("{a}.{b}")),
    });
    DeviceInfo {
        device: format!("cuda:{}", id.ordinal),
        kind: DeviceKind::Cuda,
        name: id.name.clone(),
        uuid: id.uuid.clone(),
        pci_bus_id: id.pci_bus_id.clone(),
        compute_capability: format!("{}.{}", id.compute_capability.0, id.compute_capability.1),
        sm_count: id.sm_count,
        memory_bytes: id.memory_bytes,
        driver,
        fault: None,
        fault_arrives_at: None,
        scheduling_seed: None,
        telemetry,
    }
}

/// Telemetry with every field unknown because NVML could not be used.
fn telemetry_unavailable(e: &GpuError) -> Telemetry {
    let mut t = Telemetry::default();
    t.unavailable.insert("nvml".into(), unavailable_reason(e));
    t
}

/// Opens one device with [`Platform::new`] (healthy virtual GPUs, the machine's CUDA
/// devices).
pub fn open(spec: &DeviceSpec) -> Result<Box<dyn Device + Send>, GpuError> {
    Platform::new().open(spec)
}

/// Every device `auto` can see, with [`Platform::new`].
pub fn enumerate() -> Enumeration {
    Platform::new().enumerate()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> DeviceSpec {
        s.parse().unwrap()
    }

    fn names(specs: &[DeviceSpec]) -> Vec<String> {
        specs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn visible_devices_filter_nodes_and_refuse_unlisted_gpus() {
        let uuid = |name: &str| {
            Platform::new()
                .with_visible_devices(None)
                .info(&spec(name))
                .unwrap()
                .uuid
        };
        let list = format!(
            "{}, {}",
            uuid("sim:h100#1"),
            uuid("sim:h100#3").to_uppercase()
        );
        let p = Platform::new().with_visible_devices(Some(&list));
        assert_eq!(
            names(&p.expand(&spec("sim:h100*4"))),
            ["sim:h100#1", "sim:h100#3"]
        );
        assert_eq!(names(&p.expand(&spec("sim:h100*2"))), ["sim:h100#1"]);
        // a GPU named one by one is not filtered out of a list, but cannot be opened
        assert_eq!(names(&p.expand(&spec("sim:h100#2"))), ["sim:h100#2"]);
        assert!(p.open(&spec("sim:h100#3")).is_ok());
        for e in [
            p.open(&spec("sim:h100#2")).err().unwrap(),
            p.info(&spec("sim:h100#2")).unwrap_err(),
            p.open(&spec("sim:h100")).err().unwrap(),
        ] {
            let msg = e.to_string();
            assert!(matches!(e, GpuError::Unavailable { .. }), "{e:?}");
            assert!(
                msg.contains("is not visible: GPUFAULT_VISIBLE_DEVICES lists"),
                "{msg}"
            );
            assert!(
                msg.contains(&uuid("sim:h100#1").to_ascii_lowercase()),
                "{msg}"
            );
        }
        let listing = p.inspect(&[spec("sim:h100*4")]);
        assert_eq!(listing.devices.len(), 2);
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        // set but empty: nothing is visible; unset: everything
        let none = Platform::new().with_visible_devices(Some(""));
        assert!(none.expand(&spec("sim*3")).is_empty());
        let e = none.open(&spec("sim")).err().unwrap().to_string();
        assert!(e.ends_with("lists no GPU"), "{e}");
        let all = Platform::new().with_visible_devices(None);
        assert_eq!(all.expand(&spec("sim*3")).len(), 3);
        assert_eq!(names(&all.expand(&spec("sim#1"))), ["sim#1"]);
    }
}
