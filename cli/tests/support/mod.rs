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

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
    let c = read_only(store);
    let mut st = c
        .prepare(
            "SELECT r.subject, r.model, r.idx, p.spec, r.outcome_json, r.activations,
                    r.instructions, r.error
             FROM results r JOIN plan p USING (subject, model, idx)
             ORDER BY r.subject, r.model, r.idx",
        )
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
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
