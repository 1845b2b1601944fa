//! Snapshots of the human and machine formats of small fixed record sets. Review changes
//! with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).

use crate::fixture;
use reports::{render_csv, render_json, render_markdown, render_table, summarize, TableStyle};

#[test]
fn table_compact() {
    let (meta, rs) = fixture::small();
    insta::assert_snapshot!(render_table(&summarize(&meta, &rs), TableStyle::Compact));
}

#[test]
fn table_wide() {
    let (meta, rs) = fixture::small();
    insta::assert_snapshot!(render_table(&summarize(&meta, &rs), TableStyle::Wide));
}

#[test]
fn csv() {
    let (meta, rs) = fixture::small();
    insta::assert_snapshot!(render_csv(&summarize(&meta, &rs)));
}

#[test]
fn markdown() {
    let (meta, rs) = fixture::small();
    insta::assert_snapshot!(render_markdown(&summarize(&meta, &rs)));
}

#[test]
fn json() {
    let (meta, rs) = fixture::tiny();
    insta::assert_snapshot!(render_json(&summarize(&meta, &rs)));
}
