//! `gpufault report -o FILE` never destroys data: not the campaign store (by any path to
//! it), not another SQLite database, and a failed write (a full disk) leaves no
//! truncated report behind.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{gpufault, scratch, small_campaign, stderr, BIN};

/// A finished campaign store `c.db` of 3 injections in a fresh directory.
fn store(name: &str) -> PathBuf {
    let dir = scratch(&format!("report-{name}"));
    small_campaign(&dir, 3);
    dir
}

/// Opens `dir/c.db` and reads from it, as a campaign still running would: its journal
/// files (`-wal`, `-shm`) exist while the connection lives.
fn hold(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(
        dir.join("c.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    c
}

fn is_sqlite(path: &Path) -> bool {
    std::fs::read(path)
        .unwrap()
        .starts_with(b"SQLite format 3\0")
}

/// Files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `report c.db -f csv -o OUT` must exit 2 naming OUT, with `why` in the message.
fn refused(dir: &Path, out: &str, why: &str) {
    let o = gpufault(dir, &["report", "c.db", "--format", "csv", "-o", out]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "-o {out}: {err}");
    assert!(
        err.contains(&format!("-o {out}")) && err.contains(why),
        "{err}"
    );
}

#[test]
fn the_store_itself_is_never_the_output() {
    let dir = store("same");
    let before = std::fs::read(dir.join("c.db")).unwrap();
    std::os::unix::fs::symlink("c.db", dir.join("link.db")).unwrap();
    std::fs::hard_link(dir.join("c.db"), dir.join("hard.db")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let absolute = dir.join("c.db").display().to_string();
    for out in ["c.db", "./sub/../c.db", &absolute, "link.db", "hard.db"] {
        refused(&dir, out, "is the campaign store c.db itself");
    }
    assert_eq!(std::fs::read(dir.join("c.db")).unwrap(), before);
    assert!(gpufault(&dir, &["campaign", "status", "c.db"])
        .status
        .success());
    // its journal files are the store too
    let _held = hold(&dir);
    for out in ["c.db-wal", "c.db-shm"] {
        refused(&dir, out, "a journal of the campaign store");
    }
}

#[test]
fn no_sqlite_database_is_overwritten_but_other_files_are() {
    let dir = store("other");
    std::fs::copy(dir.join("c.db"), dir.join("other.db")).unwrap();
    let before = std::fs::read(dir.join("other.db")).unwrap();
    refused(&dir, "other.db", "is an SQLite database");
    assert_eq!(std::fs::read(dir.join("other.db")).unwrap(), before);
    // an ordinary file is replaced by the report, as before; so is a symlink's target
    std::fs::write(dir.join("r.csv"), "old\n").unwrap();
    std::os::unix::fs::symlink("r.csv", dir.join("r-link.csv")).unwrap();
    let o = gpufault(&dir, &["report", "c.db", "-f", "csv", "-o", "r-link.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = gpufault(&dir, &["report", "c.db", "-f", "csv"]).stdout;
    assert_eq!(std::fs::read(dir.join("r.csv")).unwrap(), stdout);
    assert!(std::fs::symlink_metadata(dir.join("r-link.csv"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(is_sqlite(&dir.join("c.db")));
    // what is not a regular file is written to, not replaced
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(fifo).unwrap()
    });
    let o = gpufault(&dir, &["report", "c.db", "-f", "csv", "-o", "fifo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(reader.join().unwrap(), stdout);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_failed_write_leaves_no_partial_report() {
    let dir = store("full");
    let html = gpufault(&dir, &["report", "c.db", "-f", "html"]).stdout;
    assert!(html.len() > 16 << 10, "the report outgrows the limit");
    // A full disk, simulated with a file-size limit of 8 KiB or less (sh counts in
    // blocks of 512 or 1024 bytes): writing past it fails.
    let limited = |out: &str| {
        Command::new("sh")
            .args(["-c", "ulimit -f 8 && exec \"$0\" \"$@\""])
            .arg(BIN)
            .args(["report", "c.db", "--format", "html", "-o", out])
            .current_dir(&dir)
            .env("CI", "true")
            .output()
            .unwrap()
    };
    // The report's connection maps the held store's shared-memory index (32 KiB)
    // instead of creating it, which the limit would stop before the report is rendered.
    let _held = hold(&dir);
    let files = listing(&dir);
    let o = limited("r.html");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = stderr(&o);
    assert!(
        err.contains("-o r.html") && err.contains("File too large"),
        "{err}"
    );
    assert_eq!(listing(&dir), files, "no report, no temporary file left");
    // an existing report stays whole
    std::fs::write(dir.join("r.html"), "the previous report\n").unwrap();
    let o = limited("r.html");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("r.html")).unwrap(),
        "the previous report\n"
    );
}
