//! Renderers of a [`CampaignReport`](crate::CampaignReport), one module each, and the
//! text helpers they share; and the renderers of the health check's
//! [`CheckReport`](crate::check::CheckReport) (`check`, `prometheus`, `reason`).

pub(crate) mod check;
pub(crate) mod coverage;
pub(crate) mod csv;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod jsonl;
pub(crate) mod markdown;
pub(crate) mod prometheus;
pub(crate) mod reason;
mod svg;
pub(crate) mod table;

use crate::outcome::{DueCause, HangCause};
use crate::record::CampaignMeta;
use crate::summary::{CampaignReport, Rate, Summary};

/// `45.2%` (one decimal), or `–` when the rate is undefined.
pub(crate) fn pct(r: &Rate) -> String {
    if r.is_defined() {
        pct_of(r.share)
    } else {
        "–".into()
    }
}

/// A share in 0..=1 as `45.2%`.
pub(crate) fn pct_of(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `[41.1, 49.3]`, or empty when the rate is undefined.
pub(crate) fn ci(r: &Rate) -> String {
    if r.is_defined() {
        format!("[{:.1}, {:.1}]", r.lo * 100.0, r.hi * 100.0)
    } else {
        String::new()
    }
}

/// `45.2% [41.1, 49.3]`, or `–` when the rate is undefined.
pub(crate) fn pct_ci(r: &Rate) -> String {
    if r.is_defined() {
        format!("{} {}", pct(r), ci(r))
    } else {
        "–".into()
    }
}

/// `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A duration in microseconds for people: `850 µs`, `3.4 ms`, `12.3 s`, `4 min 03 s`,
/// `2 h 05 min`.
pub(crate) fn duration_us(us: u64) -> String {
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=999_999 => format!("{:.1} ms", us as f64 / 1e3),
        1_000_000..=59_999_999 => format!("{:.1} s", us as f64 / 1e6),
        _ => {
            let s = us / 1_000_000;
            if s < 3600 {
                format!("{} min {:02} s", s / 60, s % 60)
            } else {
                format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
            }
        }
    }
}

/// A small share as a percentage with two significant digits below 0.1% (`0.024%`,
/// `<0.0001%`), one decimal above (`12.5%`): SDC element shares are often tiny.
pub(crate) fn pct_fine(share: f64) -> String {
    let v = share * 100.0;
    if v == 0.0 || v >= 0.1 {
        format!("{v:.1}%")
    } else if v < 0.0001 {
        "<0.0001%".into()
    } else {
        let decimals = (1 - v.log10().floor() as i32).clamp(2, 5) as usize;
        format!("{v:.decimals$}%")
    }
}

/// An error magnitude: `0`, `0.25`, `3500`, `12.35`, `1.50e-7`, `inf`, `nan`: plain with
/// four significant digits between 0.001 and 100,000, scientific outside.
pub(crate) fn magnitude(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.2e}")
    }
}

/// The header facts of a campaign, in display order (label, value); empty values are
/// left out.
pub(crate) fn meta_rows(report: &CampaignReport) -> Vec<(&'static str, String)> {
    let m: &CampaignMeta = &report.meta;
    let t = &report.total;
    let mut rows: Vec<(&'static str, String)> = vec![
        ("campaign", m.campaign_id.clone()),
        ("created", m.created.clone()),
        ("device", m.device.clone()),
        (
            "device name",
            if m.device_name != m.device {
                m.device_name.clone()
            } else {
                String::new()
            },
        ),
        ("device UUID", m.device_uuid.clone().unwrap_or_default()),
        ("seed", m.seed.to_string()),
        ("tool version", m.tool_version.clone()),
        ("sampling", m.sampling.clone()),
        ("sampling rules", m.sampling_rules.clone()),
        ("site selection", m.site_selection.clone()),
        (
            "injections per cell",
            if m.injections_per_cell > 0 {
                thousands(m.injections_per_cell)
            } else {
                String::new()
            },
        ),
        (
            "hang after",
            if m.hang_factor > 0.0 {
                format!("{}× fault-free run", m.hang_factor)
            } else {
                String::new()
            },
        ),
        (
            "slow after",
            m.slow_factor
                .map(|f| format!("{f}× fault-free run"))
                .unwrap_or_default(),
        ),
        (
            "shard",
            m.shard
                .map(|s| format!("{}/{}", s.index, s.count))
                .unwrap_or_default(),
        ),
        ("host", m.host.clone().unwrap_or_default()),
        ("command", m.command.clone().unwrap_or_default()),
        (
            "runs",
            format!(
                "{} ({} activated, {} not activated)",
                thousands(t.injections),
                thousands(t.activated),
                thousands(t.not_activated)
            ),
        ),
        ("run time (summed over runs)", duration_us(t.elapsed_us)),
        (
            "runs with error text",
            if t.with_error > 0 {
                thousands(t.with_error)
            } else {
                String::new()
            },
        ),
    ];
    rows.retain(|(_, v)| !v.is_empty());
    rows
}

/// The extra key/value pairs of the metadata, sorted by key.
pub(crate) fn meta_extra(report: &CampaignReport) -> impl Iterator<Item = (&str, &str)> {
    report
        .meta
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// DUE causes that occur anywhere in the report (human renderers show only these).
pub(crate) fn due_causes_present(report: &CampaignReport) -> Vec<DueCause> {
    DueCause::ALL
        .into_iter()
        .filter(|c| {
            report
                .total
                .due_by_cause
                .get(c)
                .is_some_and(|r| r.count > 0)
        })
        .collect()
}

/// Hang causes that occur anywhere in the report.
pub(crate) fn hang_causes_present(report: &CampaignReport) -> Vec<HangCause> {
    HangCause::ALL
        .into_iter()
        .filter(|c| {
            report
                .total
                .hang_by_cause
                .get(c)
                .is_some_and(|r| r.count > 0)
        })
        .collect()
}

/// A group of rows as the human renderers show it: a model's cells then its total, or
/// (for the closing group) the per-workload totals then the grand total.
pub(crate) struct Group<'a> {
    /// The model name, or `None` for the all-models group.
    pub model: Option<&'a str>,
    /// The rows, cells first; the last one is the group's total.
    pub rows: Vec<&'a Summary>,
}

impl Group<'_> {
    /// The model column of the group's `i`-th row: on the first row the model as
    /// `model` writes it, or `all` for the all-models group; nothing below it.
    pub(crate) fn model_cell(
        &self,
        i: usize,
        model: impl FnOnce(&str) -> String,
        all: impl FnOnce() -> String,
    ) -> String {
        match (i, self.model) {
            (0, Some(m)) => model(m),
            (0, None) => all(),
            _ => String::new(),
        }
    }
}

/// The groups of the outcome tables, in report order.
pub(crate) fn groups(report: &CampaignReport) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = report
        .by_model
        .iter()
        .map(|m| {
            let name = m.model.as_deref().unwrap_or_default();
            let mut rows: Vec<&Summary> = report.cells_of_model(name).collect();
            rows.push(m);
            Group {
                model: Some(name),
                rows,
            }
        })
        .collect();
    let mut rows: Vec<&Summary> = report.by_workload.iter().collect();
    rows.push(&report.total);
    out.push(Group { model: None, rows });
    out
}

/// The label of a row's workload: its name, or `all` for a total over workloads.
pub(crate) fn workload_label(s: &Summary) -> &str {
    s.workload.as_deref().unwrap_or(ALL)
}

/// The label used for "all models" / "all workloads".
pub(crate) const ALL: &str = "all";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration_us(850), "850 µs");
        assert_eq!(duration_us(3_400), "3.4 ms");
        assert_eq!(duration_us(12_300_000), "12.3 s");
        assert_eq!(duration_us(243_000_000), "4 min 03 s");
        assert_eq!(duration_us(7_500_000_000), "2 h 05 min");
        assert_eq!(magnitude(f64::INFINITY), "inf");
        assert_eq!(magnitude(0.0015), "0.0015");
        assert_eq!(magnitude(0.25), "0.25");
        assert_eq!(magnitude(1.0), "1");
        assert_eq!(magnitude(3500.0), "3500");
        assert_eq!(magnitude(12.3456), "12.35");
        assert_eq!(magnitude(-2.0e-7), "-2.00e-7");
        assert_eq!(magnitude(1.5e9), "1.50e9");
        assert_eq!(magnitude(f64::NAN), "nan");
        assert_eq!(pct_fine(1.0 / 4096.0), "0.024%");
        assert_eq!(pct_fine(0.0), "0.0%");
        assert_eq!(pct_fine(0.125), "12.5%");
        assert_eq!(pct_fine(1e-9), "<0.0001%");
        assert_eq!(pct_ci(&Rate::new(452, 1000)), "45.2% [42.1, 48.3]");
        assert_eq!(pct_ci(&Rate::new(0, 0)), "–");
    }
}
