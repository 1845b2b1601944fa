//! The terminal table: plain text, aligned columns, no colour.

use super::{
    due_causes_present, duration_us, groups, hang_causes_present, magnitude, meta_extra,
    meta_rows, pct, pct_ci, pct_of, thousands, workload_label, ALL,
};
use crate::summary::{CampaignReport, Summary};

/// How much the terminal table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TableStyle {
    /// Runs, activation, masked, and SDC / DUE / hang with intervals; fits 100 columns.
    #[default]
    Compact,
    /// Every statistic (intervals on every share, causes, SDC magnitude, time); as wide
    /// as it needs.
    Wide,
}

/// The width the compact table keeps to.
pub(crate) const COMPACT_WIDTH: usize = 100;

/// The report as an aligned plain-text table for a terminal: a header of campaign facts,
/// then one row per cell grouped by model (each group closing with the model's total),
/// then the per-workload totals and the grand total; a detection table follows for
/// detector campaigns. Shares are of activated runs, written `45.2% [41.1, 49.3]` (95%
/// Wilson interval); `–` marks a share with nothing to divide by.
pub fn render_table(report: &CampaignReport, style: TableStyle) -> String {
    let mut out = String::new();
    header(&mut out, report, style);
    let causes = (due_causes_present(report), hang_causes_present(report));
    let mut grid = Grid::new();
    let mut head: Vec<String> = ["model", "workload", "runs"].map(String::from).to_vec();
    match style {
        TableStyle::Compact => head.extend(["act", "masked", "SDC", "DUE", "hang"].map(String::from)),
        TableStyle::Wide => {
            head.extend(
                ["not act", "activated", "masked", "slow", "SDC", "DUE", "hang"].map(String::from),
            );
            head.extend(causes.0.iter().map(|c| format!("due:{}", c.name())));
            head.extend(causes.1.iter().map(|c| format!("hang:{}", c.name())));
            head.extend(
                ["SDC elems (med)", "SDC NaN/Inf", "SDC max abs", "errors", "time"].map(String::from),
            );
        }
    }
    let mut aligns = vec![Align::Left, Align::Left];
    aligns.resize(head.len(), Align::Right);
    grid.aligns = aligns;
    grid.row(head);
    for g in groups(report) {
        grid.blank();
        for (i, s) in g.rows.iter().enumerate() {
            let model = match (i, g.model) {
                (0, Some(m)) => m.to_string(),
                (0, None) => ALL.to_string(),
                _ => String::new(),
            };
            let mut cells = vec![model, workload_label(s).to_string(), thousands(s.injections)];
            match style {
                TableStyle::Compact => cells.extend([
                    pct(&s.activation),
                    pct(&s.masked),
                    pct_ci(&s.sdc),
                    pct_ci(&s.due),
                    pct_ci(&s.hang),
                ]),
                TableStyle::Wide => wide_cells(&mut cells, s, &causes),
            }
            grid.row(cells);
        }
    }
    let max = (style == TableStyle::Compact).then_some(COMPACT_WIDTH);
    out.push_str(&grid.render(max, 1));
    if report.has_detection() {
        out.push('\n');
        out.push_str("detection (coverage = detected / (detected + escaped))\n");
        out.push_str(&detection_grid(report).render(max, 1));
    }
    out
}

fn wide_cells(
    cells: &mut Vec<String>,
    s: &Summary,
    causes: &(Vec<crate::DueCause>, Vec<crate::HangCause>),
) {
    cells.extend([
        thousands(s.not_activated),
        pct_ci(&s.activation),
        pct_ci(&s.masked),
        thousands(s.masked_slow),
        pct_ci(&s.sdc),
        pct_ci(&s.due),
        pct_ci(&s.hang),
    ]);
    cells.extend(causes.0.iter().map(|c| pct(&s.due_by_cause[c])));
    cells.extend(causes.1.iter().map(|c| pct(&s.hang_by_cause[c])));
    match &s.sdc_magnitude {
        Some(m) => cells.extend([
            pct_of(m.differing_share_median),
            pct(&m.nan_inf),
            magnitude(m.max_abs),
        ]),
        None => cells.extend(["–", "–", "–"].map(String::from)),
    }
    cells.push(thousands(s.with_error));
    cells.push(duration_us(s.elapsed_us));
}

fn detection_grid(report: &CampaignReport) -> Grid {
    let mut grid = Grid::new();
    let head = [
        "model", "workload", "detected", "escaped", "coverage", "of runs", "SM named", "SM right",
    ];
    grid.aligns = vec![Align::Left, Align::Left];
    grid.aligns.resize(head.len(), Align::Right);
    grid.row(head.map(String::from).to_vec());
    for g in groups(report) {
        let rows: Vec<&&Summary> = g.rows.iter().filter(|s| s.detection.is_some()).collect();
        if rows.is_empty() {
            continue;
        }
        grid.blank();
        for (i, s) in rows.into_iter().enumerate() {
            let d = s.detection.as_ref().expect("filtered");
            let model = match (i, g.model) {
                (0, Some(m)) => m.to_string(),
                (0, None) => ALL.to_string(),
                _ => String::new(),
            };
            grid.row(vec![
                model,
                workload_label(s).to_string(),
                thousands(s.detected.count),
                thousands(s.escaped.count),
                pct_ci(&d.coverage),
                pct(&d.coverage_of_injections),
                pct(&d.sm_attributed),
                pct(&d.sm_correct),
            ]);
        }
    }
    grid
}

/// Campaign facts packed into lines of at most [`COMPACT_WIDTH`] characters.
fn header(out: &mut String, report: &CampaignReport, style: TableStyle) {
    let mut items: Vec<String> = meta_rows(report)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    items.extend(meta_extra(report).map(|(k, v)| format!("{k}: {v}")));
    let mut lineno = String::new();
    for item in items {
        let sep = if lineno.is_empty() { "" } else { " · " };
        if !lineno.is_empty()
            && lineno.chars().count() + sep.len() + item.chars().count() > COMPACT_WIDTH
        {
            out.push_str(&lineno);
            out.push('\n');
            lineno.clear();
            lineno.push_str(&item);
        } else {
            lineno.push_str(sep);
            lineno.push_str(&item);
        }
    }
    if !lineno.is_empty() {
        out.push_str(&lineno);
        out.push('\n');
    }
    let what = match style {
        TableStyle::Compact => "act = activated share of runs; masked, SDC, DUE, hang",
        TableStyle::Wide => "activated = share of runs; every other share",
    };
    out.push_str(&format!(
        "{what} = share of activated runs [95% Wilson interval]\n"
    ));
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// Rows of text cells, aligned per column, two spaces between columns.
struct Grid {
    aligns: Vec<Align>,
    rows: Vec<Option<Vec<String>>>,
}

impl Grid {
    fn new() -> Grid {
        Grid {
            aligns: Vec::new(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(Some(cells));
    }

    fn blank(&mut self) {
        self.rows.push(None);
    }

    /// Aligned text. With `max`, the column `shrink` is narrowed (to 6 characters at
    /// least, cutting names with `…`) until lines fit.
    fn render(&self, max: Option<usize>, shrink: usize) -> String {
        let ncols = self.aligns.len();
        let mut widths = vec![0usize; ncols];
        for cells in self.rows.iter().flatten() {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        if let Some(max) = max {
            let total: usize = widths.iter().sum::<usize>() + 2 * (ncols - 1);
            if total > max {
                widths[shrink] = widths[shrink].saturating_sub(total - max).max(6);
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let Some(cells) = row else {
                out.push('\n');
                continue;
            };
            let mut line = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let text = cut(c, widths[i]);
                let pad = widths[i] - text.chars().count();
                match self.aligns[i] {
                    Align::Left => {
                        line.push_str(&text);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(&text);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `s` cut to `width` characters, ending in `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_aligns_and_shrinks() {
        let mut g = Grid::new();
        g.aligns = vec![Align::Left, Align::Left, Align::Right];
        g.row(vec!["a".into(), "a_very_long_workload_name".into(), "1".into()]);
        g.blank();
        g.row(vec!["bb".into(), "w".into(), "1,000".into()]);
        assert_eq!(
            g.render(None, 1),
            "a   a_very_long_workload_name      1\n\nbb  w                          1,000\n"
        );
        assert_eq!(g.render(Some(20), 1), "a   a_very_l…      1\n\nbb  w          1,000\n");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }
}
