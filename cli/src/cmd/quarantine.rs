//! `gpufault quarantine list|add|release`: the quarantine ledger of GPUs kept out of jobs
//! (`shim::ledger`, format and protocol in `docs/ledger.md`).
//!
//! - `list [--json] [--all]`: the quarantined GPUs; `--all` also the released ones, and
//!   every GPU's history.
//! - `add DEVICE|UUID --reason TEXT`: a manual quarantine. A device name (`cuda:0`,
//!   `sim:h100#3`) is looked up for its UUID; a bare `GPU-…` UUID is taken as it is (the
//!   GPU need not be on this host).
//! - `release UUID|DEVICE`: only after a clean re-validation — a full health check of
//!   that GPU, now, on this host, that says healthy or degraded; faulty or unknown refuse
//!   the release (exit 1). `--force --reason TEXT` releases without a check, the reason
//!   recorded in the history.
//!
//! The ledger is `--ledger FILE`, else `GPUFAULT_LEDGER`, else the default location
//! ([`shim::ledger::Ledger::default_path`]). Exit codes (`reports::exit::Exit`): 0 done, 1
//! release refused, 2 usage or environment error (a damaged ledger, a GPU not in it or
//! not on this host, a bad flag).

use super::check::parse_timeout;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use detector::{CheckOptions, Level};
use gpu::{CudaSelector, DeviceInfo, DeviceSpec, Platform, WorkerCommand};
use reports::exit::Exit;
use reports::ledger::{check_uuid, Action, Evidence, GpuEntry, LedgerFile, State};
use shim::ledger::{Ledger, LedgerError, Quarantine, Release};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Arguments of `gpufault quarantine`.
#[derive(Args)]
pub struct QuarantineArgs {
    /// The ledger file. Default: `$GPUFAULT_LEDGER`, else as root
    /// /var/lib/gpufault/quarantine.json, else
    /// $XDG_STATE_HOME/gpufault/quarantine.json ($XDG_STATE_HOME: ~/.local/state).
    #[arg(long, value_name = "FILE", global = true)]
    ledger: Option<PathBuf>,
    #[command(subcommand)]
    command: QuarantineCommand,
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List the quarantined GPUs.
    List {
        /// Print the ledger's JSON (the entries listed, in the file's format).
        #[arg(long)]
        json: bool,
        /// Also list released GPUs, and every GPU's history.
        #[arg(long)]
        all: bool,
    },
    /// Quarantine a GPU by hand.
    Add {
        /// The GPU: a device name (`cuda:0`, `sim:h100#3`) or its UUID (`GPU-…`).
        target: String,
        /// Why (recorded with the entry and in its history).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// A virtual node config (JSON); default `$GPUFAULT_NODE_CONFIG`.
        #[arg(long, value_name = "FILE")]
        node_config: Option<PathBuf>,
    },
    /// Release a quarantined GPU after a clean full health check of it (or by force).
    Release {
        /// The GPU: its UUID (`GPU-…`) or a device name (`cuda:0`, `sim:h100#3`).
        target: String,
        /// Release without a check (requires --reason, recorded in the history).
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why the GPU is released by force.
        #[arg(long, value_name = "TEXT", requires = "force")]
        reason: Option<String>,
        /// A virtual node config (JSON); default `$GPUFAULT_NODE_CONFIG`.
        #[arg(long, value_name = "FILE")]
        node_config: Option<PathBuf>,
        /// How long the health check may take, in seconds.
        #[arg(long, value_name = "SECS", default_value = "120", value_parser = parse_timeout)]
        timeout: Duration,
    },
}

/// Runs `gpufault quarantine`.
pub fn run(args: QuarantineArgs) -> anyhow::Result<ExitCode> {
    let ledger = Ledger::at(args.ledger.unwrap_or_else(Ledger::default_path));
    match args.command {
        QuarantineCommand::List { json, all } => list(&ledger, json, all),
        QuarantineCommand::Add {
            target,
            reason,
            node_config,
        } => add(&ledger, &target, &reason, node_config),
        QuarantineCommand::Release {
            target,
            force,
            reason,
            node_config,
            timeout,
        } => match (force, reason) {
            (true, Some(reason)) => release_forced(&ledger, &target, reason, node_config),
            _ => release_validated(&ledger, &target, node_config, timeout),
        },
    }
}

fn list(ledger: &Ledger, json: bool, all: bool) -> anyhow::Result<ExitCode> {
    let mut file = ledger.read()?;
    if !all {
        file.gpus.retain(|g| g.state == State::Quarantined);
    }
    super::print_json_or_text(json, &file, |out, file| {
        write_list(out, ledger.path(), file, all)
    })
}

/// The human listing: a count line, then per GPU its state, device, host and times, the
/// reason and evidence, and with `all` its history.
fn write_list(
    out: &mut dyn Write,
    path: &Path,
    file: &LedgerFile,
    all: bool,
) -> std::io::Result<()> {
    let quarantined = file.quarantined().count();
    let released = file.gpus.len() - quarantined;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    write!(out, "{quarantined} GPU{} quarantined", plural(quarantined))?;
    if all {
        write!(out, ", {released} released")?;
    }
    writeln!(out, " (ledger {})", path.display())?;
    for g in &file.gpus {
        writeln!(out)?;
        write_entry(out, g, all)?;
    }
    Ok(())
}

fn write_entry(out: &mut dyn Write, g: &GpuEntry, history: bool) -> std::io::Result<()> {
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    writeln!(
        out,
        "{}  {}  {} on {}",
        g.uuid,
        g.state.name(),
        or_dash(&g.device),
        or_dash(&g.host)
    )?;
    writeln!(
        out,
        "  since     {}  (last seen {})",
        g.first_seen, g.last_seen
    )?;
    writeln!(out, "  reason    {}", g.reason)?;
    writeln!(out, "  evidence  {}", g.evidence.summary())?;
    if let Evidence::Check { findings, .. } = &g.evidence {
        for f in findings.iter().skip(1) {
            writeln!(out, "            {}", f.summary())?;
        }
    }
    if history {
        writeln!(out, "  history")?;
        for h in &g.history {
            let mut line = format!(
                "    {}  {:<14}  {}",
                h.time,
                h.action.name(),
                or_dash(&h.host)
            );
            if !h.device.is_empty() {
                line.push_str(&format!(" {}", h.device));
            }
            line.push_str(&format!(": {}", h.reason));
            if let Some(e) = &h.evidence {
                line.push_str(&format!(" [{e}]"));
            }
            if let Some(c) = &h.check {
                line.push_str(&format!(" [{c}]"));
            }
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// The platform of `--node-config` (default `$GPUFAULT_NODE_CONFIG`).
fn platform(node_config: Option<PathBuf>) -> anyhow::Result<Platform> {
    let node_config = node_config.or_else(|| {
        std::env::var_os(shim::env::NODE_CONFIG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    super::subjects::platform(node_config.as_deref())
}

/// Whether `target` is written as a UUID (`GPU-…`, `MIG-…`) rather than a device name.
fn is_uuid(target: &str) -> bool {
    let lower = target.trim().to_ascii_lowercase();
    lower.starts_with("gpu-") || lower.starts_with("mig-")
}

/// The one device `target` names, with its identity.
fn device_info(platform: &Platform, target: &str) -> anyhow::Result<DeviceInfo> {
    let spec: DeviceSpec = target.parse()?;
    let spec = platform.resolve(&spec);
    if spec.is_node() {
        bail!(
            "`{target}` is a node of {} GPUs: name one of them (`{}`)",
            spec.expand().len(),
            spec.expand()[0]
        );
    }
    platform
        .info(&spec)
        .with_context(|| format!("device {target}"))
}

/// The device on this host whose UUID is `uuid`, looked for where it can be: the device
/// name the ledger last saw it under (`hint`), the CUDA GPUs, the virtual GPUs the node
/// config names, and the first virtual GPU of every profile.
fn find_device(platform: &Platform, uuid: &str, hint: &str) -> Option<DeviceInfo> {
    let mut candidates: Vec<DeviceSpec> = hint.parse().into_iter().collect();
    if uuid.starts_with("GPU-") {
        candidates.push(DeviceSpec::Cuda(CudaSelector::Uuid(uuid.to_string())));
    }
    if let Some(node) = platform.node_config() {
        candidates.extend(
            node.gpus
                .keys()
                .filter_map(|k| k.parse::<DeviceSpec>().ok())
                .flat_map(|s| s.expand()),
        );
    }
    let same = |i: &DeviceInfo| i.uuid.eq_ignore_ascii_case(uuid);
    candidates
        .iter()
        .filter(|s| !s.is_node() && **s != DeviceSpec::Auto)
        .find_map(|s| platform.info(s).ok().filter(same))
        .or_else(|| platform.enumerate().devices.into_iter().find(same))
}

fn add(
    ledger: &Ledger,
    target: &str,
    reason: &str,
    node_config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let platform = platform(node_config)?;
    let (uuid, device) = if is_uuid(target) {
        let uuid = check_uuid(target).map_err(anyhow::Error::msg)?;
        let device = find_device(&platform, &uuid, "")
            .map(|i| i.device)
            .unwrap_or_default();
        (uuid, device)
    } else {
        let info = device_info(&platform, target)?;
        (info.uuid, info.device)
    };
    let action = ledger.record_quarantine(Quarantine {
        uuid: uuid.clone(),
        device: device.clone(),
        reason: reason.to_string(),
        evidence: Evidence::Manual {
            note: reason.to_string(),
        },
    })?;
    let on = if device.is_empty() {
        "not found on this host".to_string()
    } else {
        device
    };
    match action {
        Action::SeenAgain => println!("{uuid} ({on}) was quarantined already: recorded again"),
        _ => println!("quarantined {uuid} ({on})"),
    }
    Ok(Exit::Success.into())
}

/// The ledger entry `target` (a UUID or a device name) stands for: `Ok(None)` when it is
/// released already (said on stdout).
fn quarantined_entry(
    ledger: &Ledger,
    platform: Option<&Platform>,
    target: &str,
) -> anyhow::Result<Option<GpuEntry>> {
    let uuid = if is_uuid(target) {
        check_uuid(target).map_err(anyhow::Error::msg)?
    } else {
        let Some(platform) = platform else {
            bail!("`{target}`: name the GPU by its UUID (`GPU-…`, see `gpufault quarantine list`)")
        };
        device_info(platform, target)?.uuid
    };
    let file = ledger.read()?;
    let Some(entry) = file.get(&uuid) else {
        return Err(LedgerError::NotFound {
            path: ledger.path().to_path_buf(),
            uuid,
        }
        .into());
    };
    if entry.state != State::Quarantined {
        println!(
            "{} is not quarantined (released already; `gpufault quarantine list --all` shows its history)",
            entry.uuid
        );
        return Ok(None);
    }
    Ok(Some(entry.clone()))
}

fn release_forced(
    ledger: &Ledger,
    target: &str,
    reason: String,
    node_config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    // A device name needs the platform to find its UUID; a UUID does not.
    let platform = match is_uuid(target) {
        true => None,
        false => Some(platform(node_config)?),
    };
    let Some(entry) = quarantined_entry(ledger, platform.as_ref(), target)? else {
        return Ok(Exit::Success.into());
    };
    ledger.release(&entry.uuid, Release::Forced { reason })?;
    println!("released {} by force (no check)", entry.uuid);
    Ok(Exit::Success.into())
}

fn release_validated(
    ledger: &Ledger,
    target: &str,
    node_config: Option<PathBuf>,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let platform = platform(node_config)?;
    let Some(entry) = quarantined_entry(ledger, Some(&platform), target)? else {
        return Ok(Exit::Success.into());
    };
    let Some(info) = find_device(&platform, &entry.uuid, &entry.device) else {
        let last = match entry.device.as_str() {
            "" => format!("last reported on {}", entry.host),
            d => format!("last reported as {d} on {}", entry.host),
        };
        bail!(
            "{} is not on this host (no device has that UUID; {last}): it cannot be re-validated here. Release it on its host, or without a check: --force --reason TEXT",
            entry.uuid
        );
    };
    let spec: DeviceSpec = info.device.parse()?;
    eprintln!(
        "gpufault: checking {} ({}) before releasing it: full health check",
        info.device, entry.uuid
    );
    let options = CheckOptions {
        level: Level::Full,
        timeout,
        worker: Some(WorkerCommand::gpufault_self()?),
    };
    let started = injector::rfc3339(SystemTime::now());
    let check = detector::check_device(&platform, &spec, &options);
    if !check.uuid.is_empty() && !check.uuid.eq_ignore_ascii_case(&entry.uuid) {
        bail!(
            "{} was checked as {}, which has UUID {}: not released",
            entry.uuid,
            info.device,
            check.uuid
        );
    }
    let passed = matches!(
        check.verdict,
        reports::check::Verdict::Healthy | reports::check::Verdict::Degraded
    );
    if !passed {
        eprintln!(
            "gpufault: {} ({}) not released: its full health check says {}",
            entry.uuid,
            info.device,
            check.verdict.name()
        );
        let mut distinct: Vec<String> = Vec::new();
        for f in &check.findings {
            let s = f.summary();
            if !distinct.contains(&s) {
                distinct.push(s);
            }
        }
        for s in distinct.iter().take(10) {
            eprintln!("  {s}");
        }
        if check.findings.len() > distinct.len().min(10) {
            eprintln!("  ({} findings in all)", check.findings.len());
        }
        if let Some(r) = &check.reason {
            eprintln!("  incomplete: {r}");
        }
        return Ok(Exit::FoundProblem.into());
    }
    let summary = check_summary(&check, &started);
    match ledger.release_if_unchanged(
        &entry.uuid,
        Release::Validated {
            check: summary.clone(),
        },
        &entry.last_seen,
    ) {
        Ok(()) => {
            println!("released {} ({}): {summary}", entry.uuid, info.device);
            Ok(Exit::Success.into())
        }
        Err(e @ LedgerError::SeenAgain { .. }) => {
            eprintln!("gpufault: {e}");
            Ok(Exit::FoundProblem.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// What the history keeps of a clean check: `full check healthy of sim:h100#0 on node7 at
/// 2026-…Z: 132/132 SMs, 8448 warp slots observed, 3.1 s` (and a degraded GPU's
/// findings).
fn check_summary(check: &reports::check::DeviceCheck, started: &str) -> String {
    let c = &check.coverage;
    let mut s = format!(
        "full check {} of {} on {} at {started}: {}/{} SMs, {} warp slots observed, {:.1} s",
        check.verdict.name(),
        check.device,
        shim::sys::host_name(),
        c.sms_observed,
        c.sms,
        c.slots_observed,
        check.duration_ms / 1e3
    );
    if !check.findings.is_empty() {
        let findings: Vec<String> = check.findings.iter().map(|f| f.summary()).collect();
        s.push_str(&format!("; {}", findings.join("; ")));
    }
    s
}
