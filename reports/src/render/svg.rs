//! Hand-built SVG charts for the HTML report: stacked outcome bars per model, model ×
//! workload heatmaps, detection coverage bars. Plain string building; every text is
//! escaped; no script.

use super::{ci, pct, pct_of, thousands, ALL};
use crate::summary::{CampaignReport, Rate, Summary};
use std::fmt::Write;

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An estimate of the rendered width of `s` in a sans-serif font of `px` pixels (no
/// layout engine here: per-character classes, erring wide).
pub(crate) fn text_width(s: &str, px: f64) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | ' ' | 'I' | 'f' | 't'
            | 'r' | '(' | ')' | '[' | ']' => 0.34,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.9,
            c if c.is_ascii_uppercase() => 0.7,
            c if c.is_ascii_digit() => 0.58,
            _ => 0.58,
        })
        .sum();
    em * px
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Parses `#rrggbb`.
    pub(crate) const fn hex(h: u32) -> Rgb {
        Rgb((h >> 16) as u8, (h >> 8) as u8, h as u8)
    }

    pub(crate) fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = c as f64 / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG contrast ratio with `o`.
    pub(crate) fn contrast(self, o: Rgb) -> f64 {
        let (a, b) = (self.luminance(), o.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// Black or white text, whichever contrasts more with this background (at least
    /// 4.58:1 for any background, above WCAG AA's 4.5:1).
    pub(crate) fn text_on(self) -> Rgb {
        if self.contrast(BLACK) >= self.contrast(WHITE) {
            BLACK
        } else {
            WHITE
        }
    }
}

/// Body text colour.
pub(crate) const INK: Rgb = Rgb::hex(0x1b1f24);
/// Secondary text colour.
pub(crate) const MUTED: Rgb = Rgb::hex(0x57606a);
const WHITE: Rgb = Rgb::hex(0xffffff);
const BLACK: Rgb = Rgb::hex(0x000000);
const GRID: &str = "#d8dee4";
const TRACK: &str = "#eef1f4";

/// A sequential colour scale over 0..=1 (piecewise linear between stops).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale(&'static [u32]);

/// ColorBrewer "Oranges" (SDC).
pub(crate) const ORANGES: Scale = Scale(&[
    0xfff5eb, 0xfee6ce, 0xfdd0a2, 0xfdae6b, 0xfd8d3c, 0xf16913, 0xd94801, 0xa63603, 0x7f2704,
]);
/// ColorBrewer "Blues" (DUE).
pub(crate) const BLUES: Scale = Scale(&[
    0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b,
]);

impl Scale {
    pub(crate) fn at(self, t: f64) -> Rgb {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let n = self.0.len() - 1;
        let x = t * n as f64;
        let i = (x.floor() as usize).min(n - 1);
        let f = x - i as f64;
        let (a, b) = (Rgb::hex(self.0[i]), Rgb::hex(self.0[i + 1]));
        let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
        Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// One outcome kind as the charts draw it.
pub(crate) struct Segment {
    /// Legend label.
    pub label: &'static str,
    /// Fill.
    pub color: Rgb,
    /// Its rate in a summary (share of activated runs).
    pub rate: fn(&Summary) -> &Rate,
}

impl Segment {
    const fn new(label: &'static str, color: u32, rate: fn(&Summary) -> &Rate) -> Segment {
        Segment {
            label,
            color: Rgb::hex(color),
            rate,
        }
    }
}

/// The activated outcomes, in stacking order (Okabe–Ito-derived colours, distinguishable
/// with colour-vision deficiencies; SDC darkened for white text).
pub(crate) const SEGMENTS: [Segment; 6] = [
    Segment::new("Masked", 0xb4c2cf, |s| &s.masked),
    Segment::new("SDC", 0xb94a00, |s| &s.sdc),
    Segment::new("DUE (crash)", 0x0072b2, |s| &s.due),
    Segment::new("Hang", 0xcc79a7, |s| &s.hang),
    Segment::new("Detected", 0x009e73, |s| &s.detected),
    Segment::new("Escaped", 0xe69f00, |s| &s.escaped),
];

/// Colour of the not-activated marker.
pub(crate) const NOT_ACTIVATED: Rgb = Rgb::hex(0x6e7781);

/// The segments that occur in the report (the four basic ones when nothing activated).
pub(crate) fn segments_present(report: &CampaignReport) -> Vec<&'static Segment> {
    let present: Vec<&Segment> = SEGMENTS
        .iter()
        .filter(|s| (s.rate)(&report.total).count > 0)
        .collect();
    if present.is_empty() {
        SEGMENTS[..4].iter().collect()
    } else {
        present
    }
}

/// Chart width (SVG user units; the page scales it down when narrower).
const WIDTH: f64 = 1100.0;
const FONT: f64 = 13.0;

/// `<svg …>` opening with an accessible title and description.
fn open(out: &mut String, id: &str, w: f64, h: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\" class=\"chart\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" font-size=\"{FONT}\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(desc)
    );
    // Diagonal hatch for "no data".
    let _ = write!(
        out,
        "<defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" \
         patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#f6f8fa\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c9d1d9\" stroke-width=\"2\"/>\
         </pattern></defs>"
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, fill: Rgb, extra: &str, s: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{}\"{extra}>{}</text>",
        fill.css(),
        esc(s)
    );
}

/// A legend: colour swatches with labels, wrapped to `width`; returns its height.
fn legend(out: &mut String, x0: f64, y0: f64, width: f64, items: &[(String, String)]) -> f64 {
    let (mut x, mut y) = (x0, y0);
    for (fill, label) in items {
        let w = 14.0 + 6.0 + text_width(label, FONT) + 22.0;
        if x > x0 && x + w > x0 + width {
            x = x0;
            y += 22.0;
        }
        let _ = write!(
            out,
            "<g class=\"legend-item\"><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" \
             rx=\"2\" fill=\"{fill}\" stroke=\"#8c959f\" stroke-width=\"0.5\"/>",
            y
        );
        text(out, x + 20.0, y + 11.5, "start", INK, "", label);
        out.push_str("</g>");
        x += w;
    }
    y - y0 + 22.0
}

/// The rows of a per-model chart: (label, summary, bold) for every model `keep` accepts,
/// then the bold all-models row.
fn model_rows(
    report: &CampaignReport,
    keep: impl Fn(&Summary) -> bool,
) -> Vec<(&str, &Summary, bool)> {
    let mut rows: Vec<(&str, &Summary, bool)> = report
        .by_model
        .iter()
        .filter(|s| keep(s))
        .map(|s| (s.model.as_deref().unwrap_or_default(), s, false))
        .collect();
    rows.push(("all models", &report.total, true));
    rows
}

/// Stacked horizontal bars, one per model and one for all models: the shares of the
/// activated outcomes, with a separate small bar of the not-activated share of all runs
/// and the run count on the right.
pub(crate) fn outcome_bars(report: &CampaignReport, id: &str) -> String {
    let segs = segments_present(report);
    let rows = model_rows(report, |_| true);

    let label_w = rows
        .iter()
        .map(|(l, _, bold)| text_width(l, FONT) * if *bold { 1.08 } else { 1.0 })
        .fold(60.0, f64::max)
        + 16.0;
    let right = 250.0;
    let x0 = label_w;
    let bw = WIDTH - label_w - right;
    let pitch = 30.0;
    let bar_h = 20.0;

    let mut body = String::new();
    let mut items: Vec<(String, String)> = segs
        .iter()
        .map(|s| (s.color.css(), s.label.to_string()))
        .collect();
    items.push((
        NOT_ACTIVATED.css(),
        "Not activated (share of all runs, right)".into(),
    ));
    let legend_h = legend(&mut body, x0, 0.0, bw + right, &items);

    let head_y = legend_h + 14.0;
    let na_x = x0 + bw + 24.0;
    let na_w = 84.0;
    text(
        &mut body,
        x0,
        head_y,
        "start",
        MUTED,
        " font-size=\"12\"",
        "share of activated runs",
    );
    text(
        &mut body,
        na_x,
        head_y,
        "start",
        MUTED,
        " font-size=\"12\"",
        "not activated",
    );
    text(
        &mut body,
        WIDTH - 2.0,
        head_y,
        "end",
        MUTED,
        " font-size=\"12\"",
        "runs",
    );

    let y0 = head_y + 10.0;
    let n_models = rows.len() - 1;
    let row_y = |i: usize| y0 + i as f64 * pitch + if i >= n_models { 12.0 } else { 0.0 };
    let y_end = row_y(rows.len() - 1) + pitch;

    // Grid lines and ticks behind the bars.
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = x0 + t * bw;
        let _ = write!(
            body,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{GRID}\"/>",
            y0 - 2.0,
            y_end - 4.0
        );
        text(
            &mut body,
            x,
            y_end + 12.0,
            "middle",
            MUTED,
            " font-size=\"12\"",
            &format!("{:.0}%", t * 100.0),
        );
    }
    let _ = write!(
        body,
        "<line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#8c959f\"/>",
        y_end - 4.0,
        x0 + bw,
        y_end - 4.0
    );
    let parts: Vec<String> = segs
        .iter()
        .map(|s| s.label.split(' ').next().unwrap_or_default().to_string())
        .map(|l| {
            if l == "SDC" || l == "DUE" {
                l
            } else {
                l.to_lowercase()
            }
        })
        .collect();
    text(
        &mut body,
        x0 + bw / 2.0,
        y_end + 30.0,
        "middle",
        INK,
        "",
        &format!("Share of activated runs ({} = 100%)", parts.join(" + ")),
    );
    if n_models > 0 {
        let sep = row_y(n_models) - 6.0;
        let _ = write!(
            body,
            "<line x1=\"0\" y1=\"{sep:.1}\" x2=\"{WIDTH:.0}\" y2=\"{sep:.1}\" stroke=\"{GRID}\" stroke-dasharray=\"4 3\"/>"
        );
    }

    for (i, (label, s, bold)) in rows.iter().enumerate() {
        let y = row_y(i) + (pitch - bar_h) / 2.0;
        let weight = if *bold { " font-weight=\"700\"" } else { "" };
        let _ = write!(body, "<g class=\"bar-row\" data-model=\"{}\">", esc(label));
        text(&mut body, x0 - 10.0, y + 14.5, "end", INK, weight, label);
        if s.activated == 0 {
            let _ = write!(
                body,
                "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h}\" fill=\"url(#{id}-hatch)\"/>"
            );
            text(
                &mut body,
                x0 + 8.0,
                y + 14.5,
                "start",
                MUTED,
                "",
                "no activated runs",
            );
        } else {
            let mut cum = 0.0;
            let mut cum_count = 0u64;
            let mut whiskers = String::new();
            for (k, seg) in segs.iter().enumerate() {
                let r = (seg.rate)(s);
                if r.count == 0 {
                    continue;
                }
                cum_count += r.count;
                // The boundary after this segment is the share of the runs in it and every
                // segment before; its 95% interval is drawn as a whisker across the bar
                // (the last boundary is 100% by construction and has none).
                if k + 1 < segs.len() && cum_count < r.of {
                    let b = Rate::new(cum_count, r.of);
                    let (xl, xh) = (x0 + b.lo * bw, x0 + b.hi * bw);
                    // along the bar's lower edge, clear of the value labels
                    let ym = y + bar_h - 3.0;
                    let d = format!(
                        "M{xl:.1} {ym:.1}H{xh:.1}M{xl:.1} {:.1}V{:.1}M{xh:.1} {:.1}V{:.1}",
                        ym - 3.0,
                        ym + 3.0,
                        ym - 3.0,
                        ym + 3.0
                    );
                    // a white halo under the ink keeps the whisker visible on any colour
                    let _ = write!(
                        whiskers,
                        "<g class=\"ci\" pointer-events=\"none\" fill=\"none\">\
                         <path d=\"{d}\" stroke=\"#ffffff\" stroke-width=\"3.5\"/>\
                         <path d=\"{d}\" stroke=\"{}\" stroke-width=\"1.5\"/></g>",
                        INK.css()
                    );
                }
                let xa = x0 + cum * bw;
                cum += r.share;
                let xb = x0 + cum.min(1.0) * bw;
                let w = xb - xa;
                let tip = format!(
                    "{label} — {}: {} {} ({} of {} activated runs)",
                    seg.label,
                    pct(r),
                    ci(r),
                    thousands(r.count),
                    thousands(r.of)
                );
                let _ = write!(
                    body,
                    "<rect class=\"seg\" x=\"{xa:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{}</title></rect>",
                    seg.color.css(),
                    esc(&tip)
                );
                let value = if w >= 46.0 {
                    Some(pct_of(r.share))
                } else if w >= 30.0 {
                    Some(format!("{:.0}%", r.share * 100.0))
                } else {
                    None
                };
                if let Some(v) = value {
                    text(
                        &mut body,
                        xa + w / 2.0,
                        y + 14.5,
                        "middle",
                        seg.color.text_on(),
                        " font-size=\"12\" pointer-events=\"none\"",
                        &v,
                    );
                }
            }
            body.push_str(&whiskers);
        }
        // Not-activated share of all runs.
        let na = s.not_activated_rate();
        let ty = y + 5.0;
        let _ = write!(
            body,
            "<rect x=\"{na_x:.1}\" y=\"{ty:.1}\" width=\"{na_w}\" height=\"10\" rx=\"2\" fill=\"{TRACK}\"/>"
        );
        if na.is_defined() {
            let _ = write!(
                body,
                "<rect class=\"na\" x=\"{na_x:.1}\" y=\"{ty:.1}\" width=\"{:.1}\" height=\"10\" rx=\"2\" fill=\"{}\"><title>{}</title></rect>",
                na.share * na_w,
                NOT_ACTIVATED.css(),
                esc(&format!(
                    "{label} — not activated: {} {} ({} of {} runs)",
                    pct(&na),
                    ci(&na),
                    thousands(na.count),
                    thousands(na.of)
                ))
            );
        }
        text(
            &mut body,
            na_x + na_w + 6.0,
            y + 14.5,
            "start",
            INK,
            " font-size=\"12\"",
            &pct(&na),
        );
        text(
            &mut body,
            WIDTH - 2.0,
            y + 14.5,
            "end",
            INK,
            weight,
            &thousands(s.injections),
        );
        body.push_str("</g>");
    }

    let h = y_end + 42.0;
    let mut out = String::new();
    open(
        &mut out,
        id,
        WIDTH,
        h,
        "Outcomes per fault model",
        "Stacked bars of the shares of masked, SDC, DUE and hang outcomes among activated \
         runs, one bar per fault model and one for all models; the small bars on the right \
         give the share of runs whose fault never activated.",
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// What a heatmap shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HeatKind {
    /// SDC share of activated runs.
    Sdc,
    /// DUE share of activated runs.
    Due,
}

impl HeatKind {
    fn rate(self, s: &Summary) -> &Rate {
        match self {
            HeatKind::Sdc => &s.sdc,
            HeatKind::Due => &s.due,
        }
    }

    fn scale(self) -> Scale {
        match self {
            HeatKind::Sdc => ORANGES,
            HeatKind::Due => BLUES,
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            HeatKind::Sdc => "SDC rate by fault model and workload",
            HeatKind::Due => "DUE (crash) rate by fault model and workload",
        }
    }

    fn short(self) -> &'static str {
        match self {
            HeatKind::Sdc => "SDC",
            HeatKind::Due => "DUE",
        }
    }
}

/// A model × workload heatmap of one outcome share, with an "all" row and column, the
/// value and interval printed in each cell and a colour legend.
pub(crate) fn heatmap(report: &CampaignReport, kind: HeatKind, id: &str) -> String {
    let models: Vec<&Summary> = report.by_model.iter().collect();
    let workloads: Vec<&Summary> = report.by_workload.iter().collect();
    let col_labels: Vec<&str> = workloads
        .iter()
        .map(|s| s.workload.as_deref().unwrap_or_default())
        .chain(std::iter::once(ALL))
        .collect();
    let row_labels: Vec<&str> = models
        .iter()
        .map(|s| s.model.as_deref().unwrap_or_default())
        .chain(std::iter::once(ALL))
        .collect();

    let cell_h = 40.0;
    let gap = 8.0;
    let label_w = row_labels
        .iter()
        .map(|l| text_width(l, FONT))
        .fold(40.0, f64::max)
        + 14.0;
    // Cells share the chart width (few workloads: wider cells), within readable bounds;
    // many workloads make the chart wider than the page, which then scales it down.
    let cell_w = ((WIDTH - label_w - gap - 60.0) / col_labels.len() as f64).clamp(72.0, 116.0);
    let max_col = col_labels
        .iter()
        .map(|l| text_width(l, 12.0))
        .fold(0.0, f64::max);
    let rotate = max_col > cell_w - 8.0;
    let angle: f64 = 40.0;
    let head_h = if rotate {
        max_col * angle.to_radians().sin() + 18.0
    } else {
        24.0
    };
    let ncols = col_labels.len();
    let nrows = row_labels.len();
    let col_x = |j: usize| label_w + j as f64 * cell_w + if j + 1 == ncols { gap } else { 0.0 };
    let row_y = |i: usize| head_h + i as f64 * cell_h + if i + 1 == nrows { gap } else { 0.0 };
    let grid_right = col_x(ncols - 1) + cell_w;
    let grid_bottom = row_y(nrows - 1) + cell_h;
    let overhang = if rotate {
        (max_col * angle.to_radians().cos() - cell_w / 2.0).max(0.0)
    } else {
        0.0
    };

    let mut body = String::new();
    for (j, l) in col_labels.iter().enumerate() {
        let cx = col_x(j) + cell_w / 2.0;
        let weight = if j + 1 == ncols {
            " font-weight=\"700\""
        } else {
            ""
        };
        if rotate {
            let _ = write!(
                body,
                "<text class=\"col-label\" transform=\"translate({cx:.1} {:.1}) rotate(-{angle})\" \
                 font-size=\"12\" fill=\"{}\"{weight}>{}</text>",
                head_h - 8.0,
                INK.css(),
                esc(l)
            );
        } else {
            let _ = write!(
                body,
                "<text class=\"col-label\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                 font-size=\"12\" fill=\"{}\"{weight}>{}</text>",
                head_h - 8.0,
                INK.css(),
                esc(l)
            );
        }
    }
    for (i, l) in row_labels.iter().enumerate() {
        let weight = if i + 1 == nrows {
            " font-weight=\"700\""
        } else {
            ""
        };
        text(
            &mut body,
            label_w - 10.0,
            row_y(i) + cell_h / 2.0 + 4.5,
            "end",
            INK,
            &format!(" class=\"row-label\"{weight}"),
            l,
        );
    }
    for (i, model) in row_labels.iter().enumerate() {
        for (j, workload) in col_labels.iter().enumerate() {
            let s = match (i + 1 == nrows, j + 1 == ncols) {
                (false, false) => report.cell(model, workload),
                (false, true) => Some(models[i]),
                (true, false) => Some(workloads[j]),
                (true, true) => Some(&report.total),
            };
            let (x, y) = (col_x(j), row_y(i));
            let (w, h) = (cell_w - 2.0, cell_h - 2.0);
            match s.map(|s| kind.rate(s)).filter(|r| r.is_defined()) {
                Some(r) => {
                    let bg = kind.scale().at(r.share);
                    let fg = bg.text_on();
                    let tip = format!(
                        "{model} × {workload} — {}: {} {} ({} of {} activated runs)",
                        kind.short(),
                        pct(r),
                        ci(r),
                        thousands(r.count),
                        thousands(r.of)
                    );
                    let _ = write!(
                        body,
                        "<g class=\"cell\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"{}\"><title>{}</title></rect>",
                        bg.css(),
                        esc(&tip)
                    );
                    text(
                        &mut body,
                        x + w / 2.0,
                        y + 17.0,
                        "middle",
                        fg,
                        " font-size=\"12.5\" font-weight=\"600\" pointer-events=\"none\"",
                        &pct_of(r.share),
                    );
                    text(
                        &mut body,
                        x + w / 2.0,
                        y + 31.0,
                        "middle",
                        fg,
                        " font-size=\"10\" pointer-events=\"none\"",
                        &format!("{:.1}–{:.1}", r.lo * 100.0, r.hi * 100.0),
                    );
                    body.push_str("</g>");
                }
                None => {
                    let _ = write!(
                        body,
                        "<g class=\"cell empty\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"url(#{id}-hatch)\"><title>{}</title></rect>",
                        esc(&format!("{model} × {workload}: no activated runs"))
                    );
                    text(&mut body, x + w / 2.0, y + 24.0, "middle", MUTED, "", "–");
                    body.push_str("</g>");
                }
            }
        }
    }

    // Legend: the colour scale from 0 to 100% and the no-data swatch.
    let ly = grid_bottom + 20.0;
    let lw = 280.0;
    let lx = label_w;
    let _ = write!(
        body,
        "<defs><linearGradient id=\"{id}-scale\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">"
    );
    for k in 0..=10 {
        let t = k as f64 / 10.0;
        let _ = write!(
            body,
            "<stop offset=\"{t:.1}\" stop-color=\"{}\"/>",
            kind.scale().at(t).css()
        );
    }
    body.push_str("</linearGradient></defs>");
    text(
        &mut body,
        lx,
        ly + 10.0,
        "start",
        INK,
        " font-size=\"12\"",
        &format!("{} share of activated runs", kind.short()),
    );
    let by = ly + 18.0;
    let _ = write!(
        body,
        "<rect class=\"scale\" x=\"{lx:.1}\" y=\"{by:.1}\" width=\"{lw}\" height=\"12\" fill=\"url(#{id}-scale)\" stroke=\"#8c959f\" stroke-width=\"0.5\"/>"
    );
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = lx + t * lw;
        let _ = write!(
            body,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#8c959f\"/>",
            by + 12.0,
            by + 16.0
        );
        text(
            &mut body,
            x,
            by + 28.0,
            "middle",
            MUTED,
            " font-size=\"11\"",
            &format!("{:.0}%", t * 100.0),
        );
    }
    let sx = lx + lw + 40.0;
    let _ = write!(
        body,
        "<rect x=\"{sx:.1}\" y=\"{by:.1}\" width=\"24\" height=\"12\" fill=\"url(#{id}-hatch)\" stroke=\"#8c959f\" stroke-width=\"0.5\"/>"
    );
    text(
        &mut body,
        sx + 30.0,
        by + 10.5,
        "start",
        INK,
        " font-size=\"12\"",
        "no activated runs",
    );
    text(
        &mut body,
        sx + 30.0 + text_width("no activated runs", 12.0) + 28.0,
        by + 10.5,
        "start",
        MUTED,
        " font-size=\"12\"",
        "cells: share, 95% interval below",
    );

    let w = (grid_right + overhang + 8.0).max(lx + lw + 420.0);
    let h = by + 36.0;
    let mut out = String::new();
    open(
        &mut out,
        id,
        w,
        h,
        kind.title(),
        &format!(
            "Heatmap of the {} share of activated runs for each fault model (rows) and \
             workload (columns), with totals over all workloads and all models.",
            kind.short()
        ),
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// Detection coverage per model (detector campaigns): a bar to the coverage share with
/// its interval as a whisker.
pub(crate) fn coverage_bars(report: &CampaignReport, id: &str) -> String {
    let rows = model_rows(report, |s| s.detection.is_some());
    let label_w = rows
        .iter()
        .map(|(l, _, _)| text_width(l, FONT) * 1.08)
        .fold(60.0, f64::max)
        + 16.0;
    let right = 340.0;
    let x0 = label_w;
    let bw = WIDTH - label_w - right;
    let pitch = 28.0;
    let bar_h = 16.0;
    let mut body = String::new();
    let y_end = rows.len() as f64 * pitch + 6.0;
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = x0 + t * bw;
        let _ = write!(
            body,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{GRID}\"/>",
            y_end
        );
        text(
            &mut body,
            x,
            y_end + 14.0,
            "middle",
            MUTED,
            " font-size=\"12\"",
            &format!("{:.0}%", t * 100.0),
        );
    }
    text(
        &mut body,
        x0 + bw / 2.0,
        y_end + 32.0,
        "middle",
        INK,
        "",
        "Detection coverage: detected / (detected + escaped), 95% interval as whisker",
    );
    for (i, (label, s, bold)) in rows.iter().enumerate() {
        let y = i as f64 * pitch + (pitch - bar_h) / 2.0 + 4.0;
        let weight = if *bold { " font-weight=\"700\"" } else { "" };
        text(&mut body, x0 - 10.0, y + 12.5, "end", INK, weight, label);
        let Some(d) = s.detection else {
            text(
                &mut body,
                x0 + 8.0,
                y + 12.5,
                "start",
                MUTED,
                "",
                "no detector runs",
            );
            continue;
        };
        let r = d.coverage;
        let _ = write!(
            body,
            "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h}\" fill=\"{TRACK}\"/>\
             <rect class=\"coverage\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{}</title></rect>",
            r.share * bw,
            SEGMENTS[4].color.css(),
            esc(&format!(
                "{label} — coverage {} {} ({} of {})",
                pct(&r),
                ci(&r),
                thousands(r.count),
                thousands(r.of)
            ))
        );
        let (xl, xh, ym) = (x0 + r.lo * bw, x0 + r.hi * bw, y + bar_h / 2.0);
        let _ = write!(
            body,
            "<path d=\"M{xl:.1} {ym:.1}H{xh:.1}M{xl:.1} {:.1}V{:.1}M{xh:.1} {:.1}V{:.1}\" stroke=\"{}\" stroke-width=\"1.5\" fill=\"none\"/>",
            ym - 5.0,
            ym + 5.0,
            ym - 5.0,
            ym + 5.0,
            INK.css()
        );
        text(
            &mut body,
            x0 + bw + 12.0,
            y + 12.5,
            "start",
            INK,
            weight,
            &format!("{} {}", pct(&r), ci(&r)),
        );
        text(
            &mut body,
            x0 + bw + 170.0,
            y + 12.5,
            "start",
            MUTED,
            " font-size=\"12\"",
            &format!("SM named in {}", pct(&d.sm_attributed)),
        );
    }
    let h = y_end + 42.0;
    let mut out = String::new();
    open(
        &mut out,
        id,
        WIDTH,
        h,
        "Detection coverage per fault model",
        "Bars of the share of activated faults the health check detected, per fault model, \
         with 95% Wilson intervals.",
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_colours() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(ORANGES.at(0.0), Rgb::hex(0xfff5eb));
        assert_eq!(ORANGES.at(1.0), Rgb::hex(0x7f2704));
        assert_eq!(BLUES.at(f64::NAN), Rgb::hex(0xf7fbff));
        // Half-way between the 5th and 6th stops of 9 (t = 4.5 / 8).
        assert_eq!(BLUES.at(4.5 / 8.0), Rgb(0x57, 0xa0, 0xce));
        assert_eq!(Rgb::hex(0xffffff).contrast(Rgb::hex(0)), 21.0);
    }

    #[test]
    fn cell_text_meets_wcag_aa_contrast() {
        // Every colour a number is printed on: heatmap scales and bar segments.
        for scale in [ORANGES, BLUES] {
            for k in 0..=100 {
                let bg = scale.at(k as f64 / 100.0);
                let c = bg.contrast(bg.text_on());
                assert!(c >= 4.5, "{} on {}: {c:.2}", bg.text_on().css(), bg.css());
            }
        }
        for s in &SEGMENTS {
            let c = s.color.contrast(s.color.text_on());
            assert!(c >= 4.5, "{}: {c:.2}", s.label);
        }
    }
}
