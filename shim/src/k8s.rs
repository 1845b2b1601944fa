//! Kubernetes integration (design.md §2.7): a node-problem-detector custom plugin that
//! sets a node condition from the passive check, and the taints that keep quarantined
//! GPUs out of new pods — the whole node's, or per GPU a DRA `DeviceTaintRule`.
//!
//! ```text
//!  npd (NPD runs it every invoke_interval)          taint_advice (an operator, a controller)
//!  ───────────────────────────────────────          ─────────────────────────────────────────
//!  the node's GPUs → passive::inspect                the node's GPUs → passive::inspect
//!  ledger → passive::judge                           ledger → the quarantined ones
//!  healthy → exit 0 · quarantined/faulty → exit 1    → node taint + kubectl line
//!  cannot tell → exit 2 (NPD: Unknown)               → per GPU a DeviceTaintRule (driver, pool =
//!  stdout: one line, ≤ 256 printable ASCII             node, device gpu-<minor> or a CEL UUID match)
//! ```
//!
//! - [`npd`] → [`NpdResult`]: the exit code and the line.
//! - [`taint_advice`] → [`reports::k8s::TaintAdvice`], for a [`K8sRelease`] and
//!   [`AdviceOptions`]; [`dra_device_name`] finds the name the NVIDIA DRA driver gives a
//!   GPU (`gpu-<minor>`, the minor from `/proc/driver/nvidia/gpus/<bus>/information`).

use crate::ledger::{Ledger, LedgerError};
use crate::passive::{self, GpuState, InspectedGpu, NodeVerdict};
use crate::slurm::drain_reason;
use gpu::Platform;
use reports::exit::NpdExit;
use reports::k8s::{
    AdvisedGpu, CelDeviceSelector, DeviceSelector, DeviceTaint, DeviceTaintRule,
    DeviceTaintRuleSpec, DeviceTaintSelector, ObjectMeta, Taint, TaintAdvice,
    TAINT_ADVICE_SCHEMA_VERSION,
};
use std::path::Path;

/// The longest line `gpufault npd` prints (set NPD's `max_output_length` to it; NPD's
/// default, 80, keeps the UUID of the first bad GPU).
pub const NPD_LINE_MAX_LEN: usize = reports::REASON_MAX_LEN;

/// The DRA driver of NVIDIA GPUs (`k8s-dra-driver-gpu`), which is also the domain of its
/// device attributes (`device.attributes["gpu.nvidia.com"].uuid`).
pub const NVIDIA_DRA_DRIVER: &str = "gpu.nvidia.com";

/// The default taint key, for the node and for devices.
pub const DEFAULT_TAINT_KEY: &str = "gpufault.io/gpu-faulty";

/// The taint value.
pub const TAINT_VALUE: &str = "quarantined";

/// The label every rule carries (`app.kubernetes.io/managed-by: gpufault`).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gpufault");

/// The label that names a rule's node (when the node's name is a valid label value).
pub const NODE_LABEL: &str = "gpufault.io/node";

/// What `gpufault npd` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpdResult {
    /// The exit code NPD reads.
    pub exit: NpdExit,
    /// The one line for stdout: printable ASCII, at most [`NPD_LINE_MAX_LEN`]
    /// characters, starting `gpufault:`.
    pub line: String,
}

/// The node-problem-detector check: the passive check of `names` on `platform` with the
/// ledger. A GPU the ledger quarantines or that fails a telemetry rule of severity
/// faulty → [`NpdExit::Problem`]; a GPU that cannot be inspected, or a ledger that
/// cannot be read → [`NpdExit::Unknown`]; else [`NpdExit::Ok`] (degraded GPUs pass).
pub fn npd(platform: &Platform, names: &[String], ledger: &Ledger) -> NpdResult {
    let mut gpus = passive::inspect(platform, names);
    let file = match ledger.read() {
        Ok(f) => f,
        Err(e) => return unknown(&e.to_string()),
    };
    let judgement = passive::judge(&mut gpus, &file);
    match judgement.verdict {
        NodeVerdict::Quarantined | NodeVerdict::Faulty => NpdResult {
            exit: NpdExit::Problem,
            line: drain_reason(&judgement.reason()),
        },
        NodeVerdict::Unknown => {
            let errors: Vec<&str> = gpus.iter().filter_map(|g| g.error.as_deref()).collect();
            let more = match errors.len() {
                0 | 1 => String::new(),
                n => format!("; +{} more GPU{}", n - 1, if n == 2 { "" } else { "s" }),
            };
            unknown(&format!("{}{more}", errors.first().copied().unwrap_or("")))
        }
        NodeVerdict::Healthy => {
            let degraded: Vec<&str> = gpus
                .iter()
                .filter(|g| g.state == GpuState::Degraded)
                .map(|g| g.uuid.as_str())
                .collect();
            let text = match (gpus.len(), degraded.as_slice()) {
                (0, _) => "gpufault: ok: no GPUs on this node".to_string(),
                (n, []) => format!(
                    "gpufault: ok: {n} GPU{} inspected, none quarantined or faulty",
                    plural(n)
                ),
                (n, d) => format!(
                    "gpufault: ok: {n} GPU{} inspected, none quarantined or faulty; degraded: {}",
                    plural(n),
                    d.join(", ")
                ),
            };
            NpdResult {
                exit: NpdExit::Ok,
                line: drain_reason(&text),
            }
        }
    }
}

/// An [`NpdExit::Unknown`] result saying `why`.
pub fn unknown(why: &str) -> NpdResult {
    NpdResult {
        exit: NpdExit::Unknown,
        line: drain_reason(&format!("gpufault: unknown: {why}")),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A Kubernetes release the advice can be written for, and the form of
/// `DeviceTaintRule` it serves (from each release's published OpenAPI schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct K8sRelease {
    /// The minor version (`1.<minor>`), 33 to 37.
    pub minor: u32,
}

impl K8sRelease {
    /// The oldest release with `DeviceTaintRule` (1.33) and the newest known here (1.37).
    pub const SUPPORTED: std::ops::RangeInclusive<u32> = 33..=37;

    /// The newest known release, the default.
    pub const NEWEST: K8sRelease = K8sRelease { minor: 37 };

    /// `1.33` … `1.37`.
    pub fn parse(s: &str) -> Result<K8sRelease, String> {
        let minor = s
            .trim()
            .strip_prefix("v")
            .unwrap_or(s.trim())
            .strip_prefix("1.")
            .and_then(|m| m.split('.').next())
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| format!("`{s}`: expected a Kubernetes release such as 1.35"))?;
        if Self::SUPPORTED.contains(&minor) {
            Ok(K8sRelease { minor })
        } else {
            Err(format!(
                "`{s}`: DeviceTaintRule exists from Kubernetes 1.33; releases 1.33 to 1.37 are known here"
            ))
        }
    }

    /// `resource.k8s.io/v1alpha3` (1.33–1.35), `…/v1beta2` (1.36), `…/v1` (1.37).
    pub fn api_version(self) -> &'static str {
        match self.minor {
            ..=35 => "resource.k8s.io/v1alpha3",
            36 => "resource.k8s.io/v1beta2",
            _ => "resource.k8s.io/v1",
        }
    }

    /// Whether a rule selects devices with CEL (1.33, 1.34); from 1.35 only by driver,
    /// pool and device name.
    pub fn cel_selectors(self) -> bool {
        self.minor <= 34
    }
}

impl std::fmt::Display for K8sRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// How the advice is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdviceOptions {
    /// The Kubernetes node (a DNS-1123 subdomain; also the DRA pool).
    pub node: String,
    /// The release the rules are for.
    pub release: K8sRelease,
    /// The taint key (a label name).
    pub taint_key: String,
    /// The devices' taint effect: `NoSchedule` or `NoExecute`.
    pub effect: String,
    /// The DRA driver (`gpu.nvidia.com`).
    pub driver: String,
}

/// What can go wrong in [`taint_advice`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum K8sError {
    /// An option is not what Kubernetes accepts.
    #[error("{flag} `{value}`: {detail}")]
    Invalid {
        /// The flag (`--node`, `--taint-key`, `--effect`, `--dra-driver`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AdviceOptions {
    /// Checks every option against Kubernetes' rules.
    pub fn validate(&self) -> Result<(), K8sError> {
        use reports::k8s::{is_dns1123_subdomain, is_label_name};
        let bad = |flag, value: &str, detail| {
            Err(K8sError::Invalid {
                flag,
                value: value.to_string(),
                detail,
            })
        };
        if !is_dns1123_subdomain(&self.node) {
            return bad(
                "--node",
                &self.node,
                "not a Kubernetes node name (a DNS-1123 subdomain: lower-case letters, digits, `-`, `.`)",
            );
        }
        if !is_label_name(&self.taint_key) {
            return bad(
                "--taint-key",
                &self.taint_key,
                "not a taint key (a label name such as example.com/gpu-faulty)",
            );
        }
        if !matches!(self.effect.as_str(), "NoSchedule" | "NoExecute") {
            return bad("--effect", &self.effect, "expected NoSchedule or NoExecute");
        }
        if !is_dns1123_subdomain(&self.driver) {
            return bad(
                "--dra-driver",
                &self.driver,
                "not a DRA driver name (a DNS-1123 subdomain)",
            );
        }
        Ok(())
    }
}

/// The advice for the node's quarantined GPUs among `gpus` (inspected by
/// [`passive::inspect`] and marked by [`passive::judge`]): the node taint with its
/// `kubectl taint` line (the removal line when none is quarantined and every GPU was
/// inspected; none when some could not be) and, per GPU, a
/// `DeviceTaintRule`. From Kubernetes 1.35 a rule names its device (`names(gpu)`, e.g.
/// [`dra_device_name`]); a GPU without a name gets no rule and is listed in
/// `unresolved` — a rule without it would taint every GPU of the pool.
pub fn taint_advice(
    gpus: &[InspectedGpu],
    ledger: &reports::ledger::LedgerFile,
    options: &AdviceOptions,
    names: &dyn Fn(&InspectedGpu) -> Option<String>,
) -> TaintAdvice {
    let release = options.release;
    let mut advice = TaintAdvice {
        schema_version: TAINT_ADVICE_SCHEMA_VERSION,
        node: options.node.clone(),
        kubernetes: release.to_string(),
        quarantined: Vec::new(),
        node_taint: None,
        kubectl: None,
        device_taint_rules: Vec::new(),
        unresolved: Vec::new(),
        uninspected: gpus
            .iter()
            .filter(|g| g.state == GpuState::Unknown)
            .map(|g| g.error.clone().unwrap_or_else(|| g.device.clone()))
            .collect(),
    };
    for g in gpus.iter().filter(|g| g.state == GpuState::Quarantined) {
        let entry = ledger.get(&g.uuid);
        let reason = entry.map(|e| e.reason.clone()).unwrap_or_default();
        let dra_device = names(g);
        advice.quarantined.push(AdvisedGpu {
            uuid: g.uuid.clone(),
            device: g.device.clone(),
            dra_device: dra_device.clone(),
            reason: reason.clone(),
        });
        let selector = if release.cel_selectors() {
            DeviceTaintSelector {
                driver: options.driver.clone(),
                pool: options.node.clone(),
                device: None,
                selectors: vec![DeviceSelector {
                    cel: CelDeviceSelector {
                        expression: format!(
                            "device.attributes[{}].uuid == {}",
                            cel_string(&options.driver),
                            cel_string(&g.uuid)
                        ),
                    },
                }],
            }
        } else if let Some(name) = dra_device {
            DeviceTaintSelector {
                driver: options.driver.clone(),
                pool: options.node.clone(),
                device: Some(name),
                selectors: Vec::new(),
            }
        } else {
            advice.unresolved.push(g.uuid.clone());
            continue;
        };
        let mut labels = std::collections::BTreeMap::new();
        labels.insert(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string());
        if reports::k8s::is_label_value(&options.node) {
            labels.insert(NODE_LABEL.to_string(), options.node.clone());
        }
        let annotations = [
            ("gpufault.io/node".to_string(), options.node.clone()),
            ("gpufault.io/uuid".to_string(), g.uuid.clone()),
            ("gpufault.io/reason".to_string(), reason),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        advice.device_taint_rules.push(DeviceTaintRule {
            api_version: release.api_version().to_string(),
            kind: "DeviceTaintRule".into(),
            metadata: ObjectMeta {
                name: rule_name(&g.uuid),
                labels,
                annotations,
            },
            spec: DeviceTaintRuleSpec {
                device_selector: selector,
                taint: DeviceTaint {
                    key: options.taint_key.clone(),
                    value: TAINT_VALUE.into(),
                    effect: options.effect.clone(),
                },
            },
        });
    }
    if !advice.quarantined.is_empty() {
        let taint = Taint {
            key: options.taint_key.clone(),
            value: TAINT_VALUE.into(),
            effect: "NoSchedule".into(),
        };
        advice.kubectl = Some(format!(
            "kubectl taint nodes {} {}={}:{} --overwrite",
            options.node, taint.key, taint.value, taint.effect
        ));
        advice.node_taint = Some(taint);
    } else if advice.uninspected.is_empty() {
        advice.kubectl = Some(format!(
            "kubectl taint nodes {} {}:NoSchedule-",
            options.node, options.taint_key
        ));
    }
    advice
}

/// The rule's name: `gpufault-` and the UUID in lower case (`gpufault-gpu-48793a87-…`;
/// a GPU UUID is unique in the cluster), every character a DNS-1123 name cannot hold
/// made `-`, at most 253 characters.
pub fn rule_name(uuid: &str) -> String {
    let mut name: String = format!("gpufault-{}", uuid.to_ascii_lowercase())
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(253);
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// A CEL string literal (double-quoted, `\` and `"` escaped).
fn cel_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The DRA device name the NVIDIA driver publishes for `gpu`: `gpu-<minor>`, with the
/// minor number (`/dev/nvidia<minor>`) read from
/// `<proc>/driver/nvidia/gpus/<bus id>/information` (`Device Minor:`), the bus id from
/// its telemetry (`00000000:3B:00.0` → `0000:3b:00.0`); for a virtual GPU `sim…#i`,
/// `gpu-<i>` (`sim:h100` is GPU 0; a stand-in: there is no driver). `None` when unknown.
pub fn dra_device_name(gpu: &InspectedGpu, proc: &Path) -> Option<String> {
    if let Ok(gpu::DeviceSpec::Sim(sim)) = gpu.device.parse::<gpu::DeviceSpec>() {
        return (!sim.is_node()).then(|| format!("gpu-{}", sim.position()));
    }
    let bus = gpu.pci_bus_id.to_ascii_lowercase();
    let (domain, rest) = bus.split_once(':')?;
    let domain = &domain[domain.len().saturating_sub(4)..];
    let dir = proc
        .join("driver/nvidia/gpus")
        .join(format!("{domain:0>4}:{rest}"));
    let text = std::fs::read_to_string(dir.join("information")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Device Minor:"))
        .and_then(|m| m.trim().parse::<u32>().ok())
        .map(|m| format!("gpu-{m}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::ledger::{Evidence, GpuEntry, LedgerFile, State};

    fn gpu(device: &str, uuid: &str, state: GpuState) -> InspectedGpu {
        InspectedGpu {
            device: device.into(),
            uuid: uuid.into(),
            pci_bus_id: "00000000:3B:00.0".into(),
            state,
            finding: None,
            error: None,
        }
    }

    fn ledger(uuids: &[&str]) -> LedgerFile {
        let mut f = LedgerFile::default();
        for u in uuids {
            f.gpus.push(GpuEntry {
                uuid: u.to_string(),
                device: String::new(),
                host: "h".into(),
                state: State::Quarantined,
                reason: format!("gpufault: faulty: {u} SM5"),
                evidence: Evidence::Manual { note: "x".into() },
                first_seen: "2026-12-06T00:00:00Z".into(),
                last_seen: "2026-12-06T00:00:00Z".into(),
                tool_version: "0".into(),
                history: vec![],
            });
        }
        f.gpus.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        f
    }

    fn options(minor: u32) -> AdviceOptions {
        AdviceOptions {
            node: "n1".into(),
            release: K8sRelease { minor },
            taint_key: DEFAULT_TAINT_KEY.into(),
            effect: "NoSchedule".into(),
            driver: NVIDIA_DRA_DRIVER.into(),
        }
    }

    const U1: &str = "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7";
    const U2: &str = "GPU-90fa4257-0d51-91bf-0f41-86b663ea1ab7";

    #[test]
    fn releases_map_to_the_api_version_and_selector_they_serve() {
        let r = |s| K8sRelease::parse(s).unwrap();
        assert_eq!(r("1.33").api_version(), "resource.k8s.io/v1alpha3");
        assert!(r("v1.34.2").cel_selectors());
        assert!(!r("1.35").cel_selectors());
        assert_eq!(r("1.35").api_version(), "resource.k8s.io/v1alpha3");
        assert_eq!(r("1.36").api_version(), "resource.k8s.io/v1beta2");
        assert_eq!(r("1.37").api_version(), "resource.k8s.io/v1");
        for bad in ["1.32", "1.38", "2.0", "x", ""] {
            assert!(K8sRelease::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quarantined_gpus_get_a_node_taint_and_one_rule_each() {
        let gpus = [
            gpu("cuda:0", U1, GpuState::Quarantined),
            gpu("cuda:1", U2, GpuState::Healthy),
        ];
        let names = |g: &InspectedGpu| (g.device == "cuda:0").then(|| "gpu-4".to_string());
        let a = taint_advice(&gpus, &ledger(&[U1]), &options(34), &names);
        assert_eq!(a.quarantined.len(), 1);
        assert_eq!(
            a.kubectl.as_deref(),
            Some(
                "kubectl taint nodes n1 gpufault.io/gpu-faulty=quarantined:NoSchedule --overwrite"
            )
        );
        let rule = &a.device_taint_rules[0];
        assert_eq!(
            rule.metadata.name,
            "gpufault-gpu-48793a87-8bc2-2290-87c2-1ad1800320a7"
        );
        assert!(reports::k8s::is_dns1123_subdomain(&rule.metadata.name));
        assert_eq!(
            rule.spec.device_selector.selectors[0].cel.expression,
            format!("device.attributes[\"gpu.nvidia.com\"].uuid == \"{U1}\"")
        );
        assert_eq!(rule.spec.device_selector.device, None);
        assert_eq!(
            rule.metadata.annotations["gpufault.io/reason"],
            format!("gpufault: faulty: {U1} SM5")
        );

        // 1.35: by name; a GPU without one is unresolved, never a pool-wide rule
        let gpus = [
            gpu("cuda:0", U1, GpuState::Quarantined),
            gpu("cuda:1", U2, GpuState::Quarantined),
        ];
        let a = taint_advice(&gpus, &ledger(&[U1, U2]), &options(35), &names);
        assert_eq!(a.device_taint_rules.len(), 1);
        assert_eq!(
            a.device_taint_rules[0]
                .spec
                .device_selector
                .device
                .as_deref(),
            Some("gpu-4")
        );
        assert!(a.device_taint_rules[0]
            .spec
            .device_selector
            .selectors
            .is_empty());
        assert_eq!(a.unresolved, [U2]);

        // nothing quarantined: no taint, the removal line
        let a = taint_advice(&gpus[..0], &LedgerFile::default(), &options(37), &names);
        assert!(a.node_taint.is_none() && a.device_taint_rules.is_empty());
        assert_eq!(
            a.kubectl.as_deref(),
            Some("kubectl taint nodes n1 gpufault.io/gpu-faulty:NoSchedule-")
        );
        // … but not when a GPU could not be inspected: nothing may be lifted then
        let mut blind = gpu("cuda:1", "", GpuState::Unknown);
        blind.error = Some("cuda:1: no driver".into());
        let a = taint_advice(&[blind], &LedgerFile::default(), &options(37), &names);
        assert_eq!(a.kubectl, None);
        assert_eq!(a.uninspected, ["cuda:1: no driver"]);
    }

    #[test]
    fn options_are_checked_against_kubernetes_rules() {
        assert!(options(37).validate().is_ok());
        let mut o = options(37);
        o.node = "Node_1".into();
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("--node `Node_1`"));
        let mut o = options(37);
        o.effect = "PreferNoSchedule".into();
        assert!(o.validate().is_err());
        let mut o = options(37);
        o.taint_key = "a b".into();
        assert!(o.validate().is_err());
    }

    #[test]
    fn dra_names_come_from_the_driver_s_proc_files_or_the_virtual_index() {
        let dir = std::env::temp_dir().join(format!("gpufault-k8s-proc-{}", std::process::id()));
        let gpus = dir.join("driver/nvidia/gpus/0000:3b:00.0");
        std::fs::create_dir_all(&gpus).unwrap();
        std::fs::write(
            gpus.join("information"),
            "Model: \t\t NVIDIA H100\nIRQ:   \t\t 150\nGPU UUID: \t GPU-48793a87\nDevice Minor: \t 3\n",
        )
        .unwrap();
        assert_eq!(
            dra_device_name(&gpu("cuda:0", U1, GpuState::Quarantined), &dir).as_deref(),
            Some("gpu-3")
        );
        let mut other = gpu("cuda:1", U2, GpuState::Quarantined);
        other.pci_bus_id = "00000000:3C:00.0".into();
        assert_eq!(dra_device_name(&other, &dir), None);
        assert_eq!(
            dra_device_name(&gpu("sim:h100#6", U2, GpuState::Quarantined), &dir).as_deref(),
            Some("gpu-6")
        );
        assert_eq!(
            dra_device_name(&gpu("sim:h100", U2, GpuState::Quarantined), &dir).as_deref(),
            Some("gpu-0"),
            "an unindexed virtual GPU is GPU 0"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(rule_name("MIG-ab_cd"), "gpufault-mig-ab-cd");
        assert_eq!(cel_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
