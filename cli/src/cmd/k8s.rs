//! `gpufault npd` and `gpufault k8s taint-advice`: Kubernetes (`shim::k8s`,
//! `docs/kubernetes.md`).
//!
//! - `npd`: a node-problem-detector custom plugin: the passive check of the node's GPUs
//!   (the quarantine ledger and NVML telemetry rules, no GPU work); one line on stdout
//!   (at most 256 printable ASCII characters) and `reports::exit::NpdExit` (0 OK, 1
//!   problem, 2 unknown — also for usage errors).
//! - `k8s taint-advice`: the node taint and, per quarantined GPU, a DRA
//!   `DeviceTaintRule`, as YAML (`kubectl apply -f -`) or JSON; exit 0 printed, 1
//!   printed but incomplete (a GPU's rule left out: its DRA device name is unknown; or a
//!   GPU that could not be inspected), 2 usage error.

use anyhow::Context;
use clap::{Args, Subcommand};
use gpu::{DeviceSpec, Platform};
use reports::exit::Exit;
use shim::k8s::{AdviceOptions, K8sRelease};
use shim::ledger::Ledger;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the node's GPUs come from, and the ledger (both commands).
#[derive(Args)]
pub struct NodeArgs {
    /// The node's GPUs (comma-separated or repeated): `cuda:0`, `cuda:GPU-<uuid>`,
    /// `sim:h100*4` (a virtual node). Default: the node's CUDA GPUs (none: a node without
    /// GPUs; NVIDIA GPUs on the PCI bus that CUDA cannot open: `cuda:0…`, unknown).
    #[arg(long, value_delimiter = ',', value_name = "DEVICES")]
    devices: Vec<String>,
    /// A virtual node config (JSON) giving virtual GPUs bad telemetry or faults. Default:
    /// $GPUFAULT_NODE_CONFIG.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
    /// The quarantine ledger. Default: $GPUFAULT_LEDGER, else
    /// /var/lib/gpufault/quarantine.json as root, else $XDG_STATE_HOME/gpufault/quarantine.json.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
}

/// Arguments of `gpufault npd`.
#[derive(Args)]
pub struct NpdArgs {
    #[command(flatten)]
    node: NodeArgs,
}

/// Arguments of `gpufault k8s`.
#[derive(Args)]
pub struct K8sArgs {
    #[command(subcommand)]
    command: K8sCommand,
}

#[derive(Subcommand)]
enum K8sCommand {
    /// Print the node taint and, per quarantined GPU, a DRA DeviceTaintRule (YAML for `kubectl apply -f -`, or JSON).
    TaintAdvice(TaintAdviceArgs),
}

/// Arguments of `gpufault k8s taint-advice`.
#[derive(Args)]
struct TaintAdviceArgs {
    #[command(flatten)]
    node_args: NodeArgs,
    /// The Kubernetes node name (also the DRA pool of its GPUs). Default: $NODE_NAME
    /// (set it from the pod's spec.nodeName), else the host name in lower case.
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// `yaml` (the rules as documents for `kubectl apply -f -`, the rest as comments) or
    /// `json` (the whole advice).
    #[arg(long, value_name = "FORMAT", default_value = "yaml", value_parser = ["yaml", "json"])]
    format: String,
    /// The Kubernetes release the rules are for: 1.33 and 1.34 (resource.k8s.io/v1alpha3,
    /// the GPU matched by UUID with CEL), 1.35 (v1alpha3), 1.36 (v1beta2), 1.37 (v1): the
    /// GPU by its DRA device name.
    #[arg(long, value_name = "VERSION", default_value = "1.37", value_parser = K8sRelease::parse)]
    kubernetes: K8sRelease,
    /// The taint key, for the node and the devices.
    #[arg(long, value_name = "KEY", default_value = shim::k8s::DEFAULT_TAINT_KEY)]
    taint_key: String,
    /// The devices' taint effect: NoSchedule (new pods only) or NoExecute (also evicts
    /// running pods that use the GPU). The node taint is always NoSchedule.
    #[arg(long, value_name = "EFFECT", default_value = "NoSchedule")]
    effect: String,
    /// The DRA driver that publishes the GPUs.
    #[arg(long, value_name = "NAME", default_value = shim::k8s::NVIDIA_DRA_DRIVER)]
    dra_driver: String,
}

/// The node's GPUs, the platform and the ledger of `args`.
fn node(args: &NodeArgs) -> anyhow::Result<(Platform, Vec<String>, Ledger)> {
    let platform = super::subjects::platform(args.node_config.as_deref())?;
    let pci = || detector::nvidia_gpus_on_pci(Path::new("/sys/bus/pci/devices"));
    let names = if args.devices.is_empty() {
        shim::passive::node_gpus(&platform, None, pci)
    } else {
        let specs = args
            .devices
            .iter()
            .map(|s| {
                s.parse::<DeviceSpec>()
                    .with_context(|| format!("--devices {s}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        detector::select_devices(&platform, &specs, pci())
            .devices
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let ledger = Ledger::at(args.ledger.clone().unwrap_or_else(Ledger::default_path));
    Ok((platform, names, ledger))
}

/// Runs `gpufault npd`: one line on stdout, the NPD exit code. Nothing it meets is
/// reported as OK: every error is the line of an unknown result (and on stderr).
pub fn npd(args: NpdArgs) -> anyhow::Result<ExitCode> {
    let result = match node(&args.node) {
        Ok((platform, names, ledger)) => shim::k8s::npd(&platform, &names, &ledger),
        Err(e) => {
            eprintln!("gpufault npd: error: {e:#}");
            shim::k8s::unknown(&format!("{e:#}"))
        }
    };
    println!("{}", result.line);
    Ok(result.exit.into())
}

/// Runs `gpufault k8s …`.
pub fn run(args: K8sArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        K8sCommand::TaintAdvice(a) => taint_advice(a),
    }
}

fn taint_advice(args: TaintAdviceArgs) -> anyhow::Result<ExitCode> {
    let options = AdviceOptions {
        node: match args.node {
            Some(n) => n,
            None => std::env::var("NODE_NAME")
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| shim::sys::host_name().to_ascii_lowercase()),
        },
        release: args.kubernetes,
        taint_key: args.taint_key,
        effect: args.effect,
        driver: args.dra_driver,
    };
    options.validate()?;
    let (platform, names, ledger) = node(&args.node_args)?;
    let mut gpus = shim::passive::inspect(&platform, &names);
    let file = ledger.read()?;
    shim::passive::judge(&mut gpus, &file);
    let proc = Path::new("/proc");
    let advice = shim::k8s::taint_advice(&gpus, &file, &options, &|g| {
        shim::k8s::dra_device_name(g, proc)
    });
    let text = if args.format == "json" {
        reports::k8s::render_taint_advice_json(&advice)
    } else {
        reports::k8s::render_taint_advice_yaml(&advice)
    };
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    for u in &advice.unresolved {
        eprintln!(
            "gpufault k8s taint-advice: {u}: its DRA device name is unknown (no /proc/driver/nvidia/gpus entry for its bus id): no DeviceTaintRule for it; Kubernetes {} selects devices by name",
            options.release
        );
    }
    for u in &advice.uninspected {
        eprintln!("gpufault k8s taint-advice: {u}: not inspected, so not covered by the advice");
    }
    if advice.unresolved.is_empty() && advice.uninspected.is_empty() {
        Ok(Exit::Success.into())
    } else {
        Ok(Exit::FoundProblem.into())
    }
}
