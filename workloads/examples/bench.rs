//! Per workload at its default size on the virtual GPU: thread-instructions executed,
//! time and thread-instructions per second (best of N runs on one thread; input
//! generation, upload and the reference check are outside the timed region where the
//! host driver allows — the time is the whole host driver, downloads included).
//!
//! ```text
//! cargo run --release -p gpufault-workloads --example bench -- [--runs 5] [--profile sim] [--json PATH]
//! ```

use gpu::Device;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Serialize)]
struct Row {
    workload: String,
    size: usize,
    launches: u32,
    thread_instructions: u64,
    best_seconds: f64,
    thread_instructions_per_second: f64,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = arg(&args, "--runs").map_or(Ok(5), |s| s.parse())?;
    let profile = arg(&args, "--profile").unwrap_or_else(|| "sim".into());
    let json =
        PathBuf::from(arg(&args, "--json").unwrap_or_else(|| "target/bench/workloads.json".into()));
    let mut rows = Vec::new();
    println!(
        "{:<13} {:>9} {:>8} {:>14} {:>10} {:>12}",
        "workload", "size", "launches", "thread-instr", "time ms", "M instr/s"
    );
    for w in workloads::all() {
        let meta = w.meta();
        let inputs = w.generate(meta.size.default, 1)?;
        let mut dev = gpu::open(&profile.parse()?)?;
        let m = dev.load(w.ptx())?;
        let mut best = f64::INFINITY;
        let mut stats = None;
        for _ in 0..runs {
            let t = Instant::now();
            let out = w.run(dev.as_mut(), m, &inputs)?;
            best = best.min(t.elapsed().as_secs_f64());
            stats = Some(out.stats);
        }
        let stats = stats.ok_or("no run")?;
        let n = stats.instructions.unwrap_or(0);
        let row = Row {
            workload: meta.name.into(),
            size: meta.size.default,
            launches: stats.launches,
            thread_instructions: n,
            best_seconds: best,
            thread_instructions_per_second: n as f64 / best,
        };
        println!(
            "{:<13} {:>9} {:>8} {:>14} {:>10.2} {:>12.0}",
            row.workload,
            row.size,
            row.launches,
            row.thread_instructions,
            best * 1e3,
            row.thread_instructions_per_second / 1e6
        );
        rows.push(row);
    }
    if let Some(d) = json.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)?;
    println!("wrote {}", json.display());
    Ok(())
}
