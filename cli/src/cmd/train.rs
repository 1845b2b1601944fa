//! `gpufault train` (to be written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gpufault train`.
#[derive(Args)]
pub struct TrainArgs {}

/// Runs `gpufault train`.
pub fn run(_args: TrainArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not written yet")
}
