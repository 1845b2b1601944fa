//! End-to-end tests of the site selection flags of `gpufault campaign` (issue 20):
//! `--groups`, `--kernel`, `--site-weight`, `--allow-empty-cells`, checked from what the
//! store holds (the planned specs and their kernels) against the workloads' PTX, not
//! from the code's own account of them.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("sites-{name}"))
}

/// `gpufault campaign plan ARGS…` in `dir`.
fn plan(dir: &Path, args: &[&str]) -> std::process::Output {
    gpufault(dir, &[&["campaign", "plan"], args].concat())
}

/// `plan`, which must exit 2 with `message` on standard error.
fn refused(dir: &Path, args: &[&str], message: &str) {
    let o = plan(dir, args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), message);
}

/// The `op=` parameter of every planned spec of `model`.
fn ops(store: &Path, model: &str) -> Vec<String> {
    let specs: Vec<(String,)> = query(
        store,
        &format!("SELECT spec FROM plan WHERE model = '{model}' ORDER BY idx"),
    );
    specs
        .into_iter()
        .map(|(s,)| {
            let op = s.split("op=").nth(1).expect("an op parameter");
            op.split(',').next().unwrap().to_string()
        })
        .collect()
}

/// The body of kernel `name` in a workload's PTX, as text.
fn kernel_text(workload: &str, name: &str) -> String {
    let w = workloads::by_name(workload).unwrap();
    let text = w.ptx();
    let start = text.find(&format!(".entry {name}(")).unwrap();
    let rest = &text[start..];
    let end = rest[1..].find(".entry ").map_or(rest.len(), |e| e + 1);
    rest[..end].to_string()
}

#[test]
fn groups_fp32_draws_only_fp32_arithmetic() {
    let dir = scratch("fp32");
    ok(
        &dir,
        &[
            "campaign",
            "--workloads",
            "vecadd,gemm_naive",
            "--models",
            "fu,ioc",
            "--groups",
            "FP32",
            "--injections",
            "24",
            "--jobs",
            "2",
            "--out",
            "c.db",
        ],
    );
    let store = dir.join("c.db");
    for model in ["fu", "ioc"] {
        let ops = ops(&store, model);
        assert_eq!(ops.len(), 48);
        for op in &ops {
            // an opcode group of f32 arithmetic: add/sub/mul/fma/… with type .f32, never
            // a move, a conversion, a compare or a load
            let (opcode, ty) = op.split_once('.').unwrap();
            assert_eq!(ty, "f32", "{model}: {op}");
            assert!(
                ["add", "sub", "mul", "fma", "mad", "min", "max", "neg", "abs", "div"]
                    .contains(&opcode),
                "{model}: {op}"
            );
        }
    }
    let report = stdout(&ok(&dir, &["report", "c.db"]));
    assert_contains(&report, "site selection: groups FP32; static weight");
    let meta: Vec<(String,)> = query(
        &store,
        "SELECT value FROM meta WHERE key = 'site_selection'",
    );
    assert_eq!(meta[0].0, "groups FP32; static weight");
}

#[test]
fn a_group_the_workload_lacks_is_a_clear_error() {
    let dir = scratch("fp64");
    let args = |groups| {
        [
            "--workloads",
            "vecadd",
            "--models",
            "fu",
            "--groups",
            groups,
            "--injections",
            "5",
            "--out",
            "c.db",
        ]
    };
    refused(
        &dir,
        &args("fp64"),
        "--groups: `vecadd` has no fu site in groups FP64 (its fu sites are in: FP32,LD,PR,OTHERS); --allow-empty-cells plans such cells with no injection",
    );
    assert!(!dir.join("c.db").exists());
    refused(
        &dir,
        &args("FP16"),
        "--groups: unknown instruction group `FP16`",
    );
    // opting out plans the cell empty, with the reason
    let o = plan(
        &dir,
        &[&args("FP64")[..], &["--allow-empty-cells"]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_contains(
        &stderr(&o),
        "vecadd/fu: 0 planned: `vecadd` has no fu site in the selection (groups FP64; static weight; empty cells allowed)",
    );
    assert_eq!(count(&dir.join("c.db"), "plan"), 0);
}

#[test]
fn kernel_filter_on_a_multi_kernel_workload() {
    let dir = scratch("kernel");
    let args = |models, kernel, n, out| {
        [
            "--workloads",
            "bfs",
            "--models",
            models,
            "--kernel",
            kernel,
            "--injections",
            n,
            "--out",
            out,
        ]
    };
    assert!(plan(&dir, &args("fu,iat,wdrop", "bfs_init", "20", "c.db"))
        .status
        .success());
    let store = dir.join("c.db");
    let kernels: Vec<(String, Option<String>, i64)> = query(
        &store,
        "SELECT model, kernel, COUNT(*) FROM plan GROUP BY 1, 2 ORDER BY 1, 2",
    );
    assert_eq!(
        kernels,
        [
            ("fu".to_string(), Some("bfs_init".to_string()), 20),
            ("iat".to_string(), Some("bfs_init".to_string()), 20),
            ("wdrop".to_string(), Some("(all kernels)".to_string()), 20),
        ]
    );
    // every drawn opcode occurs in bfs_init's own PTX
    let body = kernel_text("bfs", "bfs_init");
    for op in ops(&store, "fu") {
        let opcode = op.split('.').next().unwrap();
        assert!(
            body.contains(&format!("\t{opcode}.")),
            "{op} is not in bfs_init"
        );
    }
    // a glob naming both kernels draws from both
    assert!(plan(&dir, &args("fu", "bfs_*", "40", "g.db"))
        .status
        .success());
    let kernels: Vec<(String,)> = query(
        &dir.join("g.db"),
        "SELECT DISTINCT kernel FROM plan ORDER BY 1",
    );
    assert_eq!(
        kernels,
        [("bfs_expand".to_string(),), ("bfs_init".to_string(),)]
    );
    // an unknown kernel names the workload and lists its kernels
    refused(
        &dir,
        &args("fu", "bfs_main", "5", "u.db"),
        "--kernel bfs_main: `bfs` has no such kernel (its kernels: bfs_init, bfs_expand)",
    );
}

/// gemm_naive's only `mul.f32` runs once per thread, after the k loop whose `fma.f32`
/// sites run once per step: uniform over static sites a sixth of the FP32 faults land
/// on it, weighted by dynamic count almost none. A fixed seed; the bounds are four
/// standard deviations of 400 draws from the static share.
#[test]
fn dynamic_weighting_moves_faults_to_hot_sites() {
    let dir = scratch("dynamic");
    let mut share = Vec::new();
    for weight in ["static", "dynamic"] {
        let out = format!("{weight}.db");
        ok(
            &dir,
            &[
                "campaign",
                "plan",
                "--workloads",
                "gemm_naive",
                "--models",
                "fu",
                "--groups",
                "FP32",
                "--site-weight",
                weight,
                "--injections",
                "400",
                "--seed",
                "20",
                "--out",
                &out,
            ],
        );
        let ops = ops(&dir.join(&out), "fu");
        let mul = ops.iter().filter(|o| *o == "mul.f32").count();
        share.push(mul as f64 / ops.len() as f64);
    }
    let (stat, dynamic) = (share[0], share[1]);
    assert!(stat > 0.08, "static: {stat:.3} of faults on mul.f32");
    assert!(
        dynamic < stat / 3.0,
        "dynamic {dynamic:.3} vs static {stat:.3}"
    );
    let o = gpufault(
        &dir,
        &[
            "campaign",
            "plan",
            "--workloads",
            "vecadd",
            "--models",
            "fu",
            "--site-weight",
            "dynamic",
            "--sampling",
            "physical",
            "--injections",
            "5",
            "--out",
            "p.db",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "--site-weight: dynamic weighting");
}

/// Resuming or continuing a store under another selection is refused: the selection is
/// part of the plan.
#[test]
fn a_changed_selection_is_a_different_campaign() {
    let dir = scratch("resume");
    let args = |groups: &'static str| {
        vec![
            "campaign",
            "--workloads",
            "vecadd",
            "--models",
            "fu",
            "--injections",
            "3",
            "--groups",
            groups,
            "--out",
            "c.db",
        ]
    };
    ok(&dir, &args("FP32"));
    ok(&dir, &args("FP32"));
    let o = gpufault(&dir, &args("GP"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
