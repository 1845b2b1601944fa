//! The passive check of a node's GPUs: the quarantine ledger and each GPU's NVML
//! telemetry rules, no GPU work (nothing is launched, so it may run while jobs use the
//! GPUs, in milliseconds). One home for what the Slurm health check
//! (`crate::slurm::health_check`) and the Kubernetes node-problem-detector plugin
//! (`crate::k8s::npd`) decide from.
//!
//! ```text
//!  node_gpus: the configured GPUs, else the CUDA GPUs, else (NVIDIA GPUs on the PCI bus
//!             but CUDA unusable) cuda:0…  — never "no GPUs" on a GPU node whose driver broke
//!  inspect:   per GPU its UUID and telemetry → healthy / degraded / faulty (a rule of
//!             severity faulty fired) / unknown (it could not be inspected)
//!  judge:     with the ledger → quarantined GPUs; the verdict (quarantined > faulty >
//!             unknown > healthy) and the reason parts `<uuid> <evidence>`, quarantined first
//! ```
//!
//! The reason line built from the parts ([`Judgement::reason`]) is the one the Slurm
//! health check drains a node with: `gpufault: quarantined: GPU-… check: SM5 …; +1 more
//! GPU`, one line of printable ASCII, at most 256 characters
//! ([`crate::slurm::drain_reason`]).

use detector::rules::{self, RuleInput};
use gpu::{DeviceKind, DeviceSpec, Platform};
use reports::check::{Finding, Severity};
use reports::ledger::LedgerFile;

/// What the passive check makes of one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GpuState {
    /// Inspected; no telemetry rule fired.
    Healthy,
    /// Inspected; a rule of severity degraded fired (usable, to be looked at).
    Degraded,
    /// A telemetry rule of severity faulty fired.
    Faulty,
    /// The quarantine ledger holds it.
    Quarantined,
    /// It could not be inspected (the device cannot be opened, no UUID).
    Unknown,
}

impl GpuState {
    /// `healthy`, `degraded`, `faulty`, `quarantined`, `unknown` (the Slurm records' words).
    pub fn name(self) -> &'static str {
        match self {
            GpuState::Healthy => "healthy",
            GpuState::Degraded => "degraded",
            GpuState::Faulty => "faulty",
            GpuState::Quarantined => "quarantined",
            GpuState::Unknown => "unknown",
        }
    }
}

/// One GPU as the passive check saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedGpu {
    /// Its device name (`cuda:0`, `sim:h100#3`).
    pub device: String,
    /// Its UUID; empty when it could not be inspected.
    pub uuid: String,
    /// Its PCI bus id (NVML's `DDDDDDDD:BB:DD.F`); empty when unknown.
    pub pci_bus_id: String,
    /// The state.
    pub state: GpuState,
    /// The first telemetry finding of severity faulty, if any (kept when the GPU is
    /// also quarantined).
    pub finding: Option<Finding>,
    /// Why it could not be inspected (`cuda:0: …`).
    pub error: Option<String>,
}

/// The node's GPUs to look at: `configured` (device names) when given; else its CUDA
/// GPUs; else, when `nvidia_pci_gpus()` NVIDIA GPUs are on the PCI bus but CUDA shows
/// none (a broken driver), `cuda:0…` — they cannot be inspected and come out unknown,
/// never as a node without GPUs. Virtual GPUs are only ever configured. The PCI bus is
/// only looked at in that last case.
pub fn node_gpus(
    platform: &Platform,
    configured: Option<&[String]>,
    nvidia_pci_gpus: impl FnOnce() -> usize,
) -> Vec<String> {
    if let Some(list) = configured {
        return list.to_vec();
    }
    let cuda: Vec<String> = platform
        .enumerate()
        .devices
        .into_iter()
        .filter(|d| d.kind == DeviceKind::Cuda)
        .map(|d| d.device)
        .collect();
    if cuda.is_empty() {
        (0..nvidia_pci_gpus())
            .map(|i| format!("cuda:{i}"))
            .collect()
    } else {
        cuda
    }
}

/// Inspects each GPU of `names`: its UUID and the health rules on its telemetry (no XID
/// watch: that needs a check running). No GPU work.
pub fn inspect(platform: &Platform, names: &[String]) -> Vec<InspectedGpu> {
    names
        .iter()
        .map(|name| {
            let info = name
                .parse::<DeviceSpec>()
                .map_err(|e| e.to_string())
                .and_then(|s| platform.info(&s).map_err(|e| e.to_string()));
            match info {
                Err(e) => InspectedGpu {
                    device: name.clone(),
                    uuid: String::new(),
                    pci_bus_id: String::new(),
                    state: GpuState::Unknown,
                    finding: None,
                    error: Some(format!("{name}: {e}")),
                },
                Ok(info) => {
                    let results = rules::apply(&RuleInput {
                        telemetry: &info.telemetry,
                        xids: Ok(&[]),
                    });
                    let finding = results
                        .findings
                        .iter()
                        .find(|f| f.severity == Severity::Faulty)
                        .cloned();
                    let state = match results.findings.iter().map(|f| f.severity).max() {
                        Some(Severity::Faulty) => GpuState::Faulty,
                        Some(Severity::Degraded) => GpuState::Degraded,
                        _ => GpuState::Healthy,
                    };
                    let (state, error) = if info.uuid.is_empty() {
                        (GpuState::Unknown, Some(format!("{name}: no UUID")))
                    } else {
                        (state, None)
                    };
                    InspectedGpu {
                        device: name.clone(),
                        uuid: info.uuid,
                        pci_bus_id: info.pci_bus_id,
                        state,
                        finding,
                        error,
                    }
                }
            }
        })
        .collect()
}

/// The node's verdict, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeVerdict {
    /// A GPU is quarantined in the ledger.
    Quarantined,
    /// A GPU fails a telemetry rule of severity faulty (none is quarantined).
    Faulty,
    /// Nothing is wrong as far as could be seen, but a GPU could not be inspected.
    Unknown,
    /// Every GPU was inspected and none is quarantined or faulty (degraded ones pass).
    Healthy,
}

impl NodeVerdict {
    /// `quarantined`, `faulty`, `unknown`, `healthy`.
    pub fn name(self) -> &'static str {
        match self {
            NodeVerdict::Quarantined => "quarantined",
            NodeVerdict::Faulty => "faulty",
            NodeVerdict::Unknown => "unknown",
            NodeVerdict::Healthy => "healthy",
        }
    }
}

/// What [`judge`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The node's verdict.
    pub verdict: NodeVerdict,
    /// `<uuid> <evidence>` of each bad GPU: the quarantined ones (with the ledger's
    /// evidence) first, then those a telemetry rule finds faulty (`<uuid> <rule>=<value>`).
    pub parts: Vec<String>,
}

impl Judgement {
    /// The reason before it is made one line: `gpufault: <verdict>: <first part>; +N
    /// more GPUs` (empty parts: `gpufault: <verdict>: `). Pass it through
    /// [`crate::slurm::drain_reason`] for the line written.
    pub fn reason(&self) -> String {
        join_parts(&format!("gpufault: {}: ", self.verdict.name()), &self.parts)
    }
}

/// Marks the GPUs `ledger` quarantines and judges the node: quarantined GPUs, then GPUs
/// faulty by telemetry, then any GPU that could not be inspected (unknown), else healthy.
pub fn judge(gpus: &mut [InspectedGpu], ledger: &LedgerFile) -> Judgement {
    let mut parts = Vec::new();
    for g in gpus.iter_mut() {
        if !g.uuid.is_empty() && ledger.is_quarantined(&g.uuid) {
            g.state = GpuState::Quarantined;
            parts.push(quarantined_part(ledger, &g.uuid));
        }
    }
    let quarantined = parts.len();
    for g in gpus.iter() {
        if let (GpuState::Faulty, Some(f)) = (g.state, &g.finding) {
            parts.push(format!("{} {}", g.uuid, f.summary()));
        }
    }
    let verdict = if quarantined > 0 {
        NodeVerdict::Quarantined
    } else if !parts.is_empty() {
        NodeVerdict::Faulty
    } else if gpus.iter().any(|g| g.state == GpuState::Unknown) {
        NodeVerdict::Unknown
    } else {
        NodeVerdict::Healthy
    };
    Judgement { verdict, parts }
}

/// `UUID evidence` of a quarantined GPU: `GPU-… check: SM17 sp2 ws6 …`, `GPU-… manual: …`.
pub(crate) fn quarantined_part(ledger: &LedgerFile, uuid: &str) -> String {
    match ledger.get(uuid) {
        Some(e) => format!("{} {}", e.uuid, e.evidence.summary()),
        None => uuid.to_string(),
    }
}

/// `prefix` and the first part, then `; +N more GPUs` for the rest (the reason is cut to
/// its limit anyway; the first GPU is the one that matters).
pub(crate) fn join_parts(prefix: &str, parts: &[String]) -> String {
    let mut s = format!(
        "{prefix}{}",
        parts.first().map(String::as_str).unwrap_or("")
    );
    if parts.len() > 1 {
        let n = parts.len() - 1;
        s.push_str(&format!("; +{n} more GPU{}", if n == 1 { "" } else { "s" }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu::NodeConfig;

    fn platform(json: &str) -> Platform {
        Platform::new().with_node_config(NodeConfig::parse(json, "node.json").unwrap())
    }

    #[test]
    fn reasons_name_the_first_gpu_and_count_the_rest() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            join_parts("gpufault: ", &p(&["GPU-1 xid=79"])),
            "gpufault: GPU-1 xid=79"
        );
        assert_eq!(
            join_parts(
                "gpufault: quarantined: ",
                &p(&["GPU-1 manual: fan", "GPU-2 x", "GPU-3 y"])
            ),
            "gpufault: quarantined: GPU-1 manual: fan; +2 more GPUs"
        );
    }

    #[test]
    fn configured_gpus_are_taken_as_they_are_and_a_broken_driver_is_not_a_cpu_node() {
        let p = Platform::new();
        let conf = vec!["sim#0".to_string()];
        assert_eq!(
            node_gpus(&p, Some(&conf), || unreachable!("the bus is not looked at")),
            conf
        );
        // This machine has no CUDA: with NVIDIA GPUs on the bus they are cuda:0…
        if p.enumerate()
            .devices
            .iter()
            .all(|d| d.kind != DeviceKind::Cuda)
        {
            assert_eq!(node_gpus(&p, None, || 2), ["cuda:0", "cuda:1"]);
            assert!(node_gpus(&p, None, || 0).is_empty());
            let seen = inspect(&p, &node_gpus(&p, None, || 1));
            assert_eq!(seen[0].state, GpuState::Unknown);
            assert!(seen[0].error.as_deref().unwrap().starts_with("cuda:0: "));
        }
    }

    #[test]
    fn telemetry_and_the_ledger_judge_the_node_worst_first() {
        let p =
            platform(r#"{"gpus": {"sim#1": {"telemetry": {"remapped_rows": {"failure": true}}}}}"#);
        let names: Vec<String> = ["sim#0", "sim#1", "sim#2"].map(String::from).to_vec();
        let mut gpus = inspect(&p, &names);
        assert_eq!(gpus[0].state, GpuState::Healthy);
        assert_eq!(gpus[1].state, GpuState::Faulty, "{:?}", gpus[1]);
        let empty = LedgerFile::default();
        let j = judge(&mut gpus.clone(), &empty);
        assert_eq!(j.verdict, NodeVerdict::Faulty);
        assert!(j.parts[0].starts_with(&gpus[1].uuid), "{:?}", j.parts);
        assert!(j.reason().starts_with("gpufault: faulty: GPU-"));

        // GPU 2 quarantined: it comes first, the faulty one second
        let mut ledger = empty.clone();
        ledger.gpus.push(reports::ledger::GpuEntry {
            uuid: gpus[2].uuid.clone(),
            device: "sim#2".into(),
            host: "h".into(),
            state: reports::ledger::State::Quarantined,
            reason: "fan".into(),
            evidence: reports::ledger::Evidence::Manual { note: "fan".into() },
            first_seen: "2026-12-06T00:00:00Z".into(),
            last_seen: "2026-12-06T00:00:00Z".into(),
            tool_version: "0".into(),
            history: vec![],
        });
        let j = judge(&mut gpus, &ledger);
        assert_eq!(j.verdict, NodeVerdict::Quarantined);
        assert_eq!(gpus[2].state, GpuState::Quarantined);
        assert_eq!(j.parts[0], format!("{} manual: fan", gpus[2].uuid));
        assert_eq!(j.parts.len(), 2);

        // a GPU that cannot be inspected: unknown, unless something is bad
        let mut gpus = inspect(&p, &["sim#0".to_string(), "sim:nope#0".to_string()]);
        assert_eq!(gpus[1].state, GpuState::Unknown);
        assert_eq!(judge(&mut gpus, &empty).verdict, NodeVerdict::Unknown);
    }
}
