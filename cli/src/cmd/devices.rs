//! `gpufault devices`: the devices `auto` can see (CUDA devices first, then the virtual
//! GPU profiles), with identity and telemetry; or the devices named on the command line
//! (`gpufault devices sim:h100*8`).
//!
//! Exit codes: 0 when the listing was printed (also when there is no CUDA device: the
//! last line says why), 2 on a usage error (bad device name, unreadable node config).
//! JSON output (`--json`) is [`gpu::Enumeration`], documented field by field there.

use clap::Args;
use gpu::{DeviceInfo, DeviceSpec, Enumeration, Telemetry};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gpufault devices`.
#[derive(Args)]
pub struct DevicesArgs {
    /// Devices to show (`cuda:0`, `sim:h100*8`, `sim:a100#2`, `auto`); default: every
    /// device `auto` can see.
    specs: Vec<String>,
    /// Print JSON (the `gpu::Enumeration` record) instead of a table.
    #[arg(long)]
    json: bool,
    /// A virtual node config (JSON) that marks virtual GPUs faulty; see `gpu::NodeConfig`.
    /// Default: the file `GPUFAULT_NODE_CONFIG` names, when set.
    #[arg(long, value_name = "FILE")]
    node_config: Option<PathBuf>,
}

/// Runs `gpufault devices`.
pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    let specs = args
        .specs
        .iter()
        .map(|s| s.parse::<DeviceSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let platform = super::subjects::platform(args.node_config.as_deref())?;
    let listing = if specs.is_empty() {
        platform.enumerate()
    } else {
        platform.inspect(&specs)
    };
    super::print_json_or_text(args.json, &listing, |out, listing| {
        out.write_all(render(listing).as_bytes())
    })
}

/// The human table: one row per device, then one line per error, then why there is no
/// CUDA device.
fn render(listing: &Enumeration) -> String {
    let header = [
        "DEVICE",
        "NAME",
        "UUID",
        "PCI BUS ID",
        "CC",
        "SMS",
        "MEMORY",
        "TELEMETRY",
    ];
    let rows: Vec<[String; 8]> = listing.devices.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(&header.map(String::from));
    for r in &rows {
        line(r);
    }
    for (device, error) in &listing.errors {
        text.push_str(&format!("{device}: {error}\n"));
    }
    if let Some(why) = &listing.cuda_unavailable {
        text.push_str(&format!("no CUDA device: {why}\n"));
    }
    text
}

fn row(d: &DeviceInfo) -> [String; 8] {
    [
        d.device.clone(),
        d.name.clone(),
        d.uuid.clone(),
        d.pci_bus_id.clone(),
        d.compute_capability.clone(),
        d.sm_count.to_string(),
        format!("{:.1} GiB", d.memory_bytes as f64 / (1u64 << 30) as f64),
        summary(&d.telemetry, d.fault.as_deref(), d.fault_arrives_at),
    ]
}

/// Temperature, power and PCIe link, then everything out of the ordinary, prefixed `!`.
fn summary(t: &Telemetry, fault: Option<&str>, arrives_at: Option<f64>) -> String {
    let mut parts = Vec::new();
    if let Some(c) = t.temperature_c {
        parts.push(format!("{c}°C"));
    }
    match (t.power_w, t.power_limit_w) {
        (Some(p), Some(l)) => parts.push(format!("{p:.0}/{l:.0} W")),
        (Some(p), None) => parts.push(format!("{p:.0} W")),
        _ => {}
    }
    if let Some(p) = t.pcie {
        parts.push(format!("PCIe gen{} x{}", p.generation, p.width));
        if p.generation < p.max_generation || p.width < p.max_width {
            parts.push(format!(
                "! PCIe below max gen{} x{}",
                p.max_generation, p.max_width
            ));
        }
    }
    if let Some(e) = t.ecc {
        if e.volatile.uncorrected > 0 {
            parts.push(format!("! volatile DBE {}", e.volatile.uncorrected));
        }
    }
    if let Some(r) = t.remapped_rows {
        if r.pending {
            parts.push("! row remap pending".into());
        }
        if r.failure {
            parts.push("! row remap failed".into());
        }
    }
    if let Some(r) = t.retired_pages {
        if r.pending {
            parts.push("! page retirement pending".into());
        }
    }
    if !t.xid_events.is_empty() {
        let xids: Vec<String> = t.xid_events.iter().map(u64::to_string).collect();
        parts.push(format!("! XID {}", xids.join(",")));
    }
    if let Some(a) = t.recovery_action.as_deref().filter(|a| *a != "none") {
        parts.push(format!("! recovery action {a}"));
    }
    match (fault, arrives_at) {
        (Some(f), Some(at)) => parts.push(format!("! fault `{f}` arriving at Unix time {at}")),
        (Some(f), None) => parts.push(format!("! fault `{f}`")),
        _ => {}
    }
    if !t.unavailable.is_empty() {
        let fields: Vec<&str> = t.unavailable.keys().map(String::as_str).collect();
        parts.push(format!("(unknown: {})", fields.join(", ")));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu::{NodeConfig, Platform};

    #[test]
    fn the_table_lists_virtual_gpus_and_says_why_cuda_is_missing() {
        let listing = Platform::new().inspect(&["sim:h100*2".parse().unwrap()]);
        let mut listing = listing;
        listing.cuda_unavailable = Some("libcuda not found (searched libcuda.so)".into());
        let text = render(&listing);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("DEVICE"), "{text}");
        assert!(lines[1].starts_with("sim:h100#0  "), "{text}");
        assert!(lines[2].starts_with("sim:h100#1  "), "{text}");
        assert!(lines[1].contains("gpufault virtual H100"), "{text}");
        assert!(lines[1].contains("PCIe gen5 x16"), "{text}");
        assert!(!lines[1].contains('!'), "healthy: {text}");
        assert_eq!(
            lines[3],
            "no CUDA device: libcuda not found (searched libcuda.so)"
        );
    }

    #[test]
    fn anomalies_are_flagged() {
        let config = NodeConfig::parse(
            r#"{"gpus": {"sim:a100#1": {"fault": "iat sm=1",
                "telemetry": {"remapped_rows": {"pending": true}, "xid_events": [79],
                              "pcie": {"width": 8}}}}}"#,
            "<test>",
        )
        .unwrap();
        let listing = Platform::new()
            .with_node_config(config)
            .inspect(&["sim:a100#1".parse().unwrap()]);
        let text = render(&listing);
        for needle in [
            "! PCIe below max gen4 x16",
            "! row remap pending",
            "! XID 79",
            "! fault `iat sm=1`",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
