//! Slurm integration (design.md §2.7): the prolog, epilog and health-check programs that
//! keep jobs off nodes with faulty GPUs, and drain and undrain nodes the way Slurm
//! expects — `scontrol` run with its arguments as a vector, never through a shell, and
//! only ever on nodes gpufault itself marked.
//!
//! ```text
//!  prolog / epilog (slurmd, as root, per job)        healthcheck (slurmd, every HealthCheckInterval)
//!  ──────────────────────────────────────────        ───────────────────────────────────────────────
//!  the job's GPUs: SLURM_JOB_GPUS / CUDA_VISIBLE_…    the node's GPUs (configured, else its CUDA GPUs)
//!  → device names → UUIDs                            → UUIDs and NVML telemetry (no GPU work)
//!  a GPU in the ledger? ─ yes ─┐                      ┌─ lock ───────────────────────────────────┐
//!  check them (detector)       │                      │ bad = quarantined ∪ faulty telemetry rule │
//!  faulty? ─ yes ─┐            │                      │ bad, node not someone else's → DRAIN      │
//!  ┌─ lock ───────▼────────────▼─────────────┐        │ clean, node drained by gpufault → RESUME  │
//!  │ node drained by someone else? leave it  │        └───────────────────────────────────────────┘
//!  │ else scontrol … State=DRAIN Reason=…    │
//!  │ then record the faulty GPUs in the ledger│       exit 0 ok · 1 drained · 2 error · 3 unknown
//!  └─────────────────────────────────────────┘
//!  exit 1: slurmd requeues the job (and keeps the drain's `gpufault:` reason)
//! ```
//!
//! A drain and its ledger entries are written under one lock (a file beside the
//! ledger) that the health check's undrain decision takes too, so a health check never
//! sees the drain without the GPU that explains it and lifts it.
//!
//! - [`Context`]: the node, its [`NodeSettings`] (from [`config`]), the platform, the
//!   ledger and [`Scontrol`]; [`job_check`] (prolog, epilog) and [`health_check`] run
//!   one hook and return its [`HookRecord`].
//! - The health check's decision is [`crate::passive`]'s, shared with Kubernetes.
//! - [`job_devices`]: the job's GPUs from its environment; [`drain_reason`]: the reason
//!   as written (one line of ASCII, `gpufault:` first, at most 256 characters).

pub mod config;
mod gpus;
mod scontrol;

pub use config::NodeSettings;
pub use gpus::{job_devices, parse_gpu_list, JobGpu, SLURM_JOB_GPUS};
pub use scontrol::{
    drain_reason, parse_show_node, unrecorded_reason, NodeState, Scontrol, REASON_MAX_LEN,
    REASON_PREFIX, SCONTROL_TIMEOUT, UNRECORDED_PREFIX,
};

use crate::ledger::{Ledger, LedgerError, Quarantine};
use crate::passive::{self, join_parts, quarantined_part, NodeVerdict};
use detector::{CheckOptions, Level};
use gpu::{DeviceSpec, Platform, WorkerCommand};
use reports::check::{CheckReport, DeviceCheck, Verdict};
use reports::exit::SlurmExit;
use reports::ledger::Evidence;
use reports::slurm::{HookAction, HookGpu, HookRecord, HookTimings};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Findings kept as a quarantine's evidence.
const EVIDENCE_FINDINGS: usize = 8;

/// `SLURMD_NODENAME`: the node a prolog, epilog or health check runs for (slurmd sets it;
/// several slurmd on one host each set their own).
pub const NODE_NAME_ENV: &str = "SLURMD_NODENAME";

/// What can go wrong in a Slurm hook.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    /// The configuration file could not be read or is not valid.
    #[error("configuration {}: {detail}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the key, and TOML's line and column).
        detail: String,
    },
    /// An environment variable slurmd set is not what it should be.
    #[error("{var}: {detail}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        detail: String,
    },
    /// The node name is missing or not a Slurm node name.
    #[error("node name `{name}`: {detail}")]
    NodeName {
        /// The name given.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// `scontrol` could not be run, failed, or said something unexpected.
    #[error("`{command}`: {detail}")]
    Scontrol {
        /// The command line (for the message only: it was not run through a shell).
        command: String,
        /// What happened (its stderr when it failed).
        detail: String,
    },
    /// The quarantine ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A file of the hooks (the lock beside the ledger, the log) could not be used.
    #[error("{}: cannot {op}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The error (part of the message, so not also a `source`).
        error: std::io::Error,
    },
}

/// Which hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `Prolog=`: before the job, on each of its nodes.
    Prolog,
    /// `Epilog=`: after the job, on each of its nodes.
    Epilog,
    /// `HealthCheckProgram=`: periodically on every node, passive.
    HealthCheck,
}

impl Hook {
    /// `prolog`, `epilog`, `healthcheck`.
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prolog => "prolog",
            Hook::Epilog => "epilog",
            Hook::HealthCheck => "healthcheck",
        }
    }
}

/// The job a prolog or epilog runs for, from slurmd's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobEnv {
    /// `SLURM_JOB_ID`.
    pub job_id: Option<String>,
    /// `SLURM_JOB_GPUS`.
    pub slurm_job_gpus: Option<String>,
    /// `CUDA_VISIBLE_DEVICES`.
    pub cuda_visible_devices: Option<String>,
}

impl JobEnv {
    /// The variables of this process.
    pub fn from_env() -> JobEnv {
        let var = |k: &str| std::env::var(k).ok();
        JobEnv {
            job_id: var("SLURM_JOB_ID"),
            slurm_job_gpus: var(SLURM_JOB_GPUS),
            cuda_visible_devices: var(crate::env::CUDA_VISIBLE_DEVICES),
        }
    }
}

/// The node name: `flag`, else `env` ([`NODE_NAME_ENV`]), else `host` up to its first
/// dot; a Slurm node name (letters, digits, `-`, `_`, `.`; it goes into an `scontrol`
/// argument).
pub fn node_name(
    flag: Option<&str>,
    env: Option<std::ffi::OsString>,
    host: &str,
) -> Result<String, SlurmError> {
    let env = env
        .and_then(|v| v.into_string().ok())
        .filter(|v| !v.is_empty());
    let name = match (flag, env) {
        (Some(f), _) => f.to_string(),
        (None, Some(e)) => e,
        (None, None) => host.split('.').next().unwrap_or("").to_string(),
    };
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name)
    } else {
        Err(SlurmError::NodeName {
            detail: "expected letters, digits, `-`, `_` and `.` (SLURMD_NODENAME, or --node)"
                .into(),
            name,
        })
    }
}

/// Everything a hook needs on its node.
pub struct Context {
    /// The Slurm node name.
    pub node: String,
    /// Its settings.
    pub settings: NodeSettings,
    /// The platform its GPUs are opened on (with the node config of virtual GPUs).
    pub platform: Platform,
    /// The quarantine ledger.
    pub ledger: Ledger,
    /// `scontrol`.
    pub scontrol: Scontrol,
    /// The worker process each GPU is checked in (`gpufault __worker`); `None`: in this
    /// process.
    pub worker: Option<WorkerCommand>,
}

/// A record being filled, with the clock it started on.
struct Run {
    start: Instant,
    record: HookRecord,
}

impl Run {
    fn new(ctx: &Context, hook: Hook, job_id: Option<String>) -> Run {
        let now = SystemTime::now();
        Run {
            start: Instant::now(),
            record: HookRecord {
                time: injector::rfc3339(now),
                unix: now
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64(),
                hook: hook.name().to_string(),
                node: ctx.node.clone(),
                job_id,
                gpus: Vec::new(),
                verdict: "error".into(),
                action: HookAction::None,
                reason: None,
                exit: SlurmExit::Usage.code(),
                error: None,
                timings: HookTimings::default(),
            },
        }
    }

    /// The record of a run that failed: `e` in its error, exit 2; the verdict so far
    /// stays (`error` when there was none yet).
    fn fail(mut self, e: impl std::fmt::Display) -> HookRecord {
        self.record.error = Some(e.to_string());
        self.record.exit = SlurmExit::Usage.code();
        self.finish()
    }

    fn finish(mut self) -> HookRecord {
        self.record.timings.total_ms = ms(self.start.elapsed());
        self.record
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The prolog or epilog: checks the job's GPUs ([`job_devices`]); a GPU quarantined in
/// the ledger is refused without a check. On a faulty or quarantined GPU the node is
/// drained first (unless it is drained already: see [`drain`]) and the
/// faulty GPUs are then recorded in the ledger; the record's exit code is then
/// [`SlurmExit::Drained`]. A check that could not run is [`SlurmExit::Unknown`] and
/// drains nothing; a degraded GPU passes.
pub fn job_check(ctx: &Context, hook: Hook, env: &JobEnv) -> HookRecord {
    let mut run = Run::new(ctx, hook, env.job_id.clone());
    let names = match job_devices(
        env.slurm_job_gpus.as_deref(),
        env.cuda_visible_devices.as_deref(),
        ctx.settings.gpus.as_deref(),
    ) {
        Ok(n) => n,
        Err(e) => return run.fail(e),
    };
    if names.is_empty() {
        run.record.verdict = "no_gpus".into();
        run.record.exit = SlurmExit::Ok.code();
        return run.finish();
    }
    let specs = match names
        .iter()
        .map(|n| n.parse::<DeviceSpec>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return run.fail(format!("the configured GPUs: {e}")),
    };
    run.record.gpus = specs
        .iter()
        .map(|s| HookGpu {
            device: s.to_string(),
            uuid: ctx.platform.info(s).map(|i| i.uuid).unwrap_or_default(),
            state: "not_checked".into(),
        })
        .collect();

    // Quarantined GPUs are refused at once.
    let ledger = match ctx.ledger.read() {
        Ok(l) => l,
        Err(e) => return run.fail(e),
    };
    let quarantined: Vec<usize> = (0..specs.len())
        .filter(|&i| {
            let u = &run.record.gpus[i].uuid;
            !u.is_empty() && ledger.is_quarantined(u)
        })
        .collect();
    if !quarantined.is_empty() {
        for &i in &quarantined {
            run.record.gpus[i].state = "quarantined".into();
        }
        let parts = quarantined
            .iter()
            .map(|&i| quarantined_part(&ledger, &run.record.gpus[i].uuid))
            .collect::<Vec<_>>();
        run.record.verdict = "quarantined".into();
        let reason = join_parts("gpufault: quarantined: ", &parts);
        let verdict = Instant::now();
        return match locked(ctx, || {
            drain(ctx, &reason, verdict, &mut run.record);
            Ok(())
        }) {
            Ok(()) => run.finish(),
            Err(e) => run.fail(e),
        };
    }

    // The check.
    let options = CheckOptions {
        level: Level::Quick,
        timeout: ctx.settings.timeout,
        worker: ctx.worker.clone(),
    };
    let checked = Instant::now();
    let checks = detector::check_node(&ctx.platform, &specs, &options, &mut |_| {});
    run.record.timings.check_ms = Some(ms(checked.elapsed()));
    for (g, c) in run.record.gpus.iter_mut().zip(&checks) {
        g.state = c.verdict.name().into();
        if g.uuid.is_empty() {
            g.uuid = c.uuid.clone();
        }
    }
    let report = report(&run.record.time, checks);
    run.record.verdict = report.verdict.name().into();
    let line = reports::render_check_reason(&report);
    match report.verdict {
        Verdict::Healthy | Verdict::Degraded => {
            run.record.exit = SlurmExit::Ok.code();
            run.finish()
        }
        Verdict::Unknown => {
            run.record.reason = Some(line);
            run.record.exit = SlurmExit::Unknown.code();
            run.finish()
        }
        Verdict::Faulty => {
            let faulty: Vec<&DeviceCheck> = report
                .devices
                .iter()
                .filter(|d| d.verdict == Verdict::Faulty && !d.uuid.is_empty())
                .collect();
            let verdict = Instant::now();
            let result = locked(ctx, || {
                drain(ctx, &line, verdict, &mut run.record);
                let written = Instant::now();
                let recorded = faulty.iter().try_for_each(|d| {
                    ctx.ledger.quarantine(Quarantine {
                        uuid: d.uuid.clone(),
                        device: d.device.clone(),
                        reason: reports::render_check_reason(&report_of(&report, d)),
                        evidence: Evidence::Check {
                            findings: d.findings.iter().take(EVIDENCE_FINDINGS).cloned().collect(),
                        },
                    })
                });
                run.record.timings.ledger_ms = Some(ms(written.elapsed()));
                if recorded.is_err() && run.record.action == HookAction::Drained {
                    // No ledger entry backs the drain: hand it to a person, so that no
                    // health check lifts it while the GPU is still faulty.
                    let sticky = unrecorded_reason(&line);
                    if ctx.scontrol.drain(&ctx.node, &sticky).is_ok() {
                        run.record.reason = Some(sticky);
                    }
                }
                recorded.map_err(SlurmError::from)
            });
            match result {
                Ok(()) => run.finish(),
                Err(e) => run.fail(e),
            }
        }
    }
}

/// The health check: passive (the ledger and each GPU's telemetry rules; no GPU work).
/// Drains the node when one of its GPUs is quarantined or a telemetry rule of severity
/// faulty fires (unless someone else drained it; a drain of gpufault's stays as it is);
/// lifts a drain of gpufault's when none is and every GPU could be inspected. A drain
/// by someone else is never touched.
pub fn health_check(ctx: &Context) -> HookRecord {
    let mut run = Run::new(ctx, Hook::HealthCheck, None);
    let names = passive::node_gpus(&ctx.platform, ctx.settings.gpus.as_deref(), || {
        detector::nvidia_gpus_on_pci(Path::new("/sys/bus/pci/devices"))
    });
    let mut gpus = passive::inspect(&ctx.platform, &names);
    if let Some(e) = gpus.iter().rev().find_map(|g| g.error.clone()) {
        run.record.error = Some(e);
    }
    let hook_gpus = |gpus: &[passive::InspectedGpu]| {
        gpus.iter()
            .map(|g| HookGpu {
                device: g.device.clone(),
                uuid: g.uuid.clone(),
                state: g.state.name().into(),
            })
            .collect()
    };
    run.record.gpus = hook_gpus(&gpus);
    let result = locked(ctx, || {
        // The ledger is read under the lock: a prolog's drain and its ledger entries
        // are seen together or not at all.
        let ledger = ctx.ledger.read()?;
        let judgement = passive::judge(&mut gpus, &ledger);
        run.record.gpus = hook_gpus(&gpus);
        run.record.verdict = judgement.verdict.name().into();
        match judgement.verdict {
            NodeVerdict::Quarantined | NodeVerdict::Faulty => {
                // `gpufault: quarantined: …` or `gpufault: faulty: …`, as the check's line.
                drain(ctx, &judgement.reason(), Instant::now(), &mut run.record);
                return Ok(());
            }
            NodeVerdict::Healthy => run.record.exit = SlurmExit::Ok.code(),
            NodeVerdict::Unknown => run.record.exit = SlurmExit::Unknown.code(),
        }
        let asked = Instant::now();
        let state = ctx.scontrol.node(&ctx.node);
        let resumed = match &state {
            Ok(state) if judgement.verdict == NodeVerdict::Healthy && state.drained_by_us() => {
                Some(ctx.scontrol.resume(&ctx.node))
            }
            _ => None,
        };
        run.record.timings.scontrol_ms = Some(ms(asked.elapsed()));
        let state = state?;
        if let Some(resumed) = resumed {
            resumed?;
            run.record.action = HookAction::Undrained;
            run.record.reason = state.reason;
        } else if state.drained_by_us() {
            run.record.action = HookAction::KeptDrained;
            run.record.reason = state.reason;
        }
        Ok(())
    });
    match result {
        Ok(()) => run.finish(),
        Err(e) => run.fail(e),
    }
}

/// Drains the node with `reason` unless it is drained already: by someone else (then it
/// is left as it is) or by gpufault (its first reason stays: the prolog's finding is not
/// replaced by the epilog's or the health check's later words for the same GPU). Fills
/// the record's action, reason, drain time (from `verdict`, the instant the hook decided
/// to drain: the lock's wait included) and exit code ([`SlurmExit::Drained`], or
/// [`SlurmExit::Usage`] when `scontrol` failed: slurmd then drains the node itself).
fn drain(ctx: &Context, reason: &str, verdict: Instant, record: &mut HookRecord) {
    let reason = drain_reason(reason);
    let result = ctx.scontrol.node(&ctx.node).and_then(|state| {
        if state.drained_by_others() {
            record.action = HookAction::LeftAlone;
            record.reason = state.reason;
        } else if state.drained() && state.reason_is_ours() {
            record.action = HookAction::KeptDrained;
            record.reason = state.reason;
        } else {
            ctx.scontrol.drain(&ctx.node, &reason)?;
            record.action = HookAction::Drained;
            record.reason = Some(reason);
        }
        Ok(())
    });
    record.timings.drain_ms = Some(ms(verdict.elapsed()));
    match result {
        Ok(()) => record.exit = SlurmExit::Drained.code(),
        Err(e) => {
            record.action = HookAction::DrainFailed;
            record.error = Some(e.to_string());
            record.exit = SlurmExit::Usage.code();
        }
    }
}

/// Runs `f` holding the exclusive lock of the node's drains: `<ledger>.slurm.lock`
/// beside the ledger (created once, never removed; `flock(2)`, so a killed holder
/// loses it).
fn locked<T>(ctx: &Context, f: impl FnOnce() -> Result<T, SlurmError>) -> Result<T, SlurmError> {
    let path = lock_path(ctx.ledger.path());
    let io = |op, error| SlurmError::Io {
        path: path.clone(),
        op,
        error,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("create its directory", e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("open", e))?;
    file.lock().map_err(|e| io("lock", e))?;
    let out = f();
    drop(file);
    out
}

/// `<ledger>.slurm.lock`.
fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_os_string();
    name.push(".slurm.lock");
    PathBuf::from(name)
}

/// The check's report of `checks`, started at `started`.
fn report(started: &str, checks: Vec<DeviceCheck>) -> CheckReport {
    CheckReport::new(
        env!("CARGO_PKG_VERSION"),
        &crate::sys::host_name(),
        started,
        Level::Quick.name(),
        checks,
    )
}

/// `report` with `device` alone (for that GPU's own reason line).
fn report_of(report: &CheckReport, device: &DeviceCheck) -> CheckReport {
    CheckReport::new(
        &report.tool_version,
        &report.host,
        &report.started,
        &report.level,
        vec![device.clone()],
    )
}

/// Appends `record` as one JSON line to `path` (creating it and its directory), in one
/// write, so that lines of hooks running at once do not interleave.
pub fn append_record(path: &Path, record: &HookRecord) -> Result<(), SlurmError> {
    let io = |op, error| SlurmError::Io {
        path: path.to_path_buf(),
        op,
        error,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("create its directory", e))?;
    }
    let mut line = serde_json::to_string(record).map_err(|e| io("write", e.into()))?;
    line.push('\n');
    let mut f: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io("open", e))?;
    f.write_all(line.as_bytes()).map_err(|e| io("write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_come_from_the_flag_slurmd_or_the_host_and_are_checked() {
        assert_eq!(node_name(Some("n1"), Some("n2".into()), "h").unwrap(), "n1");
        assert_eq!(node_name(None, Some("n2".into()), "h").unwrap(), "n2");
        assert_eq!(
            node_name(None, Some("".into()), "gpu7.example.org").unwrap(),
            "gpu7"
        );
        for bad in ["n1 State=RESUME", "n1;id", "", "a\nb", "$(x)"] {
            assert!(node_name(Some(bad), None, "h").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_lock_is_beside_the_ledger() {
        assert_eq!(
            lock_path(Path::new("/var/lib/gpufault/quarantine.json")),
            Path::new("/var/lib/gpufault/quarantine.json.slurm.lock")
        );
    }
}
