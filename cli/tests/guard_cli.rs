//! `gpufault guard -- CMD…` end to end, with small shell jobs on virtual GPUs: the job's
//! environment, judging by the completion marker, pre-flight quarantine, restarts and
//! their budget, signal forwarding, and that no process of the job outlives the guard.
//! (The guard around `gpufault train`, with faults that arrive mid-run: `train_guard_cli.rs`.)

mod support;

use serde_json::Value;
use shim::guard::process::alive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{assert_contains, command, scratch};

/// A node of three small virtual GPUs whose GPU 1 has a permanent fault.
const FAULTY_NODE: &str =
    r#"{"gpus": {"sim#1": {"fault": "iat:sm=1,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1"}}}"#;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
}

impl Run {
    fn events(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("event line {l}: {e}")))
        .collect()
}

/// `gpufault guard --devices DEVICES --ledger DIR/ledger.json --events DIR/events.jsonl
/// FLAGS -- sh -c SCRIPT`.
fn guard(dir: &Path, devices: &str, flags: &[&str], script: &str) -> Run {
    let ledger = dir.join("ledger.json");
    let events = dir.join("events.jsonl");
    let _ = std::fs::remove_file(&events);
    let mut args = vec![
        "guard",
        "--devices",
        devices,
        "--ledger",
        ledger.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let out = command(dir, &args).output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        events: read_events(&events),
    }
}

fn write_node(dir: &Path) -> PathBuf {
    let p = dir.join("node.json");
    std::fs::write(&p, FAULTY_NODE).unwrap();
    p
}

const DONE: &str = r#"echo '{"step": 1, "done": true}' > "$GPUFAULT_PROGRESS_FILE""#;

#[test]
fn the_job_gets_its_devices_by_uuid_and_success_is_its_completion_marker() {
    let dir = scratch("guard-marker");
    // the launcher's own exit code (srun's 137 for a step it killed) does not matter
    let script = format!(
        "echo \"$GPUFAULT_DEVICES|$GPUFAULT_VISIBLE_DEVICES|$GPUFAULT_DEVICE_COUNT|$GPUFAULT_RESTART_COUNT|$CUDA_VISIBLE_DEVICES\"; {DONE}; exit 137"
    );
    let run = guard(&dir, "sim*2", &[], &script);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let fields: Vec<&str> = run.stdout.trim().split('|').collect();
    assert_eq!(fields[0], "sim#0,sim#1");
    let uuids: Vec<&str> = fields[1].split(',').collect();
    assert_eq!(uuids.len(), 2);
    assert!(uuids.iter().all(|u| u.starts_with("GPU-")), "{uuids:?}");
    assert_eq!(&fields[2..], ["2", "0", ""]);
    let exited = run.events("job_exited");
    assert_eq!(exited[0]["code"], 137);
    assert_eq!(exited[0]["done"], true);
    assert_eq!(run.events("guard_finished")[0]["exit_code"], 0);

    // exit 0 without the marker is not success: restarted, then the budget is spent
    let run = guard(&dir, "sim", &["--max-restarts", "2"], "exit 0");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.events("job_started").len(), 3);
    let attempts: Vec<u64> = run
        .events("job_started")
        .iter()
        .map(|e| e["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [0, 1, 2]);
    assert!(
        run.stderr.contains("restart budget (2) is spent"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_faulty_gpu_is_quarantined_before_the_start_and_stays_out() {
    let dir = scratch("guard-preflight");
    let node = write_node(&dir);
    let node = node.to_str().unwrap();
    let script = format!("echo \"$GPUFAULT_DEVICES\"; test -n \"$GPUFAULT_NODE_CONFIG\" && {DONE}");
    let run = guard(&dir, "sim*3", &["--node-config", node], &script);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "sim#0,sim#2");
    let q = run.events("quarantined");
    assert_eq!(q.len(), 1, "{:?}", run.events);
    assert_eq!(q[0]["device"], "sim#1");
    let reason = q[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gpufault: GPU-") && reason.contains("SM1"),
        "{reason}"
    );
    let uuid = q[0]["uuid"].as_str().unwrap().to_string();

    // the next guard leaves it out without checking it again
    let run = guard(&dir, "sim*3", &["--node-config", node], &script);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "sim#0,sim#2");
    let excluded = run.events("excluded");
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["uuid"], uuid.as_str());
    let checked = &run.events("checked")[0]["devices"];
    assert_eq!(checked.as_array().unwrap().len(), 2, "{checked}");

    // too few healthy GPUs: exit 3, the job never starts
    let run = guard(
        &dir,
        "sim*3",
        &["--node-config", node, "--min-devices", "3"],
        &script,
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.events("job_started").is_empty());
}

#[test]
fn a_bad_flag_or_a_missing_command_is_a_usage_error() {
    let dir = scratch("guard-usage");
    for args in [
        &["guard", "--devices", "sim", "--grace", "0", "--", "true"][..],
        &["guard", "--devices", "nonsense:0", "--", "true"],
        &["guard", "--devices", "sim"],
    ] {
        let out = command(&dir, args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let node = dir.join("broken.json");
    std::fs::write(&node, "{").unwrap();
    let run = guard(
        &dir,
        "sim",
        &["--node-config", node.to_str().unwrap()],
        DONE,
    );
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("broken.json"), "{}", run.stderr);
}

/// The guard gets SIGTERM: the job (and a worker of it that left the process group with
/// `setsid` and ignores SIGTERM) gets it too; the job checkpoints and exits, the worker
/// is killed after the grace period, the guard exits 143, and nothing of the job is left.
#[test]
fn sigterm_is_forwarded_and_no_process_of_the_job_survives() {
    let dir = scratch("guard-signal");
    let worker_pid = dir.join("worker.pid");
    let saw_term = dir.join("saw-term");
    let script = format!(
        "setsid sh -c 'echo $$ > {w}; trap \"\" TERM; while :; do sleep 0.05; done' & \
         trap 'echo term > {t}; exit 143' TERM; while :; do sleep 0.05; done",
        w = worker_pid.display(),
        t = saw_term.display()
    );
    let events = dir.join("events.jsonl");
    let child = command(
        &dir,
        &[
            "guard",
            "--devices",
            "sim",
            "--ledger",
            dir.join("ledger.json").to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--grace",
            "1",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let worker = wait_for_pid(&worker_pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(saw_term.exists(), "the job did not get SIGTERM");
    assert!(
        !alive(worker),
        "the setsid worker {worker} outlived the guard"
    );
    let events = read_events(&events);
    let stopped: Vec<&Value> = events.iter().filter(|e| e["event"] == "stopped").collect();
    assert_eq!(stopped[0]["within_grace"], false, "{events:?}");
    assert!(stopped[0]["killed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_u64() == Some(u64::from(worker))));
}

/// A job whose main process completes but leaves a daemonised worker behind: the guard
/// stops the worker before it exits.
#[test]
fn a_worker_left_behind_by_a_finished_job_is_stopped() {
    let dir = scratch("guard-leftover");
    let worker_pid = dir.join("worker.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > {w}; while :; do sleep 0.05; done' & \
         while [ ! -s {w} ]; do sleep 0.01; done; {DONE}",
        w = worker_pid.display()
    );
    let run = guard(&dir, "sim", &["--grace", "2"], &script);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let worker = wait_for_pid(&worker_pid);
    assert!(!alive(worker), "the worker {worker} outlived the guard");
    assert!(!run.events("stopping").is_empty(), "{:?}", run.events);
}

fn wait_for_pid(file: &Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Some(p) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no pid in {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A GPU whose fault arrives while the job runs: a periodic check finds it, the GPU is
/// quarantined, the job stopped and started again on the other two, told to resume from
/// a checkpoint it wrote before the fault arrived (never from one written after).
#[test]
fn a_fault_that_arrives_mid_run_is_found_and_the_job_restarts_without_that_gpu() {
    arrival(&[], "guard-arrival");
}

/// `--resume newest`: the restart is not limited (no GPUFAULT_RESUME_AT_MOST).
#[test]
fn with_resume_newest_the_restart_may_take_the_newest_checkpoint() {
    arrival(&["--resume", "newest"], "guard-arrival-newest");
}

fn arrival(extra: &[&str], name: &str) {
    let newest = !extra.is_empty();
    let dir = scratch(name);
    let arrives = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 3.0;
    let node = dir.join("node.json");
    std::fs::write(
        &node,
        format!(
            r#"{{"gpus": {{"sim#1": {{"fault": "iat:sm=1,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1", "fault_arrives_at": {arrives}}}}}}}"#
        ),
    )
    .unwrap();
    // 10 steps a second for 8 s, a checkpoint every 10 steps, the step rewritten atomically
    let script = r#"echo "$GPUFAULT_RESTART_COUNT|$GPUFAULT_DEVICES|$GPUFAULT_RESUME_AT_MOST|$GPUFAULT_RESUME_LIMIT_FILE"
        p="$GPUFAULT_PROGRESS_FILE"; i=0
        while [ $i -lt 80 ]; do i=$((i+1))
            echo "{\"step\": $i, \"checkpoint_step\": $((i/10*10))}" > "$p.t"; mv "$p.t" "$p"; sleep 0.1
        done
        echo "{\"step\": $i, \"done\": true}" > "$p""#;
    let mut flags = vec![
        "--node-config",
        node.to_str().unwrap(),
        "--check-every",
        "0.5",
        "--grace",
        "2",
    ];
    // the job's shared resume-limit file (issue 19), in a directory the guard makes
    let limit_file = dir.join("shared/resume-limit.json");
    let limit_env = limit_file.to_str().unwrap();
    flags.extend_from_slice(&["--resume-limit-file", limit_env]);
    flags.extend_from_slice(extra);
    let run = guard(&dir, "sim*3", &flags, script);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let starts: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(starts.len(), 2, "{}", run.stdout);
    assert_eq!(starts[0], format!("0|sim#0,sim#1,sim#2||{limit_env}"));
    let second: Vec<&str> = starts[1].split('|').collect();
    assert_eq!(&second[..2], ["1", "sim#0,sim#2"]);
    assert_eq!(second[3], limit_env, "every start is told the file");
    if newest {
        assert_eq!(second[2], "", "no limit with --resume newest");
        assert!(
            !limit_file.exists(),
            "no limit written with --resume newest"
        );
        return;
    }
    let at_most: u64 = second[2].parse().unwrap();
    let fault = run.events("fault_detected");
    assert_eq!(fault.len(), 1);
    assert_eq!(fault[0]["source"], "periodic_check");
    assert_eq!(fault[0]["devices"][0], "sim#1");
    assert!(
        fault[0]["unix"].as_f64().unwrap() >= arrives,
        "found before it arrived"
    );
    assert_eq!(run.events("quarantined")[0]["device"], "sim#1");
    // the same limit went to the job's shared file, for the ranks of other nodes
    let written = run.events("resume_limit");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["step"], at_most);
    assert_eq!(written[0]["job_step"], at_most, "{}", written[0]);
    let file: Value = serde_json::from_slice(&std::fs::read(&limit_file).unwrap()).unwrap();
    assert_eq!(file["step"], at_most);
    assert_eq!(
        file["limits"][0]["uuids"][0],
        run.events("quarantined")[0]["uuid"]
    );
    assert_contains(file["limits"][0]["reason"].as_str().unwrap(), "gpufault: ");
    // the checkpoint it may resume from was written before the fault arrived
    let seen_at = run
        .events("job_checkpoint")
        .into_iter()
        .find(|e| e["attempt"] == 0 && e["step"].as_u64() == Some(at_most))
        .map(|e| e["unix"].as_f64().unwrap());
    if at_most > 0 {
        let seen_at = seen_at.expect("a checkpoint the first start wrote");
        assert!(
            seen_at < arrives,
            "checkpoint {at_most} seen at {seen_at}, after the fault arrived at {arrives}"
        );
    }
    // and every checkpoint seen after the arrival is newer than it
    for e in run.events("job_checkpoint") {
        if e["attempt"] == 0 && e["unix"].as_f64().unwrap() > arrives {
            assert!(e["step"].as_u64().unwrap() >= at_most);
        }
    }
}

/// torchrun is started with one worker per healthy GPU: `--nproc-per-node` rewritten
/// (here a stand-in `torchrun` on PATH that prints its arguments; the real torchrun's
/// run is `scripts/torchrun-e2e.sh`).
#[test]
fn torchrun_gets_one_worker_per_healthy_gpu() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("guard-torchrun");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("torchrun");
    std::fs::write(&fake, format!("#!/bin/sh\necho \"$@\"\n{DONE}\n")).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let node = write_node(&dir);
    let out = command(
        &dir,
        &[
            "guard",
            "--devices",
            "sim*3",
            "--node-config",
            node.to_str().unwrap(),
            "--ledger",
            dir.join("ledger.json").to_str().unwrap(),
            "--events",
            dir.join("events.jsonl").to_str().unwrap(),
            "--",
            fake.to_str().unwrap(),
            "--nproc-per-node=3",
            "--rdzv-backend",
            "c10d",
            "train.py",
            "--nproc-per-node",
            "7",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "--nproc-per-node=2 --rdzv-backend c10d train.py --nproc-per-node 7"
    );
}
