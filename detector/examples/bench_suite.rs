//! Cost of the signature suite on the virtual GPU: per kernel, thread-instructions,
//! launch seconds and total seconds (launch, copies, expectations, judging; wall
//! time), for a healthy device of each profile, best of `--reps` runs; and the on-CPU
//! time of the whole quick check including loading the module (parse, decode; on a
//! faulty GPU also instrumentation).
//!
//!     cargo run --release -p gpufault-detector --example bench_suite -- \
//!         [--reps 5] [--profiles sim,sim:h100] [--json PATH]
//!
//! Prints a table and writes JSON (default `target/bench/suite.json`).

use detector::{Geometry, Level, Suite};
use gpu::{Device, DeviceSpec, NodeConfig, Platform};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// On-CPU time of this thread so far (Linux `/proc/thread-self/schedstat`; wall time
/// elsewhere): the virtual GPU runs a launch on the calling thread, and the judging
/// runs there too.
fn cpu_now(wall: Instant) -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| wall.elapsed())
}

/// One quick check with the module load: (on-CPU time, the run).
fn check(platform: &Platform, name: &str) -> (Duration, detector::SuiteRun) {
    let spec: DeviceSpec = name.parse().unwrap();
    let info = platform.info(&spec).unwrap();
    let mut dev = platform.open(&spec).unwrap();
    let epoch = Instant::now();
    let start = cpu_now(epoch);
    let m = dev.load(Suite.ptx()).unwrap();
    let run = Suite
        .run_on(dev.as_mut(), m, &Geometry::of(&info), Level::Quick)
        .unwrap();
    (cpu_now(epoch) - start, run)
}

fn main() {
    let mut reps = 5usize;
    let mut profiles = vec!["sim".to_string(), "sim:h100".to_string()];
    let mut json = "target/bench/suite.json".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--reps" => reps = val().parse().expect("--reps N"),
            "--profiles" => profiles = val().split(',').map(String::from).collect(),
            "--json" => json = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let mut out = Vec::new();
    for profile in &profiles {
        let healthy = Platform::new();
        // A faulty GPU of the same profile: the module is instrumented on load, and one
        // warp slot runs the instrumented copy (a fault on an SM the run reaches last).
        let faulty_name = format!("{profile}#1");
        let fault = "iat:sm=0,sp=0,warps=0x1,lanes=0x1,dim=z,mask=0x200,pol=sa0";
        let faulty = Platform::new()
            .with_node_config(
                NodeConfig::parse(
                    &format!("{{\"gpus\": {{\"{faulty_name}\": {{\"fault\": \"{fault}\"}}}}}}"),
                    "bench",
                )
                .unwrap(),
            )
            .with_fault_factory(Arc::new(injector::InjectorFaults));
        let mut best: Option<(Duration, detector::SuiteRun)> = None;
        let mut best_faulty = Duration::MAX;
        for _ in 0..reps {
            let (t, run) = check(&healthy, profile);
            assert!(run.findings.is_empty() && run.coverage.complete());
            if best.as_ref().is_none_or(|b| t < b.0) {
                best = Some((t, run));
            }
            let (t, _) = check(&faulty, &faulty_name);
            best_faulty = best_faulty.min(t);
        }
        let (total, run) = best.unwrap();
        println!(
            "\n{profile}: {} SMs x {} warp slots, quick check best of {reps}",
            run.coverage.sms, run.coverage.warp_slots
        );
        println!(
            "{:<10} {:>16} {:>10} {:>10} {:>10}",
            "kernel", "thread-insts", "per thread", "launch s", "total s"
        );
        let threads = u64::from(run.coverage.sms) * u64::from(run.coverage.warp_slots) * 32;
        let mut kernels = Vec::new();
        for l in &run.launches {
            let insts = l.instructions.unwrap_or(0);
            println!(
                "{:<10} {:>16} {:>10.0} {:>10.4} {:>10.4}",
                l.kernel,
                insts,
                insts as f64 / threads as f64,
                l.launch.as_secs_f64(),
                l.elapsed.as_secs_f64()
            );
            kernels.push(serde_json::json!({
                "kernel": l.kernel, "thread_instructions": insts,
                "per_thread": insts as f64 / threads as f64,
                "launch_seconds": l.launch.as_secs_f64(), "seconds": l.elapsed.as_secs_f64(),
            }));
        }
        let insts = run.instructions.unwrap_or(0);
        println!(
            "{:<10} {:>16} {:>10.0} {:>10.4} {:>10.4}",
            "all",
            insts,
            insts as f64 / threads as f64,
            run.launches
                .iter()
                .map(|l| l.launch.as_secs_f64())
                .sum::<f64>(),
            run.launches
                .iter()
                .map(|l| l.elapsed.as_secs_f64())
                .sum::<f64>()
        );
        println!(
            "whole check with module load, on-CPU: healthy {:.3} s, faulty GPU (instrumented module) {:.3} s",
            total.as_secs_f64(),
            best_faulty.as_secs_f64()
        );
        out.push(serde_json::json!({
            "profile": profile, "sms": run.coverage.sms, "warp_slots": run.coverage.warp_slots,
            "threads": threads, "thread_instructions": insts, "kernels": kernels,
            "check_cpu_seconds": total.as_secs_f64(), "faulty_check_cpu_seconds": best_faulty.as_secs_f64(),
        }));
    }
    if let Some(dir) = std::path::Path::new(&json).parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&serde_json::json!({"reps": reps, "profiles": out})).unwrap(),
    )
    .expect("write JSON");
    println!("\nwrote {json}");
}
