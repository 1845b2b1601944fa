//! Subcommands. Each module owns its clap argument types and a `run` function that
//! returns the process exit code.

pub mod campaign;
pub mod check;
pub mod coverage;
pub mod devices;
pub mod guard;
pub mod k8s;
pub mod models;
pub mod ptx;
pub mod quarantine;
pub mod report;
pub mod run;
pub mod sim;
pub mod slurm;
pub mod subjects;
pub mod train;
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

/// Keeps freed memory in the process (glibc's malloc; a no-op elsewhere); called first
/// in `main`, before any other thread exists. Every injection and every health check on
/// a virtual GPU allocates the same large buffers again (a `sim:h100` check: 112 MB of
/// records), which glibc by default maps fresh from the kernel and returns after use —
/// zeroed pages and page faults each time, 10% of a coverage campaign's time
/// (BENCHMARKS.md). Buffers up to 2 GiB now come from the heap, and the heap is not
/// trimmed: a process keeps its peak memory until it exits, which for these short-lived
/// commands and workers is the trade wanted.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::libc::{mallopt, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD};
        // SAFETY: mallopt only changes malloc's parameters; no other thread allocates yet.
        unsafe {
            if mallopt(M_MMAP_THRESHOLD, i32::MAX) == 0 {
                // a glibc that caps the threshold takes its maximum (32 MiB on 64-bit)
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
            }
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
        }
    }
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
