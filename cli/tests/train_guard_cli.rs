//! Issue 18, must-show 1: `gpufault guard -- gpufault train` on a faulty virtual node of
//! four GPUs. A GPU faulty from the start is quarantined before the job starts; a GPU
//! whose fault arrives mid-run is found, quarantined, and the job restarts on the other
//! three from a checkpoint written before the fault. Either way the final model is the
//! fault-free run's, bit for bit (the trainer's loss curve does not depend on the device
//! count), and no process of the job is left.
//!
//! Small virtual GPUs (`sim`, 8 SMs) and 200 steps keep each run to seconds; the same on
//! `sim:h100*4` with 400 steps, 20 times, timed: `shim/examples/guard_runs.rs`.

mod support;

use reports::guard::GuardEvent;
use serde_json::Value;
use shim::guard::timeline::recoveries;
use std::path::Path;
use support::{command, scratch};

const FAULT: &str = "iat:sm=1,sp=1,warps=0x1,lanes=0xffffffff,dim=x,mask=0x4,pol=sa1";
const STEPS: &str = "200";
const EVERY: u64 = 25;

/// `gpufault train --json` on `sim*4` (no fault, no guard): the reference model.
fn fault_free(dir: &Path) -> Value {
    let out = command(
        dir,
        &["train", "--devices", "sim*4", "--steps", STEPS, "--json"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Guarded {
    code: Option<i32>,
    stderr: String,
    /// Each start's `--json` summary.
    summaries: Vec<Value>,
    events: Vec<reports::guard::GuardEventLine>,
}

fn guarded(dir: &Path, node: &str) -> Guarded {
    let node_file = dir.join("node.json");
    std::fs::write(&node_file, node).unwrap();
    let every = EVERY.to_string();
    let events = dir.join("events.jsonl");
    let out = command(
        dir,
        &[
            "guard",
            "--devices",
            "sim*4",
            "--node-config",
            node_file.to_str().unwrap(),
            "--ledger",
            dir.join("ledger.json").to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--check-every",
            "0.5",
            "--grace",
            "10",
            "--",
            support::BIN,
            "train",
            "--steps",
            STEPS,
            "--checkpoint-every",
            &every,
            "--checkpoint",
            dir.join("ckpt.json").to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    Guarded {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summaries: serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<Value>()
            .map(|v| v.unwrap())
            .collect(),
        events: std::fs::read_to_string(&events)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    }
}

fn count(run: &Guarded, name: &str) -> usize {
    run.events
        .iter()
        .filter(|e| serde_json::to_value(&e.event).unwrap()["event"] == name)
        .count()
}

/// No process carries the run id of this guard any more.
fn nothing_left(run: &Guarded) {
    let id = shim::guard::timeline::run_id(&run.events).expect("a guard_started event");
    let left = shim::guard::process::live_with_run_id(id);
    assert!(
        left.is_empty(),
        "processes {left:?} of a guarded job are still running"
    );
}

#[test]
fn a_gpu_faulty_from_the_start_is_kept_out_and_the_model_is_the_fault_free_one() {
    let dir = scratch("train-guard-start");
    let reference = fault_free(&dir);
    let node = format!(r#"{{"gpus": {{"sim#2": {{"fault": "{FAULT}"}}}}}}"#);
    let run = guarded(&dir, &node);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(count(&run, "quarantined"), 1);
    assert_eq!(
        count(&run, "job_started"),
        1,
        "quarantined before the start: no restart"
    );
    let last = run.summaries.last().unwrap();
    assert_eq!(
        last["devices"],
        serde_json::json!(["sim#0", "sim#1", "sim#3"])
    );
    assert_eq!(last["outcome"], "finished");
    assert_eq!(
        last["eval_loss"], reference["eval_loss"],
        "3 GPUs train the 4-GPU model"
    );
    nothing_left(&run);
}

#[test]
fn a_fault_that_arrives_mid_run_costs_a_restart_not_the_model() {
    let dir = scratch("train-guard-arrival");
    let reference = fault_free(&dir);
    // mid-run: the fault-free run's wall time says how long the job takes here
    let wall = reference["wall_s"].as_f64().unwrap();
    let arrives = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 1.0
        + wall * 0.4;
    let node = format!(
        r#"{{"gpus": {{"sim#2": {{"fault": "{FAULT}", "fault_arrives_at": {arrives}}}}}}}"#
    );
    let run = guarded(&dir, &node);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(count(&run, "quarantined"), 1, "{:?}", run.events);
    assert_eq!(count(&run, "job_started"), 2, "one restart");
    let last = run.summaries.last().unwrap();
    assert_eq!(
        last["devices"],
        serde_json::json!(["sim#0", "sim#1", "sim#3"])
    );
    // from a checkpoint written before the last clean check (`--resume trusted`): when no
    // periodic check finished before the fault, that is the start itself
    assert!(
        last["resumed_from"]
            .as_u64()
            .is_none_or(|s| s.is_multiple_of(EVERY)),
        "{last}"
    );
    assert_eq!(
        last["eval_loss"], reference["eval_loss"],
        "the fault-free model"
    );
    // the restart is told the newest checkpoint it may use, logged with its start, and
    // the job resumed from one at or below it
    let limits: Vec<Option<u64>> = run
        .events
        .iter()
        .filter_map(|e| match &e.event {
            GuardEvent::JobStarted { resume_at_most, .. } => Some(*resume_at_most),
            _ => None,
        })
        .collect();
    assert_eq!(limits[0], None, "the first start may use any checkpoint");
    let limit = limits[1].expect("the restart after the fault has a limit");
    assert!(
        last["resumed_from"].as_u64().unwrap_or(0) <= limit,
        "{last} (limit {limit})"
    );
    let recovered = recoveries(&run.events);
    assert_eq!(recovered.len(), 1, "{:?}", run.events);
    let r = &recovered[0];
    assert!(r.resumed_from.unwrap_or(0).is_multiple_of(EVERY));
    assert!(r.steps_lost().is_some());
    nothing_left(&run);
}
