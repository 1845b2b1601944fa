//! End-to-end runs of the transient models (`tbf1`, `tbf2`) through the `gpufault`
//! binary: the site list, one injection, a small campaign and its report, and the
//! refusal of a coverage campaign.

mod support;

use support::{assert_contains, run, stderr, stdout};

/// The number of `vecadd`'s `add.f32` among the `tbf1` sites `ptx instrument --sites`
/// lists (in order: a site's number is its line).
fn vecadd_add_site() -> usize {
    let o = run(&[
        "ptx",
        "instrument",
        "--model",
        "tbf1",
        "--sites",
        "../workloads/ptx/vecadd.ptx",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let sites: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    sites
        .iter()
        .position(|s| s["op_group"] == "add.f32")
        .unwrap_or_else(|| panic!("no add.f32 site: {text}"))
}

#[test]
fn one_flip_of_the_sign_of_one_sum_is_one_wrong_element() {
    let site = vecadd_add_site();
    let spec = format!("tbf1:site={site},inst=77,mask=0x80000000");
    let o = run(&[
        "run", "vecadd", "--device", "sim", "--fault", &spec, "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fault"], spec.as_str());
    assert_eq!(v["outcome"]["kind"], "sdc", "{v}");
    assert_eq!(v["outcome"]["magnitude"]["elements"], 1, "{v}");
    assert_eq!(v["activations"], 1);
    // an instance past the site's executions is never activated
    let spec = format!("tbf1:site={site},inst=99999999,mask=0x1");
    let o = run(&[
        "run", "vecadd", "--device", "sim", "--fault", &spec, "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["outcome"]["kind"], "not_activated", "{v}");
    // a transient fault has no SM
    let o = run(&[
        "run",
        "vecadd",
        "--fault",
        "tbf2:sm=1,site=0,inst=0,mask=0x3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "`sm` does not apply to model `tbf2`");
}

#[test]
fn a_campaign_of_transient_faults_runs_and_reports_and_coverage_refuses_it() {
    let dir = std::env::temp_dir().join(format!("gpufault-transient-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("t.db");
    let db = db.to_str().unwrap();
    let o = run(&[
        "campaign",
        "--workloads",
        "vecadd,scan",
        "--models",
        "tbf1,tbf2",
        "--injections",
        "6",
        "--device",
        "sim",
        "--jobs",
        "2",
        "--out",
        db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["report", db, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_contains(&text, "\"tbf1\"");
    assert_contains(&text, "\"tbf2\"");
    let o = run(&["report", db, "--format", "jsonl"]);
    let specs: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            // no SM: the thread a transient fault hits is whichever reaches the instance
            assert!(v["fault_sm"].is_null(), "{l}");
            v["spec"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(specs.len(), 24);
    assert!(
        specs
            .iter()
            .all(|s| s.starts_with("tbf") && s.contains(",inst=")),
        "{specs:?}"
    );
    let cov = dir.join("cov.db");
    let o = run(&[
        "coverage",
        "--models",
        "iat,tbf1",
        "--faults",
        "1",
        "--out",
        cov.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), "`tbf1` is a transient fault model");
    assert!(!cov.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
