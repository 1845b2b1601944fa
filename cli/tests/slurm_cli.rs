//! `gpufault slurm prolog|epilog|healthcheck` end to end, without a Slurm (issue 19): what
//! the hooks do before and instead of running `scontrol` — the job's GPUs from slurmd's
//! variables, bad configurations and indices, a quarantined GPU refused without a check,
//! a faulty GPU recorded in the ledger even when `scontrol` cannot run, the record each
//! run appends. The hooks against a real Slurm (drains, undrains, requeues, hostile
//! reasons) are `scripts/slurm-e2e.sh`.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{command, scratch, stderr};

/// Virtual GPU 1 of the small profile has a permanent fault.
const NODE: &str = r#"{"gpus": {
  "sim#1": {"fault": "iat:sm=0,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1"}
}}"#;

/// A node `n1` with GPUs `sim#0` (healthy) and `sim#1` (faulty), an `scontrol` that does
/// not exist (so any drain fails visibly), the ledger and log in `dir`.
fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    std::fs::write(dir.join("node.json"), NODE).unwrap();
    let config = dir.join("slurm.toml");
    std::fs::write(
        &config,
        "ledger = \"ledger.json\"\nlog = \"hooks.jsonl\"\nscontrol = \"/nonexistent/scontrol\"\n\
         [nodes.n1]\ngpus = [\"sim#0\", \"sim#1\"]\nnode_config = \"node.json\"\n",
    )
    .unwrap();
    (dir, config)
}

/// `gpufault slurm HOOK --config CONFIG --node n1` with `SLURM_JOB_GPUS` (if given).
fn hook(dir: &Path, config: &Path, hook: &str, job_gpus: Option<&str>) -> Output {
    let mut c = command(
        dir,
        &[
            "slurm",
            hook,
            "--config",
            config.to_str().unwrap(),
            "--node",
            "n1",
        ],
    );
    for var in [
        "SLURM_JOB_GPUS",
        "CUDA_VISIBLE_DEVICES",
        "SLURMD_NODENAME",
        "GPUFAULT_SLURM_CONFIG",
        "GPUFAULT_NODE_CONFIG",
        "GPUFAULT_LEDGER",
    ] {
        c.env_remove(var);
    }
    c.env("SLURM_JOB_ID", "42");
    if let Some(g) = job_gpus {
        c.env("SLURM_JOB_GPUS", g);
    }
    c.output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// The last record of the hooks' log.
fn last_record(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("hooks.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn a_job_without_gpus_passes_at_once_and_a_healthy_gpu_after_its_check() {
    let (dir, config) = setup("slurm-healthy");
    let o = hook(&dir, &config, "prolog", Some(""));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = last_record(&dir);
    assert_eq!(
        (r["verdict"].as_str(), r["exit"].as_u64()),
        (Some("no_gpus"), Some(0))
    );

    let o = hook(&dir, &config, "prolog", Some("0"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = last_record(&dir);
    assert_eq!(r["verdict"], "healthy");
    assert_eq!(r["job_id"], "42");
    assert_eq!(r["gpus"][0]["device"], "sim#0");
    assert!(r["timings"]["check_ms"].as_f64().unwrap() > 0.0);
    assert!(stderr(&o).contains("gpufault slurm prolog n1 job 42: healthy"));
}

#[test]
fn a_faulty_gpu_is_recorded_in_the_ledger_even_when_the_drain_cannot_run() {
    let (dir, config) = setup("slurm-faulty");
    let o = hook(&dir, &config, "prolog", Some("0,1"));
    // scontrol missing: not drained by gpufault, so exit 2 (Slurm drains it itself)
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let r = last_record(&dir);
    assert_eq!(r["verdict"], "faulty");
    assert_eq!(r["action"], "drain_failed");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/scontrol"),
        "{r}"
    );
    assert_eq!(r["gpus"][1]["state"], "faulty");
    let ledger: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ledger.json")).unwrap()).unwrap();
    let gpus = ledger["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1);
    assert_eq!(gpus[0]["device"], "sim#1");
    assert_eq!(gpus[0]["evidence"]["kind"], "check");
    assert!(gpus[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("gpufault: faulty: GPU-"));

    // the next job on that GPU is refused without a check
    let o = hook(&dir, &config, "epilog", Some("1"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let r = last_record(&dir);
    assert_eq!(r["verdict"], "quarantined");
    assert_eq!(r["hook"], "epilog");
    assert!(r["timings"].get("check_ms").is_none(), "{r}");
    // a job on the healthy GPU alone still runs
    assert_eq!(code(&hook(&dir, &config, "prolog", Some("0"))), 0);
}

#[test]
fn bad_configurations_indices_and_node_names_are_errors_that_say_where() {
    let (dir, config) = setup("slurm-bad");
    let o = hook(&dir, &config, "prolog", Some("2"));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("SLURM_JOB_GPUS: GPU index 2, but the configuration lists 2 GPUs"),
        "{}",
        stderr(&o)
    );
    let o = hook(&dir, &config, "prolog", Some("x"));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("SLURM_JOB_GPUS: `x`"), "{}", stderr(&o));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "timeout = 60\n[nodes.n1]\ngpu = [\"sim#0\"]\n").unwrap();
    let o = hook(&dir, &bad, "healthcheck", None);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("bad.toml") && e.contains("unknown field `gpu`"),
        "{e}"
    );

    let o = command(
        &dir,
        &[
            "slurm",
            "prolog",
            "--config",
            config.to_str().unwrap(),
            "--node",
            "n1;id",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("node name `n1;id`"), "{}", stderr(&o));

    let o = hook(&dir, &dir.join("missing.toml"), "prolog", Some("0"));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
}

#[test]
fn the_health_check_does_no_gpu_work_and_needs_scontrol_to_decide() {
    let (dir, config) = setup("slurm-healthcheck");
    let o = hook(&dir, &config, "healthcheck", None);
    // nothing quarantined: it asks scontrol whether the node is drained by gpufault
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let r = last_record(&dir);
    assert_eq!(r["hook"], "healthcheck");
    assert_eq!(r["verdict"], "healthy");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/scontrol"),
        "{r}"
    );
    assert!(r["timings"].get("check_ms").is_none(), "{r}");
    assert_eq!(r["gpus"].as_array().unwrap().len(), 2);
    assert!(r["timings"]["total_ms"].as_f64().unwrap() < 1000.0, "{r}");
}
