//! What every command that opens a device or runs a program shares: the platform (the
//! machine's GPUs, and virtual GPUs made faulty by `--node-config`) and the subjects
//! (bundled workloads by name, kernel manifests by file).

use anyhow::{bail, Context};
use gpu::{DeviceInfo, NodeConfig, Platform};
use injector::{
    FaultSpec, InjectorFaults, Subject, SubjectOptions, SubjectSource, KERNEL_KIND, WORKLOAD_KIND,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a command's node config comes from: `--node-config FILE` when given, else the
/// environment variable `GPUFAULT_NODE_CONFIG` (`shim::env::NODE_CONFIG`, which the
/// guard sets so that its job sees the same virtual GPUs), else none. Every command
/// reads its node config through this (by [`platform`] or [`node_config_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfigPath {
    /// The file.
    pub path: PathBuf,
    /// How it was named, for messages: `--node-config F` or `GPUFAULT_NODE_CONFIG=F`.
    pub origin: String,
}

/// The node config of `--node-config` (`flag`), else of `GPUFAULT_NODE_CONFIG` (an empty
/// value counts as unset).
pub fn node_config_path(flag: Option<&Path>) -> Option<NodeConfigPath> {
    match flag {
        Some(path) => Some(NodeConfigPath {
            path: path.to_path_buf(),
            origin: format!("--node-config {}", path.display()),
        }),
        None => std::env::var_os(shim::env::NODE_CONFIG)
            .filter(|v| !v.is_empty())
            .map(|v| {
                let path = PathBuf::from(v);
                NodeConfigPath {
                    origin: format!("{}={}", shim::env::NODE_CONFIG, path.display()),
                    path,
                }
            }),
    }
}

/// The platform of this process: CUDA devices and virtual GPUs, with the node config of
/// `--node-config` or `GPUFAULT_NODE_CONFIG` ([`node_config_path`]; its faults armed by
/// the injector's fault factory).
pub fn platform(node_config: Option<&Path>) -> anyhow::Result<Platform> {
    let platform = Platform::new().with_fault_factory(Arc::new(InjectorFaults));
    Ok(match node_config_path(node_config) {
        Some(c) => {
            platform.with_node_config(NodeConfig::load(&c.path).with_context(|| c.origin.clone())?)
        }
        None => platform,
    })
}

/// The text of the node config of `--node-config` or `GPUFAULT_NODE_CONFIG`, checked,
/// for a campaign to store; `None` when there is none.
pub fn node_config_text(flag: Option<&Path>) -> anyhow::Result<Option<String>> {
    let Some(c) = node_config_path(flag) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&c.path).with_context(|| c.origin.clone())?;
    NodeConfig::parse(&text, &c.path.display().to_string()).with_context(|| c.origin.clone())?;
    Ok(Some(text))
}

/// Every kind of subject this program can run (and resume campaigns of): bundled
/// workloads, kernel manifests, and the health check's signature suite (coverage
/// campaigns).
pub fn source() -> SubjectSource {
    let mut s = SubjectSource::standard();
    detector::register_suite(&mut s);
    s
}

/// The subjects of `--workloads` (names or `all`) and `--kernels` (manifest files), in
/// that order.
pub fn subjects(
    workloads: Option<&str>,
    kernels: &[PathBuf],
    options: &SubjectOptions,
) -> anyhow::Result<Vec<Arc<dyn Subject>>> {
    let source = source();
    let mut out = Vec::new();
    if let Some(list) = workloads {
        for name in injector::parse_workloads(list)? {
            out.push(
                source
                    .build(WORKLOAD_KIND, &name, None, options)
                    .with_context(|| format!("--workloads {name}"))?,
            );
        }
    }
    for path in kernels {
        out.push(kernel(path)?);
    }
    if out.is_empty() {
        bail!(
            "--workloads or --kernels is required (workload names or `all`; kernel manifest files)"
        );
    }
    Ok(out)
}

/// The kernel manifest at `path` as a subject. The manifest is named by its absolute
/// path, so a campaign planned here resumes from any working directory (and on the
/// machines of a cluster that share the file system).
pub fn kernel(path: &Path) -> anyhow::Result<Arc<dyn Subject>> {
    let absolute = std::fs::canonicalize(path)
        .with_context(|| format!("--kernel {}: cannot read the manifest", path.display()))?;
    source()
        .build(
            KERNEL_KIND,
            "",
            Some(&absolute.to_string_lossy()),
            &SubjectOptions::default(),
        )
        .with_context(|| format!("--kernel {}", path.display()))
}

/// Checks that `spec` names an SM and warp slots `device` has.
pub fn check_fault_on(spec: &FaultSpec, device: &DeviceInfo) -> anyhow::Result<()> {
    spec.check_device(device.sm_count, device.warp_slots())
        .map_err(|e| anyhow::anyhow!("--fault: {e} ({} {})", device.device, device.name))
}
