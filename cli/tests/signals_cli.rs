//! How the binary meets signals it does not handle itself: a reader that goes away.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `gpufault ptx fmt big.ptx | head -1`: ~90 KB of output, more than a pipe holds, so
    // the writer meets the closed pipe whatever the timing.
    let ptx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workloads/ptx/mlp_train.ptx");
    assert!(std::fs::metadata(&ptx).unwrap().len() > 1 << 16);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpufault"))
        .args(["ptx", "fmt"])
        .arg(&ptx)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(nix::sys::signal::Signal::SIGPIPE as i32),
        "{:?}: {err}",
        out.status
    );
    assert!(err.is_empty(), "{err}");
}
