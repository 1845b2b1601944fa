//! The health check in Prometheus' text exposition format (version 0.0.4), for
//! node_exporter's textfile collector or any scraper of a file: `# HELP` and `# TYPE`
//! once per metric, then one sample per line, every GPU labelled as dcgm-exporter labels
//! it (`gpu`, `UUID`, `pci_bus_id`, `modelName`, `Hostname`), so its series join
//! dcgm-exporter's on `UUID`.
//!
//! ```text
//! # HELP gpufault_check_verdict Verdict of gpufault's last health check of the GPU: …
//! # TYPE gpufault_check_verdict gauge
//! gpufault_check_verdict{gpu="0",UUID="GPU-…",pci_bus_id="00000000:17:00.0",gpufault_device="cuda:0",modelName="NVIDIA H200",Hostname="node-7"} 0
//! ```
//!
//! The metrics are listed in `docs/health-check.md`.

use crate::check::{CheckReport, DeviceCheck, Severity};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One metric: name, help text, and its samples (labels after the GPU's, value).
struct Metric {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The report as Prometheus text: per GPU its verdict, findings per severity, a fault
/// gauge per SM named by findings, the check's duration, the time it ran, coverage and
/// rules that could not be evaluated; and the node's verdict. Every line ends in `\n`.
pub fn render_check_prometheus(report: &CheckReport) -> String {
    let started = unix_seconds(&report.started);
    let mut metrics = [
        Metric {
            name: "gpufault_check_verdict",
            help: "Verdict of gpufault's last health check of the GPU: 0 healthy, 1 faulty, 2 degraded, 3 unknown (the exit code of gpufault check).",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_findings",
            help: "Findings of the last health check of the GPU, by severity.",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_sm_fault",
            help: "Findings of the last health check that name this SM of the GPU (only SMs named by a finding appear).",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_duration_seconds",
            help: "Wall time of the last health check of the GPU.",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_last_run_timestamp_seconds",
            help: "When the last health check of the GPU started, in seconds since the Unix epoch.",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_coverage_ratio",
            help: "Share of the GPU's warp slots (SMs x warp slots) that ran every signature kernel in the last health check.",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_sms_unobserved",
            help: "SMs of the GPU that the last health check could not observe (not checked).",
            samples: Vec::new(),
        },
        Metric {
            name: "gpufault_check_rules_not_evaluated",
            help: "Health rules the last check could not evaluate on the GPU because a reading failed (readings the GPU does not support are not counted).",
            samples: Vec::new(),
        },
    ];
    for (i, d) in report.devices.iter().enumerate() {
        let gpu = gpu_labels(report, i, d);
        let mut push = |m: usize, extra: &str, value: f64| {
            metrics[m].samples.push((format!("{gpu}{extra}"), value));
        };
        push(0, "", f64::from(d.verdict.exit().code()));
        for (severity, name) in [
            (Severity::Faulty, "faulty"),
            (Severity::Degraded, "degraded"),
        ] {
            let n = d.findings.iter().filter(|f| f.severity == severity).count();
            push(1, &format!(",severity=\"{name}\""), n as f64);
        }
        let mut per_sm: BTreeMap<u32, u32> = BTreeMap::new();
        for sm in d.findings.iter().filter_map(|f| f.sm()) {
            *per_sm.entry(sm).or_default() += 1;
        }
        for (sm, n) in per_sm {
            push(2, &format!(",sm=\"{sm}\""), f64::from(n));
        }
        push(3, "", d.duration_ms / 1e3);
        if let Some(t) = started {
            push(4, "", t);
        }
        let slots = u64::from(d.coverage.sms) * u64::from(d.coverage.warp_slots);
        let ratio = if slots == 0 {
            0.0
        } else {
            d.coverage.slots_observed as f64 / slots as f64
        };
        push(5, "", ratio);
        let unobserved = d.coverage.sms - d.coverage.sms_observed.min(d.coverage.sms);
        push(6, "", f64::from(unobserved));
        let failed = d
            .rules_not_evaluated
            .iter()
            .filter(|r| !r.not_supported)
            .count();
        push(7, "", failed as f64);
    }
    let mut out = String::new();
    for m in &metrics {
        header(&mut out, m.name, m.help);
        for (labels, value) in &m.samples {
            let _ = writeln!(out, "{}{{{labels}}} {}", m.name, number(*value));
        }
    }
    header(
        &mut out,
        "gpufault_check_node_verdict",
        "Verdict of gpufault's last health check of the node (the worst of its GPUs): 0 healthy, 1 faulty, 2 degraded, 3 unknown.",
    );
    let _ = writeln!(
        out,
        "gpufault_check_node_verdict{{Hostname=\"{}\"}} {}",
        escape_label(&report.host),
        report.verdict.exit().code()
    );
    out
}

/// `# HELP` and `# TYPE … gauge` of a metric.
fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The labels of GPU `i` of the report, dcgm-exporter's names first: `gpu` (the CUDA
/// ordinal of `cuda:N`, the index of `sim:…#I`, else the position in the report),
/// `UUID`, `pci_bus_id`, `gpufault_device` (our device name: dcgm-exporter's own
/// `device` label means `nvidia0`), `modelName`, `Hostname`.
fn gpu_labels(report: &CheckReport, i: usize, d: &DeviceCheck) -> String {
    let gpu = d
        .device
        .strip_prefix("cuda:")
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
        .or_else(|| {
            d.device
                .rsplit_once('#')
                .map(|(_, n)| n)
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
        })
        .map(str::to_string)
        .unwrap_or_else(|| i.to_string());
    format!(
        "gpu=\"{}\",UUID=\"{}\",pci_bus_id=\"{}\",gpufault_device=\"{}\",modelName=\"{}\",Hostname=\"{}\"",
        escape_label(&gpu),
        escape_label(&d.uuid),
        escape_label(&d.pci_bus_id),
        escape_label(&d.device),
        escape_label(&d.name),
        escape_label(&report.host)
    )
}

/// A label value as the exposition format wants it: `\` → `\\`, `"` → `\"`, a line feed
/// → `\n`.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: `\` → `\\`, a line feed → `\n`.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time as the check writes it
/// (`2026-12-05T10:20:30.456Z`, fraction optional); `None` for anything else.
fn unix_seconds(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    if b.len() < 20 || !t.ends_with('Z') || !t.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if [b[4], b[7], b[10], b[13], b[16]] != [b'-', b'-', b'T', b':', b':']
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let frac = match &t[19..t.len() - 1] {
        "" => 0.0,
        f if f.starts_with('.') && f.len() > 1 && f[1..].bytes().all(|c| c.is_ascii_digit()) => {
            format!("0{f}").parse::<f64>().ok()?
        }
        _ => return None,
    };
    // days from civil (H. Hinnant)
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + min * 60 + sec) as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::sample;

    #[test]
    fn every_metric_has_help_and_type_and_one_sample_per_line() {
        let report = sample();
        let text = render_check_prometheus(&report);
        insta::assert_snapshot!(text);
        assert!(text.ends_with('\n'));
        let mut declared: Vec<&str> = Vec::new();
        let mut typed: Vec<&str> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(!help.is_empty(), "{line}");
                assert!(!declared.contains(&name), "HELP twice: {name}");
                declared.push(name);
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(kind, "gauge");
                assert_eq!(Some(&name), declared.last(), "TYPE right after its HELP");
                typed.push(name);
                continue;
            }
            // a sample: name{labels} value, the metric declared just above
            let (name, rest) = line.split_once('{').expect(line);
            assert_eq!(Some(&name), typed.last(), "{line}");
            let (labels, value) = rest.rsplit_once("} ").expect(line);
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(!labels.contains('\n'));
        }
        assert_eq!(declared, typed);
        assert_eq!(declared.len(), 9, "{declared:?}");
        // one verdict per GPU, with the exit codes
        let verdicts: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("gpufault_check_verdict{"))
            .map(|l| l.rsplit_once(' ').unwrap().1)
            .collect();
        assert_eq!(verdicts, ["1", "2", "3", "0"]);
        // the faulty GPU's SM 17 is named by two findings; no other SM appears
        let sm: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("gpufault_check_sm_fault{"))
            .collect();
        assert_eq!(sm.len(), 1, "{sm:?}");
        assert!(
            sm[0].contains("gpu=\"0\"") && sm[0].contains("sm=\"17\"}"),
            "{sm:?}"
        );
        assert!(sm[0].ends_with(" 2"), "{sm:?}");
        assert!(text.contains(
            "gpufault_check_last_run_timestamp_seconds{gpu=\"3\",UUID=\"GPU-00000003-1111-2222-3333-444444444444\",pci_bus_id=\"00000020:13:00.0\",gpufault_device=\"sim:h100#3\",modelName=\"gpufault virtual H100 (sim:h100)\",Hostname=\"node-7\"} 1796466030.456\n"
        ));
        assert!(text.contains("gpufault_check_node_verdict{Hostname=\"node-7\"} 1\n"));
    }

    #[test]
    fn labels_are_escaped() {
        let mut report = sample();
        report.host = "a\"b\\c\nd".into();
        report.devices[0].name = "GPU \"x\"".into();
        let text = render_check_prometheus(&report);
        assert!(text.contains("Hostname=\"a\\\"b\\\\c\\nd\""), "{text}");
        assert!(text.contains("modelName=\"GPU \\\"x\\\"\""), "{text}");
        assert_eq!(
            text.lines().count(),
            render_check_prometheus(&sample()).lines().count(),
            "no line breaks from label values"
        );
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn the_gpu_label_is_the_ordinal_or_index_else_the_position() {
        let mut report = sample();
        report.devices[0].device = "cuda:5".into();
        report.devices[1].device = "cuda:GPU-0123".into();
        let text = render_check_prometheus(&report);
        let gpus: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("gpufault_check_verdict{"))
            .map(|l| l.split('"').nth(1).unwrap())
            .collect();
        assert_eq!(gpus, ["5", "1", "2", "3"]);
    }

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(unix_seconds("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(
            unix_seconds("2024-02-29T12:00:00.500Z"),
            Some(1_709_208_000.5)
        );
        for bad in [
            "",
            "2024-02-29 12:00:00Z",
            "2024-02-29T12:00:00",
            "2024-13-01T00:00:00Z",
            "2024-02-29T12:00:00.Z",
            "2024-02-29T12:00:00+01:00",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
