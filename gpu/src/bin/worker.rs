//! The worker process of `gpu::WorkerDevice` for this crate's own tests and the GPU check
//! bundle: `gpufault-gpu-worker --device SPEC` (the same protocol as
//! `gpufault __worker --device SPEC`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = match args.as_slice() {
        [flag, spec] if flag == "--device" => spec,
        _ => {
            eprintln!("usage: gpufault-gpu-worker --device SPEC");
            return ExitCode::from(2);
        }
    };
    match spec.parse::<gpu::DeviceSpec>() {
        Ok(spec) => ExitCode::from(gpu::serve_worker(&spec)),
        Err(e) => {
            eprintln!("gpufault-gpu-worker: {e}");
            ExitCode::from(2)
        }
    }
}
