//! Must-show test (a): every file of the vendored ZLUDA corpus parses with no error,
//! printing is a fixed point, and ptxas accepts the printed form with the same
//! per-function resources as the original.

mod common;

#[test]
fn zluda_corpus_parses_round_trips_and_passes_ptxas() {
    let dir = common::workspace().join("tests/corpus/zluda");
    let files = common::ptx_files(&dir);
    assert!(
        files.len() >= 188,
        "expected the 188 corpus files, found {}",
        files.len()
    );
    common::check_all(&files);
}
