//! The terminal table: plain text, aligned columns, no colour.

use super::ci;
use super::{
    due_causes_present, duration_us, groups, hang_causes_present, magnitude, meta_extra, meta_rows,
    pct, pct_fine, thousands, workload_label, ALL,
};
use crate::summary::{CampaignReport, Rate, Summary};

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
    grid.col("model", Align::Left).col("workload", Align::Left);
    grid.col("runs", Align::Right);
    match style {
        TableStyle::Compact => {
            grid.col("act", Align::Right).col("masked", Align::Right);
            grid.share_col("SDC").share_col("DUE").share_col("hang");
        }
        TableStyle::Wide => {
            grid.col("not act", Align::Right).share_col("activated");
            grid.share_col("masked").col("slow", Align::Right);
            grid.share_col("SDC").share_col("DUE").share_col("hang");
            for c in &causes.0 {
                grid.col(&format!("due:{}", c.name()), Align::Right);
            }
            for c in &causes.1 {
                grid.col(&format!("hang:{}", c.name()), Align::Right);
            }
            for h in [
                "SDC elems (med)",
                "SDC NaN/Inf",
                "SDC max abs",
                "errors",
                "time",
            ] {
                grid.col(h, Align::Right);
            }
        }
    }
    for g in groups(report) {
        grid.blank();
        for (i, s) in g.rows.iter().enumerate() {
            let model = g.model_cell(i, str::to_string, || ALL.to_string());
            let mut cells = vec![
                model,
                workload_label(s).to_string(),
                thousands(s.injections),
            ];
            match style {
                TableStyle::Compact => {
                    cells.extend([pct(&s.activation), pct(&s.masked)]);
                    for r in [&s.sdc, &s.due, &s.hang] {
                        cells.extend(share_cells(r));
                    }
                }
                TableStyle::Wide => wide_cells(&mut cells, s, &causes),
            }
            grid.row(cells);
        }
    }
    let max = (style == TableStyle::Compact).then_some(COMPACT_WIDTH);
    out.push_str(&grid.render(max, 1));
    if !report.by_kernel.is_empty() {
        out.push('\n');
        out.push_str("per kernel (faults by the kernel of their site, all models)\n");
        out.push_str(&kernel_grid(report).render(max, 0));
    }
    if report.has_detection() {
        out.push('\n');
        out.push_str("detection (coverage = detected / (detected + escaped))\n");
        out.push_str(&detection_grid(report).render(max, 1));
    }
    out
}

/// A share and its interval as two cells (`45.2%`, `[41.1, 49.3]`), so that shares line
/// up; `–` and nothing when undefined.
fn share_cells(r: &Rate) -> [String; 2] {
    [pct(r), ci(r)]
}

fn wide_cells(
    cells: &mut Vec<String>,
    s: &Summary,
    causes: &(Vec<crate::DueCause>, Vec<crate::HangCause>),
) {
    cells.push(thousands(s.not_activated));
    cells.extend(share_cells(&s.activation));
    cells.extend(share_cells(&s.masked));
    cells.push(thousands(s.masked_slow));
    for r in [&s.sdc, &s.due, &s.hang] {
        cells.extend(share_cells(r));
    }
    cells.extend(causes.0.iter().map(|c| pct(&s.due_by_cause[c])));
    cells.extend(causes.1.iter().map(|c| pct(&s.hang_by_cause[c])));
    match &s.sdc_magnitude {
        Some(m) => cells.extend([
            pct_fine(m.differing_share_median),
            pct(&m.nan_inf),
            magnitude(m.max_abs),
        ]),
        None => cells.extend(["–", "–", "–"].map(String::from)),
    }
    cells.push(thousands(s.with_error));
    cells.push(duration_us(s.elapsed_us));
}

/// One row per (workload, kernel) of [`CampaignReport::by_kernel`].
fn kernel_grid(report: &CampaignReport) -> Grid {
    let mut grid = Grid::new();
    grid.col("workload", Align::Left).col("kernel", Align::Left);
    grid.col("runs", Align::Right);
    grid.col("act", Align::Right).col("masked", Align::Right);
    grid.share_col("SDC").share_col("DUE").share_col("hang");
    let mut last: Option<&str> = None;
    for s in &report.by_kernel {
        let w = workload_label(s);
        if last != Some(w) {
            grid.blank();
        }
        let mut cells = vec![
            if last == Some(w) {
                String::new()
            } else {
                w.to_string()
            },
            s.kernel.clone().unwrap_or_default(),
            thousands(s.injections),
            pct(&s.activation),
            pct(&s.masked),
        ];
        for r in [&s.sdc, &s.due, &s.hang] {
            cells.extend(share_cells(r));
        }
        grid.row(cells);
        last = Some(w);
    }
    grid
}

fn detection_grid(report: &CampaignReport) -> Grid {
    let mut grid = Grid::new();
    grid.col("model", Align::Left).col("workload", Align::Left);
    grid.col("detected", Align::Right)
        .col("escaped", Align::Right);
    grid.share_col("coverage");
    for h in ["of runs", "SM named", "SM right"] {
        grid.col(h, Align::Right);
    }
    for g in groups(report) {
        let rows: Vec<&&Summary> = g.rows.iter().filter(|s| s.detection.is_some()).collect();
        if rows.is_empty() {
            continue;
        }
        grid.blank();
        for (i, s) in rows.into_iter().enumerate() {
            let d = s.detection.as_ref().expect("filtered");
            let model = g.model_cell(i, str::to_string, || ALL.to_string());
            let mut cells = vec![
                model,
                workload_label(s).to_string(),
                thousands(s.detected.count),
                thousands(s.escaped.count),
            ];
            cells.extend(share_cells(&d.coverage));
            cells.extend([
                pct(&d.coverage_of_injections),
                pct(&d.sm_attributed),
                pct(&d.sm_correct),
            ]);
            grid.row(cells);
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
    out.push_str(match style {
        TableStyle::Compact => {
            "act = activated share of runs; masked, SDC, DUE, hang = share of activated runs\n"
        }
        TableStyle::Wide => {
            "activated = share of runs; not act = count; other shares are of activated runs\n"
        }
    });
    out.push_str("[95% Wilson score interval]; – = no runs to divide by\n");
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Align {
    Left,
    Right,
}

/// Rows of text cells, aligned per column; two spaces between columns, one between a
/// share and its interval. (The health check's table uses it too.)
pub(super) struct Grid {
    aligns: Vec<Align>,
    /// Spaces before each column (the first's is ignored).
    gaps: Vec<usize>,
    rows: Vec<Option<Vec<String>>>,
}

impl Grid {
    pub(super) fn new() -> Grid {
        Grid {
            aligns: Vec::new(),
            gaps: Vec::new(),
            rows: vec![Some(Vec::new())],
        }
    }

    fn head(&mut self) -> &mut Vec<String> {
        self.rows[0].as_mut().expect("the first row is the header")
    }

    /// Adds a column with its header.
    pub(super) fn col(&mut self, head: &str, align: Align) -> &mut Grid {
        self.head().push(head.to_string());
        self.aligns.push(align);
        self.gaps.push(2);
        self
    }

    /// Adds a share column: the share right-aligned under `head`, then its interval
    /// left-aligned one space after.
    fn share_col(&mut self, head: &str) -> &mut Grid {
        self.col(head, Align::Right);
        self.head().push(String::new());
        self.aligns.push(Align::Left);
        self.gaps.push(1);
        self
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.aligns.len());
        self.rows.push(Some(cells));
    }

    fn blank(&mut self) {
        self.rows.push(None);
    }

    /// Aligned text. With `max`, the column `shrink` is narrowed (to its header's width
    /// or 6 characters at least, cutting names with `…`) until lines fit.
    pub(super) fn render(&self, max: Option<usize>, shrink: usize) -> String {
        let ncols = self.aligns.len();
        let mut widths = vec![0usize; ncols];
        for cells in self.rows.iter().flatten() {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        if let Some(max) = max {
            let total: usize = widths.iter().sum::<usize>() + self.gaps[1..].iter().sum::<usize>();
            if total > max {
                let head = self.rows[0]
                    .as_ref()
                    .map_or(0, |h| h[shrink].chars().count());
                widths[shrink] = widths[shrink].saturating_sub(total - max).max(6).max(head);
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
                    line.extend(std::iter::repeat_n(' ', self.gaps[i]));
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
        g.col("m", Align::Left)
            .col("workload", Align::Left)
            .share_col("SDC");
        g.row(vec![
            "a".into(),
            "a_very_long_workload_name".into(),
            "5.0%".into(),
            "[1.0, 9.0]".into(),
        ]);
        g.blank();
        g.row(vec![
            "bb".into(),
            "w".into(),
            "45.2%".into(),
            "[41.1, 49.3]".into(),
        ]);
        assert_eq!(
            g.render(None, 1),
            "m   workload                     SDC\n\
             a   a_very_long_workload_name   5.0% [1.0, 9.0]\n\
             \n\
             bb  w                          45.2% [41.1, 49.3]\n"
        );
        assert_eq!(
            g.render(Some(30), 1),
            "m   workload    SDC\n\
             a   a_very_…   5.0% [1.0, 9.0]\n\
             \n\
             bb  w         45.2% [41.1, 49.3]\n"
        );
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }
}
