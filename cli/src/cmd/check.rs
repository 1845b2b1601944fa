//! `gpufault check [DEVICES…]`: the GPU health check (design.md §2.6). Every GPU named
//! (default `auto`: every CUDA GPU, else the virtual GPU `sim`) is checked at once, one
//! worker process each: signature kernels on every SM and warp slot, NVML health rules;
//! one verdict per GPU and one for the node. See `docs/health-check.md`.
//!
//! Output: a table (stdout), or `--json` (the `reports::check::CheckReport`), or
//! `--reason` (one line of at most 256 characters); `--prometheus FILE` writes the
//! Prometheus text besides, atomically. Progress is drawn on stderr on a terminal only.
//!
//! Exit codes (`reports::exit::CheckExit`, the node's verdict): 0 healthy, 1 faulty, 2
//! degraded, 3 unknown. Everything that keeps the check from running or reporting — a
//! bad flag or device name (clap's parse errors included: see [`parse_error`]), an
//! unreadable node config, an unwritable `--prometheus` file — is 3 as well, never the
//! general usage code 2, which would read as "degraded".

use anyhow::{bail, Context};
use clap::Args;
use detector::{CheckOptions, Level, Progress};
use gpu::{DeviceSpec, WorkerCommand};
use reports::check::CheckReport;
use reports::exit::CheckExit;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Arguments of `gpufault check`.
#[derive(Args)]
pub struct CheckArgs {
    /// GPUs to check: `cuda:0`, `cuda:GPU-<uuid>`, `sim:h100*8` (a virtual node),
    /// `sim:h100#3`, `auto` (every CUDA GPU, else the virtual GPU `sim`). Default: `auto`.
    devices: Vec<String>,
    /// A virtual node config (JSON) that gives virtual GPUs faults and bad telemetry; see
    /// `gpu::NodeConfig`.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// How thorough: `quick` (every signature kernel once) or `full`.
    #[arg(long, value_name = "LEVEL", default_value = "quick", value_parser = ["quick", "full"])]
    level: String,
    /// Print the report as JSON (documented in docs/health-check.md).
    #[arg(long, conflicts_with = "reason")]
    json: bool,
    /// Also write the Prometheus text exposition to FILE (all or nothing), with
    /// dcgm-exporter's label names.
    #[arg(long, value_name = "FILE")]
    prometheus: Option<PathBuf>,
    /// Print one line of at most 256 characters (for `scontrol … Reason=` and
    /// node-problem-detector) instead of the table.
    #[arg(long)]
    reason: bool,
    /// How long one GPU's check may take, in seconds (the GPUs run at once); a GPU not
    /// done by then is `unknown`.
    #[arg(long, value_name = "SECS", default_value = "120", value_parser = parse_timeout)]
    timeout: Duration,
    /// Check one GPU with a permanent fault injected by instrumentation (a fault spec,
    /// see `gpufault models`): on a CUDA GPU every module the check loads is instrumented
    /// with the fault armed — the code and descriptor a virtual GPU carrying the same
    /// fault runs, so the verdicts on both can be compared; on a virtual GPU the same as
    /// the fault in a node config. One GPU; no node config is read.
    #[arg(long, value_name = "SPEC", conflicts_with = "node_config")]
    inject: Option<String>,
}

/// `--timeout`: seconds, more than 0, at most a day.
pub(crate) fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{s}`: the timeout must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The exit of a command line clap could not parse: for `gpufault check`, its message
/// on stderr and [`CheckExit::Unknown`] (3) — a check that did not run is never 0, and
/// clap's usual 2 would read as "degraded"; for every other command (and for `--help`
/// and `--version`, which are not errors) what clap does.
pub fn parse_error(e: clap::Error) -> ExitCode {
    let _ = e.print();
    let is_check = std::env::args_os().nth(1).is_some_and(|a| a == "check");
    if is_check && e.use_stderr() {
        CheckExit::Unknown.into()
    } else {
        ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
    }
}

/// Runs `gpufault check`; every error is reported here and exits 3.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match check(args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("gpufault: error: {e:#}");
            Ok(CheckExit::Unknown.into())
        }
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let specs = args
        .devices
        .iter()
        .map(|s| s.parse::<DeviceSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let level = match args.level.as_str() {
        "full" => Level::Full,
        _ => Level::Quick,
    };
    if let Some(p) = &args.prometheus {
        if p.as_os_str().is_empty() || p.is_dir() {
            bail!("--prometheus {}: not a file name", p.display());
        }
    }
    let platform = match &args.inject {
        None => super::subjects::platform(args.node_config.as_deref())?,
        Some(text) => injected(&specs, text)?,
    };
    // A GPU node with a broken driver must not be checked as a virtual GPU.
    let mut pci_gpus = detector::nvidia_gpus_on_pci(Path::new("/sys/bus/pci/devices"));
    if std::env::var_os("GPUFAULT_REQUIRE_GPU").is_some_and(|v| v == "1") {
        pci_gpus = pci_gpus.max(1);
    }
    let selection = detector::select_devices(&platform, &specs, pci_gpus);
    for note in &selection.notes {
        eprintln!("gpufault: {note}");
    }
    let options = CheckOptions {
        level,
        timeout: args.timeout,
        worker: Some(WorkerCommand::gpufault_self()?),
    };
    let started = injector::rfc3339(SystemTime::now());
    let bar = super::campaign::new_bar(selection.devices.len() as u64, 0, "checking GPUs");
    let checks = detector::check_node(&platform, &selection.devices, &options, &mut |p| {
        if let (Some(b), Progress::Finished { done, .. }) = (&bar, p) {
            b.set_position(done as u64);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = CheckReport::new(
        env!("CARGO_PKG_VERSION"),
        &shim::sys::host_name(),
        &started,
        level.name(),
        checks,
    );
    let text = if args.json {
        reports::render_check_json(&report)
    } else if args.reason {
        format!("{}\n", reports::render_check_reason(&report))
    } else {
        reports::render_check_table(&report)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if let Some(path) = &args.prometheus {
        shim::sys::write_atomic(path, reports::render_check_prometheus(&report).as_bytes())
            .with_context(|| format!("--prometheus {}", path.display()))?;
    }
    Ok(report.verdict.exit().into())
}

/// The platform of `--inject SPEC`: the one GPU of `specs` carrying the fault
/// ([`injector::platform_with_fault`]), checked against the GPU where it can be inspected.
fn injected(specs: &[DeviceSpec], text: &str) -> anyhow::Result<gpu::Platform> {
    let fault = injector::FaultSpec::parse(text).with_context(|| format!("--inject {text}"))?;
    let [spec] = specs else {
        bail!(
            "--inject: name exactly one GPU to carry the fault (`cuda:0`, `cuda:GPU-…`, `sim:h100#1`; no node, no `auto`, no `@SEED`)"
        );
    };
    let platform = injector::platform_with_fault(spec, &fault)
        .map_err(|e| anyhow::anyhow!("--inject: name exactly one GPU to carry the fault: {e}"))?;
    match (spec, platform.info(spec)) {
        // a virtual GPU's fault is checked against it when it is inspected
        (DeviceSpec::Sim(_), Err(e)) => {
            return Err(e).with_context(|| format!("--inject {text}: on {spec}"))
        }
        (DeviceSpec::Cuda(_), Ok(info)) => fault
            .check_device(info.sm_count, info.warp_slots())
            .with_context(|| format!("--inject {text}: on {spec}"))?,
        // a GPU that cannot be inspected comes out unknown, with its reason, in the check
        _ => {}
    }
    Ok(platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("120"), Ok(Duration::from_secs(120)));
        for bad in ["0", "-1", "nan", "inf", "1e9", "x", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
