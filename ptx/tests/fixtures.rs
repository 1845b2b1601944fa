//! Must-show test (b): PTX from two other code generators (NVRTC 12.9 with and without
//! `-lineinfo`/`-G`, clang-14 with and without `-g`; sources and generator script in
//! `ptx/tests/fixtures/src` and `scripts/gen-ptx-fixtures.sh`) parses with no error,
//! printing is a fixed point, and ptxas accepts the printed form with the same
//! per-function resources as the original.

mod common;

use std::path::PathBuf;

fn fixtures(generator: &str) -> Vec<PathBuf> {
    common::ptx_files(
        &common::workspace()
            .join("ptx/tests/fixtures")
            .join(generator),
    )
}

#[test]
fn nvrtc_fixtures_round_trip_through_ptxas() {
    let files = fixtures("nvrtc");
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".G.ptx")));
    common::check_all(&files);
}

#[test]
fn clang_fixtures_round_trip_through_ptxas() {
    let files = fixtures("clang");
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().ends_with(".g.ptx")));
    common::check_all(&files);
}

#[test]
fn debug_fixtures_keep_their_debug_directives() {
    // The -G / -g variants must come back with their .file, .loc and .section content.
    for f in fixtures("nvrtc").into_iter().chain(fixtures("clang")) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".G.ptx") || name.ends_with(".g.ptx")) {
            continue;
        }
        let src = std::fs::read_to_string(&f).unwrap();
        let m = ptx::parse(&src).unwrap();
        let sections: Vec<&ptx::Section> = m
            .items
            .iter()
            .filter_map(|i| match i {
                ptx::Item::Section(s) => Some(s),
                _ => None,
            })
            .collect();
        assert!(!sections.is_empty(), "{name}: no .section parsed");
        let lines: usize = sections.iter().map(|s| s.lines.len()).sum();
        assert!(lines > 20, "{name}: only {lines} section lines");
        let printed = ptx::print(&m);
        let locs = |s: &str| {
            s.lines()
                .filter(|l| l.trim_start().starts_with(".loc"))
                .count()
        };
        assert_eq!(locs(&printed), locs(&src), "{name}: .loc count changed");
        assert!(printed.contains(".file"), "{name}: .file lost");
    }
}
