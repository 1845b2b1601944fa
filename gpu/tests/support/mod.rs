//! Shared by the integration tests: the test kernels, the worker program, and a kernel
//! run checked against the host.
// Each test file uses a different subset.
#![allow(dead_code)]

use gpu::{
    Device, DeviceExt, GpuError, KernelArg, LaunchConfig, LaunchStats, ModuleHandle, WorkerCommand,
};

/// The test module (see the comment at its top).
pub const KERNELS: &str = include_str!("../kernels.ptx");

/// The worker program: `GPUFAULT_WORKER_BIN` when set (a test binary carried to another
/// machine, see GPU.md), else the one cargo built beside this test.
pub fn worker_command() -> WorkerCommand {
    let program = std::env::var_os("GPUFAULT_WORKER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_gpufault-gpu-worker").into());
    WorkerCommand {
        program,
        args: Vec::new(),
    }
}

/// Runs `scale_add` on `n` elements, checks the output against the host and returns it
/// with the launch statistics.
pub fn scale_add(dev: &mut dyn Device, n: u32) -> (Vec<u32>, LaunchStats) {
    let a: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    let b: Vec<u32> = (0..n).map(|i| i ^ 0xdead_beef).collect();
    let m = dev.load(KERNELS).unwrap();
    let (ba, bb) = (dev.upload(&a).unwrap(), dev.upload(&b).unwrap());
    let out = dev.alloc_zeroed::<u32>(n as usize).unwrap();
    let args = [
        KernelArg::Ptr(out.ptr),
        KernelArg::Ptr(ba.ptr),
        KernelArg::Ptr(bb.ptr),
        KernelArg::U32(n),
    ];
    let stats = dev
        .launch(
            m,
            "scale_add",
            &LaunchConfig::linear(n.div_ceil(64), 64),
            &args,
        )
        .unwrap();
    let got = dev.download::<u32>(out, n as usize).unwrap();
    let want: Vec<u32> = (0..n as usize)
        .map(|i| a[i].wrapping_mul(3).wrapping_add(b[i] ^ i as u32))
        .collect();
    assert_eq!(got, want, "scale_add on {}", dev.name());
    (got, stats)
}

/// Runs `by_value` (a 24-byte struct passed by value, then a `u16`), checks it against
/// the host and returns the output.
pub fn by_value(dev: &mut dyn Device) -> Vec<u64> {
    let (a, b, c, d, k) = (
        0x0123_4567_89ab_cdefu64,
        1000u32,
        3000u32,
        1u64 << 40,
        77u16,
    );
    let mut s = Vec::new();
    s.extend_from_slice(&a.to_le_bytes());
    s.extend_from_slice(&b.to_le_bytes());
    s.extend_from_slice(&c.to_le_bytes());
    s.extend_from_slice(&d.to_le_bytes());
    let m = dev.load(KERNELS).unwrap();
    let out = dev.alloc_zeroed::<u64>(2).unwrap();
    let args = [KernelArg::from(out), KernelArg::Bytes(s), KernelArg::U16(k)];
    dev.launch(m, "by_value", &LaunchConfig::linear(1, 1), &args)
        .unwrap();
    let got = dev.download::<u64>(out, 2).unwrap();
    assert_eq!(
        got,
        [a + d, u64::from(b * c + u32::from(k))],
        "by_value on {}",
        dev.name()
    );
    dev.free(out).unwrap();
    got
}

/// Launches `spin` of module `m` (a loop on a flag that nobody sets, in a fresh buffer)
/// and returns the error it has to end in.
pub fn spin(dev: &mut dyn Device, m: ModuleHandle) -> GpuError {
    let flag = dev.alloc_zeroed::<u32>(1).unwrap();
    dev.launch(
        m,
        "spin",
        &LaunchConfig::linear(1, 32),
        &[KernelArg::Ptr(flag.ptr)],
    )
    .unwrap_err()
}
