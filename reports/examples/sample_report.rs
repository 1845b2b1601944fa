//! Writes the seeded sample campaign of the tests in every format, to look at:
//!
//! ```text
//! cargo run -p gpufault-reports --example sample_report -- OUT_DIR [SEED] [RUNS_PER_CELL]
//! ```
//!
//! OUT_DIR receives `report.{txt,wide.txt,json,csv,md,html}` and `runs.jsonl`.

#[path = "../tests/it/fixture.rs"]
mod fixture;

use reports::{render_jsonl, summarize, Format};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: sample_report OUT_DIR [SEED] [RUNS_PER_CELL]");
        std::process::exit(2);
    };
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let per_cell = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let (meta, records) = fixture::seeded(seed, per_cell);
    let report = summarize(&meta, &records);
    std::fs::create_dir_all(&dir)?;
    for f in Format::ALL {
        let name = match f {
            Format::Wide => "report.wide.txt".to_string(),
            _ => format!("report.{}", f.extension()),
        };
        std::fs::write(dir.join(&name), f.render(&report))?;
        println!("{}", dir.join(name).display());
    }
    std::fs::write(dir.join("runs.jsonl"), render_jsonl(&records))?;
    println!("{}", dir.join("runs.jsonl").display());
    Ok(())
}
