//! CSV: one row per cell, then one per model total, one per workload total and the grand
//! total (RFC 4180 quoting, `\n` line ends).

use crate::outcome::{DueCause, HangCause};
use crate::summary::{CampaignReport, Rate, Summary};

/// The report as CSV, one row per [`Summary`]: every cell (model-major), then each
/// model's total, each workload's total, and the grand total.
///
/// Columns, in order (shares are fractions in 0..=1 with six decimals; a share whose
/// denominator is 0 is an empty field, as are SDC and detection columns of a row that has
/// none):
///
/// | column | meaning |
/// |---|---|
/// | `scope` | `cell`, `model`, `workload` or `total` |
/// | `model`, `workload` | names; empty when the row spans all of them |
/// | `injections` | runs recorded |
/// | `not_activated` | runs whose fault never activated |
/// | `activated` | the other runs: denominator of every outcome share |
/// | `activation_share`, `activation_lo`, `activation_hi` | activated / injections with its 95% Wilson interval |
/// | `masked`, `masked_share`, `masked_lo`, `masked_hi` | masked runs: count, share of activated, interval |
/// | `masked_slow` | masked runs flagged slow |
/// | `sdc`, `sdc_share`, `sdc_lo`, `sdc_hi` | silent data corruptions, as for masked |
/// | `due`, `due_share`, `due_lo`, `due_hi` | crashes (DUE), as for masked |
/// | `hang`, `hang_share`, `hang_lo`, `hang_hi` | hangs, as for masked |
/// | `due_<cause>` | DUE count per cause, for every [`DueCause`] (`due_illegal_address`, …) |
/// | `hang_<cause>` | hang count per cause, for every [`HangCause`] (`hang_budget`, …) |
/// | `detected`, `escaped` | detector outcomes |
/// | `coverage_share`, `coverage_lo`, `coverage_hi` | detected / (detected + escaped) |
/// | `coverage_of_injections_share` | detected / injections |
/// | `sm_attributed_share` | detected runs naming an SM / detected |
/// | `sm_correct_share` | detected runs naming the faulty SM / detected runs whose fault SM is known |
/// | `sdc_differing_share_median`, `sdc_differing_share_max` | share of output elements differing, over SDC runs |
/// | `sdc_max_abs`, `sdc_max_rel` | largest absolute / relative error (`inf` possible) |
/// | `sdc_flipped_bits` | differing bits summed over SDC runs |
/// | `sdc_nan_inf`, `sdc_nan_inf_share` | SDC runs with NaN/Inf in the output: count, share of SDCs |
/// | `with_error` | runs whose record carries an error text |
/// | `elapsed_us` | wall time of all runs, summed, microseconds |
pub fn render_csv(report: &CampaignReport) -> String {
    let mut out = String::new();
    line(&mut out, header());
    let rows = report
        .cells
        .iter()
        .chain(&report.by_model)
        .chain(&report.by_workload)
        .chain(std::iter::once(&report.total));
    for s in rows {
        line(&mut out, row(s));
    }
    out
}

fn header() -> Vec<String> {
    let mut h: Vec<String> = [
        "scope",
        "model",
        "workload",
        "injections",
        "not_activated",
        "activated",
        "activation_share",
        "activation_lo",
        "activation_hi",
    ]
    .map(String::from)
    .to_vec();
    for kind in ["masked", "masked_slow", "sdc", "due", "hang"] {
        if kind == "masked_slow" {
            h.push(kind.into());
            continue;
        }
        h.push(kind.into());
        for part in ["share", "lo", "hi"] {
            h.push(format!("{kind}_{part}"));
        }
    }
    h.extend(DueCause::ALL.iter().map(|c| format!("due_{}", c.name())));
    h.extend(HangCause::ALL.iter().map(|c| format!("hang_{}", c.name())));
    h.extend(
        [
            "detected",
            "escaped",
            "coverage_share",
            "coverage_lo",
            "coverage_hi",
            "coverage_of_injections_share",
            "sm_attributed_share",
            "sm_correct_share",
            "sdc_differing_share_median",
            "sdc_differing_share_max",
            "sdc_max_abs",
            "sdc_max_rel",
            "sdc_flipped_bits",
            "sdc_nan_inf",
            "sdc_nan_inf_share",
            "with_error",
            "elapsed_us",
        ]
        .map(String::from),
    );
    h
}

fn share(v: f64) -> String {
    format!("{v:.6}")
}

/// share, lo, hi of a rate (empty when undefined).
fn sli(r: &Rate) -> [String; 3] {
    if r.is_defined() {
        [share(r.share), share(r.lo), share(r.hi)]
    } else {
        Default::default()
    }
}

fn only_share(r: &Rate) -> String {
    if r.is_defined() {
        share(r.share)
    } else {
        String::new()
    }
}

fn row(s: &Summary) -> Vec<String> {
    let mut r = vec![
        s.scope.name().to_string(),
        s.model.clone().unwrap_or_default(),
        s.workload.clone().unwrap_or_default(),
        s.injections.to_string(),
        s.not_activated.to_string(),
        s.activated.to_string(),
    ];
    r.extend(sli(&s.activation));
    for (rate, slow) in [
        (&s.masked, Some(s.masked_slow)),
        (&s.sdc, None),
        (&s.due, None),
        (&s.hang, None),
    ] {
        r.push(rate.count.to_string());
        r.extend(sli(rate));
        if let Some(slow) = slow {
            r.push(slow.to_string());
        }
    }
    r.extend(
        DueCause::ALL
            .iter()
            .map(|c| s.due_by_cause.get(c).map_or(0, |r| r.count).to_string()),
    );
    r.extend(
        HangCause::ALL
            .iter()
            .map(|c| s.hang_by_cause.get(c).map_or(0, |r| r.count).to_string()),
    );
    r.push(s.detected.count.to_string());
    r.push(s.escaped.count.to_string());
    match &s.detection {
        Some(d) => {
            r.extend(sli(&d.coverage));
            r.push(only_share(&d.coverage_of_injections));
            r.push(only_share(&d.sm_attributed));
            r.push(only_share(&d.sm_correct));
        }
        None => r.extend(std::iter::repeat_n(String::new(), 6)),
    }
    match &s.sdc_magnitude {
        Some(m) => {
            r.push(share(m.differing_share_median));
            r.push(share(m.differing_share_max));
            r.push(m.max_abs.to_string());
            r.push(m.max_rel.to_string());
            r.push(m.flipped_bits.to_string());
            r.push(m.nan_inf.count.to_string());
            r.push(only_share(&m.nan_inf));
        }
        None => r.extend(std::iter::repeat_n(String::new(), 7)),
    }
    r.push(s.with_error.to_string());
    r.push(s.elapsed_us.to_string());
    r
}

fn line(out: &mut String, fields: Vec<String>) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(f));
    }
    out.push('\n');
}

/// RFC 4180: a field holding a comma, quote, CR or LF, or starting or ending with a
/// space, is quoted, with quotes doubled.
fn quote(f: &str) -> std::borrow::Cow<'_, str> {
    let needs = f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ');
    if needs {
        format!("\"{}\"", f.replace('"', "\"\"")).into()
    } else {
        f.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CampaignMeta, RunRecord};
    use crate::summary::summarize;
    use crate::Outcome;

    #[test]
    fn quoting() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote(" padded"), "\" padded\"");
        assert_eq!(quote(""), "");
    }

    #[test]
    fn every_row_has_every_column() {
        let rec = |w: &str| RunRecord {
            workload: w.into(),
            model: "m".into(),
            spec: String::new(),
            outcome: Outcome::Masked { slow: false },
            activations: None,
            instructions: None,
            elapsed_us: 1,
            error: None,
            fault_sm: None,
        };
        let report = summarize(&CampaignMeta::default(), &[rec("a,\"b\""), rec("c")]);
        let csv = render_csv(&report);
        let n = header().len();
        // 2 cells + 1 model + 2 workloads + total, plus the header.
        assert_eq!(csv.lines().count(), 7, "{csv}");
        for l in csv.lines() {
            // No field here holds a comma except the quoted name.
            let unquoted = l.replace("\"a,\"\"b\"\"\"", "x");
            assert_eq!(unquoted.split(',').count(), n, "{l}");
        }
        assert!(
            csv.contains("\ncell,m,\"a,\"\"b\"\"\",1,0,1,1.000000,"),
            "{csv}"
        );
    }
}
