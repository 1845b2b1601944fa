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

/// The platform of this process: CUDA devices and virtual GPUs, with the node config of
/// `--node-config` (its faults armed by the injector's fault factory).
pub fn platform(node_config: Option<&Path>) -> anyhow::Result<Platform> {
    let platform = Platform::new().with_fault_factory(Arc::new(InjectorFaults));
    Ok(match node_config {
        Some(path) => platform.with_node_config(
            NodeConfig::load(path).with_context(|| format!("--node-config {}", path.display()))?,
        ),
        None => platform,
    })
}

/// The text of a node config file, checked, for a campaign to store.
pub fn node_config_text(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--node-config {}", path.display()))?;
    NodeConfig::parse(&text, &path.display().to_string())
        .with_context(|| format!("--node-config {}", path.display()))?;
    Ok(text)
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
