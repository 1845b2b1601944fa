//! Development tool of the diagnosis: runs a coverage campaign's faults (planned exactly
//! as `gpufault coverage` plans them: same faults, same scheduling seeds) through the
//! quick check and writes every fault's findings as JSON Lines, so features and
//! classifiers can be compared offline without running the check again. Only for
//! development seeds.
//!
//!     cargo run --release -p gpufault-detector --example diag_dump -- \
//!         --device sim:h100 --seed 8 --faults 40 --jobs 2 --out findings.jsonl

use detector::{check_device, CheckOptions};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn main() {
    let mut device = "sim:h100".to_string();
    let mut seed = 8u64;
    let mut faults = 10u64;
    let mut jobs = 2usize;
    let mut out = "findings.jsonl".to_string();
    let mut models = injector::Model::ALL.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--device" => device = val(),
            "--seed" => {
                let v = val();
                seed = match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).expect("--seed"),
                    None => v.parse().expect("--seed"),
                }
            }
            "--faults" => faults = val().parse().expect("--faults N"),
            "--jobs" => jobs = val().parse().expect("--jobs N"),
            "--models" => models = injector::parse_models(&val()).expect("--models"),
            "--out" => out = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let sim: gpu::SimSpec = match device.parse::<gpu::DeviceSpec>().expect("--device") {
        gpu::DeviceSpec::Sim(s) => s,
        other => panic!("--device {other}: a virtual GPU"),
    };
    let config = detector::coverage_config(models, faults, &sim, seed, None);
    let mut source = injector::SubjectSource::default();
    detector::register_suite(&mut source);
    let plan = injector::plan_campaign(&config, &source, jobs, &mut |_| {}).expect("plan");
    let rows = plan.rows;
    let next = AtomicUsize::new(0);
    let file = Mutex::new(std::io::BufWriter::new(
        std::fs::File::create(&out).expect("--out"),
    ));
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(row) = rows.get(i) else { return };
                let sseed = injector::scheduling_seed(seed, &row.subject, row.model, row.index);
                let (platform, dev) =
                    injector::faulty_gpu(&sim, &row.spec, Some(sseed)).expect("faulty gpu");
                let check = check_device(&platform, &dev, &CheckOptions::default());
                let line = serde_json::json!({
                    "model": row.model.id(), "index": row.index, "spec": row.spec.to_string(),
                    "fault_sm": row.spec.sm, "verdict": check.verdict.name(),
                    "findings": check.findings, "ms": check.duration_ms,
                });
                let mut f = file.lock().unwrap();
                writeln!(f, "{line}").unwrap();
                if i.is_multiple_of(50) {
                    eprintln!("{i}/{} {:.0}s", rows.len(), start.elapsed().as_secs_f64());
                }
            });
        }
    });
}
