//! Must-show test (c): golden error messages. Each `ptx/tests/errors/NAME.ptx` is parsed
//! with recovery; the rendered errors (`line:col: message`, one a line) followed by what
//! survived (functions and their instruction counts, which shows the recovery) must
//! equal `NAME.expected`. Set `GPUFAULT_BLESS=1` to rewrite the expected files after a
//! deliberate change, then review the diff.

mod common;

use std::fmt::Write;

fn render(src: &str) -> String {
    let (module, errors) = ptx::parse_recovering(src);
    let mut out = String::new();
    for e in &errors {
        writeln!(out, "{}:{}: {}", e.line, e.col, e.message).unwrap();
    }
    writeln!(out, "--").unwrap();
    for f in module.functions() {
        let n = f.body.as_deref().map_or(0, |b| ptx::flatten(b).insts.len());
        writeln!(out, "function {}, instructions: {n}", f.name).unwrap();
    }
    for v in module.globals() {
        writeln!(out, "variable {}", v.names[0].name).unwrap();
    }
    out
}

#[test]
fn golden_error_messages() {
    let dir = common::workspace().join("ptx/tests/errors");
    common::golden(&dir, 10, |f, src| {
        let got = render(src);
        assert!(
            !got.starts_with("--"),
            "{}: a malformed input parsed without error",
            f.display()
        );
        got
    });
}
