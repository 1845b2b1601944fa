//! `gpufault __worker --device SPEC` (hidden): the child process of a
//! `gpu::WorkerDevice`. It owns one device and answers the parent's requests on
//! stdin/stdout (protocol in `gpu`'s worker module) until stdin closes.
//!
//! Exit codes: 0 after the parent closed the channel, 3 when the device could not be
//! opened (the reason went to the parent), 4 when the channel broke.

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gpufault __worker`.
#[derive(Args)]
pub struct WorkerArgs {
    /// The one device this worker serves (`cuda:0`, `sim:h100#3`).
    #[arg(long)]
    device: String,
}

/// Serves the worker protocol on stdin/stdout.
pub fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let spec: gpu::DeviceSpec = args.device.parse()?;
    Ok(ExitCode::from(gpu::serve_worker(&spec)))
}
