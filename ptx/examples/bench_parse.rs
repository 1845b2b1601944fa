//! Parser throughput benchmark (a program, not a test).
//!
//! Input: every `.ptx` of the vendored corpus (`tests/corpus/zluda`) and of the parser
//! fixtures (`ptx/tests/fixtures/{nvrtc,clang}`), concatenated and repeated until the
//! text is at least `--mb` MB (default 24). The big text parses with no error (the
//! parser does not reject repeated `.version` lines or names), but it is not one module
//! ptxas would accept. A second measurement parses the files one by one, repeated to the
//! same volume, to show the cost at real file sizes.
//!
//! Measures, on one thread, best of `--runs` (default 5): parse (`ptx::parse`; modules
//! are dropped outside the timed region) and parse + print. Prints a table and
//! writes JSON to `--json PATH` (default `target/bench/ptx-parse.json` in the
//! workspace).
//!
//! It runs on the system allocator (no `#[global_allocator]`), so the figures are the
//! library's own. The minor page faults of the fastest one-text parse are reported too
//! (Linux): the syntax tree is fresh memory, and whether the allocator hands the
//! previous run's pages back to the kernel in between (glibc trims its heap) shows
//! there, not in the parser.
//!
//!     cargo run --release -p gpufault-ptx --example bench_parse -- [--mb 24] [--runs 5] [--json PATH]

use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ptx"))
        .collect();
    v.sort();
    v
}

struct Args {
    mb: usize,
    runs: usize,
    json: PathBuf,
}

fn args(root: &Path) -> Args {
    let mut a = Args {
        mb: 24,
        runs: 5,
        json: root.join("target/bench/ptx-parse.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--mb" => a.mb = val().parse().expect("--mb takes a number"),
            "--runs" => a.runs = val().parse().expect("--runs takes a number"),
            "--json" => a.json = PathBuf::from(val()),
            "--bench" => {} // passed by `cargo bench`-style runners
            other => panic!("unknown argument {other}; use --mb N --runs N --json PATH"),
        }
    }
    a
}

/// Best (minimum) of `runs` calls of `f`, which returns the time it measured.
fn best(runs: usize, mut f: impl FnMut() -> std::time::Duration) -> f64 {
    (0..runs)
        .map(|_| f().as_secs_f64())
        .fold(f64::INFINITY, f64::min)
}

/// The process's minor page faults so far (Linux `/proc/self/stat`), if known.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name in parentheses: state, ppid, pgrp, session, tty_nr,
    // tpgid, flags, minflt.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let a = args(&root);
    let mut sources = Vec::new();
    for d in [
        "tests/corpus/zluda",
        "ptx/tests/fixtures/nvrtc",
        "ptx/tests/fixtures/clang",
    ] {
        for f in files(&root.join(d)) {
            sources.push(std::fs::read_to_string(&f).unwrap());
        }
    }
    let one: usize = sources.iter().map(String::len).sum();
    let copies = (a.mb * 1_000_000).div_ceil(one);
    let mut big = String::with_capacity(copies * (one + sources.len()));
    for _ in 0..copies {
        for s in &sources {
            big.push_str(s);
            big.push('\n');
        }
    }
    let mb = big.len() as f64 / 1e6;
    // Sanity: the input parses, and count what it holds.
    let m = ptx::parse(&big).unwrap_or_else(|e| panic!("benchmark input does not parse: {e}"));
    let insts: usize = m
        .functions()
        .filter_map(|f| f.body.as_deref())
        .map(|b| ptx::flatten(b).insts.len())
        .sum();
    let printed_len = ptx::print(&m).len();
    drop(m);

    // Each run's module is dropped before the next run starts, outside the timed region
    // (so the allocator can reuse its memory, as in a long-running process).
    let mut keep = None;
    let (mut fastest, mut faults) = (f64::INFINITY, None);
    let parse_s = best(a.runs, || {
        keep = None;
        let f0 = minor_faults();
        let t = Instant::now();
        let m = ptx::parse(&big).unwrap();
        let s = t.elapsed();
        if s.as_secs_f64() < fastest {
            fastest = s.as_secs_f64();
            faults = f0.zip(minor_faults()).map(|(a, b)| b - a);
        }
        keep = Some(m);
        s
    });
    let parse_print_s = best(a.runs, || {
        keep = None;
        let t = Instant::now();
        let m = ptx::parse(&big).unwrap();
        let s = ptx::print(&m);
        let e = t.elapsed();
        assert_eq!(s.len(), printed_len);
        keep = Some(m);
        e
    });
    keep = None;
    let mut small = Vec::with_capacity(sources.len());
    let files_s = best(a.runs, || {
        let mut total = std::time::Duration::ZERO;
        for _ in 0..copies {
            small.clear();
            let t = Instant::now();
            for s in &sources {
                small.push(ptx::parse(s).unwrap());
            }
            total += t.elapsed();
        }
        total
    });
    drop(keep);

    let rows = [
        ("parse, one text", parse_s),
        ("parse + print, one text", parse_print_s),
        ("parse, file by file", files_s),
    ];
    println!(
        "input: {mb:.1} MB ({} files x {copies} copies, {} instructions), best of {} runs, 1 thread, system allocator",
        sources.len(),
        insts,
        a.runs
    );
    println!("{:<28} {:>9} {:>10}", "measurement", "seconds", "MB/s");
    for (name, s) in rows {
        println!("{name:<28} {s:>9.3} {:>10.1}", mb / s);
    }
    let faults_text = faults.map_or_else(|| "unknown".to_string(), |f| f.to_string());
    println!("minor page faults in the fastest one-text parse: {faults_text}");
    let json = format!(
        "{{\n  \"input_mb\": {mb:.3},\n  \"files\": {},\n  \"copies\": {copies},\n  \"instructions\": {insts},\n  \"runs\": {},\n  \"allocator\": \"system\",\n  \"parse_mb_per_s\": {:.1},\n  \"parse_print_mb_per_s\": {:.1},\n  \"parse_file_by_file_mb_per_s\": {:.1},\n  \"parse_minor_page_faults\": {}\n}}\n",
        sources.len(),
        a.runs,
        mb / parse_s,
        mb / parse_print_s,
        mb / files_s,
        faults.map_or_else(|| "null".to_string(), |f| f.to_string())
    );
    if let Some(dir) = a.json.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&a.json, json).unwrap();
    println!("wrote {}", a.json.display());
}
