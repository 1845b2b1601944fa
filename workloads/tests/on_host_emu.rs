//! Every workload's host driver, run on the host-emulation device (its CUDA source
//! compiled as C++ for the CPU), against its CPU reference; and twice, bit-identically.
//! Needs a C++17 compiler (`c++`, or `$CXX`).

mod host_emu;

use host_emu::HostEmu;
use workloads::{Verdict, Workload};

fn check(name: &str, size: Option<usize>) {
    let w: &dyn Workload = workloads::by_name(name).unwrap();
    let size = size.unwrap_or(w.meta().size.default);
    let mut dev = HostEmu::new();
    let module = gpu::Device::load(&mut dev, w.ptx()).unwrap();
    let inputs = w.generate(size, 7).unwrap();
    let got = w
        .run(&mut dev, module, &inputs)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = w.reference(&inputs).unwrap();
    let c = w.compare(&want, &got);
    assert_ne!(
        c.verdict,
        Verdict::Different,
        "{name} (size {size}) vs reference: {c}"
    );
    let again = w.run(&mut dev, module, &inputs).unwrap();
    let g = w.compare_golden(&got, &again);
    assert_eq!(
        g.verdict,
        Verdict::Identical,
        "{name}: two runs differ: {g}"
    );
    assert!(got.stats.launches >= 1);
}

macro_rules! on_host {
    ($($test:ident: $name:literal $(, $size:expr)?;)*) => {$(
        #[test]
        fn $test() {
            check($name, None);
            $(check($name, Some($size));)?
        }
    )*};
}

on_host! {
    vecadd: "vecadd", 1000;
    gemm_naive: "gemm_naive", 17;
    gemm_tiled: "gemm_tiled", 33;
    reduction: "reduction", 300;
    scan: "scan", 300_000;
    histogram: "histogram", 777;
    bfs: "bfs", 300;
    gaussian: "gaussian", 20;
    lud: "lud", 48;
    nw: "nw", 64;
    hotspot: "hotspot", 37;
    bitonic_sort: "bitonic_sort", 5000;
    quicksort: "quicksort", 5000;
    lavamd: "lavamd", 3;
    lenet: "lenet", 2;
    mlp_train: "mlp_train", 50;
}

#[test]
fn every_workload_has_a_host_emulation_test() {
    let src = include_str!("on_host_emu.rs");
    for w in workloads::all() {
        let name = w.meta().name;
        assert!(
            src.contains(&format!("\"{name}\"")),
            "no host-emulation test for {name}"
        );
    }
}

/// A device whose reads of single 32-bit words (the control values host loops read
/// back) come back with `xor` applied: what a fault in the counting code looks like to
/// the host.
struct CorruptCounts {
    inner: HostEmu,
    xor: u32,
}

impl gpu::DeviceWrapper for CorruptCounts {
    type Inner = HostEmu;
    fn wrapped(&self) -> &HostEmu {
        &self.inner
    }
    fn wrapped_mut(&mut self) -> &mut HostEmu {
        &mut self.inner
    }
    fn on_read(&mut self, buf: gpu::Buffer, out: &mut [u8]) -> Result<(), gpu::GpuError> {
        gpu::Device::read(&mut self.inner, buf, out)?;
        if out.len() == 4 {
            let v = u32::from_le_bytes(out[..4].try_into().unwrap()) ^ self.xor;
            out.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}

fn run_corrupted(name: &str, xor: u32) -> Result<workloads::Outputs, workloads::RunError> {
    let w = workloads::by_name(name).unwrap();
    let mut dev = CorruptCounts {
        inner: HostEmu::new(),
        xor,
    };
    let module = gpu::Device::load(&mut dev, w.ptx()).unwrap();
    let inputs = w.generate(w.meta().size.default, 7).unwrap();
    w.run(&mut dev, module, &inputs)
}

#[test]
fn impossible_counts_read_back_are_run_errors_not_panics() {
    // BFS: a frontier longer than the graph; quicksort: more keys off the pivot than the
    // segment holds (the first pass reads one count per side).
    for name in ["bfs", "quicksort"] {
        match run_corrupted(name, 0x8000_0000) {
            Err(workloads::RunError::BadControlValue { workload, .. }) => {
                assert_eq!(workload, name)
            }
            other => panic!("{name}: expected a bad control value, got {other:?}"),
        }
    }
}

#[test]
fn plausible_but_wrong_counts_end_in_an_error_or_a_visible_corruption() {
    // A low-bit flip keeps counts in range: the run must finish (no hang, no panic) and
    // either fail or produce outputs the comparator rejects.
    for name in ["bfs", "quicksort"] {
        let w = workloads::by_name(name).unwrap();
        let inputs = w.generate(w.meta().size.default, 7).unwrap();
        let want = w.reference(&inputs).unwrap();
        if let Ok(got) = run_corrupted(name, 1) {
            assert_eq!(w.compare(&want, &got).verdict, Verdict::Different, "{name}");
        }
    }
}
