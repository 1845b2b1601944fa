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

fn diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => writeln!(out, "   {a}").unwrap(),
            (a, b) => {
                if let Some(a) = a {
                    writeln!(out, " - {a}").unwrap();
                }
                if let Some(b) = b {
                    writeln!(out, " + {b}").unwrap();
                }
            }
        }
    }
    out
}

#[test]
fn golden_error_messages() {
    let dir = common::workspace().join("ptx/tests/errors");
    let files = common::ptx_files(&dir);
    assert!(files.len() >= 10, "expected at least 10 malformed inputs");
    let bless = std::env::var_os("GPUFAULT_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let got = render(&src);
        assert!(
            !got.starts_with("--"),
            "{}: a malformed input parsed without error",
            f.display()
        );
        let exp_path = f.with_extension("expected");
        if bless {
            std::fs::write(&exp_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&exp_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with GPUFAULT_BLESS=1 once)",
                exp_path.display()
            )
        });
        if expected != got {
            failures.push(format!(
                "{} (- expected, + got):\n{}",
                f.file_name().unwrap().to_string_lossy(),
                diff(&expected, &got)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
