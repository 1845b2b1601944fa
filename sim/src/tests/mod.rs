//! Hand-written PTX tests of the engine, by topic. Each kernel is an inline PTX string
//! checked against values computed here in Rust.

mod barriers;
mod calls;
mod coverage;
mod divergence;
mod faults;
mod memory;
mod numerics;
mod random_programs;
mod scheduling;
mod structure;
mod warp;

use crate::{Gpu, GpuProfile, KernelArg, LaunchConfig, LaunchReport, Outcome, Scheduling};

/// The module header every test kernel uses.
pub(crate) const HEADER: &str = ".version 8.0\n.target sm_80\n.address_size 64\n";

/// A launched test kernel: its report and output words.
pub(crate) struct Run {
    pub report: LaunchReport,
    pub out: Vec<u32>,
    pub out_ptr: u64,
}

/// Loads `body` (module text after the header), launches `kernel` with one parameter,
/// a pointer to `words` zeroed u32 words, and returns the words after the launch.
pub(crate) fn launch(body: &str, kernel: &str, cfg: LaunchConfig, words: usize) -> Run {
    launch_on(GpuProfile::sim(), body, kernel, cfg, words)
}

/// [`launch`] on a given GPU profile.
pub(crate) fn launch_on(
    profile: GpuProfile,
    body: &str,
    kernel: &str,
    cfg: LaunchConfig,
    words: usize,
) -> Run {
    launch_scheduled(profile, Scheduling::Fixed, body, kernel, cfg, words)
}

/// [`launch`] on a given GPU profile and scheduling.
pub(crate) fn launch_scheduled(
    profile: GpuProfile,
    scheduling: Scheduling,
    body: &str,
    kernel: &str,
    cfg: LaunchConfig,
    words: usize,
) -> Run {
    let mut gpu = Gpu::new(profile);
    gpu.set_scheduling(scheduling);
    let src = format!("{HEADER}{body}");
    let m = gpu
        .load(&src)
        .unwrap_or_else(|e| panic!("test kernel does not load: {e}"));
    let diags = gpu.diagnostics(m).unwrap();
    assert!(diags.is_empty(), "undecoded instructions: {diags:?}");
    let out_ptr = gpu.alloc((words * 4) as u64).unwrap();
    let report = gpu
        .launch(m, kernel, &cfg, &[KernelArg::Ptr(out_ptr)])
        .unwrap();
    let mut bytes = vec![0u8; words * 4];
    gpu.read(out_ptr, &mut bytes).unwrap();
    let out = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Run {
        report,
        out,
        out_ptr,
    }
}

/// [`launch`] that must complete.
pub(crate) fn run_ok(body: &str, kernel: &str, cfg: LaunchConfig, words: usize) -> Run {
    let r = launch(body, kernel, cfg, words);
    if let Outcome::Faulted(f) = &r.report.outcome {
        panic!("kernel `{kernel}` faulted: {f}");
    }
    r
}

/// A 1-D launch configuration.
pub(crate) fn cfg(grid: u32, block: u32) -> LaunchConfig {
    LaunchConfig::new([grid, 1, 1], [block, 1, 1])
}

/// PTX that computes `%rd_out = out + 4 * linear_global_thread_id` into `%rdo`, with
/// `%gtid` the global linear thread id (1-D launches). Declares `%rdo`, `%gtid`,
/// `%tidx`, `%lane` and scratch `%t<4>`, `%rt<2>`.
pub(crate) const PROLOGUE: &str = "
    .reg .b64 %rdo, %rt<2>;
    .reg .b32 %gtid, %tidx, %lane, %t<4>;
    ld.param.u64 %rdo, [out];
    mov.u32 %tidx, %tid.x;
    mov.u32 %lane, %laneid;
    mov.u32 %t0, %ctaid.x;
    mov.u32 %t1, %ntid.x;
    mad.lo.u32 %gtid, %t0, %t1, %tidx;
    mul.wide.u32 %rt0, %gtid, 4;
    add.u64 %rdo, %rdo, %rt0;
";

/// The test kernel `k(.param .u64 out)` with `body` (its declarations and code) between
/// its braces.
pub(crate) fn kernel(body: &str) -> String {
    format!("\n.visible .entry k(.param .u64 out)\n{{{body}}}")
}
