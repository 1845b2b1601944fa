//! End-to-end regressions of the lower layers seen through the CLI: `ptx check` must
//! not call invalid PTX ok (and `stats`/`instrument` must refuse it), a PTX file that
//! is not UTF-8 is reported with its line and byte offset, and a campaign gives the
//! same records whichever isolation ran it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{assert_contains, command, gpufault, stderr, stdout, words, BIN};

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("hardening-{name}"))
}

const HEADER: &str = ".version 8.0\n.target sm_80\n.address_size 64\n";

/// A kernel whose fourth line holds an opcode that no PTX ISA has (issue: it passed
/// `check`, `stats` and `instrument`, then failed in `sim run`).
fn unknown_opcode() -> String {
    format!(
        "{HEADER}.visible .entry k(.param .u64 p)\n{{\n\t.reg .f32 %f<3>;\n\tfrobnicate.f32 %f1, %f2;\n\tret;\n}}\n"
    )
}

#[test]
fn check_stats_and_instrument_refuse_an_unknown_opcode() {
    let d = scratch("opcode");
    std::fs::write(d.join("frob.ptx"), unknown_opcode()).unwrap();
    let want = "frob.ptx:7:2: error: unknown opcode `frobnicate`\nfrob.ptx: 1 error\n";
    for args in [
        &["ptx", "check", "frob.ptx"][..],
        &["ptx", "stats", "frob.ptx"],
        &["ptx", "stats", "--json", "frob.ptx"],
        &["ptx", "instrument", "--model", "iat", "frob.ptx"],
    ] {
        let o = gpufault(&d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), want, "{args:?}");
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
    // `sim run` still loads it (the virtual GPU faults only if the opcode is reached)
    // and warns about it.
    let o = gpufault(
        &d,
        &[
            "sim", "run", "frob.ptx", "--kernel", "k", "--grid", "1", "--block", "1", "--arg",
            "u64:0",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_contains(
        &stderr(&o),
        "not decoded: line 7 in `k`: unsupported instruction `frobnicate`",
    );
}

#[test]
fn check_reports_every_duplicate_kernel_against_the_first() {
    // The file: 17,000 kernels of one name.
    let d = scratch("dups");
    let mut src = HEADER.to_string();
    for _ in 0..17_000 {
        src.push_str(".visible .entry k() { ret; }\n");
    }
    std::fs::write(d.join("dups.ptx"), &src).unwrap();
    let o = gpufault(&d, &["ptx", "check", "dups.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 17_000, "16,999 errors and the count");
    assert_eq!(
        lines[0],
        "dups.ptx:5:17: error: kernel `k` is defined twice (first at 4:17)"
    );
    assert_eq!(
        lines[16_998],
        "dups.ptx:17003:17: error: kernel `k` is defined twice (first at 4:17)"
    );
    assert_eq!(lines[16_999], "dups.ptx: 16999 errors");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn check_rejects_unknown_versions_and_targets_and_keeps_good_files_ok() {
    let d = scratch("version");
    let body = ".visible .entry k()\n{\n\tret;\n}\n";
    std::fs::write(
        d.join("v99.ptx"),
        format!(".version 99.9\n.target sm_80\n{body}"),
    )
    .unwrap();
    std::fs::write(
        d.join("sm999.ptx"),
        format!(".version 8.0\n.target sm_999\n{body}"),
    )
    .unwrap();
    std::fs::write(d.join("good.ptx"), format!("{HEADER}{body}")).unwrap();
    let o = gpufault(&d, &["ptx", "check", "v99.ptx", "sm999.ptx", "good.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("v99.ptx:1:1: error: unsupported PTX ISA version 99.9 (known: 1.0 to 9.4)\n"),
        "{err}"
    );
    assert!(
        err.contains("sm999.ptx:2:9: error: unknown target `sm_999`"),
        "{err}"
    );
    assert_eq!(
        stdout(&o),
        "good.ptx: ok (1 kernel, 0 device functions)\n",
        "only the good file is ok"
    );
}

#[test]
fn non_utf8_ptx_names_the_line_and_byte_offset() {
    let d = scratch("utf8");
    // Line 3, after "// caf": byte offset 13 + 14 + 6 = 33.
    let mut bytes = HEADER.as_bytes()[..27].to_vec();
    bytes.extend_from_slice(b"// caf\xe9\n");
    std::fs::write(d.join("latin1.ptx"), &bytes).unwrap();
    let want = "latin1.ptx:3:7: error: not UTF-8 text: invalid byte 0xe9 (byte offset 33)\n\
                latin1.ptx: 1 error\n";
    for args in [
        &["ptx", "check", "latin1.ptx"][..],
        &["ptx", "fmt", "latin1.ptx"],
        &["ptx", "stats", "latin1.ptx"],
        &["ptx", "instrument", "--model", "iat", "latin1.ptx"],
    ] {
        let o = gpufault(&d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), want, "{args:?}");
    }
    let o = gpufault(
        &d,
        &words("sim run latin1.ptx --kernel k --grid 1 --block 1"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "latin1.ptx: not UTF-8 text: invalid byte 0xe9 at line 3, column 7 (byte offset 33)"
        ),
        "{}",
        stderr(&o)
    );
}

/// The columns of a stored result compared between two runs of one plan: the three that
/// identify the row, then what the store itself compares ([`injector::RESULT_COLUMNS`]:
/// every column but when, where and how long it ran).
fn result_columns() -> Vec<&'static str> {
    let mut c = vec!["subject", "model", "idx"];
    c.extend(injector::RESULT_COLUMNS);
    c
}

/// Every stored result of `store` as [`result_columns`] rendered to text, keyed by the
/// row's identity (its first three columns).
fn results(store: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    use rusqlite::types::ValueRef;
    let db =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let columns = result_columns();
    let sql = format!("SELECT {} FROM results", columns.join(", "));
    let mut stmt = db.prepare(&sql).unwrap();
    let rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => "NULL".to_string(),
                        ValueRef::Integer(x) => x.to_string(),
                        // bit-exact: the same run gives the same doubles
                        ValueRef::Real(x) => format!("{:#x}", x.to_bits()),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Blob(b) => format!("{b:?}"),
                    })
                })
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .unwrap();
    rows.map(|r| {
        let r = r.unwrap();
        (r[..3].join("/"), r)
    })
    .collect()
}

#[test]
fn a_plan_gives_the_same_records_with_thread_and_process_isolation() {
    // The plan: 96 of its 200 error texts differed between the isolations (the
    // faulting address, sometimes the kernel), and every error repeated its prefix.
    let d = scratch("isolation");
    let o = gpufault(
        &d,
        &words(
            "campaign plan --workloads bfs,gemm_tiled --models ira,iio --injections 50 --seed \
            5 --device sim --out plan.db",
        ),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for isolation in ["thread", "process"] {
        let store = format!("{isolation}.db");
        std::fs::copy(d.join("plan.db"), d.join(&store)).unwrap();
        let o = gpufault(
            &d,
            &words(&format!(
                "campaign run {store} --isolation {isolation} -j 2"
            )),
        );
        assert_eq!(o.status.code(), Some(0), "{isolation}: {}", stderr(&o));
    }
    let (thread, process) = (
        results(&d.join("thread.db")),
        results(&d.join("process.db")),
    );
    assert_eq!(thread.len(), 200, "every planned injection has a result");
    let error_col = result_columns().iter().position(|c| *c == "error").unwrap();
    let errors = thread.values().filter(|r| r[error_col] != "NULL").count();
    assert!(errors > 50, "the plan has DUEs to compare ({errors})");
    for r in thread.values() {
        for kind in [
            "illegal address",
            "misaligned address",
            "illegal instruction",
            "trap",
        ] {
            let e = &r[error_col];
            assert!(
                !e.starts_with(&format!("{kind}: {kind}")),
                "the error repeats its prefix: {e}"
            );
        }
    }
    let mut differ = Vec::new();
    for (key, t) in &thread {
        let p = process
            .get(key)
            .unwrap_or_else(|| panic!("{key}: no process result"));
        for ((col, a), b) in result_columns().iter().zip(t).zip(p) {
            if a != b {
                differ.push(format!("{key} {col}:\n  thread:  {a}\n  process: {b}"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} differences:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// A kernel that does nothing: a launch of many one-thread CTAs of it is bound by the
/// per-CTA cost (the 2^31-1-CTA launch ran for minutes without a sign of life).
const NOP: &str =
    ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry nop()\n{\n\tret;\n}\n";

/// `sim run` of the launch: 2^31-1 one-thread CTAs of [`NOP`] (minutes of work).
const LONG_LAUNCH: [&str; 9] = [
    "sim",
    "run",
    "nop.ptx",
    "--kernel",
    "nop",
    "--grid",
    "2147483647",
    "--block",
    "1",
];

/// Starts `cmd` with stdout and stderr piped, collects both until `done` holds for
/// what was collected or `limit` passes, then kills it; returns (stdout, stderr).
fn run_until(
    mut cmd: Command,
    limit: std::time::Duration,
    done: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the command starts");
    let collect = |mut r: Box<dyn Read + Send>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                b.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        buf
    };
    let out = collect(Box::new(child.stdout.take().unwrap()));
    let err = collect(Box::new(child.stderr.take().unwrap()));
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).into_owned();
    let start = std::time::Instant::now();
    while start.elapsed() < limit && !done(&text(&out), &text(&err)) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(100));
    (text(&out), text(&err))
}

#[test]
fn a_long_launch_shows_progress_on_a_terminal_only() {
    let d = scratch("progress");
    std::fs::write(d.join("nop.ptx"), NOP).unwrap();
    let secs = std::time::Duration::from_secs;
    // stderr not a terminal: after 4 s (the bar would appear after 2), nothing on it.
    let mut cmd = command(&d, &LONG_LAUNCH);
    cmd.env_remove("CI");
    let (out, err) = run_until(cmd, secs(4), |_, _| false);
    assert!(out.is_empty() && err.is_empty(), "no bar: {out:?} {err:?}");
    // On a terminal (a pseudo-terminal from util-linux `script`), the bar appears.
    let line = std::iter::once(BIN)
        .chain(LONG_LAUNCH)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.current_dir(&d)
        .env_remove("CI")
        .args(["-qefc", &line, "/dev/null"]);
    let bar = |tty: &str| {
        tty.contains("launch 00:00:0")
            && tty.contains("/2147483647 CTAs · ")
            && tty.contains(" of 10G budget · ETA ")
    };
    let t = std::time::Instant::now();
    let (tty, _) = run_until(cmd, secs(60), |o, _| bar(o));
    assert!(bar(&tty), "a progress bar on the terminal: {tty:?}");
    assert!(t.elapsed() >= secs(2), "not before 2 s");
}
