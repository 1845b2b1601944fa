//! The health check's records (`gpufault check`, design.md §2.6): one [`CheckReport`]
//! per run, one [`DeviceCheck`] per GPU with its [`Verdict`], its [`Finding`]s (a
//! signature word that disagrees with its expectation, a kernel that crashed or hung, an
//! NVML health rule that fired) and its [`Coverage`] (which SMs and warp slots the
//! signature kernels observed).
//!
//! The JSON form is the serde form of [`CheckReport`] (with
//! [`CHECK_SCHEMA_VERSION`]), documented in `docs/health-check.md` and by the JSON Schema
//! `docs/health-check.schema.json`.

use serde::{Deserialize, Serialize};

/// Version of the check's JSON record; bumped on any incompatible change.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// The verdict on one GPU, or on a node (the worst of its GPUs).
///
/// Order, from best to worst: healthy, degraded, unknown, faulty — a node with a faulty
/// GPU is faulty whatever else it holds; one that could not check a GPU is unknown,
/// never healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check ran, covered the whole device, and found nothing.
    Healthy,
    /// A health rule of severity "degraded" fired (e.g. a PCIe link below its maximum);
    /// the signature kernels found nothing.
    Degraded,
    /// The check could not run or could not cover the device (no driver, device lost,
    /// a timeout, an SM never observed): never a pass.
    Unknown,
    /// A signature word disagreed with its expectation, a signature kernel crashed or
    /// hung, or a health rule of severity "faulty" fired.
    Faulty,
}

impl Verdict {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Degraded => "degraded",
            Verdict::Unknown => "unknown",
            Verdict::Faulty => "faulty",
        }
    }

    /// The health check's exit code of this verdict.
    pub fn exit(self) -> crate::exit::CheckExit {
        use crate::exit::CheckExit;
        match self {
            Verdict::Healthy => CheckExit::Healthy,
            Verdict::Degraded => CheckExit::Degraded,
            Verdict::Unknown => CheckExit::Unknown,
            Verdict::Faulty => CheckExit::Faulty,
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The GPU works but should be looked at (and may be drained at the operator's
    /// discretion).
    Degraded,
    /// The GPU must not run jobs.
    Faulty,
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What was found.
    #[serde(flatten)]
    pub evidence: Evidence,
}

impl Finding {
    /// The SM the finding names, if it names one (a signature word, or a kernel error
    /// whose device error said where).
    pub fn sm(&self) -> Option<u32> {
        match &self.evidence {
            Evidence::Signature { sm, .. } => Some(*sm),
            Evidence::KernelError { sm, .. } => *sm,
            Evidence::Rule { .. } => None,
        }
    }

    /// A short description on one line, as the reason line and the table show it:
    /// `SM17 sp2 ws6 warp-scheduler (ids) 3 lanes`, `SM4 control-flow (paths) hang: …`,
    /// `xid=79`.
    pub fn summary(&self) -> String {
        match &self.evidence {
            Evidence::Signature {
                unit,
                kernel,
                sm,
                sp,
                warp_slot,
                lanes,
                ..
            } => {
                let n = lanes.count_ones();
                format!(
                    "SM{sm} sp{sp} ws{warp_slot} {unit} ({kernel}) {n} lane{}",
                    if n == 1 { "" } else { "s" }
                )
            }
            Evidence::KernelError {
                unit,
                kernel,
                sm,
                error,
            } => {
                let at = sm.map(|s| format!("SM{s} ")).unwrap_or_default();
                format!("{at}{unit} ({kernel}) {}", one_line(error))
            }
            Evidence::Rule { rule, value, .. } => format!("{rule}={}", one_line(value)),
        }
    }
}

/// `text` on one line: control characters (newlines, tabs) become spaces, runs of
/// spaces one.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        let ch = if ch.is_control() { ' ' } else { ch };
        if ch == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(ch);
    }
    out.trim_end().to_string()
}

/// The evidence of a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Signature words that disagree with their CPU-computed expectation, all produced
    /// by one warp slot of one SM in one kernel (the words name where they came from).
    Signature {
        /// The unit the kernel exercises (`warp-scheduler`, `control-flow`, `decode`,
        /// `memory`, `warp-ops`).
        unit: String,
        /// The signature kernel.
        kernel: String,
        /// The SM that produced the words.
        sm: u32,
        /// Its sub-partition (`%warpid % 4`).
        sp: u32,
        /// The warp slot (`%warpid`).
        warp_slot: u32,
        /// The lanes whose words disagree (bit l = lane l).
        lanes: u32,
        /// Which word of the kernel's record (e.g. `tid.x`, `path`, `alu.add`).
        word: String,
        /// The expected value of the first disagreeing word.
        expected: u64,
        /// What the device wrote.
        actual: u64,
        /// Disagreeing words of this SM, warp slot and kernel in all.
        words: u32,
        /// A second opinion beside the CPU's: the value a strict majority of the GPU's SMs
        /// wrote for the same word at the same warp slot and lane. Equal to `expected`
        /// when the other SMs agree with the CPU (a fault of this SM); equal to `actual`
        /// if most SMs wrote the same wrong value (a fault of the whole GPU, or of the
        /// expectation). Absent for words whose expectation depends on the SM (identities),
        /// for stray stores, and when no value has a majority.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        majority: Option<u64>,
        /// Every word of the record that disagreed in some lane of this warp slot, in
        /// record order: which words a fault touched, in which lanes, and how (the
        /// diagnosis reads them). Absent in records of older checks.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        disagreed: Vec<WordDisagreement>,
    },
    /// A signature kernel did not complete: it crashed (illegal address, trap, …) or
    /// hung; the SM is named when the device's error says where.
    KernelError {
        /// The unit the kernel exercises.
        unit: String,
        /// The signature kernel.
        kernel: String,
        /// The SM the error names, when known.
        sm: Option<u32>,
        /// The device's error.
        error: String,
    },
    /// An NVML health rule fired.
    Rule {
        /// The rule's name (`remapped_rows_pending`, `xid`, …; see `docs/health-check.md`).
        rule: String,
        /// The value read.
        value: String,
        /// The limit, in words: what the reading should have been (`no hardware-class XID
        /// (79: GPU has fallen off the bus)`, `gen5 x16 (the link's maximum)`).
        limit: String,
    },
}

/// One word of a signature record that disagreed in a warp slot ([`Evidence::Signature`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordDisagreement {
    /// The word (`tid.y`, `alu.add`, `address`, …).
    pub word: String,
    /// The lanes where it disagreed (bit l = lane l).
    pub lanes: u32,
    /// Its expected value in the lowest of those lanes.
    pub expected: u32,
    /// What the device wrote there.
    pub actual: u32,
}

/// A health rule that could not be judged: a telemetry field it reads could not be read
/// (or, for the XID rule, XID events could not be watched). Not a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleNotEvaluated {
    /// The rule's name (as in [`Evidence::Rule`]).
    pub rule: String,
    /// Why: the telemetry field and NVML's error, or why XIDs could not be watched.
    pub reason: String,
    /// The device does not support the reading at all (NVML answered "not supported",
    /// e.g. retired pages on GPUs that remap rows instead, ECC counts with ECC off): the
    /// rule does not apply to this device and does not keep the verdict from being
    /// healthy. When `false` the reading failed, and the verdict cannot be healthy.
    pub not_supported: bool,
}

/// What the signature kernels observed of the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Coverage {
    /// SMs the device reports.
    pub sms: u32,
    /// Warp slots per SM.
    pub warp_slots: u32,
    /// SMs on which every warp slot ran every signature kernel.
    pub sms_observed: u32,
    /// (SM, warp slot) pairs that ran every signature kernel.
    pub slots_observed: u64,
    /// SMs with a warp slot that some kernel never reached (the device's scheduler chose
    /// otherwise): not checked, so the verdict cannot be healthy.
    pub sms_unobserved: Vec<u32>,
}

impl Coverage {
    /// Every SM and warp slot was observed.
    pub fn complete(&self) -> bool {
        self.sms > 0
            && self.sms_observed == self.sms
            && self.slots_observed == u64::from(self.sms) * u64::from(self.warp_slots)
    }
}

/// The check of one GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCheck {
    /// The device name as selected (`cuda:0`, `sim:h100#3`).
    pub device: String,
    /// `GPU-…` UUID (empty when the device could not be inspected).
    pub uuid: String,
    /// PCI bus id.
    pub pci_bus_id: String,
    /// Product name.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What kept the check from being complete: the device could not be inspected,
    /// opened or checked in time, the signature suite could not run or did not cover
    /// every SM and warp slot, a health rule could not be evaluated. Always set when the
    /// verdict is `unknown`; also set for a faulty GPU whose check was incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every finding, most serious first.
    pub findings: Vec<Finding>,
    /// Health rules that could not be evaluated, with why.
    #[serde(default)]
    pub rules_not_evaluated: Vec<RuleNotEvaluated>,
    /// What the signature kernels observed.
    pub coverage: Coverage,
    /// Thread-instructions the signature kernels executed (virtual GPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<u64>,
    /// Wall time of this device's check in milliseconds.
    pub duration_ms: f64,
}

/// One run of the health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// [`CHECK_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The gpufault version that checked.
    pub tool_version: String,
    /// The host checked.
    pub host: String,
    /// When the check started, RFC 3339 UTC.
    pub started: String,
    /// `quick` or `full`.
    pub level: String,
    /// The node's verdict: the worst of its devices' (healthy when none was checked is
    /// impossible: an empty check is unknown).
    pub verdict: Verdict,
    /// One entry per device, in the order they were named.
    pub devices: Vec<DeviceCheck>,
}

impl CheckReport {
    /// The report of the checks `devices`, with the node verdict computed from them.
    pub fn new(
        tool_version: &str,
        host: &str,
        started: &str,
        level: &str,
        devices: Vec<DeviceCheck>,
    ) -> CheckReport {
        CheckReport {
            schema_version: CHECK_SCHEMA_VERSION,
            tool_version: tool_version.to_string(),
            host: host.to_string(),
            started: started.to_string(),
            level: level.to_string(),
            verdict: CheckReport::node_verdict(&devices),
            devices,
        }
    }

    /// The worst verdict of `devices` (unknown when there are none).
    pub fn node_verdict(devices: &[DeviceCheck]) -> Verdict {
        devices
            .iter()
            .map(|d| d.verdict)
            .max()
            .unwrap_or(Verdict::Unknown)
    }
}

/// Reports for the renderers' tests: one GPU of each verdict, with every kind of
/// evidence.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    fn device(i: u32, verdict: Verdict) -> DeviceCheck {
        DeviceCheck {
            device: format!("sim:h100#{i}"),
            uuid: format!("GPU-0000000{i}-1111-2222-3333-444444444444"),
            pci_bus_id: format!("00000020:1{i}:00.0"),
            name: "gpufault virtual H100 (sim:h100)".into(),
            verdict,
            reason: None,
            findings: Vec::new(),
            coverage: Coverage {
                sms: 132,
                warp_slots: 64,
                sms_observed: 132,
                slots_observed: 132 * 64,
                sms_unobserved: Vec::new(),
            },
            rules_not_evaluated: Vec::new(),
            instructions: Some(123_456_789),
            duration_ms: 1234.5,
        }
    }

    /// Four GPUs: faulty (two signature findings on SM 17, a kernel error, an XID), degraded
    /// (a PCIe link), unknown (two SMs not observed, a rule not evaluated) and healthy.
    pub(crate) fn sample() -> CheckReport {
        let mut faulty = device(0, Verdict::Faulty);
        faulty.findings = vec![
            Finding {
                severity: Severity::Faulty,
                evidence: Evidence::Signature {
                    unit: "warp-scheduler".into(),
                    kernel: "ids".into(),
                    sm: 17,
                    sp: 2,
                    warp_slot: 6,
                    lanes: 0b1011,
                    word: "tid.x".into(),
                    expected: 0x11,
                    actual: 0x15,
                    words: 12,
                    majority: Some(0x11),
                    disagreed: Vec::new(),
                },
            },
            Finding {
                severity: Severity::Faulty,
                evidence: Evidence::KernelError {
                    unit: "control-flow".into(),
                    kernel: "paths".into(),
                    sm: Some(17),
                    error: "hang: barrier deadlock\nin paths".into(),
                },
            },
            Finding {
                severity: Severity::Faulty,
                evidence: Evidence::Rule {
                    rule: "xid".into(),
                    value: "79".into(),
                    limit: "a hardware-class XID (79: GPU has fallen off the bus)".into(),
                },
            },
        ];
        let mut degraded = device(1, Verdict::Degraded);
        degraded.findings = vec![Finding {
            severity: Severity::Degraded,
            evidence: Evidence::Rule {
                rule: "pcie_link".into(),
                value: "gen5 x8".into(),
                limit: "gen5 x16 (the link's maximum)".into(),
            },
        }];
        let mut unknown = device(2, Verdict::Unknown);
        unknown.coverage.sms_observed = 130;
        unknown.coverage.slots_observed = 130 * 64;
        unknown.coverage.sms_unobserved = vec![3, 77];
        unknown.reason = Some("2 of 132 SMs not observed (3, 77)".into());
        unknown.rules_not_evaluated = vec![RuleNotEvaluated {
            rule: "retired_pages".into(),
            reason: "retired_pages: the requested operation is not available on the target device"
                .into(),
            not_supported: true,
        }];
        let healthy = device(3, Verdict::Healthy);
        CheckReport::new(
            "0.1.0",
            "node-7",
            "2026-12-05T10:20:30.456Z",
            "quick",
            vec![faulty, degraded, unknown, healthy],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins_and_nothing_checked_is_unknown() {
        assert!(Verdict::Faulty > Verdict::Unknown);
        assert!(Verdict::Unknown > Verdict::Degraded);
        assert!(Verdict::Degraded > Verdict::Healthy);
        assert_eq!(CheckReport::node_verdict(&[]), Verdict::Unknown);
        assert_eq!(Verdict::Unknown.exit().code(), 3);
        assert_eq!(Verdict::Faulty.exit().code(), 1);
        let f = Finding {
            severity: Severity::Faulty,
            evidence: Evidence::Rule {
                rule: "xid".into(),
                value: "79".into(),
                limit: "a hardware-class XID".into(),
            },
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["kind"], "rule");
        assert_eq!(json["severity"], "faulty");
        assert_eq!(serde_json::from_value::<Finding>(json).unwrap(), f);
    }
}
