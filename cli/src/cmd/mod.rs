//! Subcommands. Each module owns its clap argument types and a `run` function that
//! returns the process exit code.

pub mod campaign;
pub mod devices;
pub mod models;
pub mod ptx;
pub mod report;
pub mod run;
pub mod sim;
pub mod subjects;
pub mod worker;
pub mod workloads;

/// Restore the default SIGPIPE action so that `gpufault … | head` exits quietly instead
/// of panicking on a broken pipe (Rust starts programs with SIGPIPE ignored).
pub fn reset_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: the default disposition runs no code of ours; this runs first in `main`,
    // before any other thread exists.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
