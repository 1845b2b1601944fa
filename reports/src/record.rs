//! The rows a campaign writes: one [`RunRecord`] per injection and one [`CampaignMeta`]
//! per campaign.
//!
//! Both serialize stably: fields in declaration order, every field always written (`null`
//! when absent), maps sorted by key. Optional fields may be missing when reading, so a
//! file written by an older tool still loads.

use crate::outcome::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One fault injection and what it did: one line of a campaign's JSON Lines file, one row
/// of its store.
///
/// ```
/// use reports::{Outcome, RunRecord};
/// let r = RunRecord {
///     workload: "gemm".into(),
///     model: "iat".into(),
///     spec: "iat:sm=3,sp=1,warps=0x1,lanes=0xffffffff,mask=0x4".into(),
///     outcome: Outcome::Masked { slow: false },
///     activations: Some(128),
///     instructions: Some(1_048_576),
///     elapsed_us: 912,
///     error: None,
///     fault_sm: Some(3),
/// };
/// let line = serde_json::to_string(&r).unwrap();
/// assert!(line.starts_with(r#"{"workload":"gemm","model":"iat","#));
/// assert_eq!(serde_json::from_str::<RunRecord>(&line).unwrap(), r);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The workload's name (e.g. `gemm_tiled`).
    pub workload: String,
    /// The fault model's id (`iat`, `iaw`, … `brx`; design.md §3).
    pub model: String,
    /// The fault in the injector's compact spec syntax: enough to replay this one run.
    pub spec: String,
    /// What the injection did (design.md §4).
    pub outcome: Outcome,
    /// The activation counter read back after the run: how many times the faulty code
    /// path fired. `None` when it could not be read (the context was lost to a crash or
    /// a hang).
    #[serde(default)]
    pub activations: Option<u64>,
    /// Thread-instructions executed (virtual GPU only; `None` on real GPUs or when the
    /// run did not finish).
    #[serde(default)]
    pub instructions: Option<u64>,
    /// Wall time of the faulty run in microseconds (launches and read-back, not the
    /// module load).
    pub elapsed_us: u64,
    /// The error text the device or the host program reported, verbatim, when there was
    /// one (a DUE's driver message, a runner's note). The classification is `outcome`;
    /// this is for people.
    #[serde(default)]
    pub error: Option<String>,
    /// The SM the fault was placed on, when the model has one site SM. Lets detector
    /// campaigns count *correct* SM attributions (`Detected { sm }` equal to it).
    #[serde(default)]
    pub fault_sm: Option<u32>,
}

/// Which part of a campaign a file holds, when the campaign was split across machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard's index, 0-based (`--shard 2/8` is index 2).
    pub index: u32,
    /// How many shards the campaign was split into.
    pub count: u32,
}

/// What a campaign was: written once per campaign next to its [`RunRecord`]s and carried
/// into every report.
///
/// The crate reads no clock and no environment: the caller fills every field (`created`
/// included). [`Default`] gives empty values, handy with struct-update syntax.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CampaignMeta {
    /// The campaign's identifier (the store's name for it).
    pub campaign_id: String,
    /// The seed every random choice of the campaign was drawn from.
    pub seed: u64,
    /// The device as selected: `sim`, `sim:h100`, `cuda:0`, `cuda:GPU-<uuid>`.
    pub device: String,
    /// The device's product name (`NVIDIA H200`, or the virtual GPU's profile name).
    #[serde(default)]
    pub device_name: String,
    /// The device's UUID (`GPU-…`) when it has one.
    #[serde(default)]
    pub device_uuid: Option<String>,
    /// The version of the tool that ran the campaign.
    pub tool_version: String,
    /// When the campaign was created, RFC 3339 (`2025-01-31T12:00:00Z`), as given by the
    /// caller.
    pub created: String,
    /// How fault sites were drawn: `exercised` (among instructions the workload executes)
    /// or `physical` (uniformly over the GPU's structure, so some faults never activate).
    pub sampling: String,
    /// How each model's lanes, warp slots and parameters were drawn: a preset
    /// (`faithful`: NVBitPERfi's choices; `v1`: single-bit masks) and its overrides
    /// (`faithful + iat.mask=uniform:1..1024`); empty when not recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sampling_rules: String,
    /// Which sites faults were drawn at and how they were weighted, when not every
    /// site with static weight (`groups FP32; kernels bfs_*; dynamic weight`); empty
    /// otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub site_selection: String,
    /// The workloads in campaign order; reports list them in this order.
    pub workloads: Vec<String>,
    /// The fault models in campaign order; reports list them in this order.
    pub models: Vec<String>,
    /// Planned injections per (workload, model) cell.
    pub injections_per_cell: u64,
    /// A run is declared hung after this many times the fault-free run's instructions
    /// (virtual GPU) or wall time (real GPU).
    pub hang_factor: f64,
    /// A masked run is flagged slow beyond this many times the fault-free run's
    /// instructions or wall time; `None` when not flagged.
    #[serde(default)]
    pub slow_factor: Option<f64>,
    /// The shard this file holds; `None` for a whole (or merged) campaign.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// The host the campaign ran on.
    #[serde(default)]
    pub host: Option<String>,
    /// The command line that started the campaign, for replay.
    #[serde(default)]
    pub command: Option<String>,
    /// Anything else worth showing in a report's header (driver version, git revision…),
    /// sorted by key.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::DueCause;

    #[test]
    fn record_reads_without_optional_fields() {
        let line = r#"{"workload":"w","model":"ir","spec":"ir:sm=0","outcome":{"kind":"due","cause":"illegal_instruction"},"elapsed_us":5}"#;
        let r: RunRecord = serde_json::from_str(line).unwrap();
        assert_eq!(
            r.outcome,
            Outcome::Due {
                cause: DueCause::IllegalInstruction
            }
        );
        assert_eq!(
            (r.activations, r.error.as_deref(), r.fault_sm),
            (None, None, None)
        );
        // Written back, every field is present, in declaration order.
        let back = serde_json::to_string(&r).unwrap();
        assert_eq!(
            back,
            r#"{"workload":"w","model":"ir","spec":"ir:sm=0","outcome":{"kind":"due","cause":"illegal_instruction"},"activations":null,"instructions":null,"elapsed_us":5,"error":null,"fault_sm":null}"#
        );
    }

    #[test]
    fn meta_round_trips_with_sorted_extra() {
        let mut m = CampaignMeta {
            campaign_id: "c1".into(),
            hang_factor: 10.0,
            shard: Some(Shard { index: 1, count: 4 }),
            ..Default::default()
        };
        m.extra.insert("zeta".into(), "1".into());
        m.extra.insert("alpha".into(), "2".into());
        let s = serde_json::to_string(&m).unwrap();
        assert!(
            s.find("\"alpha\"").unwrap() < s.find("\"zeta\"").unwrap(),
            "{s}"
        );
        assert_eq!(serde_json::from_str::<CampaignMeta>(&s).unwrap(), m);
    }
}
