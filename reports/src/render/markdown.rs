//! Markdown (GitHub-flavoured tables) a README or an issue can embed.

use super::{
    due_causes_present, groups, hang_causes_present, magnitude, meta_extra, meta_rows, pct, pct_ci,
    pct_fine, thousands, workload_label, ALL,
};
use crate::summary::{CampaignReport, Summary};

/// The report as Markdown: a facts list, then tables of outcomes per model, per cell
/// (grouped by model) and per workload, of crash and hang causes, of SDC magnitude, and
/// for detector campaigns of detection coverage. Names are code spans; shares are of
/// activated runs with their 95% Wilson interval.
pub fn render_markdown(report: &CampaignReport) -> String {
    let mut out = String::new();
    let id = &report.meta.campaign_id;
    if id.is_empty() {
        out.push_str("# gpufault campaign\n\n");
    } else {
        out.push_str(&format!("# gpufault campaign {}\n\n", code(id)));
    }
    for (k, v) in meta_rows(report) {
        let v = if matches!(k, "campaign" | "device" | "command" | "device UUID") {
            code(&v)
        } else {
            text(&v)
        };
        out.push_str(&format!("- **{k}**: {v}\n"));
    }
    for (k, v) in meta_extra(report) {
        out.push_str(&format!("- **{}**: {}\n", text(k), text(v)));
    }
    out.push_str(
        "\nShares are of activated runs (not-activated runs excluded), \
         with 95% Wilson score intervals in brackets.\n",
    );

    let outcome_head = ["runs", "not activated", "masked", "SDC", "DUE", "hang"];
    let outcome_cells = |s: &Summary| {
        vec![
            thousands(s.injections),
            pct(&s.not_activated_rate()),
            pct_ci(&s.masked),
            pct_ci(&s.sdc),
            pct_ci(&s.due),
            pct_ci(&s.hang),
        ]
    };

    out.push_str("\n## Outcomes per fault model\n\n");
    let mut t = Table::new(&["model"], &outcome_head);
    for s in &report.by_model {
        t.row(
            vec![code(s.model.as_deref().unwrap_or(ALL))],
            outcome_cells(s),
        );
    }
    t.row(vec![bold(ALL)], bolds(outcome_cells(&report.total)));
    out.push_str(&t.render());

    out.push_str("\n## Outcomes per workload and model\n\n");
    let mut t = Table::new(&["model", "workload"], &outcome_head);
    grouped(&mut t, report, |_| true, outcome_cells);
    out.push_str(&t.render());

    if !report.by_kernel.is_empty() {
        out.push_str(
            "\n## Outcomes per kernel\n\nFaults by the kernel of the site they were drawn at, \
             all models together; `(all kernels)`: faults not tied to a site.\n\n",
        );
        let mut t = Table::new(&["workload", "kernel"], &outcome_head);
        for s in &report.by_kernel {
            t.row(
                vec![
                    code(workload_label(s)),
                    code(s.kernel.as_deref().unwrap_or_default()),
                ],
                outcome_cells(s),
            );
        }
        out.push_str(&t.render());
    }

    let (dues, hangs) = (due_causes_present(report), hang_causes_present(report));
    if !dues.is_empty() || !hangs.is_empty() {
        out.push_str("\n## Crash (DUE) and hang causes\n\nShare of activated runs.\n\n");
        let head: Vec<String> = dues
            .iter()
            .map(|c| format!("DUE: {}", c.name()))
            .chain(hangs.iter().map(|c| format!("hang: {}", c.name())))
            .collect();
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        let mut t = Table::new(&["model", "workload"], &head);
        grouped(
            &mut t,
            report,
            |_| true,
            |s| {
                dues.iter()
                    .map(|c| pct(&s.due_by_cause[c]))
                    .chain(hangs.iter().map(|c| pct(&s.hang_by_cause[c])))
                    .collect()
            },
        );
        out.push_str(&t.render());
    }

    if report.total.sdc_magnitude.is_some() {
        out.push_str("\n## SDC magnitude\n\n");
        let head = [
            "SDCs",
            "elements differing (median)",
            "(max)",
            "max abs error",
            "max rel error",
            "flipped bits",
            "with NaN/Inf",
        ];
        let mut t = Table::new(&["model", "workload"], &head);
        grouped(
            &mut t,
            report,
            |s| s.sdc_magnitude.is_some(),
            |s| {
                let m = s.sdc_magnitude.expect("filtered");
                vec![
                    thousands(m.count),
                    pct_fine(m.differing_share_median),
                    pct_fine(m.differing_share_max),
                    magnitude(m.max_abs),
                    magnitude(m.max_rel),
                    thousands(m.flipped_bits),
                    pct(&m.nan_inf),
                ]
            },
        );
        out.push_str(&t.render());
    }

    if report.has_detection() {
        out.push_str(
            "\n## Detection\n\nCoverage = detected / (detected + escaped); \
             \"of runs\" = detected / all runs.\n\n",
        );
        let head = [
            "detected",
            "escaped",
            "coverage",
            "of runs",
            "SM named",
            "SM correct",
        ];
        let mut t = Table::new(&["model", "workload"], &head);
        grouped(
            &mut t,
            report,
            |s| s.detection.is_some(),
            |s| {
                let d = s.detection.expect("filtered");
                vec![
                    thousands(s.detected.count),
                    thousands(s.escaped.count),
                    pct_ci(&d.coverage),
                    pct(&d.coverage_of_injections),
                    pct(&d.sm_attributed),
                    pct(&d.sm_correct),
                ]
            },
        );
        out.push_str(&t.render());
    }
    out
}

/// Adds the rows of every group (those that pass `keep`) to `t`, totals in bold.
fn grouped(
    t: &mut Table,
    report: &CampaignReport,
    keep: impl Fn(&Summary) -> bool,
    cells: impl Fn(&Summary) -> Vec<String>,
) {
    for g in groups(report) {
        let rows: Vec<&Summary> = g.rows.iter().copied().filter(|s| keep(s)).collect();
        let n = g.rows.len();
        let last = g.rows[n - 1];
        for (i, s) in rows.iter().enumerate() {
            let model = g.model_cell(i, code, || bold(ALL));
            if std::ptr::eq(*s, last) {
                t.row(vec![model, bold(ALL)], bolds(cells(s)));
            } else {
                t.row(vec![model, code(workload_label(s))], cells(s));
            }
        }
    }
}

fn bold(s: &str) -> String {
    format!("**{s}**")
}

fn bolds(v: Vec<String>) -> Vec<String> {
    v.into_iter()
        .map(|s| if s == "–" { s } else { bold(&s) })
        .collect()
}

/// A name as a code span, safe inside a table cell.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

/// Plain text with Markdown's active characters escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A GitHub-flavoured table: label columns left-aligned, value columns right-aligned.
struct Table {
    head: Vec<String>,
    labels: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(labels: &[&str], values: &[&str]) -> Table {
        Table {
            head: labels.iter().chain(values).map(|s| s.to_string()).collect(),
            labels: labels.len(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, mut labels: Vec<String>, values: Vec<String>) {
        labels.extend(values);
        self.rows.push(labels);
    }

    fn render(&self) -> String {
        let mut out = format!("| {} |\n|", self.head.join(" | "));
        for i in 0..self.head.len() {
            out.push_str(if i < self.labels { "---|" } else { "---:|" });
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(code("a|b`c"), "`a\\|b'c`");
        assert_eq!(text("x_y *z* [l](u) #1"), "x\\_y \\*z\\* \\[l\\](u) \\#1");
    }
}
