//! The Slurm hooks' records: one JSON line per run of `gpufault slurm prolog`, `epilog`
//! or `healthcheck` — which GPUs of which node and job, the verdict, what was done to
//! the node (drained, undrained, left alone) and how long each part took — appended to
//! the log file the hooks' configuration names (`log = "…"`, `docs/slurm.md`).
//!
//! ```
//! use reports::slurm::{HookAction, HookRecord};
//! let line = r#"{"time":"2026-12-06T08:00:31.772Z","unix":1796544031.772,"hook":"prolog",
//!   "node":"n2","job_id":"17","gpus":[{"device":"sim:h100#3",
//!   "uuid":"GPU-48793a87-8bc2-2290-87c2-1ad1800320a7","state":"faulty"}],
//!   "verdict":"faulty","action":"drained",
//!   "reason":"gpufault: faulty: GPU-48793a87-8bc2-2290-87c2-1ad1800320a7 SM17 sp2 ws6 warp-scheduler (sig_ids) 32 lanes",
//!   "exit":1,"timings":{"total_ms":912.0,"check_ms":840.5,"drain_ms":14.2}}"#;
//! let r: HookRecord = serde_json::from_str(&line.replace('\n', "")).unwrap();
//! assert_eq!(r.action, HookAction::Drained);
//! assert_eq!(r.timings.drain_ms, Some(14.2));
//! ```

use serde::{Deserialize, Serialize};

/// One run of a Slurm hook (one JSON object on one line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookRecord {
    /// When the hook started, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The same instant as Unix time in seconds (with fractions), for arithmetic.
    pub unix: f64,
    /// `prolog`, `epilog` or `healthcheck`.
    pub hook: String,
    /// The Slurm node name (`SLURMD_NODENAME`).
    pub node: String,
    /// The job (`SLURM_JOB_ID`); absent for the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The GPUs looked at: the job's (prolog, epilog) or the node's (health check).
    #[serde(default)]
    pub gpus: Vec<HookGpu>,
    /// What was found: `healthy`, `degraded`, `faulty` or `unknown` (the health check's
    /// verdicts), `quarantined` (a GPU in the quarantine ledger; not checked again),
    /// `no_gpus` (nothing to look at) or `error` (see `error`).
    pub verdict: String,
    /// What was done to the node.
    pub action: HookAction,
    /// The drain reason written, or the reason of the drain left as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The exit code (`reports::exit::SlurmExit`).
    pub exit: u8,
    /// What went wrong, when something did (the verdict is then `error` or `unknown`,
    /// or a drain failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the parts took.
    pub timings: HookTimings,
}

/// One GPU a hook looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookGpu {
    /// The device name it was opened as (`cuda:0`, `sim:h100#3`).
    pub device: String,
    /// Its UUID (empty when it could not be inspected).
    pub uuid: String,
    /// `healthy`, `degraded`, `faulty`, `unknown` (its check's verdict; for the health
    /// check, of its telemetry rules alone), `quarantined`, or `not_checked`.
    pub state: String,
}

/// What a hook did to its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookAction {
    /// Nothing: the node is fine, or the hook could not decide.
    None,
    /// The node was drained with a `gpufault:` reason.
    Drained,
    /// The node was already drained with a `gpufault:` reason and stays so.
    KeptDrained,
    /// The node was drained by someone else (a reason not starting with `gpufault:`):
    /// left exactly as it was.
    LeftAlone,
    /// The node's `gpufault:` drain was lifted (`State=RESUME`): its GPUs are released.
    Undrained,
    /// A drain was due but `scontrol` failed (the error says why).
    DrainFailed,
}

impl HookAction {
    /// The snake-case name, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            HookAction::None => "none",
            HookAction::Drained => "drained",
            HookAction::KeptDrained => "kept_drained",
            HookAction::LeftAlone => "left_alone",
            HookAction::Undrained => "undrained",
            HookAction::DrainFailed => "drain_failed",
        }
    }
}

/// How long a hook's parts took, in milliseconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookTimings {
    /// The whole hook, from its start to its record.
    pub total_ms: f64,
    /// The health check of the job's GPUs (prolog, epilog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_ms: Option<f64>,
    /// From the verdict to `scontrol update … State=DRAIN` returning (slurmctld has
    /// drained the node when it returns): the wait for the hooks' lock and the
    /// `scontrol show node` before it included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_ms: Option<f64>,
    /// Writing the quarantine ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_ms: Option<f64>,
    /// The health check's wait for slurmctld: its `scontrol show node` (and `update …
    /// State=RESUME`) calls, outside a drain (which `drain_ms` times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scontrol_ms: Option<f64>,
}
