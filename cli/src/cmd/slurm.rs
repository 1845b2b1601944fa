//! `gpufault slurm prolog|epilog|healthcheck`: the programs slurmd runs (`Prolog=`,
//! `Epilog=`, `HealthCheckProgram=` in `slurm.conf`, through a one-line wrapper script),
//! `shim::slurm`. See `docs/slurm.md`.
//!
//! - `prolog`, `epilog`: check the job's GPUs (`SLURM_JOB_GPUS` / `CUDA_VISIBLE_DEVICES`);
//!   on a faulty or quarantined GPU drain the node (`scontrol`, arguments as a vector)
//!   with a `gpufault:` reason, record the GPU in the quarantine ledger, exit 1.
//! - `healthcheck`: passive (ledger and telemetry rules, no GPU work); drains a node with
//!   a quarantined GPU, undrains a node gpufault drained once its GPUs are released.
//!
//! Each run prints one line on stderr (slurmd logs a failing prolog's output) and, when
//! the configuration names a `log`, appends its record (`reports::slurm::HookRecord`) to
//! it. Exit codes: `reports::exit::SlurmExit` (0 ok, 1 drained, 2 error, 3 unknown).

use clap::{Args, Subcommand};
use reports::exit::SlurmExit;
use reports::slurm::HookRecord;
use shim::ledger::Ledger;
use shim::slurm::{config, Context, Hook, JobEnv, Scontrol};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gpufault slurm`.
#[derive(Args)]
pub struct SlurmArgs {
    /// The configuration file (TOML, docs/slurm.md). Default: `$GPUFAULT_SLURM_CONFIG`,
    /// else /etc/gpufault/slurm.toml when it exists.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The Slurm node name. Default: `$SLURMD_NODENAME` (set by slurmd), else the short
    /// host name.
    #[arg(long, value_name = "NAME", global = true)]
    node: Option<String>,
    #[command(subcommand)]
    command: SlurmCommand,
}

#[derive(Subcommand)]
enum SlurmCommand {
    /// `Prolog=`: check the job's GPUs before it starts; drain the node and exit 1 on a faulty or quarantined GPU (Slurm requeues the job).
    Prolog,
    /// `Epilog=`: check the job's GPUs after it ended; drain the node and exit 1 on a faulty or quarantined GPU.
    Epilog,
    /// `HealthCheckProgram=`: passive (ledger and telemetry, no GPU work); drain a node with quarantined GPUs, undrain one gpufault drained once they are released.
    Healthcheck,
}

/// Runs `gpufault slurm …`; every error is reported on stderr with exit 2.
pub fn run(args: SlurmArgs) -> anyhow::Result<ExitCode> {
    let hook = match args.command {
        SlurmCommand::Prolog => Hook::Prolog,
        SlurmCommand::Epilog => Hook::Epilog,
        SlurmCommand::Healthcheck => Hook::HealthCheck,
    };
    let ctx = match context(args.config, args.node.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpufault slurm {}: error: {e:#}", hook.name());
            return Ok(SlurmExit::Usage.into());
        }
    };
    let record = match hook {
        Hook::HealthCheck => shim::slurm::health_check(&ctx),
        _ => shim::slurm::job_check(&ctx, hook, &JobEnv::from_env()),
    };
    eprintln!("{}", summary(&record));
    if let Some(log) = &ctx.settings.log {
        if let Err(e) = shim::slurm::append_record(log, &record) {
            eprintln!("gpufault slurm {}: warning: {e}", hook.name());
        }
    }
    Ok(ExitCode::from(record.exit))
}

/// The node's context from the configuration file and the environment.
fn context(config: Option<PathBuf>, node: Option<&str>) -> anyhow::Result<Context> {
    let node = shim::slurm::node_name(
        node,
        std::env::var_os(shim::slurm::NODE_NAME_ENV),
        &shim::sys::host_name(),
    )?;
    let (path, required) =
        config::config_path(config.as_deref(), std::env::var_os(config::CONFIG_ENV));
    let settings = config::load(&path, required, &node)?;
    let platform = super::subjects::platform(settings.node_config.as_deref())?;
    let ledger = Ledger::at(settings.ledger.clone().unwrap_or_else(Ledger::default_path));
    let scontrol = match &settings.scontrol {
        Some(p) => Scontrol::at(p),
        None => Scontrol::find(std::env::var_os("PATH").as_deref()),
    };
    Ok(Context {
        node,
        settings,
        platform,
        ledger,
        scontrol,
        worker: Some(gpu::WorkerCommand::gpufault_self()?),
    })
}

/// `gpufault slurm prolog n2 job 17: faulty, drained: gpufault: faulty: GPU-… (check
/// 840 ms, drain 14 ms, total 912 ms)`.
fn summary(r: &HookRecord) -> String {
    let mut s = format!("gpufault slurm {} {}", r.hook, r.node);
    if let Some(j) = &r.job_id {
        s.push_str(&format!(" job {j}"));
    }
    s.push_str(&format!(": {}", r.verdict));
    if r.action != reports::slurm::HookAction::None {
        s.push_str(&format!(", {}", r.action.name().replace('_', " ")));
    }
    if let Some(reason) = &r.reason {
        s.push_str(&format!(": {reason}"));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(" (error: {e})"));
    }
    let t = &r.timings;
    let mut times = Vec::new();
    for (name, v) in [
        ("check", t.check_ms),
        ("drain", t.drain_ms),
        ("ledger", t.ledger_ms),
    ] {
        if let Some(v) = v {
            times.push(format!("{name} {v:.0} ms"));
        }
    }
    times.push(format!("total {:.0} ms", t.total_ms));
    s.push_str(&format!(" ({})", times.join(", ")));
    s
}
