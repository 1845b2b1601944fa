//! `gpufault ptx check|fmt|stats`.

use clap::Subcommand;
use std::process::ExitCode;

/// PTX subcommands.
#[derive(Subcommand)]
pub enum PtxCommand {
    /// Parse PTX files and report errors like a compiler (file:line:col).
    Check {
        /// PTX files to check.
        files: Vec<std::path::PathBuf>,
    },
}

/// Runs a `ptx` subcommand.
pub fn run(cmd: PtxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PtxCommand::Check { files } => {
            let _ = files;
            Ok(ExitCode::SUCCESS)
        }
    }
}
