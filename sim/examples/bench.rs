//! Virtual GPU speed: thread-instructions per second on one core for a naive GEMM
//! (256×256×256) and a shared-memory reduction, both NVRTC-generated PTX
//! (`sim/benches/kernels/`). Prints a table and writes JSON.
//!
//! ```text
//! cargo run --release -p gpufault-sim --example bench [-- --json PATH] [--reps N] [--seed S]
//! ```
//!
//! `--seed S` runs both launches with the seeded scheduling of seed `S` instead of the
//! fixed one (`sim::Scheduling`).
//!
//! The JSON (default `target/bench/sim.json`) is an array of objects with `workload`,
//! `scheduling` (`fixed` or `seeded S`),
//! `launch` (grid and block), `thread_instructions`, `warp_instructions`, `seconds`
//! (best of the repetitions, on-CPU time of the launching thread where Linux reports it,
//! else wall time), `thread_inst_per_sec` and `verified` (the result matched a CPU
//! reference).

use sim::{Gpu, GpuProfile, KernelArg, LaunchConfig, LaunchReport, Outcome, Scheduling};
use std::time::Instant;

const GEMM_PTX: &str = include_str!("../benches/kernels/gemm.ptx");
const REDUCE_PTX: &str = include_str!("../benches/kernels/reduce.ptx");

struct Row {
    workload: &'static str,
    launch: String,
    report: LaunchReport,
    seconds: f64,
    verified: bool,
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A small deterministic generator for inputs.
fn lcg(seed: &mut u64) -> u32 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) as u32
}

/// Seconds this thread has spent on a CPU (Linux: `/proc/thread-self/schedstat`), so
/// that time spent waiting for a core on a busy machine does not count.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Runs `f` `reps` times; returns the last report and the best on-CPU time (wall time
/// where on-CPU time is not available).
fn best_of<F: FnMut() -> LaunchReport>(reps: usize, mut f: F) -> (LaunchReport, f64) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..reps {
        let (t, c) = (Instant::now(), cpu_seconds());
        let r = f();
        let wall = t.elapsed().as_secs_f64();
        let secs = match (c, cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => wall,
        };
        best = best.min(secs);
        last = Some(r);
    }
    (last.expect("at least one repetition"), best)
}

fn gemm(reps: usize, scheduling: Scheduling) -> Row {
    const N: usize = 256;
    let mut seed = 1;
    let a: Vec<f32> = (0..N * N)
        .map(|_| (lcg(&mut seed) % 17) as f32 - 8.0)
        .collect();
    let b: Vec<f32> = (0..N * N)
        .map(|_| (lcg(&mut seed) % 13) as f32 - 6.0)
        .collect();
    let mut gpu = Gpu::new(GpuProfile::sim());
    gpu.set_scheduling(scheduling);
    let m = gpu.load(GEMM_PTX).expect("gemm.ptx loads");
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (da, db, dc) = (
        gpu.alloc((N * N * 4) as u64).unwrap(),
        gpu.alloc((N * N * 4) as u64).unwrap(),
        gpu.alloc((N * N * 4) as u64).unwrap(),
    );
    gpu.write(da, &bytes(&a)).unwrap();
    gpu.write(db, &bytes(&b)).unwrap();
    let cfg = LaunchConfig::new([(N / 16) as u32, (N / 16) as u32, 1], [16, 16, 1]);
    let args = [
        KernelArg::Ptr(da),
        KernelArg::Ptr(db),
        KernelArg::Ptr(dc),
        KernelArg::I32(N as i32),
        KernelArg::I32(N as i32),
        KernelArg::I32(N as i32),
    ];
    let (report, seconds) = best_of(reps, || gpu.launch(m, "gemm_naive", &cfg, &args).unwrap());
    let mut out = vec![0u8; N * N * 4];
    gpu.read(dc, &mut out).unwrap();
    let c = f32s(&out);
    // Small integers: every partial sum is exact, so any summation order agrees.
    let verified = report.outcome == Outcome::Completed
        && (0..N).all(|i| {
            (0..N).all(|j| {
                let r: f32 = (0..N).map(|k| a[i * N + k] * b[k * N + j]).sum();
                r == c[i * N + j]
            })
        });
    Row {
        workload: "gemm_naive 256x256x256",
        launch: format!("grid {:?} block {:?}", cfg.grid, cfg.block),
        report,
        seconds,
        verified,
    }
}

fn reduce(reps: usize, scheduling: Scheduling) -> Row {
    const N: usize = 1 << 22;
    const BLOCKS: usize = 256;
    const THREADS: usize = 256;
    let mut seed = 7;
    let input: Vec<u32> = (0..N).map(|_| lcg(&mut seed) % 1000).collect();
    let mut gpu = Gpu::new(GpuProfile::sim());
    gpu.set_scheduling(scheduling);
    let m = gpu.load(REDUCE_PTX).expect("reduce.ptx loads");
    let din = gpu.alloc((N * 4) as u64).unwrap();
    let dout = gpu.alloc((BLOCKS * 4) as u64).unwrap();
    gpu.write(
        din,
        &input
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let cfg = LaunchConfig::new([BLOCKS as u32, 1, 1], [THREADS as u32, 1, 1])
        .shared((THREADS * 4) as u32);
    let args = [
        KernelArg::Ptr(din),
        KernelArg::Ptr(dout),
        KernelArg::U32(N as u32),
    ];
    let (report, seconds) = best_of(reps, || gpu.launch(m, "reduce_sum", &cfg, &args).unwrap());
    let mut out = vec![0u8; BLOCKS * 4];
    gpu.read(dout, &mut out).unwrap();
    let sums: u64 = out
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u64)
        .sum();
    let verified =
        report.outcome == Outcome::Completed && sums == input.iter().map(|&x| x as u64).sum();
    Row {
        workload: "reduce_sum 4M u32 (shared memory)",
        launch: format!(
            "grid {:?} block {:?} shared {}",
            cfg.grid, cfg.block, cfg.shared_bytes
        ),
        report,
        seconds,
        verified,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let reps: usize = flag("--reps").and_then(|r| r.parse().ok()).unwrap_or(5);
    let json_path = flag("--json").unwrap_or_else(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
        let _ = std::fs::create_dir_all(dir);
        format!("{dir}/sim.json")
    });
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build; run with --release for meaningful numbers");
    }
    let seed = flag("--seed").map(|s| {
        s.parse::<u64>().unwrap_or_else(|_| {
            eprintln!("--seed: `{s}` is not an integer in 0..2^64");
            std::process::exit(2)
        })
    });
    let scheduling = Scheduling::from_seed(seed);
    let sched_name = match scheduling.seed() {
        Some(s) => format!("seeded {s}"),
        None => "fixed".to_string(),
    };
    println!("scheduling: {sched_name}");
    let rows = [gemm(reps, scheduling), reduce(reps, scheduling)];
    println!(
        "{:<36} {:>16} {:>14} {:>10} {:>14} {:>8}",
        "workload", "thread-insts", "warp-insts", "seconds", "M thread-i/s", "verified"
    );
    let mut json = Vec::new();
    for r in &rows {
        let rate = r.report.thread_instructions as f64 / r.seconds;
        println!(
            "{:<36} {:>16} {:>14} {:>10.3} {:>14.1} {:>8}",
            r.workload,
            r.report.thread_instructions,
            r.report.warp_instructions,
            r.seconds,
            rate / 1e6,
            r.verified
        );
        json.push(format!(
            "{{\"workload\":\"{}\",\"scheduling\":\"{sched_name}\",\"launch\":\"{}\",\"thread_instructions\":{},\"warp_instructions\":{},\"seconds\":{:.6},\"thread_inst_per_sec\":{:.0},\"verified\":{}}}",
            r.workload,
            r.launch,
            r.report.thread_instructions,
            r.report.warp_instructions,
            r.seconds,
            rate,
            r.verified
        ));
    }
    let text = format!("[\n  {}\n]\n", json.join(",\n  "));
    match std::fs::write(&json_path, text) {
        Ok(()) => println!("wrote {json_path}"),
        Err(e) => eprintln!("could not write {json_path}: {e}"),
    }
    if rows.iter().any(|r| !r.verified) {
        std::process::exit(1);
    }
}
