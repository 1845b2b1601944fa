//! Golden validation messages: each `ptx/tests/invalid/NAME.ptx` parses without error
//! but is PTX that ptxas rejects; `ptx::validate` must report exactly the lines of
//! `NAME.expected` (`line:col: message`). Set `GPUFAULT_BLESS=1` to rewrite the expected
//! files after a deliberate change, then review the diff.

mod common;

fn render(src: &str) -> String {
    let module = ptx::parse(src).unwrap_or_else(|e| panic!("must parse:\n{e}"));
    ptx::validate(&module, src)
        .iter()
        .map(|e| format!("{e}\n"))
        .collect()
}

#[test]
fn golden_validation_messages() {
    let dir = common::workspace().join("ptx/tests/invalid");
    common::golden(&dir, 8, |f, src| {
        let got = render(src);
        assert!(!got.is_empty(), "{}: nothing reported", f.display());
        got
    });
}

#[test]
fn many_duplicate_kernels_are_each_reported_against_the_first() {
    // The case: thousands of kernels with one name (here 17,000, one a line).
    let mut src = String::from(".version 8.0\n.target sm_80\n.address_size 64\n");
    for _ in 0..17_000 {
        src.push_str(".visible .entry k() { ret; }\n");
    }
    let m = ptx::parse(&src).unwrap();
    let errs = ptx::validate(&m, &src);
    assert_eq!(errs.len(), 16_999);
    assert_eq!(
        errs[0].to_string(),
        "5:17: kernel `k` is defined twice (first at 4:17)"
    );
    assert_eq!(errs[16_998].line, 17_003);
}

#[test]
fn a_module_built_in_memory_gets_lines_without_columns() {
    let src = ".version 8.0\n.target sm_80\n.entry k()\n{\n\tfrobnicate;\n}\n";
    let m = ptx::parse(src).unwrap();
    let errs = ptx::validate(&m, "");
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].line, errs[0].col), (5, 0));
    assert_eq!(
        errs[0].kind,
        ptx::Invalid::UnknownOpcode {
            name: "frobnicate".into()
        }
    );
}
