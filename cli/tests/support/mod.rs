//! What the CLI's end-to-end tests share: the binary run as CI runs it (in a directory,
//! `CI` set, no stdin), scratch directories, and reading stores.
#![allow(dead_code)] // each test binary uses its own part

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `gpufault` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_gpufault");

/// A fresh directory for one test under cargo's per-target temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The binary with `args` in `dir`, as CI runs it.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdin(Stdio::null());
    c
}

/// Runs the binary to completion.
pub fn gpufault(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

/// Runs the binary and insists that it succeeds.
pub fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = gpufault(dir, args);
    assert!(
        out.status.success(),
        "gpufault {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts the binary (stdout dropped, stderr piped).
pub fn spawn(dir: &Path, args: &[&str]) -> Child {
    command(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs the binary in the package directory, where `cargo test` starts the tests.
pub fn run(args: &[&str]) -> Output {
    gpufault(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as JSON; panics with both streams when it is not.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// A read-only connection to a store (waits for a writer's lock).
pub fn read_only(store: &Path) -> Connection {
    let c = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// Rows of a table of a store.
pub fn count(store: &Path, table: &str) -> i64 {
    read_only(store)
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Waits until the store has at least `min` results; panics if the process ends first
/// or the campaign completes (then it was too short to be interrupted).
pub fn wait_for_results(child: &mut Child, store: &Path, min: i64, total: i64) -> i64 {
    let t = Instant::now();
    loop {
        let n = if store.exists() {
            count(store, "results")
        } else {
            0
        };
        assert!(
            n < total,
            "the campaign finished ({n}/{total}) before it could be interrupted; make it longer"
        );
        if n >= min {
            return n;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the campaign exited early with {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no results after 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every result of a store with its fault, in plan order: (subject, model, index, spec,
/// outcome JSON, activations, instructions, error text) — what must not depend on how a
/// campaign was run.
pub type ResultRow = (
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The [`ResultRow`]s of a store.
pub fn result_rows(store: &Path) -> Vec<ResultRow> {
    query(
        store,
        "SELECT r.subject, r.model, r.idx, p.spec, r.outcome_json, r.activations,
                r.instructions, r.error
         FROM results r JOIN plan p USING (subject, model, idx)
         ORDER BY r.subject, r.model, r.idx",
    )
}

/// Every row that `sql` selects from a store, as the tuple of its columns.
pub fn query<T>(store: &Path, sql: &str) -> Vec<T>
where
    T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    let c = read_only(store);
    let mut st = c.prepare(sql).unwrap();
    let rows = st
        .query_map([], |r| T::try_from(r))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// Plans and runs a campaign of `injections` wdrop faults into vecadd on `sim`, stored
/// in `dir/c.db`.
pub fn small_campaign(dir: &Path, injections: u32) {
    let n = injections.to_string();
    for args in [
        &[
            "campaign",
            "plan",
            "--workloads",
            "vecadd",
            "--models",
            "wdrop",
            "--injections",
            &n,
            "--device",
            "sim",
            "--out",
            "c.db",
        ][..],
        &["campaign", "run", "c.db"],
    ] {
        let o = gpufault(dir, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

/// The words of a command line: `words("campaign run c.db")` is
/// `["campaign", "run", "c.db"]`.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Asserts that `text` contains `part`, and shows `text` when it does not.
#[track_caller]
pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "no {part:?} in:\n{text}");
}
