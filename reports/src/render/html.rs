//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external
//! resource).

use super::svg::{self, esc, HeatKind, SEGMENTS};
use super::{
    ci, due_causes_present, duration_us, groups, hang_causes_present, magnitude, meta_extra,
    meta_rows, pct, pct_fine, thousands, workload_label, ALL,
};
use crate::summary::{CampaignReport, Rate, Summary, SCHEMA_VERSION};
use std::fmt::Write;

/// The page's style sheet (shared with the coverage page).
pub(crate) const CSS: &str = r#"
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --soft: #eaeef2; --panel: #f6f8fa; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
    "Liberation Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 56px; }
header h1 { font-size: 26px; line-height: 1.25; margin: 0 0 6px; }
header h1 code { font-size: 0.9em; }
.lede { margin: 0 0 18px; color: var(--muted); font-size: 15px; }
code { font-family: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas,
  monospace; font-size: 0.92em; background: var(--panel); padding: 1px 4px;
  border-radius: 4px; }
dl.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr));
  gap: 2px 28px; margin: 0; padding: 14px 18px; background: var(--panel);
  border: 1px solid var(--line); border-radius: 8px; }
dl.meta div { display: flex; gap: 10px; min-width: 0; }
dl.meta div.wide { grid-column: 1 / -1; }
dl.meta dt { flex: 0 0 150px; color: var(--muted); }
dl.meta dd { margin: 0; min-width: 0; overflow-wrap: anywhere;
  font-variant-numeric: tabular-nums; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(124px, 1fr));
  gap: 12px; margin: 20px 0 8px; }
.kpi { border: 1px solid var(--line); border-top: 5px solid var(--c, var(--line));
  border-radius: 8px; padding: 8px 12px 10px; }
.kpi .k { color: var(--muted); font-size: 13px; }
.kpi .v { font-size: 24px; font-weight: 650; line-height: 1.2;
  font-variant-numeric: tabular-nums; }
.kpi .s { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
h2 { font-size: 19px; margin: 36px 0 4px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 4px; }
p.note { margin: 4px 0 12px; color: var(--muted); }
figure { margin: 10px 0 0; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px;
  margin-top: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; text-align: right; white-space: nowrap;
  border-bottom: 1px solid var(--soft); }
th { background: var(--panel); font-weight: 600; border-bottom: 1px solid var(--line);
  vertical-align: bottom; }
table.table-causes th { white-space: normal; min-width: 64px; }
th.group { text-align: center; border-left: 2px solid var(--line); }
th.l, td.l { text-align: left; }
tbody + tbody { border-top: 2px solid var(--line); }
tr.total td { font-weight: 650; background: #fbfcfd; }
td .ci { color: var(--muted); font-size: 11.5px; margin-left: 4px; font-weight: 400; }
td.na { color: #8c959f; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px;
  border-top: 1px solid var(--line); padding-top: 10px; }
"#;

/// The report as one self-contained HTML page: campaign facts, headline shares, stacked
/// outcome bars per fault model, heatmaps of SDC and DUE rates by model × workload, a
/// detection-coverage chart for detector campaigns, and the full tables (outcomes, causes,
/// SDC magnitude, detection). Inline CSS and hand-built SVG only: no script, font or
/// other resource is loaded, so the file can be mailed or archived as is.
pub fn render_html(report: &CampaignReport) -> String {
    let m = &report.meta;
    let t = &report.total;
    let mut o = String::with_capacity(64 * 1024);
    let title = if m.campaign_id.is_empty() {
        "gpufault campaign report".to_string()
    } else {
        format!("gpufault campaign {} — report", m.campaign_id)
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"gpufault-reports (schema {SCHEMA_VERSION})\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&title)
    );

    // Header.
    o.push_str("<header>\n");
    if m.campaign_id.is_empty() {
        o.push_str("<h1>Fault-injection campaign</h1>\n");
    } else {
        let _ = writeln!(
            o,
            "<h1>Fault-injection campaign <code>{}</code></h1>",
            esc(&m.campaign_id)
        );
    }
    let device = if m.device.is_empty() {
        String::new()
    } else {
        format!(" on <code>{}</code>", esc(&m.device))
    };
    let _ = writeln!(
        o,
        "<p class=\"lede\">{} permanent-fault injections of {} fault model{} into {} \
         workload{}{device}; {} activated the fault.</p>",
        thousands(t.injections),
        report.by_model.len(),
        plural(report.by_model.len()),
        report.by_workload.len(),
        plural(report.by_workload.len()),
        thousands(t.activated),
    );
    o.push_str("<dl class=\"meta\">\n");
    for (k, v) in meta_rows(report) {
        let v = if matches!(k, "device" | "device UUID" | "command" | "campaign") {
            format!("<code>{}</code>", esc(&v))
        } else {
            esc(&v)
        };
        let class = if k == "command" {
            " class=\"wide\""
        } else {
            ""
        };
        let _ = writeln!(o, "<div{class}><dt>{}</dt><dd>{v}</dd></div>", esc(k));
    }
    for (k, v) in meta_extra(report) {
        let _ = writeln!(o, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(v));
    }
    o.push_str("</dl>\n");

    // Headline shares.
    o.push_str("<section class=\"kpis\" aria-label=\"headline shares\">\n");
    kpi(
        &mut o,
        "#8c959f",
        "Activated",
        &t.activation,
        &format!("of {} runs", thousands(t.injections)),
    );
    for seg in svg::segments_present(report) {
        let r = (seg.rate)(t);
        kpi(
            &mut o,
            &seg.color.css(),
            seg.label,
            r,
            &format!("{} of {} activated", thousands(r.count), thousands(r.of)),
        );
    }
    if let Some(d) = t.detection {
        kpi(
            &mut o,
            &SEGMENTS[4].color.css(),
            "Coverage",
            &d.coverage,
            &format!("SM named in {}", pct(&d.sm_attributed)),
        );
    }
    o.push_str("</section>\n</header>\n");

    // Charts.
    o.push_str(
        "<section id=\"outcomes\">\n<h2>Outcomes per fault model</h2>\n\
         <p class=\"note\">Shares of <em>activated</em> runs (runs whose fault never fired \
         are excluded and shown on the right as a share of all runs). The whisker at each \
         boundary between segments is the 95% Wilson interval of the share left of it \
         (masked; masked + SDC; …); hover a segment for its own count and interval.</p>\n<figure>",
    );
    o.push_str(&svg::outcome_bars(report, "outcome-bars"));
    o.push_str("</figure>\n</section>\n");
    for (kind, id) in [
        (HeatKind::Sdc, "sdc-heatmap"),
        (HeatKind::Due, "due-heatmap"),
    ] {
        let _ = write!(
            o,
            "<section id=\"{id}-section\">\n<h2>{}</h2>\n<p class=\"note\">Share of activated \
             runs per cell, 95% Wilson interval below the value; the last row and column \
             are totals over all models and all workloads.</p>\n<figure>",
            kind.title()
        );
        o.push_str(&svg::heatmap(report, kind, id));
        o.push_str("</figure>\n</section>\n");
    }
    if report.has_detection() {
        o.push_str("<section id=\"coverage\">\n<h2>Detection coverage</h2>\n<figure>");
        o.push_str(&svg::coverage_bars(report, "coverage-bars"));
        o.push_str("</figure>\n</section>\n");
    }

    // Tables.
    o.push_str("<section id=\"tables\">\n<h2>All results</h2>\n");
    outcome_table(&mut o, report);
    kernel_table(&mut o, report);
    cause_table(&mut o, report);
    sdc_table(&mut o, report);
    detection_table(&mut o, report);
    o.push_str("</section>\n");

    let _ = write!(
        o,
        "<footer>Generated by gpufault{} · report schema version {SCHEMA_VERSION} · \
         intervals are 95% Wilson score intervals · run time summed over runs {}</footer>\n\
         </main>\n</body>\n</html>\n",
        if m.tool_version.is_empty() {
            String::new()
        } else {
            format!(" {}", esc(&m.tool_version))
        },
        esc(&duration_us(t.elapsed_us)),
    );
    o
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn kpi(o: &mut String, color: &str, label: &str, r: &Rate, sub: &str) {
    let _ = writeln!(
        o,
        "<div class=\"kpi\" style=\"--c: {color}\"><div class=\"k\">{}</div>\
         <div class=\"v\">{}</div><div class=\"s\">{}</div><div class=\"s\">{}</div></div>",
        esc(label),
        esc(&pct(r)),
        esc(&ci(r)),
        esc(sub)
    );
}

/// A share cell: `45.2%` with the interval in small grey type.
fn share_td(r: &Rate) -> String {
    if r.is_defined() {
        format!(
            "<td title=\"{} of {}\">{}<span class=\"ci\">{}</span></td>",
            thousands(r.count),
            thousands(r.of),
            esc(&pct(r)),
            esc(&ci(r))
        )
    } else {
        "<td class=\"na\">–</td>".into()
    }
}

/// A share cell without the interval (count and interval in its tooltip).
fn share_td_short(r: &Rate) -> String {
    if r.is_defined() {
        format!(
            "<td title=\"{} of {} · 95% interval {}\">{}</td>",
            thousands(r.count),
            thousands(r.of),
            esc(&ci(r)),
            esc(&pct(r))
        )
    } else {
        "<td class=\"na\">–</td>".into()
    }
}

fn num_td(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}

/// Table body rows of every group: model name on the group's first row, the group's
/// total row (its last) labelled `all` and styled as a total.
fn grouped_rows(
    o: &mut String,
    report: &CampaignReport,
    keep: impl Fn(&Summary) -> bool,
    cells: impl Fn(&Summary) -> String,
) {
    for g in groups(report) {
        let last = *g.rows.last().expect("a group ends with its total");
        let rows: Vec<&Summary> = g.rows.iter().copied().filter(|s| keep(s)).collect();
        if rows.is_empty() {
            continue;
        }
        o.push_str("<tbody>\n");
        for (i, s) in rows.iter().enumerate() {
            let model = g.model_cell(
                i,
                |m| format!("<code>{}</code>", esc(m)),
                || format!("<strong>{ALL} models</strong>"),
            );
            let is_total = std::ptr::eq(*s, last);
            let workload = if is_total {
                format!("{ALL} workloads")
            } else {
                format!("<code>{}</code>", esc(workload_label(s)))
            };
            let class = if is_total { " class=\"total\"" } else { "" };
            let _ = writeln!(
                o,
                "<tr{class}><td class=\"l\">{model}</td><td class=\"l\">{workload}</td>{}</tr>",
                cells(s)
            );
        }
        o.push_str("</tbody>\n");
    }
}

fn table_open(o: &mut String, id: &str, caption: &str, note: &str, head: &[String]) {
    table_open_grouped(o, id, caption, note, &[], head);
}

/// Opens a table; with `groups` (label, column count), a first header row spans the
/// value columns by group.
fn table_open_grouped(
    o: &mut String,
    id: &str,
    caption: &str,
    note: &str,
    groups: &[(&str, usize)],
    head: &[String],
) {
    let _ = write!(
        o,
        "<h3 id=\"{id}\">{}</h3>\n<p class=\"note\">{}</p>\n<div class=\"scroll\">\
         <table class=\"{id}\">\n<thead>",
        esc(caption),
        esc(note)
    );
    let label_cells = if groups.is_empty() {
        "<th class=\"l\">Model</th><th class=\"l\">Workload</th>".to_string()
    } else {
        o.push_str("<tr><th class=\"l\" rowspan=\"2\">Model</th><th class=\"l\" rowspan=\"2\">Workload</th>");
        for (label, n) in groups.iter().filter(|(_, n)| *n > 0) {
            let _ = write!(o, "<th class=\"group\" colspan=\"{n}\">{}</th>", esc(label));
        }
        o.push_str("</tr>\n");
        String::new()
    };
    let _ = write!(o, "<tr>{label_cells}");
    for h in head {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead>\n");
}

fn table_close(o: &mut String) {
    o.push_str("</table></div>\n");
}

fn outcome_table(o: &mut String, report: &CampaignReport) {
    let head: Vec<String> = [
        "Runs",
        "Not activated",
        "Masked",
        "Slow",
        "SDC",
        "DUE",
        "Hang",
    ]
    .map(String::from)
    .to_vec();
    table_open(
        o,
        "table-outcomes",
        "Outcomes",
        "Not activated: share of all runs. Masked, SDC, DUE, hang: share of activated \
         runs with 95% interval. Slow: masked runs that took much longer than the \
         fault-free run.",
        &head,
    );
    grouped_rows(
        o,
        report,
        |_| true,
        |s| {
            [
                num_td(&thousands(s.injections)),
                share_td(&s.not_activated_rate()),
                share_td(&s.masked),
                num_td(&thousands(s.masked_slow)),
                share_td(&s.sdc),
                share_td(&s.due),
                share_td(&s.hang),
            ]
            .concat()
        },
    );
    table_close(o);
}

/// Outcomes per (workload, kernel) over all models ([`CampaignReport::by_kernel`]).
fn kernel_table(o: &mut String, report: &CampaignReport) {
    if report.by_kernel.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<h3 id=\"table-kernels\">Outcomes per kernel</h3>\n<p class=\"note\">{}</p>\n\
         <div class=\"scroll\"><table class=\"table-kernels\">\n<thead><tr>\
         <th class=\"l\">Workload</th><th class=\"l\">Kernel</th>",
        esc(
            "Faults by the kernel of the site they were drawn at (and of the device \
             functions it calls), all models together; (all kernels): faults not tied to a \
             site (wdrop). Shares as in the outcome table."
        )
    );
    for h in ["Runs", "Not activated", "Masked", "SDC", "DUE", "Hang"] {
        let _ = write!(o, "<th>{h}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for s in &report.by_kernel {
        let _ = writeln!(
            o,
            "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\"><code>{}</code></td>{}</tr>",
            esc(workload_label(s)),
            esc(s.kernel.as_deref().unwrap_or_default()),
            [
                num_td(&thousands(s.injections)),
                share_td(&s.not_activated_rate()),
                share_td(&s.masked),
                share_td(&s.sdc),
                share_td(&s.due),
                share_td(&s.hang),
            ]
            .concat()
        );
    }
    o.push_str("</tbody>\n");
    table_close(o);
}

fn cause_table(o: &mut String, report: &CampaignReport) {
    let (dues, hangs) = (due_causes_present(report), hang_causes_present(report));
    if dues.is_empty() && hangs.is_empty() {
        return;
    }
    let head: Vec<String> = dues
        .iter()
        .map(|c| c.name().replace('_', " "))
        .chain(hangs.iter().map(|c| c.name().replace('_', " ")))
        .collect();
    table_open_grouped(
        o,
        "table-causes",
        "Crash (DUE) and hang causes",
        "Share of activated runs per cause (hover for counts and 95% intervals); causes \
         that never occurred are left out.",
        &[
            ("DUE (crash) by cause", dues.len()),
            ("Hang by cause", hangs.len()),
        ],
        &head,
    );
    grouped_rows(
        o,
        report,
        |_| true,
        |s| {
            dues.iter()
                .map(|c| share_td_short(&s.due_by_cause[c]))
                .chain(hangs.iter().map(|c| share_td_short(&s.hang_by_cause[c])))
                .collect::<String>()
        },
    );
    table_close(o);
}

fn sdc_table(o: &mut String, report: &CampaignReport) {
    if report.total.sdc_magnitude.is_none() {
        return;
    }
    let head: Vec<String> = [
        "SDCs",
        "Elements differing (median)",
        "(max)",
        "Max abs error",
        "Max rel error",
        "Flipped bits",
        "With NaN/Inf",
    ]
    .map(String::from)
    .to_vec();
    table_open(
        o,
        "table-sdc",
        "SDC magnitude",
        "Over SDC runs: share of output elements that differ, largest errors, bits flipped \
         in total, and the share of SDCs a NaN/Inf check would catch.",
        &head,
    );
    grouped_rows(
        o,
        report,
        |s| s.sdc_magnitude.is_some(),
        |s| {
            let m = s.sdc_magnitude.expect("filtered");
            [
                num_td(&thousands(m.count)),
                num_td(&pct_fine(m.differing_share_median)),
                num_td(&pct_fine(m.differing_share_max)),
                num_td(&magnitude(m.max_abs)),
                num_td(&magnitude(m.max_rel)),
                num_td(&thousands(m.flipped_bits)),
                share_td(&m.nan_inf),
            ]
            .concat()
        },
    );
    table_close(o);
}

fn detection_table(o: &mut String, report: &CampaignReport) {
    if !report.has_detection() {
        return;
    }
    let head: Vec<String> = [
        "Detected",
        "Escaped",
        "Coverage",
        "Of all runs",
        "SM named",
        "SM correct",
    ]
    .map(String::from)
    .to_vec();
    table_open(
        o,
        "table-detection",
        "Detection",
        "Coverage: detected / (detected + escaped). Of all runs: detected / runs, \
         not-activated included. SM correct: out of detections whose fault SM is known.",
        &head,
    );
    grouped_rows(
        o,
        report,
        |s| s.detection.is_some(),
        |s| {
            let d = s.detection.expect("filtered");
            [
                num_td(&thousands(s.detected.count)),
                num_td(&thousands(s.escaped.count)),
                share_td(&d.coverage),
                share_td(&d.coverage_of_injections),
                share_td(&d.sm_attributed),
                share_td(&d.sm_correct),
            ]
            .concat()
        },
    );
    table_close(o);
}
