//! The health check as one line of at most [`REASON_MAX_LEN`] characters: the reason a
//! Slurm prolog writes into `scontrol update NodeName=… State=DRAIN Reason="…"`, and the
//! one line of stdout node-problem-detector's custom plugins print.
//!
//! ```text
//! gpufault: faulty: GPU-48793a87-8bc2-2290-87c2-1ad1800320a7 SM17 sp2 ws6 warp-scheduler (ids) 3 lanes (+2 more); GPU-… pcie_link=gen5 x8
//! ```

use crate::check::{one_line, CheckReport, DeviceCheck, Verdict};

/// The longest reason line [`render_check_reason`] writes, in bytes (and characters: it
/// writes ASCII only).
pub const REASON_MAX_LEN: usize = 256;

/// One line (no line feed) of at most [`REASON_MAX_LEN`] ASCII characters: `gpufault:`,
/// the node's verdict, then one part per GPU that is not healthy, the worst first: its
/// UUID (its device name when it has none) and its first finding (`SM17 sp2 ws6
/// warp-scheduler (ids) 3 lanes`, `xid=79`), `(+N more)` when it has more, or why its
/// check is incomplete. Parts that do not fit are counted at the end (`+3 more GPUs`); a
/// part too long on its own is cut, ending in `...`. A healthy node gives
/// `gpufault: healthy: N GPUs checked`.
pub fn render_check_reason(report: &CheckReport) -> String {
    let prefix = format!("gpufault: {}: ", report.verdict.name());
    let mut devices: Vec<&DeviceCheck> = report
        .devices
        .iter()
        .filter(|d| d.verdict != Verdict::Healthy)
        .collect();
    if devices.is_empty() {
        let n = report.devices.len();
        return ascii(&format!(
            "{prefix}{n} GPU{} checked",
            if n == 1 { "" } else { "s" }
        ));
    }
    devices.sort_by_key(|d| std::cmp::Reverse(d.verdict)); // stable: the report's order within a verdict
    let parts: Vec<String> = devices.iter().map(|d| ascii(&part(d))).collect();
    let more = |k: usize| format!("; +{k} more GPU{}", if k == 1 { "" } else { "s" });
    let mut line = prefix.clone();
    for (i, p) in parts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let rest = parts.len() - i - 1;
        let reserve = if rest > 0 { more(rest).len() } else { 0 };
        if line.len() + sep.len() + p.len() + reserve <= REASON_MAX_LEN {
            line.push_str(sep);
            line.push_str(p);
            continue;
        }
        if i == 0 {
            // the worst GPU's part, cut to fit (with room for the count of the others)
            let room = REASON_MAX_LEN - line.len() - reserve;
            line.push_str(&cut(p, room));
            line.push_str(&more(rest).repeat(usize::from(rest > 0)));
        } else {
            line.push_str(&more(parts.len() - i));
        }
        break;
    }
    debug_assert!(line.len() <= REASON_MAX_LEN);
    line
}

/// `UUID what (+N more)` for one GPU that is not healthy.
fn part(d: &DeviceCheck) -> String {
    let id = if d.uuid.is_empty() {
        &d.device
    } else {
        &d.uuid
    };
    let what = match (d.findings.first(), &d.reason) {
        (Some(f), _) => {
            let n = d.findings.len() - 1;
            let more = if n > 0 {
                format!(" (+{n} more)")
            } else {
                String::new()
            };
            format!("{}{more}", f.summary())
        }
        (None, Some(reason)) => format!("unknown: {reason}"),
        (None, None) => d.verdict.name().to_string(),
    };
    format!("{id} {}", one_line(&what))
}

/// `s` with every character outside printable ASCII replaced by `?` (and control
/// characters by spaces, via [`one_line`]).
fn ascii(s: &str) -> String {
    one_line(s)
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// `s` (ASCII) cut to `room` bytes, ending in `...` when cut.
fn cut(s: &str, room: usize) -> String {
    if s.len() <= room {
        s.to_string()
    } else {
        format!("{}...", &s[..room.saturating_sub(3)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::sample;
    use crate::check::{Evidence, Finding, Severity};

    #[test]
    fn the_worst_gpu_comes_first_with_its_first_finding() {
        let line = render_check_reason(&sample());
        assert_eq!(
            line,
            "gpufault: faulty: GPU-00000000-1111-2222-3333-444444444444 SM17 sp2 ws6 \
             warp-scheduler (ids) 3 lanes (+2 more); GPU-00000002-1111-2222-3333-444444444444 \
             unknown: 2 of 132 SMs not observed (3, 77); \
             GPU-00000001-1111-2222-3333-444444444444 pcie_link=gen5 x8"
        );
        assert!(line.len() <= REASON_MAX_LEN);
    }

    #[test]
    fn a_healthy_node_says_how_many_gpus_were_checked() {
        let mut report = sample();
        report.devices.retain(|d| d.verdict == Verdict::Healthy);
        report.verdict = CheckReport::node_verdict(&report.devices);
        assert_eq!(
            render_check_reason(&report),
            "gpufault: healthy: 1 GPU checked"
        );
    }

    #[test]
    fn many_findings_on_many_gpus_stay_within_the_limit() {
        let mut report = sample();
        let template = report.devices[0].clone();
        report.devices = (0..64)
            .map(|i| {
                let mut d = template.clone();
                d.device = format!("sim:h100#{i}");
                d.uuid = format!("GPU-{i:08x}-1111-2222-3333-444444444444");
                for sm in 0..100 {
                    d.findings.push(Finding {
                        severity: Severity::Faulty,
                        evidence: Evidence::Rule {
                            rule: format!("r{sm}"),
                            value: "x".repeat(50),
                            limit: String::new(),
                        },
                    });
                }
                d
            })
            .collect();
        let line = render_check_reason(&report);
        assert!(line.len() <= REASON_MAX_LEN, "{} bytes: {line}", line.len());
        assert!(line.is_ascii() && !line.contains('\n'));
        assert!(line.starts_with("gpufault: faulty: GPU-00000000-1111-2222-3333-444444444444 SM17"));
        assert!(line.contains("(+102 more)"), "{line}");
        let shown = line.matches("GPU-").count();
        assert!(
            line.ends_with(&format!("; +{} more GPUs", 64 - shown)),
            "{line}"
        );
    }

    #[test]
    fn one_part_too_long_is_cut_and_odd_characters_are_replaced() {
        let mut report = sample();
        report.devices.truncate(2);
        report.devices[0].findings = vec![Finding {
            severity: Severity::Faulty,
            evidence: Evidence::KernelError {
                unit: "memory".into(),
                kernel: "ld_st".into(),
                sm: None,
                error: format!("illegal address\n{}… end", "z".repeat(400)),
            },
        }];
        let line = render_check_reason(&report);
        assert_eq!(line.len(), REASON_MAX_LEN, "{line}");
        assert!(line.ends_with("...; +1 more GPU"), "{line}");
        assert!(
            line.contains("memory (ld_st) illegal address zzz"),
            "{line}"
        );
        assert!(line.is_ascii());
    }
}
