//! Reads a guard's event log back (for scripts): its run id, its recoveries broken into
//! phases (`shim::guard::timeline::recoveries`) and the processes carrying its run id
//! that are still alive (`shim::guard::process::live_with_run_id`: after the guard has
//! ended, none may be left), as one JSON object on standard output.
//!
//!     cargo run --release -p gpufault-shim --example guard_log -- EVENTS.jsonl
//!
//! `scripts/torchrun-e2e.sh` uses it, so that the script and the Rust tests read a log
//! and look for leftover processes the same way. Exits 2 when the log cannot be read.

use reports::guard::GuardEventLine;
use shim::guard::{process, timeline};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: guard_log EVENTS.jsonl");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("guard_log: {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut events = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<GuardEventLine>(line) {
            Ok(e) => events.push(e),
            Err(e) => {
                eprintln!("guard_log: {path}:{}: {e}", i + 1);
                std::process::exit(2);
            }
        }
    }
    let run_id = timeline::run_id(&events).map(str::to_string);
    let live = run_id
        .as_deref()
        .map(process::live_with_run_id)
        .unwrap_or_default();
    let out = serde_json::json!({
        "run_id": run_id,
        "recoveries": timeline::recoveries(&events),
        "live": live,
    });
    println!("{out}");
}
