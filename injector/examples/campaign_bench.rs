//! Campaign throughput on the virtual GPU: injections per second on 1 and 2 jobs for a
//! small and a larger workload, and what one injection costs next to one uninstrumented
//! run of the same workload (design.md §6: ≥ 100 injections/s on 2 cores for a workload
//! of ~1 M thread-instructions).
//!
//! ```text
//! cargo run --release -p gpufault-injector --example campaign_bench -- \
//!     [--workloads vecadd,gemm_tiled] [--models iat,wv,ioc,imd] [--injections 40] \
//!     [--jobs 1,2] [--json campaign-bench.json]
//! ```
//!
//! Each (workload, jobs) point plans one campaign (models × injections per model), runs
//! it into a fresh store in a temporary directory (deleted afterwards) and divides the
//! injections by the run's wall time (worker set-up, golden and dry runs, every commit
//! included). "run ms" is the mean of 20 uninstrumented runs of the workload on one
//! virtual GPU; "inj ms" is the single-job campaign's wall time per injection; "fault
//! ms" the mean time of the faulty run alone (`Injection::elapsed`). The figures depend
//! on the machine and on what else runs on it.

use injector::{
    plan_campaign, run_campaign, CampaignConfig, CampaignStore, Injections, Isolation, RunOptions,
    SubjectSource,
};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Serialize)]
struct Point {
    workload: String,
    thread_instructions: u64,
    models: Vec<String>,
    jobs: usize,
    injections: u64,
    seconds: f64,
    injections_per_second: f64,
    run_ms: f64,
    injection_ms: f64,
    faulty_run_ms: f64,
}

struct Args {
    workloads: Vec<String>,
    models: String,
    injections: u64,
    jobs: Vec<usize>,
    json: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        workloads: vec!["vecadd".into(), "gemm_tiled".into()],
        models: "iat,wv,ioc,imd".into(),
        injections: 40,
        jobs: vec![1, 2],
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--workloads" => a.workloads = value()?.split(',').map(String::from).collect(),
            "--models" => a.models = value()?,
            "--injections" => {
                a.injections = value()?.parse().map_err(|e| format!("--injections: {e}"))?
            }
            "--jobs" => {
                a.jobs = value()?
                    .split(',')
                    .map(|j| j.parse().map_err(|e| format!("--jobs: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--json" => a.json = Some(value()?.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("campaign_bench: {e}");
            std::process::exit(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("gpufault-campaign-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let models = injector::parse_models(&a.models).expect("--models");
    let mut points = Vec::new();
    println!(
        "{:<12} {:>10} {:>4} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "workload", "thr-instr", "jobs", "inj", "inj/s", "run ms", "inj ms", "fault ms", "inj/run"
    );
    for wname in &a.workloads {
        let w = workloads::by_name(wname).expect("--workloads");
        let inputs = w.generate(w.meta().size.default, 1).expect("inputs");
        // one uninstrumented run, timed on a warm virtual GPU
        let mut dev = gpu::Platform::new()
            .open(&"sim".parse().unwrap())
            .expect("sim");
        let m = dev.load(w.ptx()).expect("load");
        let golden = w.run(dev.as_mut(), m, &inputs).expect("golden run");
        let reps = 20;
        let t = Instant::now();
        for _ in 0..reps {
            w.run(dev.as_mut(), m, &inputs).expect("run");
        }
        let run_ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        let config = CampaignConfig::new(
            injector::workload_refs(&[wname], &Default::default()).expect("subject"),
            models.clone(),
            Injections::Fixed { n: a.injections },
        );
        let source = SubjectSource::standard();
        let plan = plan_campaign(&config, &source, 2, &mut |_| {}).expect("plan");
        let mut single_ms = None;
        for &jobs in &a.jobs {
            let path = dir.join(format!("{wname}-{jobs}.db"));
            let _ = std::fs::remove_file(&path);
            CampaignStore::create(&path, &plan, None).expect("store");
            let opts = RunOptions {
                jobs,
                shard: None,
                isolation: Isolation::Threads,
                durability: Default::default(),
                host: "bench".into(),
                command: None,
            };
            let s = run_campaign(&path, &opts, &source, &AtomicBool::new(false), &mut |_| {})
                .expect("campaign");
            let secs = s.elapsed.as_secs_f64();
            let results = CampaignStore::open_read_only(&path)
                .and_then(|st| st.results())
                .expect("results");
            let faulty_ms = results
                .iter()
                .map(|r| r.record.elapsed_us as f64 / 1e3)
                .sum::<f64>()
                / results.len().max(1) as f64;
            let injection_ms = secs * 1e3 * jobs as f64 / s.ran.max(1) as f64;
            if jobs == 1 {
                single_ms = Some(injection_ms);
            }
            let p = Point {
                workload: wname.clone(),
                thread_instructions: golden.stats.instructions.unwrap_or(0),
                models: models.iter().map(|m| m.id().to_string()).collect(),
                jobs,
                injections: s.ran,
                seconds: secs,
                injections_per_second: s.ran as f64 / secs,
                run_ms,
                injection_ms: single_ms.unwrap_or(injection_ms),
                faulty_run_ms: faulty_ms,
            };
            println!(
                "{:<12} {:>10} {:>4} {:>6} {:>8.1} {:>8.2} {:>8.2} {:>9.2} {:>7.2}x",
                p.workload,
                p.thread_instructions,
                p.jobs,
                p.injections,
                p.injections_per_second,
                p.run_ms,
                p.injection_ms,
                p.faulty_run_ms,
                p.injection_ms / p.run_ms
            );
            points.push(p);
            let _ = std::fs::remove_file(&path);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(path) = a.json {
        let json = serde_json::json!({
            "bench": "campaign",
            "tool_version": env!("CARGO_PKG_VERSION"),
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "points": points,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap() + "\n")
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}
