//! End-to-end tests of `gpufault campaign` and `gpufault report` (issue #7): the real
//! binary, real stores, real signals.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use support::*;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("campaign-{name}"))
}

/// What must not depend on how a campaign was run: the fault and what it did.
#[derive(Debug, PartialEq)]
struct Row {
    workload: String,
    model: String,
    index: i64,
    spec: String,
    outcome: String,
    activations: Option<i64>,
    instructions: Option<i64>,
}

impl TryFrom<&rusqlite::Row<'_>> for Row {
    type Error = rusqlite::Error;
    fn try_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            workload: r.get(0)?,
            model: r.get(1)?,
            index: r.get(2)?,
            spec: r.get(3)?,
            outcome: r.get(4)?,
            activations: r.get(5)?,
            instructions: r.get(6)?,
        })
    }
}

fn rows(store: &Path) -> Vec<Row> {
    query(
        store,
        "SELECT r.subject, r.model, r.idx, p.spec, r.outcome_json, r.activations, r.instructions
         FROM results r JOIN plan p USING (subject, model, idx)
         ORDER BY r.subject, r.model, r.idx",
    )
}

/// Everything stored about one result, timings and session included.
fn raw_results(store: &Path) -> Vec<(String, String, i64, String, i64, String)> {
    query(
        store,
        "SELECT subject, model, idx, outcome_json, session, finished FROM results
         ORDER BY subject, model, idx",
    )
}

/// The statistics of a store's JSON report (every cell, model, workload and the total),
/// without wall times.
fn report_stats(dir: &Path, store: &str) -> serde_json::Value {
    let out = ok(dir, &["report", store, "--format", "json"]);
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    drop_timings(&mut v);
    let stats = serde_json::json!([v["cells"], v["by_model"], v["by_workload"], v["total"]]);
    assert!(stats[3]["injections"].as_u64().unwrap() > 0);
    stats
}

/// Removes the wall-time fields (`elapsed_us`) of a JSON report: they are the only
/// statistics that may differ between two runs of the same plan.
fn drop_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("elapsed_us");
            m.values_mut().for_each(drop_timings);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_timings),
        _ => {}
    }
}

fn assert_same_rows(a: &[Row], b: &[Row]) {
    assert_eq!(a.len(), b.len(), "different numbers of results");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "results differ");
    }
}

fn plan(dir: &Path, out: &str, workloads: &str, models: &str, n: u32) {
    ok(
        dir,
        &words(&format!(
            "campaign plan --workloads {workloads} --models {models} --injections {n} --seed 7 \
             --device sim --out {out}"
        )),
    );
}

fn copy(dir: &Path, from: &str, to: &str) {
    std::fs::copy(dir.join(from), dir.join(to)).unwrap();
}

/// Sends `SIG<signal>` to `target` (a pid, or `-PGID` for a process group), waits for
/// the campaign to exit and returns its exit code and standard error.
fn interrupt(child: Child, signal: &str, target: &str) -> (Option<i32>, String) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn killed_and_resumed_campaign_equals_an_uninterrupted_one() {
    let dir = scratch("kill");
    plan(&dir, "plan.db", "vecadd,bfs,gemm_naive", "iat,wv,brx", 20);
    copy(&dir, "plan.db", "whole.db");
    copy(&dir, "plan.db", "killed.db");
    let total = count(&dir.join("plan.db"), "plan");
    assert_eq!(total, 3 * 3 * 20);

    ok(&dir, &["campaign", "run", "whole.db", "--jobs", "2"]);
    let whole = rows(&dir.join("whole.db"));
    assert_eq!(whole.len() as i64, total);

    let killed = dir.join("killed.db");
    let mut child = spawn(&dir, &["campaign", "run", "killed.db", "--jobs", "2"]);
    wait_for_results(&mut child, &killed, 10, total);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let before = raw_results(&killed);
    assert!(
        !before.is_empty() && (before.len() as i64) < total,
        "{} of {total} results at the kill",
        before.len()
    );
    assert_eq!(count(&killed, "sessions"), 1);

    let out = ok(&dir, &["campaign", "resume", "killed.db"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{total}/{total} injections done")),
        "{err}"
    );

    // nothing lost, nothing run twice: every result committed before the kill is still
    // there untouched (same session, same commit time), and the rest came from session 2
    let after = raw_results(&killed);
    for r in &before {
        assert!(
            after.contains(r),
            "result changed or lost after resume: {r:?}"
        );
    }
    assert!(after.iter().all(|r| r.4 == 1 || r.4 == 2));
    assert_eq!(
        after.iter().filter(|r| r.4 == 2).count(),
        after.len() - before.len()
    );
    let c = read_only(&killed);
    let statuses: Vec<String> = c
        .prepare("SELECT status FROM sessions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses, ["stale", "finished"]);

    // the result set equals the uninterrupted campaign's, row for row
    assert_same_rows(&rows(&killed), &whole);

    // and so are the reports' statistics
    assert_eq!(
        report_stats(&dir, "killed.db"),
        report_stats(&dir, "whole.db")
    );
}

#[test]
fn shards_merged_equal_the_unsharded_campaign() {
    let dir = scratch("shards");
    plan(&dir, "plan.db", "vecadd,bfs", "iat,wv,ims", 7);
    copy(&dir, "plan.db", "whole.db");
    ok(&dir, &["campaign", "run", "whole.db", "--jobs", "2"]);
    let mut shard_rows = 0;
    for i in 0..3 {
        let name = format!("shard-{i}.db");
        copy(&dir, "plan.db", &name);
        let shard = format!("{i}/3");
        ok(
            &dir,
            &["campaign", "run", &name, "--shard", &shard, "--jobs", "1"],
        );
        let rs = rows(&dir.join(&name));
        assert!(
            rs.iter().all(|r| r.index % 3 == i),
            "shard {i} ran foreign rows"
        );
        shard_rows += rs.len();
        // a store bound to shard i refuses another shard, and loses nothing
        let other = format!("{}/3", (i + 1) % 3);
        let out = gpufault(&dir, &["campaign", "run", &name, "--shard", &other]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&name) && err.contains(&shard), "{err}");
        assert_eq!(rows(&dir.join(&name)), rs);
    }
    assert_eq!(shard_rows, 2 * 3 * 7);
    ok(
        &dir,
        &words("campaign merge shard-0.db shard-1.db shard-2.db -o all.db"),
    );
    assert_same_rows(&rows(&dir.join("all.db")), &rows(&dir.join("whole.db")));
    assert_eq!(count(&dir.join("all.db"), "sessions"), 3);

    // the merged report's statistics equal the unsharded report's
    assert_eq!(report_stats(&dir, "all.db"), report_stats(&dir, "whole.db"));

    // merging shards of a different plan is refused and leaves no output
    plan(&dir, "other.db", "vecadd", "iat", 3);
    let out = gpufault(&dir, &words("campaign merge shard-0.db other.db -o bad.db"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other.db"));
    assert!(!dir.join("bad.db").exists());
    // an existing output is never overwritten
    let out = gpufault(&dir, &["campaign", "merge", "shard-0.db", "-o", "all.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert_same_rows(&rows(&dir.join("all.db")), &rows(&dir.join("whole.db")));
}

#[test]
fn ctrl_c_stops_cleanly_and_resume_finishes() {
    let dir = scratch("sigint");
    plan(&dir, "c.db", "vecadd,gemm_naive", "iat,brx", 40);
    let store = dir.join("c.db");
    let total = count(&store, "plan");
    let mut child = spawn(&dir, &["campaign", "run", "c.db", "--jobs", "2"]);
    wait_for_results(&mut child, &store, 5, total);
    let pid = child.id().to_string();
    let (code, err) = interrupt(child, "INT", &pid);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("gpufault campaign resume c.db"), "{err}");
    // said once (the signal handler and the reporter both printed it)
    assert_eq!(
        err.matches("stopping after the injections in flight")
            .count(),
        1,
        "{err}"
    );
    let done = count(&store, "results");
    assert!(done < total, "{done}/{total}");
    let status: String = read_only(&store)
        .query_row("SELECT status FROM sessions WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "interrupted");
    ok(&dir, &["campaign", "resume", "c.db"]);
    assert_eq!(count(&store, "results"), total);
}

#[test]
fn sigterm_stops_cleanly_like_ctrl_c_and_exits_143() {
    // issue 15, item 8: SIGTERM (scancel, a pod's termination) used to kill the process
    // with the session left `running`; it must commit what is in flight and say so
    let dir = scratch("sigterm");
    plan(&dir, "c.db", "vecadd,gemm_naive", "iat,brx", 40);
    copy(&dir, "c.db", "whole.db");
    ok(&dir, &["campaign", "run", "whole.db", "--jobs", "2"]);
    let store = dir.join("c.db");
    let total = count(&store, "plan");
    let mut child = spawn(&dir, &["campaign", "run", "c.db", "--jobs", "2"]);
    wait_for_results(&mut child, &store, 5, total);
    let pid = child.id().to_string();
    let (code, err) = interrupt(child, "TERM", &pid);
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("gpufault campaign resume c.db"), "{err}");
    let done = count(&store, "results");
    assert!(done < total, "{done}/{total}");
    let (status, reason): (String, Option<String>) = read_only(&store)
        .query_row(
            "SELECT status, reason FROM sessions WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
    assert!(reason.is_some());
    ok(&dir, &["campaign", "resume", "c.db"]);
    assert_same_rows(&rows(&store), &rows(&dir.join("whole.db")));
}

#[test]
fn ctrl_c_at_the_terminal_spares_worker_processes() {
    // A terminal's Ctrl-C signals the whole foreground process group. Worker processes
    // must not die of it: a worker killed mid-launch would have its injection committed
    // as a false crash. The interrupted and resumed campaign must equal one run straight
    // through with worker threads.
    use std::os::unix::process::CommandExt;
    let dir = scratch("sigint-procs");
    plan(&dir, "c.db", "vecadd,gemm_naive", "iat,brx", 40);
    copy(&dir, "c.db", "threads.db");
    ok(&dir, &["campaign", "run", "threads.db", "--jobs", "2"]);
    let store = dir.join("c.db");
    let total = count(&store, "plan");
    // its own process group, like a job a shell starts in the foreground
    let mut child = command(
        &dir,
        &words("campaign run c.db --jobs 2 --isolation process"),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0)
    .spawn()
    .unwrap();
    wait_for_results(&mut child, &store, 5, total);
    let group = format!("-{}", child.id());
    let (code, err) = interrupt(child, "INT", &group);
    assert_eq!(code, Some(130), "{err}");
    assert!(count(&store, "results") < total);
    ok(&dir, &["campaign", "resume", "c.db"]);
    assert_same_rows(&rows(&store), &rows(&dir.join("threads.db")));
}

#[test]
fn worker_processes_give_the_results_of_worker_threads() {
    let dir = scratch("isolation");
    plan(&dir, "plan.db", "vecadd,bfs", "iat,wv", 5);
    copy(&dir, "plan.db", "threads.db");
    copy(&dir, "plan.db", "procs.db");
    ok(&dir, &["campaign", "run", "threads.db", "--jobs", "2"]);
    ok(
        &dir,
        &words("campaign run procs.db --jobs 2 --isolation process"),
    );
    assert_same_rows(&rows(&dir.join("procs.db")), &rows(&dir.join("threads.db")));
    let isolation: String = read_only(&dir.join("procs.db"))
        .query_row("SELECT isolation FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(isolation, "process");
}

#[test]
fn one_shot_plans_runs_and_reruns_as_a_resume() {
    let dir = scratch("oneshot");
    let args = words(
        "campaign --workloads vecadd --models iat,ira --injections 4 --device sim \
        --out c.db --jsonl runs.jsonl",
    );
    ok(&dir, &args);
    let store = dir.join("c.db");
    assert_eq!(count(&store, "results"), 8);
    let lines = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
    let records = reports::parse_jsonl(&lines).unwrap();
    assert_eq!(records.len(), 8);
    assert!(records.iter().all(|r| r.workload == "vecadd"));
    // the same command again continues the same campaign: nothing new to run
    let out = ok(&dir, &args);
    assert!(String::from_utf8_lossy(&out.stderr).contains("continuing"));
    assert_eq!(count(&store, "results"), 8);
    assert_eq!(count(&store, "sessions"), 2);
    // a different campaign into the same file is refused
    let mut other = args;
    other[6] = "5";
    let out = gpufault(&dir, &other);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("different campaign"));
}

#[test]
fn bad_input_is_named_and_loses_nothing() {
    let dir = scratch("bad");
    plan(&dir, "c.db", "vecadd", "iat", 2);
    let before = std::fs::read(dir.join("c.db")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &words("campaign plan --workloads vecadd --models iat --injections 2 --out c.db"),
            "c.db: already exists",
        ),
        (
            &words("campaign plan --workloads nope --models iat --injections 2 --out x.db"),
            "--workloads: unknown workload `nope`",
        ),
        (
            &words("campaign plan --workloads vecadd --models xyz --injections 2 --out x.db"),
            "--models: unknown model `xyz`",
        ),
        (
            &words("campaign plan --workloads vecadd --models iat --out x.db"),
            "--injections N or --margin M is required",
        ),
        (
            &["campaign", "run", "missing.db"],
            "missing.db: no such campaign store",
        ),
        (&["campaign", "run", "c.db", "--shard", "3/3"], "--shard"),
        (&["campaign", "run", "c.db", "--jobs", "0"], "--jobs"),
        (
            &["report", "c.db", "--format", "pdf"],
            "unknown report format `pdf`",
        ),
        (&["report", "nothing.db"], "nothing.db"),
    ];
    for (args, want) in cases {
        let out = gpufault(&dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected `{want}` in: {err}");
    }
    assert!(!dir.join("x.db").exists());
    assert_eq!(std::fs::read(dir.join("c.db")).unwrap(), before);
    // a file that is not a store
    std::fs::write(dir.join("junk.db"), "not a database at all, just text").unwrap();
    let out = gpufault(&dir, &["campaign", "run", "junk.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.db"));
}

#[test]
fn report_renders_every_format_of_a_store() {
    let dir = scratch("report");
    plan(&dir, "c.db", "vecadd", "iat,ims", 4);
    // before running: a report of an empty campaign says it is in progress
    let out = ok(&dir, &["report", "c.db"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 of 8 planned"));
    ok(&dir, &["campaign", "run", "c.db", "--jobs", "1"]);
    for (format, probe) in [
        ("table", "vecadd"),
        ("wide", "vecadd"),
        ("json", "\"schema_version\""),
        ("csv", "vecadd"),
        ("md", "|"),
        ("html", "<svg"),
        ("jsonl", "\"spec\":\"iat:"),
    ] {
        let file = format!("r.{format}");
        ok(&dir, &["report", "c.db", "--format", format, "-o", &file]);
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        assert!(text.contains(probe), "{format}: {text}");
    }
    let jsonl = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
    assert_eq!(reports::parse_jsonl(&jsonl).unwrap().len(), 8);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["total"]["injections"], 8);
    assert_eq!(json["meta"]["seed"], 7);
    assert_eq!(json["meta"]["extra"]["completed"], "8/8");
}

#[test]
fn slurm_array_script_shards_and_merges_the_campaign() {
    let dir = scratch("slurm");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-campaign.sh");
    plan(&dir, "campaign.db", "vecadd,bfs", "iat,brx", 5);
    copy(&dir, "campaign.db", "whole.db");
    ok(&dir, &["campaign", "run", "whole.db", "--jobs", "2"]);
    let task = |args: &[&str], id: Option<u32>| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .args(args)
            .current_dir(&dir)
            .env("GPUFAULT", BIN)
            .env("CI", "true")
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("SLURM_CPUS_PER_TASK", "1")
            .stdin(Stdio::null());
        if let Some(id) = id {
            c.env("SLURM_ARRAY_TASK_ID", id.to_string());
        }
        c.output().unwrap()
    };
    for id in 0..3 {
        let out = task(&["campaign.db"], Some(id));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // a requeued task continues its own shard store: nothing new, nothing twice
    let shard1 = dir.join("shards/campaign-1-of-3.db");
    let before = raw_results(&shard1);
    let out = task(&["campaign.db"], Some(1));
    assert!(out.status.success());
    assert_eq!(raw_results(&shard1), before);
    // misuse is refused
    assert_eq!(task(&["campaign.db"], None).status.code(), Some(2));
    assert_eq!(task(&["campaign.db"], Some(3)).status.code(), Some(2));
    let out = task(&["--merge", "campaign.db"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_rows(
        &rows(&dir.join("campaign-merged.db")),
        &rows(&dir.join("whole.db")),
    );
}

#[test]
fn injections_that_cannot_run_exit_1_and_stay_pending() {
    let dir = scratch("exit1");
    // The campaign's device is a faulty virtual GPU (its node config is stored with the
    // plan): it runs programs with its own fault, but cannot take injected faults, so
    // no cell can run there.
    std::fs::write(
        dir.join("node.json"),
        r#"{"gpus": {"sim#1": {"fault": "wdrop:sm=0,sp=0,warps=0x1"}}}"#,
    )
    .unwrap();
    let out = gpufault(
        &dir,
        &words(
            "campaign plan --workloads vecadd,bfs --models iat --injections 2 --device sim#1 \
            --node-config node.json --out c.db",
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = dir.join("c.db");
    let out = gpufault(&dir, &["campaign", "run", "c.db", "--jobs", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bfs/iat could not run"), "{err}");
    assert!(
        err.contains("already instrumented for a fault injection"),
        "{err}"
    );
    assert!(err.contains("4 injections still pending"), "{err}");
    assert!(err.contains("gpufault campaign resume c.db"), "{err}");
    assert_eq!(count(&store, "results"), 0);
}

#[test]
fn a_plan_with_faults_on_sms_the_device_lacks_is_refused() {
    // issue 15, item 4: sites profiled on a larger virtual GPU than the device would
    // give faults on SMs it does not have, reported as "not activated"
    let dir = scratch("sm-range");
    let out = gpufault(
        &dir,
        &words(
            "campaign plan --workloads vecadd --models iat --injections 50 --device sim \
            --profile sim:h100 --sampling physical --out c.db",
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot run on sim"), "{err}");
    assert!(
        err.contains("is out of range: the device has 8 SMs"),
        "{err}"
    );
    assert!(!dir.join("c.db").exists());
}

/// The specs a store planned for `model`, in index order.
fn specs(store: &Path, model: &str) -> Vec<String> {
    let rows: Vec<(String,)> = query(
        store,
        &format!("SELECT spec FROM plan WHERE model = '{model}' ORDER BY subject, idx"),
    );
    rows.into_iter().map(|(s,)| s).collect()
}

fn mask_of(spec: &str) -> u64 {
    let m = spec
        .split(',')
        .find_map(|kv| kv.strip_prefix("mask="))
        .unwrap();
    u64::from_str_radix(m.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn sampling_rules_are_planned_stored_reported_and_checked() {
    let dir = scratch("rules");
    let base = "campaign plan --workloads vecadd --models iat,wv --injections 40 --seed 7 \
                --device sim";
    ok(&dir, &words(&format!("{base} --out faithful.db")));
    ok(
        &dir,
        &words(&format!("{base} --sampling-rules v1 --out v1.db")),
    );
    ok(
        &dir,
        &words(&format!(
            "{base} --sampling-rule iat.mask=uniform:1..3 --sampling-rule wv.pol=sa1 \
             --out custom.db"
        )),
    );
    let meta = |db: &str| -> String {
        let rows: Vec<(String,)> = query(
            &dir.join(db),
            "SELECT value FROM meta WHERE key = 'sampling_rules'",
        );
        rows[0].0.clone()
    };
    assert_eq!(meta("faithful.db"), "faithful");
    assert_eq!(meta("v1.db"), "v1");
    assert_eq!(
        meta("custom.db"),
        "faithful + iat.mask=uniform:1..3, wv.pol=sa1"
    );
    // v1: single bits in the low ten; faithful: uniform in 1..=blockDim (vecadd: 256),
    // many with more than one bit; the override: 1..=3; wv: sa0/sa1, xor, sa1
    let v1 = specs(&dir.join("v1.db"), "iat");
    assert!(v1
        .iter()
        .all(|s| mask_of(s).count_ones() == 1 && mask_of(s) < 1024));
    let faithful = specs(&dir.join("faithful.db"), "iat");
    assert!(faithful.iter().all(|s| (1..=256).contains(&mask_of(s))));
    assert!(
        faithful
            .iter()
            .filter(|s| mask_of(s).count_ones() > 1)
            .count()
            > 10
    );
    let custom = specs(&dir.join("custom.db"), "iat");
    assert!(custom.iter().all(|s| (1..=3).contains(&mask_of(s))));
    assert!(specs(&dir.join("v1.db"), "wv")
        .iter()
        .all(|s| s.ends_with("pol=sa0") || s.ends_with("pol=sa1")));
    assert!(specs(&dir.join("faithful.db"), "wv")
        .iter()
        .all(|s| s.ends_with("pol=xor")));
    assert!(specs(&dir.join("custom.db"), "wv")
        .iter()
        .all(|s| s.ends_with("pol=sa1")));
    // the site, SM, warp slots and lanes are drawn before the mask, by the same rules
    let site = |s: &String| s.split(",mask=").next().unwrap().to_string();
    assert_eq!(
        v1.iter().map(site).collect::<Vec<_>>(),
        faithful.iter().map(site).collect::<Vec<_>>()
    );

    // the report header names the rules
    ok(&dir, &words("report custom.db --format md -o custom.md"));
    let md = std::fs::read_to_string(dir.join("custom.md")).unwrap();
    assert_contains(
        &md,
        "**sampling rules**: faithful + iat.mask=uniform:1..3, wv.pol=sa1",
    );
    let out = ok(&dir, &words("report v1.db --format json"));
    assert_eq!(json(&out)["meta"]["sampling_rules"], "v1");

    // stores planned with other rules are other campaigns: no merge, no one-shot rerun
    let out = gpufault(&dir, &words("campaign merge faithful.db v1.db -o both.db"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_contains(&stderr(&out), "v1.db");
    assert!(!dir.join("both.db").exists());
    let out = gpufault(
        &dir,
        &words(
            "campaign --workloads vecadd --models iat,wv --injections 40 --seed 7 --device sim \
             --sampling-rules v1 --out faithful.db",
        ),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_contains(&stderr(&out), "already holds a different campaign");

    // bad rules name the flag and the bad part, and plan nothing
    let cases: &[(&str, &str)] = &[
        (
            "--sampling-rules v2",
            "--sampling-rules v2: unknown sampling-rule preset `v2` (known: faithful, v1)",
        ),
        (
            "--sampling-rule iaw.lanes=one",
            "--sampling-rule iaw.lanes=one: `lanes` is not a sampling key of iaw",
        ),
        (
            "--sampling-rule iat.mask=uniform:0..4",
            "--sampling-rule iat.mask=uniform:0..4: bad value `uniform:0..4` for iat.mask",
        ),
        (
            "--sampling-rule iat.mask",
            "--sampling-rule iat.mask: `iat.mask` is not MODEL.KEY=VALUE",
        ),
        (
            "--sampling-rule zz.mask=bit",
            "--sampling-rule zz.mask=bit: unknown model `zz`",
        ),
        (
            "--sampling-rule imd.mode=sideways",
            "bad value `sideways` for imd.mode",
        ),
    ];
    for (flag, want) in cases {
        let out = gpufault(&dir, &words(&format!("{base} {flag} --out bad.db")));
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert_contains(&stderr(&out), want);
        assert!(!dir.join("bad.db").exists());
    }
}
