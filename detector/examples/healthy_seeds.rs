//! False alarms of the health check on healthy virtual GPUs under seeded scheduling
//! (issue 16, must-show 1): the whole check (`detector::check_device`, what `gpufault
//! check` runs: the signature suite and the NVML rules) on `PROFILE@SEED` for N
//! different scheduling seeds — each seed places CTAs on SMs and resident positions,
//! orders CTAs and sets warp turn lengths differently (docs/virtual-gpu.md). A false
//! alarm is any verdict but `healthy`, any finding, or an SM or warp slot not observed.
//!
//!     cargo run --release -p gpufault-detector --example healthy_seeds -- \
//!         [--runs 1000] [--first-seed 1] [--profile sim:h100] [--threads N] [--json PATH]
//!
//! Prints progress, the count and a table of the verdicts, and writes JSON (default
//! `target/bench/healthy-seeds.json`) with every seed that alarmed. Exits 1 when any did.

use detector::{check_device, CheckOptions};
use gpu::{DeviceSpec, Platform};
use reports::check::Verdict;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

fn main() {
    let mut runs = 1000u64;
    let mut first = 1u64;
    let mut profile = "sim:h100".to_string();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut json = "target/bench/healthy-seeds.json".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--runs" => runs = val().parse().expect("--runs N"),
            "--first-seed" => first = val().parse().expect("--first-seed S"),
            "--profile" => profile = val(),
            "--threads" => threads = val().parse().expect("--threads N"),
            "--json" => json = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let platform = Platform::new();
    let options = CheckOptions::default();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    // (seed, verdict, whether it was a false alarm)
    let results = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= runs {
                    break;
                }
                let seed = first + i;
                let spec: DeviceSpec = format!("{profile}@{seed}")
                    .parse()
                    .unwrap_or_else(|e| panic!("{profile}@{seed}: {e}"));
                let check = check_device(&platform, &spec, &options);
                let complete = check.coverage.complete();
                let alarm =
                    check.verdict != Verdict::Healthy || !check.findings.is_empty() || !complete;
                if alarm {
                    eprintln!(
                        "seed {seed}: {}, {} findings, {}/{} slots observed: {}",
                        check.verdict.name(),
                        check.findings.len(),
                        check.coverage.slots_observed,
                        u64::from(check.coverage.sms) * u64::from(check.coverage.warp_slots),
                        check
                            .findings
                            .first()
                            .map(|f| f.summary())
                            .unwrap_or_default()
                    );
                }
                results.lock().unwrap().push((seed, check.verdict, alarm));
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(50) || n == runs {
                    eprintln!("{n}/{runs} runs, {:.0} s", start.elapsed().as_secs_f64());
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let alarms: Vec<_> = results.iter().filter(|r| r.2).collect();
    let mut by_verdict = std::collections::BTreeMap::new();
    for r in &results {
        *by_verdict.entry(r.1.name()).or_insert(0u64) += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\n{profile}: {} healthy-GPU checks, scheduling seeds {first}..={}, {threads} threads, {secs:.0} s",
        results.len(),
        first + runs - 1
    );
    println!("{:<10} {:>6}", "verdict", "runs");
    for (v, n) in &by_verdict {
        println!("{v:<10} {n:>6}");
    }
    println!("false alarms: {} of {} runs", alarms.len(), results.len());
    if let Some(dir) = std::path::Path::new(&json).parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let doc = serde_json::json!({
        "profile": profile,
        "runs": results.len(),
        "first_seed": first,
        "last_seed": first + runs - 1,
        "threads": threads,
        "seconds": secs,
        "verdicts": by_verdict,
        "false_alarms": alarms.len(),
        "alarm_seeds": alarms.iter().map(|r| r.0).collect::<Vec<_>>(),
    });
    std::fs::write(&json, serde_json::to_string_pretty(&doc).unwrap()).expect("write JSON");
    println!("wrote {json}");
    if !alarms.is_empty() {
        std::process::exit(1);
    }
}
