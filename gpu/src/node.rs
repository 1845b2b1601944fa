//! Faulty virtual GPUs: the node configuration file and the module-load hook.
//!
//! A node config names virtual GPUs and what is wrong with them: telemetry that a health
//! rule should catch (a pending row remap, an XID, a volatile DBE, a degraded PCIe link)
//! and a *fault*: a spec string this crate stores but does not interpret. A
//! [`FaultFactory`] supplied by a higher crate (the injector) turns that string into a
//! [`ModuleTransform`], and every module the faulty GPU loads goes through it first. A
//! fault can also *arrive* at an instant (`fault_arrives_at`): the GPU is healthy before
//! it and faulty from it on, in every process that loads the config. It can also give
//! each virtual GPU its own scheduling seed.

use crate::device::{
    Device, DeviceWrapper, GpuError, KernelArg, LaunchConfig, LaunchStats, ModuleHandle,
};
use crate::info::Telemetry;
use crate::spec::DeviceSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rewrites a module's PTX before a device loads it (the module-load hook of a faulty
/// virtual GPU).
pub trait ModuleTransform: Send + Sync {
    /// PTX text in, PTX text out: the module as the faulty GPU runs it, the fault armed
    /// from load on.
    fn transform(&self, ptx: &str) -> Result<String, BoxError>;

    /// The module as the GPU runs it *before* its fault arrives (it computes exactly what
    /// `ptx` computes), and the module-scope variables to write, with their bytes, to arm
    /// the fault from a launch on: what a fault that arrives later
    /// (`fault_arrives_at` in a [`NodeConfig`]) needs. `Ok(None)`, the default: this
    /// transform cannot arm a loaded module, so its fault can only be there from load on.
    fn dormant(&self, ptx: &str) -> Result<Option<DormantModule>, BoxError> {
        let _ = ptx;
        Ok(None)
    }
}

/// A module as a faulty GPU loads it before its fault arrives ([`ModuleTransform::dormant`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DormantModule {
    /// The PTX to load: it computes exactly what the original computes.
    pub ptx: String,
    /// The writes that arm the fault: module-scope variable name and its bytes. Empty
    /// when the fault has nothing to touch in this module.
    pub arm: Vec<(String, Vec<u8>)>,
}

/// Turns the fault spec string of a node config into a [`ModuleTransform`]. The
/// injector registers one with [`Platform::with_fault_factory`](crate::Platform).
pub trait FaultFactory: Send + Sync {
    /// The transform for `fault` on the device `target` describes, or why `fault` is not
    /// a valid fault spec for it (bad syntax, an SM or warp slot the device does not have).
    fn create(
        &self,
        fault: &str,
        target: &FaultTarget<'_>,
    ) -> Result<Arc<dyn ModuleTransform>, BoxError>;
}

/// The device a fault is placed on, as a [`FaultFactory`] needs to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultTarget<'a> {
    /// The device's name (`sim:h100#3`).
    pub device: &'a str,
    /// Its SM count.
    pub sms: u32,
    /// Warp slots per SM.
    pub warp_slots: u32,
}

/// The configuration of a virtual node: which virtual GPUs are faulty and how.
///
/// A JSON file, passed explicitly (`gpufault --node-config FILE …`,
/// [`NodeConfig::load`]), so every process that loads it sees the same faulty GPUs:
///
/// ```json
/// {
///   "gpus": {
///     "sim:h100#3": {
///       "fault": "iat:sm=5,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1",
///       "telemetry": { "remapped_rows": { "pending": true }, "xid_events": [79] }
///     },
///     "sim:h100#5": {
///       "telemetry": { "ecc": { "volatile": { "uncorrected": 2 } },
///                      "pcie": { "width": 8 } },
///       "scheduling_seed": 7
///     },
///     "sim:h100#6": { "scheduling_seed": 8 },
///     "sim:h100#7": { "fault": "wv:sm=0,sp=0,warps=0x1,lanes=0xff,pol=sa1",
///                     "fault_arrives_at": 1767225600.5 }
///   }
/// }
/// ```
///
/// - `gpus`: virtual GPU name (`sim:PROFILE#I`; `sim:PROFILE` is `#0`; no `@SEED`) →
///   what is wrong with it and how it schedules.
/// - `fault` (optional): a fault spec in the injector's compact form
///   (`MODEL:key=value,…`, see `gpufault models`), handed to the registered
///   [`FaultFactory`]; every module the GPU loads is transformed by what it returns (the
///   injector instruments it for the model and arms the fault for every launch: a
///   permanent fault of that GPU).
/// - `fault_arrives_at` (optional, only with `fault`): a Unix time in seconds (a
///   number, fractions allowed) at which the fault *arrives*: before that instant the
///   GPU computes exactly what a healthy one does (its modules are loaded instrumented
///   but disarmed, [`ModuleTransform::dormant`]); every launch at or after it, of a
///   module loaded before or after, runs with the fault armed (the device writes the
///   armed descriptor before the launch). Every process that loads the config sees the
///   same instant, so a guard's health check and the job it guards agree on when the GPU
///   turned faulty. A time in the past is a fault armed from the first launch; absent:
///   armed from load (the fault was always there).
/// - `telemetry` (optional): a JSON object merged field by field over the GPU's healthy
///   [`Telemetry`] (same field names); unknown fields are errors.
/// - `scheduling_seed` (optional): an integer in `0..2^64`; the GPU schedules its
///   launches from it (CTA placement and order, warp interleaving: `sim::Scheduling`),
///   as if opened as `sim:PROFILE#I@SEED`. A seed in the device name takes precedence.
///
/// Unknown keys anywhere are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Virtual GPU name → its faults.
    pub gpus: BTreeMap<String, GpuFaults>,
    /// Where the config was read from (kept so a worker process can be given the file).
    #[serde(skip)]
    source: Option<PathBuf>,
}

/// What is wrong with one virtual GPU, and how it schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GpuFaults {
    /// A fault spec for the registered [`FaultFactory`] (not interpreted here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// When the fault arrives (Unix time in seconds; `None`: there from load on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_arrives_at: Option<f64>,
    /// Telemetry fields that differ from the healthy values (merged over them).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub telemetry: serde_json::Map<String, serde_json::Value>,
    /// The seed the GPU schedules its launches from (`None`: the fixed scheduling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_seed: Option<u64>,
}

/// A node config that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeConfigError {
    /// The file could not be read.
    #[error("cannot read node config {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error (part of the message, so not also a `source`).
        error: std::io::Error,
    },
    /// The text is not a valid node config.
    #[error("invalid node config {origin}: {detail}")]
    Invalid {
        /// File name, or `<text>`.
        origin: String,
        /// What is wrong, with the GPU name where one is concerned.
        detail: String,
    },
}

impl From<NodeConfigError> for GpuError {
    fn from(e: NodeConfigError) -> Self {
        GpuError::Invalid {
            detail: e.to_string(),
        }
    }
}

/// The identity of a virtual GPU inside a node: profile name and position.
pub(crate) type SimKey = (String, u32);

pub(crate) fn sim_key(spec: &crate::spec::SimSpec) -> SimKey {
    (
        spec.profile.clone().unwrap_or_else(|| "sim".into()),
        spec.position(),
    )
}

/// `spec` with the scheduling seed it runs with: its own, else the node config's for
/// that GPU, else none.
pub(crate) fn seeded(
    spec: &crate::spec::SimSpec,
    node: Option<&NodeConfig>,
) -> crate::spec::SimSpec {
    let seed = spec
        .scheduling_seed
        .or_else(|| node.and_then(|n| n.lookup(spec)?.scheduling_seed));
    spec.with_scheduling_seed(seed)
}

impl NodeConfig {
    /// Reads and validates a node config file.
    pub fn load(path: &Path) -> Result<NodeConfig, NodeConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| NodeConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let mut config = NodeConfig::parse(&text, &path.display().to_string())?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates node config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<NodeConfig, NodeConfigError> {
        let invalid = |detail: String| NodeConfigError::Invalid {
            origin: origin.to_string(),
            detail,
        };
        let config: NodeConfig = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut seen: BTreeMap<SimKey, &str> = BTreeMap::new();
        for (name, faults) in &config.gpus {
            let spec: DeviceSpec = name.parse().map_err(|e| invalid(format!("{e}")))?;
            let DeviceSpec::Sim(sim) = &spec else {
                return Err(invalid(format!(
                    "`{name}` is not a virtual GPU; a node config describes `sim:…` GPUs only"
                )));
            };
            if sim.is_node() {
                return Err(invalid(format!(
                    "`{name}` names a whole node; name one GPU of it (`…#I`)"
                )));
            }
            if let Some(seed) = sim.scheduling_seed {
                return Err(invalid(format!(
                    "`{name}`: give the scheduling seed as `\"scheduling_seed\": {seed}`, not in the GPU's name"
                )));
            }
            if let Some(other) = seen.insert(sim_key(sim), name) {
                return Err(invalid(format!("`{name}` and `{other}` are the same GPU")));
            }
            if let Some(fault) = &faults.fault {
                if fault.trim().is_empty() {
                    return Err(invalid(format!("`{name}`: empty fault spec")));
                }
            }
            if let Some(at) = faults.fault_arrives_at {
                if faults.fault.is_none() {
                    return Err(invalid(format!(
                        "`{name}`: `fault_arrives_at` without a `fault` (what arrives?)"
                    )));
                }
                if !at.is_finite() || at < 0.0 {
                    return Err(invalid(format!(
                        "`{name}`: `fault_arrives_at` must be a Unix time in seconds, got {at}"
                    )));
                }
            }
            let healthy = crate::sim_device::healthy_telemetry(sim.profile.as_deref());
            apply_overrides(&healthy, &faults.telemetry)
                .map_err(|e| invalid(format!("`{name}`: telemetry: {e}")))?;
        }
        Ok(config)
    }

    /// The file this config was loaded from, if it came from one.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// What the config says about a virtual GPU, if anything.
    pub(crate) fn lookup(&self, spec: &crate::spec::SimSpec) -> Option<&GpuFaults> {
        let key = sim_key(spec);
        self.gpus
            .iter()
            .find_map(|(name, faults)| match name.parse() {
                Ok(DeviceSpec::Sim(s)) if sim_key(&s) == key => Some(faults),
                _ => None,
            })
    }
}

/// Merges `overrides` field by field (objects recursively, everything else replaced)
/// over `healthy` and reads the result back as telemetry.
pub(crate) fn apply_overrides(
    healthy: &Telemetry,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Result<Telemetry, String> {
    fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
        match (base, over) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    match b.get_mut(k) {
                        Some(slot) => merge(slot, v),
                        None => {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (slot, v) => *slot = v.clone(),
        }
    }
    let mut value = serde_json::to_value(healthy).map_err(|e| e.to_string())?;
    merge(&mut value, &serde_json::Value::Object(overrides.clone()));
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            e.inner().to_string()
        } else {
            format!("field `{path}`: {}", e.inner())
        }
    })
}

/// A virtual GPU's fault as a device applies it: the transform, when the fault arrives,
/// and the writes that arm each module loaded dormant. [`Transformed`] and
/// [`WorkerDevice`](crate::WorkerDevice) share it.
#[derive(Clone)]
pub(crate) struct FaultHook {
    transform: Arc<dyn ModuleTransform>,
    /// Unix time in seconds; `None`: armed from load on.
    arrives_at: Option<f64>,
    /// The arming writes of the modules loaded dormant (those the fault can touch).
    arming: std::collections::HashMap<ModuleHandle, ArmingWrites>,
}

/// The writes that arm a module: module-scope variable name, bytes.
pub(crate) type ArmingWrites = Vec<(String, Vec<u8>)>;

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl FaultHook {
    pub(crate) fn new(transform: Arc<dyn ModuleTransform>, arrives_at: Option<f64>) -> FaultHook {
        FaultHook {
            transform,
            arrives_at,
            arming: Default::default(),
        }
    }

    /// The text `device` loads for `ptx`, and the writes that arm it later (none when
    /// the fault is there from load on, or has nothing to touch).
    pub(crate) fn prepare(
        &self,
        device: &str,
        ptx: &str,
    ) -> Result<(String, ArmingWrites), GpuError> {
        let failed = |e: BoxError| GpuError::ModuleLoad {
            detail: format!("module transform of faulty device {device} failed: {e}"),
        };
        if self.arrives_at.is_none() {
            return Ok((self.transform.transform(ptx).map_err(failed)?, Vec::new()));
        }
        match self.transform.dormant(ptx).map_err(failed)? {
            Some(d) => Ok((d.ptx, d.arm)),
            None => Err(GpuError::Invalid {
                detail: format!(
                    "the fault of {device} has a `fault_arrives_at`, but its transform cannot \
                     arm a loaded module (it has no dormant form)"
                ),
            }),
        }
    }

    /// Records the arming writes of module `m`, just loaded.
    pub(crate) fn loaded(&mut self, m: ModuleHandle, arm: ArmingWrites) {
        if !arm.is_empty() {
            self.arming.insert(m, arm);
        }
    }

    /// The writes to make before launching a kernel of `m` now: its arming writes once
    /// the fault has arrived (written before every such launch, so a device that
    /// reloads its modules, a replaced worker child, stays armed), else none.
    pub(crate) fn due(&self, m: ModuleHandle) -> Option<&[(String, Vec<u8>)]> {
        let at = self.arrives_at?;
        let arm = self.arming.get(&m)?;
        (unix_now() >= at).then_some(arm.as_slice())
    }
}

/// A device whose every loaded module goes through a [`ModuleTransform`] first: a
/// faulty virtual GPU, or any device running instrumented code. With an arrival time
/// ([`Transformed::arriving`]) it loads modules dormant and arms them before every
/// launch from that instant on.
pub struct Transformed<D> {
    inner: D,
    fault: FaultHook,
}

impl<D: Device> Transformed<D> {
    /// Wraps `inner` so that `transform` rewrites every module it loads.
    pub fn new(inner: D, transform: Arc<dyn ModuleTransform>) -> Self {
        Transformed {
            inner,
            fault: FaultHook::new(transform, None),
        }
    }

    /// Wraps `inner` so that its modules are loaded as `transform`'s dormant form and
    /// armed before every launch at or after `arrives_at` (Unix time in seconds).
    pub fn arriving(inner: D, transform: Arc<dyn ModuleTransform>, arrives_at: f64) -> Self {
        Transformed {
            inner,
            fault: FaultHook::new(transform, Some(arrives_at)),
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: Device> DeviceWrapper for Transformed<D> {
    type Inner = D;
    fn wrapped(&self) -> &D {
        &self.inner
    }
    fn wrapped_mut(&mut self) -> &mut D {
        &mut self.inner
    }
    fn on_load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        let (text, arm) = self.fault.prepare(self.inner.name(), ptx)?;
        let m = self.inner.load(&text)?;
        self.fault.loaded(m, arm);
        Ok(m)
    }
    fn on_launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        if let Some(arm) = self.fault.due(m) {
            for (name, bytes) in arm {
                self.inner.write_global(m, name, bytes)?;
            }
        }
        self.inner.launch(m, kernel, cfg, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "gpus": {
        "sim:h100#3": {
          "fault": "iat:sm=5,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1",
          "telemetry": { "remapped_rows": { "pending": true }, "xid_events": [79] }
        },
        "sim:h100#5": {
          "telemetry": { "ecc": { "volatile": { "uncorrected": 2 } }, "pcie": { "width": 8 } },
          "scheduling_seed": 7
        },
        "sim:h100#6": { "scheduling_seed": 8 }
      }
    }"#;

    #[test]
    fn the_documented_example_parses_and_looks_up_by_gpu() {
        let c = NodeConfig::parse(EXAMPLE, "<doc>").unwrap();
        let DeviceSpec::Sim(g3) = "sim:h100*8#3".parse().unwrap() else {
            unreachable!()
        };
        assert_eq!(
            c.lookup(&g3).unwrap().fault.as_deref(),
            Some("iat:sm=5,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1")
        );
        let DeviceSpec::Sim(other) = "sim:a100#3".parse().unwrap() else {
            unreachable!()
        };
        assert!(c.lookup(&other).is_none(), "another profile is another GPU");
        assert_eq!(c.gpus["sim:h100#6"].scheduling_seed, Some(8));
    }

    #[test]
    fn each_gpu_can_have_its_own_scheduling_seed() {
        let c = NodeConfig::parse(
            r#"{"gpus": {"sim:h100#1": {"scheduling_seed": 7},
                         "sim:h100#2": {"scheduling_seed": 18446744073709551615}}}"#,
            "<test>",
        )
        .unwrap();
        let seed_of = |name: &str| {
            let DeviceSpec::Sim(s) = name.parse().unwrap() else {
                unreachable!()
            };
            seeded(&s, Some(&c)).scheduling_seed
        };
        assert_eq!(seed_of("sim:h100*4#1"), Some(7));
        assert_eq!(seed_of("sim:h100#2"), Some(u64::MAX));
        assert_eq!(seed_of("sim:h100#0"), None);
        assert_eq!(
            seed_of("sim:a100#1"),
            None,
            "another profile is another GPU"
        );
        assert_eq!(seed_of("sim:h100#1@3"), Some(3), "the name's seed wins");
        // Written back only where set.
        let text = serde_json::to_string(&c.gpus["sim:h100#1"]).unwrap();
        assert_eq!(text, r#"{"scheduling_seed":7}"#);
        assert_eq!(serde_json::to_string(&GpuFaults::default()).unwrap(), "{}");
    }

    #[test]
    fn overrides_merge_into_healthy_telemetry_field_by_field() {
        let c = NodeConfig::parse(EXAMPLE, "<doc>").unwrap();
        let healthy = crate::sim_device::healthy_telemetry(Some("h100"));
        let t = apply_overrides(&healthy, &c.gpus["sim:h100#5"].telemetry).unwrap();
        let ecc = t.ecc.unwrap();
        assert_eq!(ecc.volatile.uncorrected, 2);
        assert_eq!(
            ecc.volatile.corrected,
            healthy.ecc.unwrap().volatile.corrected
        );
        let pcie = t.pcie.unwrap();
        assert_eq!(pcie.width, 8);
        assert_eq!(pcie.max_width, healthy.pcie.unwrap().max_width);
        assert_eq!(t.temperature_c, healthy.temperature_c);
    }

    #[test]
    fn invalid_configs_are_rejected_naming_the_gpu() {
        for (text, needle) in [
            (r#"{"gpus": {"cuda:0": {}}}"#, "not a virtual GPU"),
            (r#"{"gpus": {"sim:h100*8": {}}}"#, "names a whole node"),
            (
                r#"{"gpus": {"sim:h100": {}, "sim:h100#0": {}}}"#,
                "are the same GPU",
            ),
            (
                r#"{"gpus": {"sim:x1#0": {}}}"#,
                "unknown virtual GPU profile",
            ),
            (r#"{"gpus": {"sim#1": {"fault": " "}}}"#, "empty fault spec"),
            (
                r#"{"gpus": {"sim#1": {"telemetry": {"remaped_rows": {}}}}}"#,
                "`sim#1`: telemetry: field `remaped_rows`: unknown field `remaped_rows`",
            ),
            (
                r#"{"gpus": {"sim#1": {"telemetry": {"pcie": {"width": "x8"}}}}}"#,
                "`sim#1`: telemetry: field `pcie.width`: invalid type",
            ),
            (r#"{"gpu": {}}"#, "unknown field `gpu`"),
            (
                r#"{"gpus": {"sim#1": {"faults": "x"}}}"#,
                "unknown field `faults`",
            ),
            (
                r#"{"gpus": {"sim#1@3": {}}}"#,
                "`sim#1@3`: give the scheduling seed as `\"scheduling_seed\": 3`",
            ),
            (
                r#"{"gpus": {"sim#1": {"scheduling_seed": -1}}}"#,
                "invalid value: integer `-1`, expected u64",
            ),
            (
                r#"{"gpus": {"sim#1": {"scheduling_seed": "7"}}}"#,
                "invalid type: string \"7\", expected u64",
            ),
        ] {
            let e = NodeConfig::parse(text, "t.json").unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("invalid node config t.json: "), "{msg}");
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }

    #[test]
    fn load_reads_a_file_and_names_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("gpufault-node-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.json");
        std::fs::write(&path, EXAMPLE).unwrap();
        let c = NodeConfig::load(&path).unwrap();
        assert_eq!(c.source(), Some(path.as_path()));
        assert_eq!(c.gpus.len(), 3);
        let missing = dir.join("missing.json");
        let e = NodeConfig::load(&missing).unwrap_err();
        assert!(e.to_string().contains("missing.json"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
