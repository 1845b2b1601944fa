//! What rewriting the progress file after every step costs: `sys::write_atomic`
//! (temporary file, fsync, rename, directory fsync) against `sys::write_replace` (the
//! same without the two fsyncs), for a progress record of the usual size, in a
//! directory (default: the system's temporary directory).
//!
//! ```sh
//! cargo run --release -p gpufault-shim --example progress_write -- [DIR] [WRITES]
//! ```

use reports::guard::JobProgress;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let writes: u32 = args.next().map_or(200, |s| s.parse().expect("WRITES"));
    let path = dir.join(format!("gpufault-progress-{}.json", std::process::id()));
    let mut p = JobProgress {
        total_steps: Some(400),
        checkpoint_step: Some(375),
        process_started_unix: Some(1.7e9),
        devices: (0..4).map(|i| format!("sim:h100#{i}")).collect(),
        ..JobProgress::default()
    };
    println!("{writes} writes of a progress record to {}", dir.display());
    for (name, write) in [
        (
            "write_atomic (fsync)",
            shim::sys::write_atomic as fn(&_, &_) -> _,
        ),
        ("write_replace (no fsync)", shim::sys::write_replace),
    ] {
        let mut times: Vec<f64> = Vec::new();
        for step in 0..writes {
            p.step = u64::from(step);
            p.loss = Some(0.4 + f64::from(step) * 1e-4);
            let bytes = serde_json::to_vec(&p).unwrap();
            let t = Instant::now();
            write(&path, &bytes).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:26} median {:.3} ms, p90 {:.3} ms, max {:.3} ms",
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() - 1]
        );
    }
    let _ = std::fs::remove_file(&path);
}
