//! Subcommands. Each module owns its clap argument types and a `run` function that
//! returns the process exit code.

pub mod campaign;
pub mod devices;
pub mod models;
pub mod ptx;
pub mod report;
pub mod run;
pub mod sim;
pub mod worker;
pub mod workloads;

/// Restore the default SIGPIPE action so that `gpufault … | head` exits quietly instead
/// of panicking on a broken pipe.
pub fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default is async-signal-safe and done
    // before any other thread exists.
    unsafe {
        libc_sigpipe_default();
    }
}

#[cfg(unix)]
unsafe fn libc_sigpipe_default() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    signal(SIGPIPE, SIG_DFL);
}
