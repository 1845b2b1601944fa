//! Renderers of a [`CoverageReport`]: a terminal table, JSON, and one self-contained
//! HTML page with a coverage bar per model (its 95% interval drawn as a whisker) and the
//! escape list.

use super::svg::esc;
use super::{pct_ci, pct_of, thousands};
use crate::coverage::{CoverageReport, ModelCoverage};
use std::fmt::Write;

/// `97.5% [93.1, 99.2]`.
fn share_ci(m: &ModelCoverage) -> String {
    if m.injected == 0 {
        return "–".into();
    }
    format!(
        "{} [{:.1}, {:.1}]",
        pct_of(m.coverage),
        m.ci_low * 100.0,
        m.ci_high * 100.0
    )
}

/// A share of the detections, `–` when nothing was detected.
fn of_detected(m: &ModelCoverage, share: f64) -> String {
    if m.detected == 0 {
        "–".into()
    } else {
        pct_of(share)
    }
}

fn header_lines(r: &CoverageReport) -> Vec<(&'static str, String)> {
    let m = &r.meta;
    let mut v = vec![
        ("campaign", m.campaign_id.clone()),
        ("device", format!("{} ({})", m.device, m.device_name)),
        ("seed", m.seed.to_string()),
        (
            "faults",
            format!(
                "{} of {} planned have a result",
                thousands(r.total.injected),
                thousands(r.planned)
            ),
        ),
    ];
    if let Some(c) = &m.command {
        v.push(("command", c.clone()));
    }
    v
}

/// The terminal table: one row per model and a total, then the escapes.
pub fn render_coverage_table(r: &CoverageReport) -> String {
    let mut o = String::new();
    for (k, v) in header_lines(r) {
        let _ = writeln!(o, "{k:<10} {v}");
    }
    let _ = writeln!(o);
    let _ = write!(
        o,
        "{:<6} {:>8} {:>8} {:>22} {:>9} {:>9} {:>9} {:>9}",
        "model",
        "injected",
        "detected",
        "coverage [95% CI]",
        "SM named",
        "SM first",
        "unit ok",
        "check ms"
    );
    let diagnosed = r.total.diagnosis_correct.is_some();
    if diagnosed {
        let _ = write!(o, " {:>9}", "diagnosis");
    }
    let baseline = r.total.baseline.as_ref().map(|b| b.name.clone());
    if let Some(name) = &baseline {
        let _ = write!(
            o,
            " {:>22} {:>22}",
            format!("{name} vs first"),
            format!("{name} vs CPU")
        );
    }
    o.push('\n');
    for m in r.models.iter().chain(std::iter::once(&r.total)) {
        let _ = write!(
            o,
            "{:<6} {:>8} {:>8} {:>22} {:>9} {:>9} {:>9} {:>9.0}",
            m.model,
            thousands(m.injected),
            thousands(m.detected),
            share_ci(m),
            of_detected(m, m.sm_correct),
            of_detected(m, m.sm_first),
            of_detected(m, m.unit_correct),
            m.mean_check_ms
        );
        if diagnosed {
            let d = m
                .diagnosis_correct
                .map(pct_of)
                .unwrap_or_else(|| "–".into());
            let _ = write!(o, " {d:>9}");
        }
        if baseline.is_some() {
            let (first, cpu) = m
                .baseline
                .as_ref()
                .map(|b| (pct_ci(&b.vs_first), pct_ci(&b.vs_cpu)))
                .unwrap_or_default();
            let _ = write!(o, " {first:>22} {cpu:>22}");
        }
        o.push('\n');
    }
    if r.total.injected < r.planned {
        let _ = writeln!(
            o,
            "\nin progress: {} of {} planned faults have a result",
            r.total.injected, r.planned
        );
    }
    if !r.escape_details.is_empty() {
        let _ = writeln!(o, "\nescapes ({}):", r.escape_details.len());
        for e in &r.escape_details {
            let _ = writeln!(
                o,
                "  {}  (verdict {}, scheduling seed {})",
                e.spec, e.verdict, e.scheduling_seed
            );
        }
    }
    o
}

/// The report as pretty JSON (`schema_version`, `models`, `total`, `escapes`, …).
pub fn render_coverage_json(r: &CoverageReport) -> String {
    serde_json::to_string_pretty(r).expect("a coverage report serializes")
}

/// One self-contained HTML page: header, coverage bars with intervals, the table and
/// the escapes.
pub fn render_coverage_html(r: &CoverageReport) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>gpufault coverage {}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>Health-check coverage</h1>\n<p class=\"lede\">{} of {} faults detected \
         ({}); 95% Wilson intervals.</p>\n</header>\n<dl class=\"meta\">",
        esc(&r.meta.campaign_id),
        super::html::CSS,
        thousands(r.total.detected),
        thousands(r.total.injected),
        esc(&share_ci(&r.total)),
    );
    for (k, v) in header_lines(r) {
        let _ = write!(o, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(&v));
    }
    o.push_str("</dl>\n<h2>Coverage per fault model</h2>\n<figure>");
    o.push_str(&bars(r));
    o.push_str("</figure>\n<div class=\"scroll\"><table id=\"coverage\"><thead><tr>");
    for h in [
        "model",
        "injected",
        "detected",
        "coverage",
        "95% interval",
        "SM named",
        "SM first",
        "unit correct",
        "check ms",
        "diagnosis correct",
        "gpu-burn vs first",
        "gpu-burn vs CPU",
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, _)| match i {
        9 => r.total.diagnosis_correct.is_some(),
        10 | 11 => r.total.baseline.is_some(),
        _ => true,
    })
    .map(|(_, h)| h)
    {
        let _ = write!(
            o,
            "<th{}>{h}</th>",
            if h == "model" { " class=\"l\"" } else { "" }
        );
    }
    o.push_str("</tr></thead><tbody>");
    for m in r.models.iter().chain(std::iter::once(&r.total)) {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td></tr>",
            esc(&m.model),
            thousands(m.injected),
            thousands(m.detected),
            if m.injected == 0 {
                "–".into()
            } else {
                pct_of(m.coverage)
            },
            if m.injected == 0 {
                String::new()
            } else {
                format!("[{:.1}, {:.1}]", m.ci_low * 100.0, m.ci_high * 100.0)
            },
            of_detected(m, m.sm_correct),
            of_detected(m, m.sm_first),
            of_detected(m, m.unit_correct),
            m.mean_check_ms
        );
        if r.total.diagnosis_correct.is_some() {
            let d = m
                .diagnosis_correct
                .map(pct_of)
                .unwrap_or_else(|| "–".into());
            o.truncate(o.len() - "</tr>".len());
            let _ = write!(o, "<td>{d}</td></tr>");
        }
        if r.total.baseline.is_some() {
            let (first, cpu) = m
                .baseline
                .as_ref()
                .map(|b| (pct_ci(&b.vs_first), pct_ci(&b.vs_cpu)))
                .unwrap_or_default();
            o.truncate(o.len() - "</tr>".len());
            let _ = write!(o, "<td>{}</td><td>{}</td></tr>", esc(&first), esc(&cpu));
        }
    }
    o.push_str("</tbody></table></div>\n");
    let _ = writeln!(o, "<h2>Escapes ({})</h2>", r.escape_details.len());
    if r.escape_details.is_empty() {
        o.push_str("<p class=\"note\">None: the check called every faulty GPU faulty.</p>\n");
    } else {
        o.push_str(
            "<div class=\"scroll\"><table id=\"escapes\"><thead><tr><th class=\"l\">model</th>\
                    <th class=\"l\">fault</th><th class=\"l\">verdict</th><th>scheduling seed</th>\
                    </tr></thead><tbody>",
        );
        for e in &r.escape_details {
            let _ = write!(
                o,
                "<tr><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td>\
                 <td class=\"l\">{}</td><td>{}</td></tr>",
                esc(&e.model),
                esc(&e.spec),
                esc(&e.verdict),
                e.scheduling_seed
            );
        }
        o.push_str("</tbody></table></div>\n");
    }
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// Horizontal bars, one per model: coverage as the bar, its 95% interval as a whisker.
fn bars(r: &CoverageReport) -> String {
    let (label_w, plot_w, row_h, top) = (70.0, 560.0, 22.0, 24.0);
    let rows: Vec<&ModelCoverage> = r.models.iter().chain(std::iter::once(&r.total)).collect();
    let h = top + row_h * rows.len() as f64 + 8.0;
    let w = label_w + plot_w + 150.0;
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"chart\" id=\"coverage-bars\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" \
         height=\"{h}\" role=\"img\" aria-labelledby=\"coverage-bars-title\">\
         <title id=\"coverage-bars-title\">Coverage per fault model with 95% intervals</title>"
    );
    for pct in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = label_w + plot_w * pct;
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#d0d7de\"/>\
             <text x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\" font-size=\"11\" fill=\"#57606a\">{}%</text>",
            top - 4.0,
            h - 6.0,
            pct * 100.0
        );
    }
    for (i, m) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bar = plot_w * m.coverage;
        let (lo, hi) = (label_w + plot_w * m.ci_low, label_w + plot_w * m.ci_high);
        let mid = y + row_h / 2.0;
        let _ = write!(
            o,
            "<g><title>{}: {} of {} detected, {}</title>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#1b1f24\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
             <line x1=\"{lo:.1}\" y1=\"{mid:.1}\" x2=\"{hi:.1}\" y2=\"{mid:.1}\" stroke=\"#1b1f24\"/>\
             <line x1=\"{lo:.1}\" y1=\"{:.1}\" x2=\"{lo:.1}\" y2=\"{:.1}\" stroke=\"#1b1f24\"/>\
             <line x1=\"{hi:.1}\" y1=\"{:.1}\" x2=\"{hi:.1}\" y2=\"{:.1}\" stroke=\"#1b1f24\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1b1f24\">{}</text></g>",
            esc(&m.model),
            m.detected,
            m.injected,
            esc(&share_ci(m)),
            label_w - 8.0,
            mid + 4.0,
            esc(&m.model),
            y + 4.0,
            row_h - 8.0,
            if m.model == "all" { "#57606a" } else { "#2f81f7" },
            mid - 4.0,
            mid + 4.0,
            mid - 4.0,
            mid + 4.0,
            label_w + plot_w + 8.0,
            mid + 4.0,
            esc(&share_ci(m)),
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::{summarize_coverage, CoverageRecord};
    use crate::CampaignMeta;

    fn report() -> CoverageReport {
        let rec = |model: &str, detected: bool| CoverageRecord {
            model: model.into(),
            index: 0,
            spec: format!("{model}:sm=3,sp=0,warps=0x1"),
            fault_sm: 3,
            expected_unit: "memory".into(),
            scheduling_seed: 99,
            detected,
            verdict: if detected { "faulty" } else { "healthy" }.into(),
            reason: None,
            sms: vec![3],
            units: vec!["memory".into()],
            kernels: vec!["sig_mem".into()],
            findings: 1,
            features: vec![],
            sm_named: detected,
            sm_first: detected,
            unit_correct: detected,
            instructions: Some(10),
            duration_us: 1500,
            baseline: None,
            diagnosis: None,
        };
        let meta = CampaignMeta {
            campaign_id: "abc<def".into(),
            ..Default::default()
        };
        summarize_coverage(
            &meta,
            3,
            &[rec("ims", true), rec("ims", false), rec("imd", true)],
        )
    }

    #[test]
    fn table_has_a_row_per_model_a_total_and_the_escapes() {
        let t = render_coverage_table(&report());
        let line = |m: &str| t.lines().find(|l| l.starts_with(m)).unwrap().to_string();
        assert!(line("ims ").contains("50.0% [9.5, 90.5]"), "{t}");
        assert!(line("imd ").contains("100.0%"), "{t}");
        assert!(line("all ").contains("66.7%"), "{t}");
        assert!(
            t.contains(
                "escapes (1):\n  ims:sm=3,sp=0,warps=0x1  (verdict healthy, scheduling seed 99)"
            ),
            "{t}"
        );
    }

    #[test]
    fn json_carries_the_fields_the_issue_names() {
        let v: serde_json::Value = serde_json::from_str(&render_coverage_json(&report())).unwrap();
        assert_eq!(v["schema_version"], 1);
        let ims = &v["models"][0];
        for key in [
            "model",
            "injected",
            "detected",
            "coverage",
            "ci_low",
            "ci_high",
            "sm_correct",
            "unit_correct",
        ] {
            assert!(!ims[key].is_null(), "{key} missing: {ims}");
        }
        assert_eq!(v["escapes"][0], "ims:sm=3,sp=0,warps=0x1");
    }

    #[test]
    fn html_escapes_text_and_draws_a_bar_per_model() {
        let h = render_coverage_html(&report());
        assert!(h.contains("abc&lt;def") && !h.contains("abc<def"));
        assert_eq!(h.matches("<g><title>").count(), 3);
        assert!(h.contains("<table id=\"escapes\">"));
    }
}
