//! Guarded training runs, measured (issue 18, must-shows 3 and 5): `gpufault guard`
//! around `gpufault train` on a virtual node of 4 H100s, many times.
//!
//!     cargo build --release -p gpufault
//!     cargo run --release -p gpufault-shim --example guard_runs -- recovery [--runs 20]
//!     cargo run --release -p gpufault-shim --example guard_runs -- healthy [--runs 200]
//!
//! - `recovery`: in each run GPU 2 gets a permanent fault (`--fault`, default an `iat`
//!   fault) that *arrives* at a random moment while the job trains (`fault_arrives_at`
//!   in the node config); the guard's periodic check finds it, quarantines the GPU,
//!   stops the job and restarts it on 3 GPUs from the newest checkpoint that predates the
//!   fault. Per run: the recovery's phases (from the guard's event log:
//!   `shim::guard::timeline`), the steps lost, the final eval loss against a fault-free
//!   run's, and any process of the job left behind. Then the median and maximum of each
//!   phase.
//! - `healthy`: no fault; each run's GPUs schedule with their own seeds (node config
//!   `scheduling_seed`), so the pre-flight and periodic checks see different warp
//!   interleavings every run. Counts quarantines (a false quarantine is any) and runs that
//!   did not complete.
//!
//! Options: `--runs N`, `--steps N` (default 400 / 100), `--checkpoint-every K` (25),
//! `--check-every SECS` (2 / 1), `--fault SPEC`, `--seed S` (arrival times and scheduling
//! seeds), `--gpufault PATH` (default `target/release/gpufault`), `--json PATH` (default
//! `target/bench/guard-<mode>.json`). Exits 1 if any run went wrong (recovery: not
//! completed, final loss different, a process left; healthy: any quarantine or
//! incomplete run).

use reports::guard::GuardEventLine;
use serde_json::{json, Value};
use shim::guard::timeline::{recoveries, Recovery};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DEFAULT_FAULT: &str = "iat:sm=5,sp=1,warps=0x1,lanes=0xffffffff,dim=x,mask=0x4,pol=sa1";

struct Opts {
    mode: String,
    runs: u64,
    steps: u64,
    checkpoint_every: u64,
    check_every: f64,
    fault: String,
    seed: u64,
    gpufault: PathBuf,
    json: PathBuf,
}

fn main() {
    let o = opts();
    let scratch = std::env::temp_dir().join(format!("gpufault-guard-runs-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let ok = match o.mode.as_str() {
        "recovery" => recovery(&o, &scratch),
        _ => healthy(&o, &scratch),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    std::process::exit(if ok { 0 } else { 1 });
}

fn opts() -> Opts {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    assert!(
        mode == "recovery" || mode == "healthy",
        "usage: guard_runs recovery|healthy [options] (see the file's header)"
    );
    let recovery = mode == "recovery";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut o = Opts {
        runs: if recovery { 20 } else { 200 },
        steps: if recovery { 400 } else { 100 },
        checkpoint_every: 25,
        check_every: if recovery { 2.0 } else { 1.0 },
        fault: DEFAULT_FAULT.into(),
        seed: 1,
        gpufault: root.join("target/release/gpufault"),
        json: root.join(format!("target/bench/guard-{mode}.json")),
        mode,
    };
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = val().parse().expect("--runs N"),
            "--steps" => o.steps = val().parse().expect("--steps N"),
            "--checkpoint-every" => {
                o.checkpoint_every = val().parse().expect("--checkpoint-every K")
            }
            "--check-every" => o.check_every = val().parse().expect("--check-every SECS"),
            "--fault" => o.fault = val(),
            "--seed" => o.seed = val().parse().expect("--seed S"),
            "--gpufault" => o.gpufault = val().into(),
            "--json" => o.json = val().into(),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        o.gpufault.exists(),
        "{} does not exist: cargo build --release -p gpufault first",
        o.gpufault.display()
    );
    o
}

/// One guarded training run's results.
struct Guarded {
    code: Option<i32>,
    events: Vec<GuardEventLine>,
    summary: Option<Value>,
    wall: Duration,
    leftovers: Vec<u32>,
}

/// `gpufault guard … -- gpufault train …` in `dir` with `node` as the node config.
fn guarded(o: &Opts, dir: &Path, node: &Value, train: bool) -> Guarded {
    std::fs::create_dir_all(dir).unwrap();
    let node_file = dir.join("node.json");
    std::fs::write(&node_file, node.to_string()).unwrap();
    let events = dir.join("events.jsonl");
    let check_every = o.check_every.to_string();
    let steps = o.steps.to_string();
    let every = o.checkpoint_every.to_string();
    let p = |f: &str| dir.join(f).display().to_string();
    let mut args: Vec<String> = [
        "guard",
        "--devices",
        "sim:h100*4",
        "--node-config",
        &p("node.json"),
        "--ledger",
        &p("ledger.json"),
        "--events",
        &p("events.jsonl"),
        "--check-every",
        &check_every,
        "--grace",
        "10",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if train {
        args.push(o.gpufault.display().to_string());
        args.extend(
            [
                "train",
                "--steps",
                &steps,
                "--checkpoint-every",
                &every,
                "--checkpoint",
                &p("ckpt.json"),
                "--json",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    let started = Instant::now();
    let out = Command::new(&o.gpufault)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("running gpufault guard");
    let wall = started.elapsed();
    let events: Vec<GuardEventLine> = std::fs::read_to_string(&events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // each start of `gpufault train --json` prints one JSON document: the last is the
    // run's end
    let summary = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .last();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let leftovers = leftovers(&events);
    Guarded {
        code: out.status.code(),
        events,
        summary,
        wall,
        leftovers,
    }
}

/// Processes that carry the run id of the guard that logged `events` (none may
/// outlive it).
fn leftovers(events: &[GuardEventLine]) -> Vec<u32> {
    shim::guard::timeline::run_id(events)
        .map(shim::guard::process::live_with_run_id)
        .unwrap_or_default()
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The final eval loss `gpufault train --json` printed.
fn eval_loss(summary: &Option<Value>) -> Option<f64> {
    summary.as_ref()?.get("eval_loss")?.as_f64()
}

/// A small deterministic stream (SplitMix64) for arrival times and seeds.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn recovery(o: &Opts, scratch: &Path) -> bool {
    // the fault-free reference, and how long a run takes (to place arrivals inside it)
    let reference = guarded(o, &scratch.join("reference"), &json!({"gpus": {}}), true);
    let Some(reference_loss) = eval_loss(&reference.summary) else {
        eprintln!(
            "the fault-free run printed no eval loss: {:?}",
            reference.summary
        );
        return false;
    };
    let span = reference.wall.as_secs_f64();
    println!(
        "fault-free: {:.1} s, eval loss {reference_loss}; fault `{}` on sim:h100#2 arriving at 20-70% of that",
        span, o.fault
    );
    println!(
        "{:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>5} {:>9} {:>5}",
        "run",
        "arrive",
        "detect",
        "quarnt",
        "stop",
        "start",
        "setup",
        "ckpt",
        "1st step",
        "total-ck",
        "lost",
        "loss=",
        "left"
    );
    let mut rows = Vec::new();
    let mut recs: Vec<Recovery> = Vec::new();
    let mut all_ok = true;
    for i in 0..o.runs {
        let frac = 0.2 + 0.5 * (mix(o.seed, i) % 1000) as f64 / 1000.0;
        let arrives = now_unix() + frac * span;
        let node = json!({"gpus": {"sim:h100#2": {"fault": o.fault, "fault_arrives_at": arrives}}});
        let run = guarded(o, &scratch.join(format!("run{i}")), &node, true);
        let rec: Vec<Recovery> = recoveries(&run.events);
        let loss = eval_loss(&run.summary);
        let same = loss == Some(reference_loss);
        let ok = run.code == Some(0) && rec.len() == 1 && same && run.leftovers.is_empty();
        all_ok &= ok;
        match rec.first() {
            Some(r) => println!(
                "{i:>4} {:>6.0}% {:>10} {:>7.0} {:>7.1} {:>7.0} {:>7.0} {:>7.0} {:>7.1} {:>8.0} {:>8.0} {:>5} {:>9} {:>5}",
                frac * 100.0,
                match r.source.as_str() {
                    "after_exit" => "job+check",
                    "periodic_check" => "periodic",
                    other => other,
                },
                r.detect_ms.unwrap_or(0.0),
                r.quarantine_ms,
                r.stop_ms,
                r.start_ms,
                r.setup_ms,
                r.checkpoint_load_ms,
                r.first_step_ms,
                r.total_without_checkpoint_ms,
                r.steps_lost().map_or("-".into(), |s| s.to_string()),
                if same { "yes".into() } else { format!("{loss:?}") },
                run.leftovers.len()
            ),
            None => println!(
                "{i:>4} {:>6.0}% no complete recovery (exit {:?}, {} recoveries)",
                frac * 100.0,
                run.code,
                rec.len()
            ),
        }
        // the whole event log of a run without exactly one complete recovery, to see why
        let events = if rec.len() == 1 {
            Value::Null
        } else {
            json!(run.events)
        };
        rows.push(json!({
            "run": i, "arrival_fraction": frac, "exit": run.code, "recoveries": rec,
            "events": events,
            "eval_loss": loss, "same_loss": same, "leftovers": run.leftovers,
            "wall_s": run.wall.as_secs_f64(),
        }));
        recs.extend(rec);
    }
    type Phase = (&'static str, fn(&Recovery) -> f64);
    let phases: [Phase; 9] = [
        ("detect (the check that found it)", |r| {
            r.detect_ms.unwrap_or(0.0)
        }),
        ("quarantine (ledger write)", |r| r.quarantine_ms),
        ("stop (SIGTERM → all gone)", |r| r.stop_ms),
        ("start (→ new process running)", |r| r.start_ms),
        ("setup incl. checkpoint load", |r| r.setup_ms),
        ("  of which checkpoint load", |r| r.checkpoint_load_ms),
        ("first step", |r| r.first_step_ms),
        ("detection → first step", |r| r.total_ms),
        ("  without checkpoint load", |r| {
            r.total_without_checkpoint_ms
        }),
    ];
    println!(
        "\n{} complete recoveries of {} runs (ms):",
        recs.len(),
        o.runs
    );
    println!("{:<36} {:>9} {:>9}", "phase", "median", "max");
    let mut summary = serde_json::Map::new();
    for (name, f) in phases {
        let mut v: Vec<f64> = recs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let (median, max) = (percentile(&v, 0.5), v.last().copied().unwrap_or(f64::NAN));
        println!("{name:<36} {median:>9.1} {max:>9.1}");
        summary.insert(
            name.trim().into(),
            json!({"median_ms": median, "max_ms": max}),
        );
    }
    let lost: Vec<u64> = recs.iter().filter_map(Recovery::steps_lost).collect();
    for source in ["after_exit", "periodic_check", "xid"] {
        let n = recs.iter().filter(|r| r.source == source).count();
        if n > 0 {
            println!("found by {source}: {n}");
        }
    }
    println!(
        "steps lost: max {} (checkpoint every {}); final eval loss equal to the fault-free run's in {} of {} runs",
        lost.iter().max().copied().unwrap_or(0),
        o.checkpoint_every,
        rows.iter().filter(|r| r["same_loss"] == true).count(),
        o.runs
    );
    write_json(
        o,
        json!({"mode": "recovery", "fault": o.fault, "runs": rows, "reference_eval_loss": reference_loss,
               "phases": summary, "steps": o.steps, "checkpoint_every": o.checkpoint_every,
               "check_every_s": o.check_every}),
    );
    all_ok
}

fn healthy(o: &Opts, scratch: &Path) -> bool {
    let mut quarantines = 0;
    let mut incomplete = 0;
    let mut rows = Vec::new();
    let started = Instant::now();
    for i in 0..o.runs {
        let gpus: serde_json::Map<String, Value> = (0..4)
            .map(|g| {
                (
                    format!("sim:h100#{g}"),
                    json!({"scheduling_seed": mix(o.seed, i * 4 + g)}),
                )
            })
            .collect();
        let run = guarded(
            o,
            &scratch.join(format!("run{i}")),
            &json!({ "gpus": gpus }),
            true,
        );
        let q = run
            .events
            .iter()
            .filter(|e| matches!(e.event, reports::guard::GuardEvent::Quarantined { .. }))
            .count();
        let checks = run
            .events
            .iter()
            .filter(|e| matches!(e.event, reports::guard::GuardEvent::Checked { .. }))
            .count();
        quarantines += q;
        incomplete += usize::from(run.code != Some(0));
        rows.push(
            json!({"run": i, "exit": run.code, "quarantines": q, "checks": checks,
                         "wall_s": run.wall.as_secs_f64(), "leftovers": run.leftovers}),
        );
        eprint!(
            "\r{}/{} runs, {quarantines} quarantines, {incomplete} incomplete, {:.0} s",
            i + 1,
            o.runs,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    let checks: u64 = rows.iter().map(|r| r["checks"].as_u64().unwrap_or(0)).sum();
    println!(
        "{} guarded healthy runs ({} steps, checks every {} s): {checks} checks of 4 GPUs, {quarantines} quarantines, {incomplete} runs not completed, {:.0} s",
        o.runs,
        o.steps,
        o.check_every,
        started.elapsed().as_secs_f64()
    );
    write_json(
        o,
        json!({"mode": "healthy", "runs": rows, "quarantines": quarantines, "incomplete": incomplete,
               "checks": checks, "steps": o.steps, "check_every_s": o.check_every}),
    );
    quarantines == 0 && incomplete == 0
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn write_json(o: &Opts, value: Value) {
    if let Some(dir) = o.json.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&o.json, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    println!("wrote {}", o.json.display());
}
