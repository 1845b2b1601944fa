//! End-to-end tests of `gpufault coverage` (issue 17): coverage stores on the campaign
//! engine (kill -9 and resume, shards and merge give the rows of an uninterrupted run),
//! the report of a coverage store, and the regression guard of the check's coverage.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("coverage-{name}"))
}

/// Everything stored about a fault that must not depend on how the campaign ran: the
/// fault, its `results` columns and its `coverage` columns (not timings or sessions).
fn rows(store: &Path) -> Vec<Vec<String>> {
    let columns: Vec<String> = injector::RESULT_COLUMNS
        .iter()
        .map(|c| format!("r.{c}"))
        .chain(injector::COVERAGE_COLUMNS.iter().map(|c| format!("v.{c}")))
        .collect();
    let sql = format!(
        "SELECT r.subject, r.model, r.idx, p.spec, {} FROM results r
         JOIN plan p USING (subject, model, idx)
         JOIN coverage v USING (subject, model, idx)
         ORDER BY r.model, r.idx",
        columns.join(", ")
    );
    let c = read_only(store);
    let mut st = c.prepare(&sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// `gpufault coverage` of 4 models × 6 faults on `sim`, seed 3, into `out`.
fn coverage(out: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> =
        words("coverage --models iat,wv,ioc,imd --faults 6 --device sim --seed 3 --jobs 2 --out")
            .into_iter()
            .map(String::from)
            .collect();
    v.push(out.into());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn killed_resumed_and_sharded_coverage_equal_an_uninterrupted_run() {
    let dir = scratch("kill");
    let whole = coverage("whole.db", &[]);
    let out = ok(&dir, &args(&whole));
    let whole_rows = rows(&dir.join("whole.db"));
    assert_eq!(whole_rows.len(), 24);
    assert_contains(&stdout(&out), "coverage [95% CI]");

    // kill -9 in the middle, then the same command again continues the store
    let killed = dir.join("killed.db");
    let cmd = coverage("killed.db", &[]);
    let mut child = spawn(&dir, &args(&cmd));
    wait_for_results(&mut child, &killed, 4, 24);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = rows(&killed);
    assert!(
        !before.is_empty() && before.len() < 24,
        "{} at the kill",
        before.len()
    );
    let out = ok(&dir, &args(&cmd));
    assert_contains(
        &stderr(&out),
        "same coverage campaign already planned; continuing it",
    );
    assert_contains(&stderr(&out), "24/24 injections done");
    let after = rows(&killed);
    for r in &before {
        assert!(
            after.contains(r),
            "a result committed before the kill changed: {r:?}"
        );
    }
    assert_eq!(after, whole_rows);

    // two shards merged are the same campaign
    for (i, name) in ["s0.db", "s1.db"].iter().enumerate() {
        let shard = format!("{i}/2");
        ok(&dir, &args(&coverage(name, &["--shard", &shard])));
    }
    ok(&dir, &words("campaign merge s0.db s1.db -o merged.db"));
    assert_eq!(rows(&dir.join("merged.db")), whole_rows);

    // the reports agree too (timings aside)
    let report = |store: &str| {
        let mut v = json(&ok(&dir, &["report", store, "--format", "json"]));
        for m in v["models"].as_array_mut().unwrap() {
            m["mean_check_ms"] = serde_json::Value::Null;
        }
        v["total"]["mean_check_ms"] = serde_json::Value::Null;
        let keep = ["models", "total", "escapes", "schema_version"];
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| keep.contains(&k.as_str()));
        v
    };
    assert_eq!(report("killed.db"), report("whole.db"));
    assert_eq!(report("merged.db"), report("whole.db"));
}

#[test]
fn a_coverage_store_reports_as_table_json_html_and_jsonl() {
    let dir = scratch("report");
    ok(
        &dir,
        &words("coverage --models wdrop,ims --faults 2 --device sim --seed 9 --jobs 2 --baseline gpu-burn --out c.db"),
    );
    let v = json(&ok(&dir, &words("report c.db --format json")));
    assert_eq!(v["schema_version"], 1);
    let models: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["wdrop", "ims"]);
    for m in v["models"].as_array().unwrap() {
        assert_eq!(m["injected"], 2);
        for key in [
            "detected",
            "coverage",
            "ci_low",
            "ci_high",
            "sm_correct",
            "unit_correct",
        ] {
            assert!(m[key].is_number(), "{key}: {m}");
        }
        // every detection diagnosed with the bundled fault dictionary
        assert!(m["diagnosis_correct"].is_number(), "{m}");
        // the baseline's verdicts on the same faults, both comparisons
        assert_eq!(m["baseline"]["name"], "gpu-burn");
        for cmp in ["vs_first", "vs_cpu"] {
            assert_eq!(m["baseline"][cmp]["of"], 2, "{m}");
        }
    }
    let table = stdout(&ok(&dir, &words("report c.db")));
    assert_contains(&table, "SM first");
    assert_contains(&table, "gpu-burn vs first");
    let html = stdout(&ok(&dir, &words("report c.db --format html")));
    assert_contains(&html, "<svg class=\"chart\" id=\"coverage-bars\"");
    let jsonl = stdout(&ok(&dir, &words("report c.db --format jsonl")));
    assert_eq!(jsonl.lines().count(), 4);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["model"], "wdrop");
    assert_eq!(first["expected_unit"], "warp-scheduler");
    assert_eq!(first["baseline"]["iterations"], 3);
    assert!(first["diagnosis"]["confidence"].is_number(), "{first}");
    let csv = gpufault(&dir, &words("report c.db --format csv"));
    assert_eq!(csv.status.code(), Some(2));
    assert_contains(
        &stderr(&csv),
        "a coverage store renders as table, json, html or jsonl",
    );
}

#[test]
fn bad_coverage_flags_are_named() {
    let dir = scratch("flags");
    for (line, says) in [
        (
            "coverage --models iat --faults 1 --device sim:h100*2 --out a.db",
            "--device sim:h100*2",
        ),
        (
            "coverage --models iat --faults 1 --device cuda:0 --out a.db",
            "--device cuda:0",
        ),
        (
            "coverage --models nope --faults 1 --device sim --out a.db",
            "--models",
        ),
    ] {
        let o = gpufault(&dir, &words(line));
        assert_eq!(o.status.code(), Some(2), "{line}");
        assert_contains(&stderr(&o), says);
    }
    // a store of another campaign is never continued as this one
    ok(
        &dir,
        &words("coverage --models iat --faults 1 --device sim --seed 1 --out a.db"),
    );
    let o = gpufault(
        &dir,
        &words("coverage --models iat --faults 1 --device sim --seed 2 --out a.db"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "already holds a different coverage campaign");
}

/// Regression guard (issue 17): a fixed set of faults — 5 per model on `sim`, seed
/// [`REGRESSION_SEED`] — and how many of them the quick check detects today. A change
/// to the suite, the check or the injector that detects fewer of any model fails here
/// (raise a figure when the check gets better). Not the held-out seed of
/// `docs/coverage.md`.
const REGRESSION_SEED: &str = "1717";

/// (model, detected of 5, detections naming the faulty SM first) on that fault set.
const TODAY: [(&str, u64, u64); 14] = [
    ("iat", 5, 5),
    ("iaw", 5, 5),
    ("iac", 5, 5),
    ("ial", 5, 5),
    ("wv", 5, 5),
    ("ira", 5, 5),
    ("ir", 5, 5),
    ("ims", 5, 5),
    ("imd", 5, 5),
    ("ioc", 5, 5),
    ("iio", 5, 5),
    ("fu", 5, 5),
    ("wdrop", 5, 5),
    ("brx", 5, 5),
];

/// Detections of that fault set whose diagnosis (the bundled dictionary, built on other
/// development seeds) names the right model, today: 70 of 70 (60 before the `sig_src`
/// kernel; one wrong diagnosis fails).
const DIAGNOSED_TODAY: u64 = 70;

#[test]
fn coverage_of_no_model_drops_on_the_regression_fault_set() {
    let dir = scratch("regression");
    let line = format!(
        "coverage --models all --faults 5 --device sim --seed {REGRESSION_SEED} --jobs 2 --out r.db"
    );
    ok(&dir, &words(&line));
    let v = json(&ok(&dir, &words("report r.db --format json")));
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), TODAY.len());
    let escapes = v["escapes"].to_string();
    for (model, detected, first) in TODAY {
        let m = models
            .iter()
            .find(|m| m["model"] == model)
            .unwrap_or_else(|| panic!("no row for {model}"));
        let got = m["detected"].as_u64().unwrap();
        assert!(
            got >= detected,
            "{model}: {got} of 5 detected, {detected} before (escapes: {escapes})"
        );
        let sm_first = (m["sm_first"].as_f64().unwrap() * got as f64).round() as u64;
        assert!(
            sm_first >= first,
            "{model}: the faulty SM is named first in {sm_first} detections, {first} before"
        );
    }
    let t = &v["total"];
    let diagnosed =
        (t["diagnosis_correct"].as_f64().unwrap() * t["detected"].as_f64().unwrap()).round() as u64;
    assert!(
        diagnosed >= DIAGNOSED_TODAY,
        "{diagnosed} detections diagnosed right, {DIAGNOSED_TODAY} before"
    );
}
