//! Shared by the newer CLI test files: scratch directories, running the binary as CI
//! does, and a small finished campaign.
// Each test file uses a different subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_gpufault");

/// A fresh directory under cargo's per-target temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The binary with `args` in `dir`, as CI runs it (`CI=true`: no progress bar).
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env("CI", "true");
    c
}

/// Runs the binary with `args` in `dir` to the end.
pub fn gpufault(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("gpufault runs")
}

/// Its stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Plans and runs a campaign of `injections` wdrop faults into vecadd on `sim`, stored
/// in `dir/c.db`.
pub fn small_campaign(dir: &Path, injections: u32) {
    let n = injections.to_string();
    for args in [
        &[
            "campaign",
            "plan",
            "--workloads",
            "vecadd",
            "--models",
            "wdrop",
            "--injections",
            &n,
            "--device",
            "sim",
            "--out",
            "c.db",
        ][..],
        &["campaign", "run", "c.db"],
    ] {
        let o = gpufault(dir, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}
