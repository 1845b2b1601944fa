//! Properties of every format on the seeded sample campaign.

use crate::fixture;
use reports::{
    parse_json, parse_jsonl, render_csv, render_html, render_json, render_jsonl, render_markdown,
    render_table, summarize, CampaignReport, DueCause, Format, HangCause, OutcomeKind, TableStyle,
};
use std::collections::BTreeSet;

fn sample() -> (CampaignReport, Vec<reports::RunRecord>) {
    let (meta, rs) = fixture::seeded(7, 60);
    (summarize(&meta, &rs), rs)
}

#[test]
fn the_sample_covers_every_outcome_kind_and_cause() {
    let (_, rs) = sample();
    let kinds: BTreeSet<OutcomeKind> = rs.iter().map(|r| r.outcome.kind()).collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    let (report, _) = sample();
    for c in DueCause::ALL {
        assert!(report.total.due_by_cause[&c].count > 0, "{c:?}");
    }
    for c in HangCause::ALL {
        assert!(report.total.hang_by_cause[&c].count > 0, "{c:?}");
    }
    let m = report.total.sdc_magnitude.unwrap();
    assert!(m.nan_inf.count > 0 && m.max_abs.is_infinite());
    assert!(report.total.masked_slow > 0);
    let d = report.total.detection.unwrap();
    assert!(d.sm_attributed.count < d.sm_attributed.of);
    assert!(d.sm_correct.count < d.sm_correct.of);
}

#[test]
fn compact_table_fits_100_columns() {
    let (report, _) = sample();
    let text = render_table(&report, TableStyle::Compact);
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} chars: {line}",
            line.chars().count()
        );
    }
    // Every model and the totals are there, with intervals.
    for m in report.models() {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{m} "))),
            "{m}\n{text}"
        );
    }
    let wide = render_table(&report, TableStyle::Wide);
    assert!(
        wide.lines().any(|l| l.chars().count() > 100),
        "wide is wide"
    );
    assert!(text.contains(&format!(
        "[{:.1}, {:.1}]",
        report.total.sdc.lo * 100.0,
        report.total.sdc.hi * 100.0
    )));
}

#[test]
fn json_and_jsonl_round_trip() {
    let (report, rs) = sample();
    assert_eq!(parse_json(&render_json(&report)).unwrap(), report);
    let lines = render_jsonl(&rs);
    assert_eq!(lines.lines().count(), rs.len());
    let back = parse_jsonl(&lines).unwrap();
    // NaN ≠ NaN, so compare the re-serialized forms.
    assert_eq!(render_jsonl(&back), lines);
}

#[test]
fn csv_has_a_row_per_summary_and_a_fixed_column_count() {
    let (report, _) = sample();
    let csv = render_csv(&report);
    let rows = report.cells.len() + report.by_model.len() + report.by_workload.len() + 1;
    assert_eq!(csv.lines().count(), rows + 1);
    let header = csv.lines().next().unwrap();
    let n = header.split(',').count();
    for line in csv.lines() {
        // No field of the sample holds a comma, so splitting on commas counts fields.
        assert_eq!(line.split(',').count(), n, "{line}");
    }
    assert!(csv.contains(",conv<3x3>&pool,"));
}

#[test]
fn markdown_tables_are_well_formed() {
    let (report, _) = sample();
    let md = render_markdown(&report);
    // Within one table every row has as many cells as its header.
    let mut cols = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = line.replace("\\|", "").matches('|').count();
            match cols {
                None => cols = Some(n),
                Some(c) => assert_eq!(n, c, "{line}"),
            }
        } else {
            cols = None;
        }
    }
    assert!(md.contains("`conv<3x3>&pool`"));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let (report, _) = sample();
    let html = render_html(&report);
    let lower = html.to_lowercase();
    for banned in [
        "<script",
        "<link",
        "@import",
        "src=",
        "url(http",
        "href=\"http",
    ] {
        assert!(!lower.contains(banned), "{banned}");
    }
    // The only URL is the SVG namespace.
    assert_eq!(
        lower.matches("http").count(),
        lower
            .matches("xmlns=\"http://www.w3.org/2000/svg\"")
            .count()
    );
    assert!(!html.contains("conv<3x3>"));
    assert!(html.contains("conv&lt;3x3&gt;&amp;pool"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    // Well-nested SVG: as many closes as opens.
    assert_eq!(html.matches("<svg").count(), 4);
    assert_eq!(html.matches("</svg>").count(), 4);
}

#[test]
fn every_format_renders_by_name() {
    let (report, _) = sample();
    for f in Format::ALL {
        let text = f.render(&report);
        // The CSV has no header facts; every other format names the campaign.
        let expected = if f == Format::Csv {
            "needleman_wunsch"
        } else {
            "sample-7"
        };
        assert!(text.contains(expected), "{f}");
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
}

#[test]
fn empty_and_never_activated_campaigns_render() {
    let empty = summarize(&reports::CampaignMeta::default(), []);
    let (meta, mut rs) = fixture::tiny();
    rs.retain(|r| r.outcome == reports::Outcome::NotActivated);
    let idle = summarize(&meta, &rs);
    for report in [&empty, &idle] {
        for f in Format::ALL {
            let text = f.render(report);
            assert!(!text.is_empty(), "{f}");
        }
        let html = render_html(report);
        assert_eq!(html.matches("<svg").count(), 3, "no detection chart");
        assert!(!html.contains("NaN"), "no NaN coordinates");
    }
    assert!(render_html(&idle).contains(">no activated runs</text>"));
    let table = render_table(&idle, TableStyle::Compact);
    assert!(
        table.contains("iat    vector_add     1  0.0%       –    –     –      –"),
        "{table}"
    );
}

/// The site selection shows in every header, and the per-kernel breakdown in the
/// terminal table, the HTML page, Markdown and the JSON report (issue 20).
#[test]
fn site_selection_and_kernels_reach_table_html_and_json() {
    let (mut meta, rs) = fixture::seeded(7, 20);
    meta.site_selection = "groups FP32; kernels k*; dynamic weight".into();
    let mut s = reports::Summarizer::new(meta);
    for (i, r) in rs.iter().enumerate() {
        s.add_in_kernel(r, Some(if i % 3 == 0 { "k_init" } else { "k_main" }));
    }
    let report = s.finish();
    assert!(report.by_kernel.len() >= 2);
    let table = render_table(&report, TableStyle::Compact);
    assert!(
        table.contains("site selection: groups FP32; kernels k*; dynamic weight"),
        "{table}"
    );
    let per_kernel = table
        .split("per kernel")
        .nth(1)
        .expect("a per-kernel section");
    assert!(per_kernel.contains("k_init") && per_kernel.contains("k_main"));
    let html = render_html(&report);
    assert!(html.contains("<h3 id=\"table-kernels\">Outcomes per kernel</h3>"));
    assert!(html.contains("<code>k_main</code>"));
    assert!(html.contains("groups FP32; kernels k*; dynamic weight"));
    let md = render_markdown(&report);
    let md_kernels = md
        .split("## Outcomes per kernel")
        .nth(1)
        .expect("a kernel table");
    assert!(md_kernels.contains("`k_init`") && md_kernels.contains("`k_main`"));
    let back = parse_json(&render_json(&report)).unwrap();
    assert_eq!(back.by_kernel, report.by_kernel);
    assert_eq!(back.meta.site_selection, report.meta.site_selection);
    let runs: u64 = report.by_kernel.iter().map(|k| k.injections).sum();
    assert_eq!(runs, report.total.injections);
}
