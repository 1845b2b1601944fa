//! The health check's report for people (an aligned table, then one line per finding)
//! and as JSON (the serde form of [`CheckReport`]).
//!
//! ```text
//! DEVICE      UUID                                      VERDICT  FINDINGS  COVERAGE     DURATION
//! sim:h100#0  GPU-48793a87-8bc2-2290-87c2-1ad1800320a7  faulty          2  132/132 SMs    1.2 s
//! sim:h100#1  GPU-0f5b8c1e-…                            healthy         0  132/132 SMs    1.1 s
//!
//! sim:h100#0  faulty   SM17 sp2 ws6 warp-scheduler (ids) 3 lanes: tid.x expected 0x11, got 0x15 (12 words)
//! sim:h100#0  faulty   xid=79 (a hardware-class XID: …)
//!
//! node: faulty (2 GPUs; exit 1)
//! ```

use super::table::{Align, Grid};
use super::{duration_us, thousands};
use crate::check::{one_line, CheckReport, DeviceCheck, Evidence, Finding};

/// The report as pretty JSON (two-space indent, trailing newline): the serde form of
/// [`CheckReport`], `schema_version` first, documented field by field in
/// `docs/health-check.md` and by the JSON Schema `docs/health-check.schema.json`.
pub fn render_check_json(report: &CheckReport) -> String {
    // Cannot fail: no map keys, and no Serialize impl of these types returns an error
    // (`duration_ms` is finite: a measured time).
    let mut s = serde_json::to_string_pretty(report).expect("check reports always serialize");
    s.push('\n');
    s
}

/// The report as plain text for a terminal: one row per GPU (device, UUID, verdict,
/// findings, coverage, duration), then one line per finding and per thing that kept a
/// GPU's check from being complete, then the node's verdict and exit code.
pub fn render_check_table(report: &CheckReport) -> String {
    let mut grid = Grid::new();
    grid.col("DEVICE", Align::Left)
        .col("UUID", Align::Left)
        .col("VERDICT", Align::Left)
        .col("FINDINGS", Align::Right)
        .col("COVERAGE", Align::Right)
        .col("DURATION", Align::Right);
    for d in &report.devices {
        grid.row(vec![
            d.device.clone(),
            if d.uuid.is_empty() {
                "-".into()
            } else {
                d.uuid.clone()
            },
            d.verdict.name().into(),
            thousands(d.findings.len() as u64),
            coverage(d),
            duration_us((d.duration_ms * 1e3).max(0.0) as u64),
        ]);
    }
    let mut out = grid.render(None, 0);
    let lines: Vec<(&str, String)> = report
        .devices
        .iter()
        .flat_map(|d| {
            detail_lines(d)
                .into_iter()
                .map(move |l| (d.device.as_str(), l))
        })
        .collect();
    if !lines.is_empty() {
        out.push('\n');
        let width = lines
            .iter()
            .map(|(d, _)| d.chars().count())
            .max()
            .unwrap_or(0);
        for (device, line) in &lines {
            out.push_str(&format!("{device:<width$}  {line}\n"));
        }
    }
    out.push_str(&format!(
        "\nnode: {} ({} GPU{}; exit {})\n",
        report.verdict.name(),
        report.devices.len(),
        if report.devices.len() == 1 { "" } else { "s" },
        report.verdict.exit().code()
    ));
    out
}

/// `131/132 SMs`, or `-` when the device reported no SMs (it could not be inspected).
fn coverage(d: &DeviceCheck) -> String {
    if d.coverage.sms == 0 {
        "-".into()
    } else {
        format!("{}/{} SMs", d.coverage.sms_observed, d.coverage.sms)
    }
}

/// Finding lines shown per GPU under the table; the rest are counted (`--json` has all).
/// One faulty SM can disturb every warp slot it holds (64 findings), and an operator
/// needs the SM, not 64 lines.
pub const FINDING_LINES: usize = 8;

/// The lines under the table for one GPU: its first [`FINDING_LINES`] findings (and how
/// many more, on which SMs), what kept its check from being complete, the rules that
/// could not be evaluated.
fn detail_lines(d: &DeviceCheck) -> Vec<String> {
    let mut lines: Vec<String> = d
        .findings
        .iter()
        .take(FINDING_LINES)
        .map(|f| format!("{:<8} {}", severity_name(f), finding_line(f)))
        .collect();
    let rest = &d.findings[d.findings.len().min(FINDING_LINES)..];
    if !rest.is_empty() {
        let sms: std::collections::BTreeSet<u32> = rest.iter().filter_map(Finding::sm).collect();
        let on = match sms.len() {
            0 => String::new(),
            1..=8 => format!(
                " on SM{} {}",
                if sms.len() == 1 { "" } else { "s" },
                sms.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            n => format!(" on {n} SMs"),
        };
        lines.push(format!(
            "{:<8} {} more finding{}{on} (--json lists every one)",
            "",
            thousands(rest.len() as u64),
            if rest.len() == 1 { "" } else { "s" },
        ));
    }
    if let Some(reason) = &d.reason {
        lines.push(format!("{:<8} {}", "unknown", one_line(reason)));
    }
    for r in &d.rules_not_evaluated {
        let what = if r.not_supported {
            "not supported here"
        } else {
            "not evaluated"
        };
        lines.push(format!(
            "{:<8} rule {} {what}: {}",
            "note",
            r.rule,
            one_line(&r.reason)
        ));
    }
    lines
}

fn severity_name(f: &Finding) -> &'static str {
    match f.severity {
        crate::check::Severity::Faulty => "faulty",
        crate::check::Severity::Degraded => "degraded",
    }
}

/// A finding's summary with its details.
fn finding_line(f: &Finding) -> String {
    let summary = f.summary();
    match &f.evidence {
        Evidence::Signature {
            word,
            expected,
            actual,
            words,
            majority,
            ..
        } => format!(
            "{summary}: {word} expected {expected:#x}, got {actual:#x} ({} word{}){}",
            thousands(u64::from(*words)),
            if *words == 1 { "" } else { "s" },
            match majority {
                // the second opinion is worth a word only where it differs from the CPU
                Some(m) if m != expected => format!("; most SMs wrote {m:#x}"),
                _ => String::new(),
            }
        ),
        Evidence::KernelError { .. } => summary,
        Evidence::Rule { limit, .. } => format!("{summary} (limit: {})", one_line(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::sample;

    #[test]
    fn the_table_has_one_row_per_gpu_then_one_line_per_finding() {
        let text = render_check_table(&sample());
        insta::assert_snapshot!(text);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DEVICE"), "{text}");
        assert!(lines
            .last()
            .unwrap()
            .starts_with("node: faulty (4 GPUs; exit 1)"));
    }

    #[test]
    fn a_gpu_with_many_findings_shows_the_first_and_counts_the_rest_with_their_sms() {
        let mut report = sample();
        let first = report.devices[0].findings[0].clone();
        let on = |sm: u32, slot: u32| {
            let mut f = first.clone();
            if let Evidence::Signature {
                sm: s, warp_slot, ..
            } = &mut f.evidence
            {
                (*s, *warp_slot) = (sm, slot);
            }
            f
        };
        report.devices[0].findings = (0..30).map(|slot| on(17, slot)).collect();
        report.devices[0].findings.push(on(40, 0));
        let text = render_check_table(&report);
        let device = &report.devices[0].device;
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{device} ")))
            .skip(1) // the table row
            .collect();
        assert_eq!(
            mine.iter().filter(|l| l.contains("SM17 sp")).count(),
            FINDING_LINES,
            "{text}"
        );
        assert!(
            mine.iter()
                .any(|l| l.ends_with("23 more findings on SMs 17, 40 (--json lists every one)")),
            "{text}"
        );
        assert!(!text.contains("SM40 sp"), "{text}");
    }

    #[test]
    fn json_is_the_serde_form_and_reads_back() {
        let report = sample();
        let text = render_check_json(&report);
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n"), "{text}");
        assert_eq!(
            serde_json::from_str::<CheckReport>(&text).unwrap(),
            report,
            "round trip"
        );
    }
}
