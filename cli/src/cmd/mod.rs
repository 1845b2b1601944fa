//! Subcommands. Each module owns its clap argument types and a `run` function that
//! returns the process exit code.

pub mod campaign;
pub mod check;
pub mod coverage;
pub mod devices;
pub mod models;
pub mod ptx;
pub mod report;
pub mod run;
pub mod sim;
pub mod subjects;
pub mod worker;
pub mod workloads;

use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

/// Writes `value` to standard output: as pretty JSON with `--json`, else as the text
/// that `text` writes. The listing commands' exit code is success either way.
pub fn print_json_or_text<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&mut dyn Write, &T) -> std::io::Result<()>,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value).context("writing JSON")?;
        writeln!(out)?;
    } else {
        text(&mut out, value)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets the signal dispositions of a command-line tool; called first in `main`, before
/// any other thread exists:
///
/// - SIGPIPE back to its default action (Rust starts programs with it ignored), so
///   `gpufault … | head` ends quietly when the reader goes away;
/// - SIGXFSZ ignored, so a write past the file-size limit (`ulimit -f`) fails with an
///   error that the command reports and cleans up after (a report's temporary file is
///   removed) instead of killing the process in the middle of the write.
pub fn set_signal_dispositions() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: neither disposition runs code of ours, and no other thread exists yet.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
        let _ = signal(Signal::SIGXFSZ, SigHandler::SigIgn);
    }
}
