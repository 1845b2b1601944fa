//! `gpufault train` end to end (issue 18, the job the guard guards): the environment the
//! guard gives it (devices, node config, visible GPUs, progress file), a checkpoint that
//! SIGTERM writes and that a run on another device count resumes to the same model, a
//! checkpoint of another run, a faulty GPU.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{assert_contains, command, scratch, stderr};

/// `gpufault train --json ARGS` in `dir` with `env`: the exit code, the summary (or the
/// stderr as a string when there is none) and stderr.
fn train(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut c = command(dir, &[&["train", "--json"], args].concat());
    c.envs(env.iter().copied());
    let o = c.output().unwrap();
    let code = o.status.code().unwrap_or(-1);
    let summary = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (code, summary, stderr(&o))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_run_stopped_by_sigterm_resumes_on_another_device_count_to_the_same_model() {
    let dir = scratch("train-sigterm");
    let steps = ["--steps", "20"];
    let (code, whole, err) = train(&dir, &[&steps[..], &["--devices", "sim*2"]].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(whole["outcome"], "finished");
    assert_eq!(whole["devices"], serde_json::json!(["sim#0", "sim#1"]));

    // as the guard starts it: devices and progress file from the environment
    let env = [
        ("GPUFAULT_DEVICES", "sim*4"),
        ("GPUFAULT_PROGRESS_FILE", "progress.json"),
    ];
    let mut c = command(
        &dir,
        &[&["train", "--json", "--checkpoint", "c.json"], &steps[..]].concat(),
    );
    let mut child = c.envs(env).stdout(Stdio::piped()).spawn().unwrap();
    let progress = dir.join("progress.json");
    let t = Instant::now();
    while !progress.exists() || read_json(&progress)["step"].as_u64().unwrap_or(0) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "it ended before the signal"
        );
        assert!(t.elapsed() < Duration::from_secs(60), "no progress in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    let stopped: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stopped["outcome"], "terminated");
    assert_eq!(stopped["devices"].as_array().unwrap().len(), 4);
    let step = stopped["step"].as_u64().unwrap();
    assert!((2..20).contains(&step), "stopped at step {step}");
    assert_eq!(stopped["checkpoint_step"], step);
    assert_eq!(read_json(&dir.join("c.json"))["step"], step);
    let p = read_json(&progress);
    assert_eq!(p["step"], step);
    assert_eq!(
        (p["checkpoint_step"].as_u64(), p["done"].as_bool()),
        (Some(step), Some(false))
    );

    // resumed on one device: the same final loss and held-out loss, bit for bit
    let (code, resumed, err) = train(
        &dir,
        &[&steps[..], &["--devices", "sim", "--checkpoint", "c.json"]].concat(),
        &[("GPUFAULT_PROGRESS_FILE", "progress.json")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(resumed["resumed_from"], step);
    assert_eq!(resumed["steps_run"], 20 - step);
    assert_eq!(resumed["final_train_loss"], whole["final_train_loss"]);
    assert_eq!(resumed["eval_loss"], whole["eval_loss"]);
    let p = read_json(&progress);
    assert_eq!(
        (p["step"].as_u64(), p["done"].as_bool()),
        (Some(20), Some(true))
    );
    assert_eq!(p["resumed_from"], step);
}

#[test]
fn a_checkpoint_of_another_run_and_bad_flags_are_usage_errors() {
    let dir = scratch("train-usage");
    let (code, _, err) = train(&dir, &["--steps", "2", "--checkpoint", "c.json"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = train(
        &dir,
        &["--steps", "2", "--batch", "32", "--checkpoint", "c.json"],
        &[],
    );
    assert_eq!(code, 2);
    assert_contains(
        &err,
        "checkpoint c.json belongs to another run: its `batch` is 64, this run's is 32",
    );
    for (args, needle) in [
        (
            &["--steps", "2", "--shards", "5"][..],
            "--shards: must divide the batch (64)",
        ),
        (
            &["--steps", "2", "--devices", "gpu0"],
            "--devices: invalid device name `gpu0`",
        ),
        (
            &["--steps", "2", "--max-loss-jump", "0.5"],
            "--max-loss-jump: must be at least 1",
        ),
        (&["--steps", "0"], "--steps: must be at least 1"),
    ] {
        let (code, _, err) = train(&dir, args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_contains(&err, needle);
    }
}

#[test]
fn a_faulty_gpu_fails_the_run_and_visible_devices_leave_it_out() {
    let dir = scratch("train-faulty");
    // GPU 1 traps at its first fma on SM 0, warp slot 0
    std::fs::write(
        dir.join("node.json"),
        r#"{"gpus": {"sim#1": {"fault": "ir:sm=0,sp=0,warps=0x1,op=fma.f32"}}}"#,
    )
    .unwrap();
    let node = [("GPUFAULT_NODE_CONFIG", "node.json")];
    let (code, s, err) = train(&dir, &["--steps", "3", "--devices", "sim*2"], &node);
    assert_eq!(code, 3, "{err}");
    assert_eq!(s["outcome"], "device_failed");
    assert_eq!(s["suspects"], serde_json::json!(["sim#1"]));
    let detail = s["detail"].as_str().unwrap();
    assert!(
        detail.contains("device sim#1 failed in step 1") && detail.contains("trap"),
        "{detail}"
    );
    // with only GPU 0 visible, the same command trains on it alone
    let o = command(&dir, &["devices", "sim#0", "--json"])
        .output()
        .unwrap();
    let uuid = serde_json::from_slice::<Value>(&o.stdout).unwrap()["devices"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let env = [node[0], ("GPUFAULT_VISIBLE_DEVICES", uuid.as_str())];
    let (code, s, err) = train(&dir, &["--steps", "3", "--devices", "sim*2"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["devices"], serde_json::json!(["sim#0"]));
}

#[test]
fn a_restart_resumes_at_or_below_the_job_resume_limit_file_and_a_bad_file_stops_it() {
    // issue 19: a guard on another node quarantined a GPU and wrote the checkpoint it
    // trusts to the job's resume-limit file; this node's trainer must obey it
    let dir = scratch("train-resume-limit");
    let ckpt = ["--checkpoint", "c.json", "--checkpoint-every", "2"];
    let (code, first, err) = train(&dir, &[&["--steps", "12"][..], &ckpt].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(first["resumed_from"], Value::Null);
    let limit_file = dir.join("shared/resume-limit.json");
    let file_env = limit_file.to_str().unwrap();
    // a restart of the same run (it finished: without a limit it would resume from 12)
    let again = [&["--steps", "12"][..], &ckpt].concat();
    // a file that does not parse: an error naming it, nothing resumed or trained
    std::fs::create_dir_all(limit_file.parent().unwrap()).unwrap();
    std::fs::write(&limit_file, "{\"step\": 6,").unwrap();
    let (code, _, err) = train(&dir, &again, &[("GPUFAULT_RESUME_LIMIT_FILE", file_env)]);
    assert_ne!(code, 0, "{err}");
    assert_contains(
        &err,
        &format!("resume-limit file {file_env}: EOF while parsing"),
    );
    // the file's limit (6) below this node's guard's (10): the lower wins
    let limit = serde_json::json!({"step": 6, "limits": [{"step": 6, "uuids": ["GPU-2"],
        "node": "n2", "time": "2026-12-06T11:00:00.000Z", "reason": "gpufault: GPU-2 faulty"}]});
    std::fs::write(&limit_file, limit.to_string()).unwrap();
    let env = [
        ("GPUFAULT_RESUME_LIMIT_FILE", file_env),
        ("GPUFAULT_RESUME_AT_MOST", "10"),
    ];
    let (code, resumed, err) = train(&dir, &again, &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(resumed["resumed_from"], 6, "{resumed}");
    assert_eq!(resumed["steps_run"], 6, "{resumed}");
    // ... and this node's guard's (4) below the file's: again the lower
    let env = [
        ("GPUFAULT_RESUME_LIMIT_FILE", file_env),
        ("GPUFAULT_RESUME_AT_MOST", "4"),
    ];
    let (code, resumed, err) = train(&dir, &again, &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(resumed["resumed_from"], 4, "{resumed}");
}
