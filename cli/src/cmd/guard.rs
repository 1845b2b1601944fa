//! `gpufault guard [OPTIONS] -- CMD…`: runs a training job with only healthy GPUs and
//! restarts it from its checkpoint on the healthy ones when one turns faulty
//! (`shim::guard`, `docs/guard.md`).
//!
//! Exit codes (`reports::exit::GuardExit`): 0 the job completed (its completion marker),
//! 1 it did not and the restart budget is spent, 2 usage error, 3 too few healthy GPUs,
//! 130/143 the guard was stopped by SIGINT/SIGTERM (forwarded to the job).

use anyhow::Context;
use clap::Args;
use detector::{CheckOptions, Level};
use gpu::{DeviceSpec, WorkerCommand};
use reports::exit::GuardExit;
use shim::guard::{EventLog, GuardConfig};
use shim::ledger::Ledger;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `gpufault guard`.
#[derive(Args)]
pub struct GuardArgs {
    /// The GPUs the job may use (comma-separated or repeated): `cuda:0`,
    /// `cuda:GPU-<uuid>`, `sim:h100*4` (a virtual node), `auto` (every CUDA GPU, else the
    /// virtual GPU `sim`). Default: `auto`.
    #[arg(long, value_delimiter = ',', value_name = "DEVICES")]
    devices: Vec<String>,
    /// A virtual node config (JSON) giving virtual GPUs faults; passed on to the job in
    /// GPUFAULT_NODE_CONFIG. Default: $GPUFAULT_NODE_CONFIG.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// The quarantine ledger. Default: $GPUFAULT_LEDGER, else
    /// /var/lib/gpufault/quarantine.json as root, else $XDG_STATE_HOME/gpufault/quarantine.json.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// Fewest GPUs the job may run on; with fewer healthy ones the guard exits 3 (requeue
    /// the job elsewhere).
    #[arg(long, value_name = "N", default_value_t = 1)]
    min_devices: usize,
    /// How many times the job may be restarted after its first start.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_restarts: u32,
    /// Seconds the job gets to checkpoint and stop after SIGTERM before its processes are
    /// killed.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    grace: Duration,
    /// Seconds between short health checks of the GPUs in use while the job runs (0:
    /// none). Each check of a virtual H100 costs ~0.7 s of CPU per GPU; see docs/guard.md.
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = parse_secs_or_zero)]
    check_every: Duration,
    /// How thorough every check is: `quick` or `full`.
    #[arg(long, value_name = "LEVEL", default_value = "quick", value_parser = ["quick", "full"])]
    level: String,
    /// How long one GPU's check may take, in seconds; a GPU not done by then is unknown
    /// (not used, not quarantined).
    #[arg(long, value_name = "SECS", default_value = "120", value_parser = parse_secs)]
    check_timeout: Duration,
    /// The job's progress file (GPUFAULT_PROGRESS_FILE in its environment). Default: a
    /// file in the temporary directory, removed at the end.
    #[arg(long, value_name = "FILE")]
    progress: Option<PathBuf>,
    /// Which checkpoint a restart after a fault may resume from: `trusted` (the newest
    /// one written before the last clean check of the GPUs; GPUFAULT_RESUME_AT_MOST) or
    /// `newest` (whatever the job wrote last: fewer steps lost, but a checkpoint written
    /// after the fault appeared may carry its corruption). See docs/guard.md.
    #[arg(long, value_name = "WHICH", default_value = "trusted", value_parser = ["trusted", "newest"])]
    resume: String,
    /// The job's shared resume-limit file, on a file system every node of the job sees
    /// (next to the checkpoints): after a quarantine this guard lowers the limit in it to
    /// the checkpoint it trusts, and every trainer of the job, on every node, resumes at
    /// or below it (GPUFAULT_RESUME_LIMIT_FILE). Give every guard of a job the same file.
    /// Default: none. See docs/guard.md.
    #[arg(long, value_name = "FILE")]
    resume_limit_file: Option<PathBuf>,
    /// Append the event log (JSON Lines) to FILE instead of standard error.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Seconds, more than 0, at most a day.
fn parse_secs(s: &str) -> Result<Duration, String> {
    match parse_secs_or_zero(s)? {
        d if d.is_zero() => Err(format!("`{s}`: must be more than 0 seconds")),
        d => Ok(d),
    }
}

/// Seconds, 0 to a day.
fn parse_secs_or_zero(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{s}`: seconds from 0 to 86400"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `gpufault guard`.
pub fn run(args: GuardArgs) -> anyhow::Result<ExitCode> {
    let default_progress = args.progress.is_none();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpufault: error: {e:#}");
            return Ok(GuardExit::Usage.into());
        }
    };
    let progress_file = config.progress_file.clone();
    let mut log = EventLog::new(match &args.events {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--events {}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    });
    if let Err(e) = shim::guard::become_subreaper() {
        eprintln!("gpufault guard: warning: cannot become the job's subreaper ({e}); processes that leave the job's tree are found by their environment only");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .context("installing the signal handlers")?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if tx.send(sig).is_err() {
                break;
            }
        }
    });
    let outcome = shim::guard::run(config, &mut log, &rx);
    if default_progress {
        let _ = std::fs::remove_file(&progress_file);
    }
    let _ = writeln!(
        std::io::stderr(),
        "gpufault guard: {} (exit {}, {} restart{})",
        outcome.reason,
        outcome.exit.code(),
        outcome.restarts,
        if outcome.restarts == 1 { "" } else { "s" }
    );
    Ok(outcome.exit.into())
}

fn config(args: &GuardArgs) -> anyhow::Result<GuardConfig> {
    let specs = args
        .devices
        .iter()
        .map(|s| {
            s.parse::<DeviceSpec>()
                .with_context(|| format!("--devices {s}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let node_config = match &args.node_config {
        Some(p) => Some(p.clone()),
        None => std::env::var_os(shim::env::NODE_CONFIG).map(PathBuf::from),
    };
    let node_config = node_config
        .map(|p| absolute(&p).with_context(|| format!("--node-config {}", p.display())))
        .transpose()?;
    let platform = super::subjects::platform(node_config.as_deref())?;
    let pci_gpus = detector::nvidia_gpus_on_pci(Path::new("/sys/bus/pci/devices"));
    let selection = detector::select_devices(&platform, &specs, pci_gpus);
    for note in &selection.notes {
        eprintln!("gpufault guard: {note}");
    }
    if args.min_devices == 0 {
        anyhow::bail!("--min-devices 0: a job needs at least one GPU");
    }
    let ledger = Ledger::at(args.ledger.clone().unwrap_or_else(Ledger::default_path));
    let progress_file = match &args.progress {
        Some(p) => absolute(p).with_context(|| format!("--progress {}", p.display()))?,
        None => std::env::temp_dir().join(format!(
            "gpufault-guard-{}.progress.json",
            std::process::id()
        )),
    };
    Ok(GuardConfig {
        command: args.command.clone(),
        devices: selection.devices,
        platform,
        node_config,
        ledger,
        min_devices: args.min_devices,
        max_restarts: args.max_restarts,
        grace: args.grace,
        check_every: (!args.check_every.is_zero()).then_some(args.check_every),
        check: CheckOptions {
            level: if args.level == "full" {
                Level::Full
            } else {
                Level::Quick
            },
            timeout: args.check_timeout,
            worker: Some(WorkerCommand::gpufault_self()?),
        },
        progress_file,
        poll: Duration::from_millis(50),
        trusted_checkpoints: args.resume == "trusted",
        resume_limit_file: args
            .resume_limit_file
            .as_deref()
            .map(|p| absolute(p).with_context(|| format!("--resume-limit-file {}", p.display())))
            .transpose()?,
    })
}

/// `p` made absolute against the current directory (the job may change directory);
/// the file need not exist.
fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    std::path::absolute(p)
}
