//! Campaign stores through the CLI: what is not a store, where a store cannot be made,
//! and a damaged store, each said once and plainly (issue 15, items 6 and 9).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{gpufault, query, stderr, words};

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("store-cli-{name}"))
}

/// `campaign plan` of a small campaign, before its `--out`.
const PLAN: &str = "campaign plan --workloads vecadd --models iat --injections 20 --device sim";

#[test]
fn a_directory_is_not_a_store_and_says_so() {
    let dir = scratch("dir");
    std::fs::create_dir(dir.join("d.db")).unwrap();
    for args in [
        &["report", "d.db"][..],
        &["campaign", "status", "d.db"],
        &["campaign", "run", "d.db"],
        &["campaign", "resume", "d.db"],
    ] {
        let o = gpufault(&dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("d.db: is a directory, not a campaign store"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "said once: {err}");
    }
}

#[test]
fn a_store_where_none_can_be_made_is_refused_before_planning_once() {
    let dir = scratch("unwritable");
    let o = gpufault(&dir, &words(&format!("{PLAN} --out nodir/c.db")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("nodir/c.db: cannot create the store: directory nodir does not exist"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "said once: {err}");

    // a read-only directory (as a user without write permission: root may write
    // anywhere, so the test drops to `nobody` when it runs as root)
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let line = format!("{PLAN} --out ro/c.db");
    let o = unprivileged(&dir, &words(&line), "ro/c.db");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ro/c.db: cannot create the store: directory ro is not writable"),
        "{err}"
    );
    assert!(!err.contains("partial"), "names no hidden file: {err}");
    assert_eq!(err.lines().count(), 1, "said once: {err}");
}

/// Runs gpufault in `dir` as a user without write permission where the files do not
/// grant it: root may write anywhere, so it drops to `nobody` when the test runs as root
/// (the binary and the directories on the way must be readable by `nobody`). `names`:
/// a path the error must name (to tell it from `nobody` failing to start the binary).
fn unprivileged(dir: &Path, args: &[&str], names: &str) -> Output {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        return gpufault(dir, args);
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_gpufault"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("setpriv (util-linux) runs");
    let err = stderr(&o);
    if err.contains("Permission denied") && !err.contains(names) {
        panic!("`nobody` cannot run the test binary here: {err}");
    }
    o
}

#[test]
fn a_read_only_store_is_refused_as_read_only_not_as_damaged() {
    let dir = scratch("read-only");
    std::fs::create_dir(dir.join("ro")).unwrap();
    let o = gpufault(&dir, &words(&format!("{PLAN} --out ro/c.db")));
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = |p: &Path, m| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap()
    };
    mode(&dir.join("ro/c.db"), 0o444);
    mode(&dir.join("ro"), 0o555);
    let o = unprivileged(
        &dir,
        &["campaign", "run", "ro/c.db", "--jobs", "1"],
        "ro/c.db",
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ro/c.db: the campaign store is read-only for this user"),
        "{err}"
    );
    assert!(!err.contains("damaged"), "{err}");
    // reading it still works (SQLite cannot make the WAL index beside it: read as
    // immutable, as no `-wal` file says a writer has it open)
    for args in [
        &["campaign", "status", "ro/c.db"][..],
        &["report", "ro/c.db", "--format", "json"],
    ] {
        let o = unprivileged(&dir, args, "ro/c.db");
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    mode(&dir.join("ro"), 0o755);
}

#[test]
fn a_damaged_store_is_refused_by_every_command() {
    let dir = scratch("damaged");
    let o = gpufault(&dir, &words(&format!("{PLAN} --out c.db")));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gpufault(&dir, &["campaign", "run", "c.db", "--jobs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // fold the log into the file, then write garbage into its pages
    let path = dir.join("c.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[4096 + 64..3 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    for args in [
        &["report", "c.db"][..],
        &["report", "c.db", "--format", "json"],
        &["campaign", "status", "c.db"],
        &["campaign", "resume", "c.db"],
    ] {
        let o = gpufault(&dir, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("c.db: the campaign store is damaged"), "{err}");
        assert!(o.stdout.is_empty(), "{args:?} printed a report");
    }
}

/// Runs `script` with `sh` in a new user and mount namespace, where it may mount a
/// small tmpfs (a real full disk, with no privilege on the host).
fn in_namespace(dir: &Path, script: &str) -> Output {
    let probe = Command::new("unshare")
        .args(["-rm", "true"])
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        probe.status.success(),
        "this test needs `unshare -rm` (user and mount namespaces) to make a full disk: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .current_dir(dir)
        .output()
        .expect("unshare runs")
}

#[test]
fn a_full_disk_fails_the_session_with_its_reason_and_resume_continues() {
    // issue 15, item 8: a write error used to leave the session `running` (later
    // `stale`); it must end `failed`, saying why, with every committed result kept
    let dir = scratch("full-disk");
    let plan = |out: &str| {
        let o = gpufault(
            &dir,
            &words(&format!(
                "campaign plan --workloads vecadd --models iat --injections 600 --device sim \
                 --out {out}"
            )),
        );
        assert!(o.status.success(), "{}", stderr(&o));
    };
    plan("c.db");
    plan("whole.db");
    let size = std::fs::metadata(dir.join("c.db")).unwrap().len();
    // room for the store, the session's reserve (1 MiB) and a few dozen commits
    let fs_kib = size / 1024 + 1024 + 160;
    let exe = env!("CARGO_BIN_EXE_gpufault");
    let script = format!(
        "set -u; mkdir -p full && mount -t tmpfs -o size={fs_kib}k tmpfs full && cp c.db full/ \
         && '{exe}' campaign run full/c.db --jobs 1; echo \"rc=$?\" >&2; \
         cp full/c.db* . ; ls -a full >&2"
    );
    let o = in_namespace(&dir, &script);
    let err = stderr(&o);
    assert!(err.contains("rc=2"), "{err}");
    assert!(
        err.contains("database or disk is full"),
        "the error says the disk is full: {err}"
    );
    assert!(!err.contains("reserve"), "no reserve file left: {err}");
    // the store on the full disk: some results, the session failed with the reason
    let conn = rusqlite::Connection::open(dir.join("c.db")).unwrap();
    let done: i64 = conn
        .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap();
    assert!(done > 0 && done < 600, "{done} results");
    let (status, reason, completed): (String, Option<String>, i64) = conn
        .query_row("SELECT status, reason, completed FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(status, "failed");
    assert!(
        reason.as_deref().unwrap_or("").contains("disk is full"),
        "{reason:?}"
    );
    assert_eq!(completed, done);
    drop(conn);
    // with room again, resume finishes it, equal to an uninterrupted run
    let o = gpufault(&dir, &["campaign", "resume", "c.db"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gpufault(&dir, &["campaign", "run", "whole.db", "--jobs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = |db: &str| -> Vec<(i64, String)> {
        query(
            &dir.join(db),
            "SELECT idx, outcome_json FROM results ORDER BY idx",
        )
    };
    assert_eq!(rows("c.db").len(), 600);
    assert_eq!(rows("c.db"), rows("whole.db"));
}
