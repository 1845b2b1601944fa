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
        /// The limit it crossed, in words.
        limit: String,
    },
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
    /// Why the verdict is `unknown` (the check could not run or cover the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every finding, most serious first.
    pub findings: Vec<Finding>,
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
    /// The worst verdict of `devices` (unknown when there are none).
    pub fn node_verdict(devices: &[DeviceCheck]) -> Verdict {
        devices
            .iter()
            .map(|d| d.verdict)
            .max()
            .unwrap_or(Verdict::Unknown)
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
