//! `gpufault guard` (to be written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gpufault guard`.
#[derive(Args)]
pub struct GuardArgs {}

/// Runs `gpufault guard`.
pub fn run(_args: GuardArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
