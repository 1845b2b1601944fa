//! `gpufault quarantine` (to be written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gpufault quarantine`.
#[derive(Args)]
pub struct QuarantineArgs {}

/// Runs `gpufault quarantine`.
pub fn run(_args: QuarantineArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
