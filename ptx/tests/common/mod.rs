//! Shared helpers of the integration tests: file discovery, ptxas, the round-trip check.

#![allow(dead_code)]

use ptx::ptxas::{find_in_workspace, gpu_name_for, Ptxas, PtxasOptions, Verdict};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent directory")
        .to_path_buf()
}

/// The `*.ptx` files of `dir`, sorted; panics with a clear message when the folder is
/// missing or holds no PTX.
pub fn ptx_files(dir: &Path) -> Vec<PathBuf> {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "PTX folder {} is missing ({e}); it is part of the repository",
            dir.display()
        )
    });
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ptx"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .ptx files in {}", dir.display());
    v
}

/// ptxas, or a panic that says how to install it.
pub fn ptxas() -> Ptxas {
    find_in_workspace().unwrap_or_else(|e| {
        panic!("this test needs ptxas: {e}\n  run: eval \"$(scripts/install-tools.sh)\"")
    })
}

/// What went wrong with one file, or `None`.
pub fn check_file(p: &Ptxas, path: &Path) -> Option<String> {
    let src = std::fs::read_to_string(path).expect("readable PTX file");
    let name = path.display();
    let module = match ptx::parse(&src) {
        Ok(m) => m,
        Err(e) => return Some(format!("{name}: parse errors:\n{e}")),
    };
    // Real PTX that ptxas accepts: validation must find nothing, in the original and
    // in the printed form.
    let invalid = ptx::validate(&module, &src);
    if !invalid.is_empty() {
        return Some(format!("{name}: validation errors:\n{}", render(&invalid)));
    }
    let printed = ptx::print(&module);
    let again = match ptx::parse(&printed) {
        Ok(m) => m,
        Err(e) => return Some(format!("{name}: printed form does not parse:\n{e}")),
    };
    let invalid = ptx::validate(&again, &printed);
    if !invalid.is_empty() {
        return Some(format!(
            "{name}: validation errors in the printed form:\n{}",
            render(&invalid)
        ));
    }
    let printed2 = ptx::print(&again);
    if printed2 != printed {
        return Some(format!(
            "{name}: printing is not a fixed point:\n{}",
            first_difference(&printed, &printed2)
        ));
    }
    let mut opts = PtxasOptions::new(gpu_name_for(&module));
    opts.verbose = true;
    let orig = p.check_file(path, &opts).expect("ptxas runs");
    if orig.verdict != Verdict::Accepted {
        return Some(format!(
            "{name}: ptxas rejects the original:\n{}",
            orig.diagnostics
        ));
    }
    let ours = p.check_str(&printed, &opts).expect("ptxas runs");
    if ours.verdict != Verdict::Accepted {
        return Some(format!(
            "{name}: ptxas {} the printed form:\n{}",
            ours.verdict, ours.diagnostics
        ));
    }
    // Same code in, same resources out: a dropped or changed instruction usually shows
    // here as a different register or stack count.
    if orig.functions != ours.functions {
        return Some(format!(
            "{name}: ptxas -v differs between original and printed form:\n  original: {:?}\n  printed:  {:?}",
            orig.functions, ours.functions
        ));
    }
    None
}

/// Validation errors, one a line.
fn render(errors: &[ptx::ValidationError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Checks every file on two threads; panics listing every failure.
pub fn check_all(files: &[PathBuf]) {
    let p = ptxas();
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                if let Some(msg) = check_file(&p, f) {
                    failures.lock().unwrap().push(msg);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// The first differing line of two texts, for readable failures.
pub fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  first:  {x}\n  second: {y}", i + 1);
        }
    }
    format!(
        "one text is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

/// A line diff of two texts (`-` expected, `+` got), for golden-file failures.
pub fn diff(expected: &str, got: &str) -> String {
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

/// Golden-file check: for each `*.ptx` of `dir` (at least `min`), `render` of its text
/// must equal the `.expected` file beside it; with `GPUFAULT_BLESS` set, the expected
/// files are rewritten instead. `render` panics on inputs it must not get. Panics listing
/// every difference.
pub fn golden(dir: &Path, min: usize, render: impl Fn(&Path, &str) -> String) {
    let files = ptx_files(dir);
    assert!(
        files.len() >= min,
        "expected at least {min} inputs in {}",
        dir.display()
    );
    let bless = std::env::var_os("GPUFAULT_BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let got = render(f, &src);
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
