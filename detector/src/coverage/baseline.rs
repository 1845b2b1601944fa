//! The method of the health checks in use today, as a baseline detector: gpu-burn and
//! DCGM diag's GEMM stress (its "diagnostic" plugin is derived from gpu-burn).
//!
//! Both run the same GEMM many times on the GPU and compare every result with the
//! **first result computed on the same GPU**, element by element: an element counts as
//! faulty when `|C_first - C_i| > EPSILON` with `EPSILON = 0.001` for FP32
//! (`compare.cu` of gpu-burn, github.com/wilicc/gpu-burn, and of DCGM,
//! `nvvs/plugin_src/diagnostic/compare.cu`, which also counts NaN elements). A CUDA
//! error during the run fails the test too. There is no reference computed elsewhere,
//! so a fault that corrupts every iteration the same way passes.
//!
//! Here the GEMM is the bundled `gemm_naive` workload's kernel (real NVRTC PTX, loaded
//! on the faulty GPU, hence instrumented with its fault), `C = A·B` (alpha 1, beta 0, as
//! gpu-burn calls cuBLAS), square in M and N so that its 16×16 CTAs fill every warp
//! slot of every SM of the device once, with a short inner dimension (K = [`K`]: the
//! virtual GPU runs on a CPU; gpu-burn's matrices are 8192², which changes how long each
//! thread runs, not which SM, warp slot or lane computes an element), [`ITERATIONS`]
//! times. Two verdicts:
//!
//! - **vs first** (gpu-burn / DCGM): every iteration after the first compared with the
//!   first; NaN elements count (DCGM);
//! - **vs CPU**: every iteration compared with the product computed on the CPU (the same
//!   `fmaf` chain in the same order, so a healthy GPU agrees bit for bit), same epsilon.

use gpu::{Device, DeviceExt, DeviceSpec, KernelArg, LaunchConfig, Limits, Platform};
use reports::BaselineRecord;

/// gpu-burn's and DCGM's FP32 tolerance (`EPSILON` of their `compare.cu`).
pub const EPSILON: f32 = 0.001;
/// GEMMs per check (gpu-burn runs as many as fit in its duration; two are the least
/// that compares anything).
pub const ITERATIONS: usize = 3;
/// The inner dimension of the product.
pub const K: usize = 32;
/// Threads per CTA side (`gemm_naive` is launched with 16×16 CTAs).
const TILE: usize = 16;

/// The name of the baseline (`--baseline gpu-burn`).
pub const GPU_BURN: &str = "gpu-burn";

/// Runs the gpu-burn method on `device` of `platform` and gives both verdicts. `Err`
/// when it could not run at all (the device did not open, the GEMM did not load).
pub fn gpu_burn(platform: &Platform, device: &DeviceSpec) -> Result<BaselineRecord, String> {
    let info = platform.info(device).map_err(|e| e.to_string())?;
    let warps = (info.sm_count as usize * info.warp_slots() as usize).max(1);
    let ctas_per_side = ((warps * 32 / (TILE * TILE)) as f64).sqrt().ceil() as usize;
    let n = ctas_per_side.max(1) * TILE;
    let (a, b) = (inputs(n * K, 1), inputs(K * n, 2));
    let cpu = product(&a, &b, n);
    let mut dev = platform.open(device).map_err(|e| e.to_string())?;
    let gemm = workloads::by_name("gemm_naive").ok_or("no gemm_naive workload")?;
    let module = dev
        .load(gemm.ptx())
        .map_err(|e| format!("the GEMM could not be loaded on {device}: {e}"))?;
    // A hang is stopped at 4× the healthy run's instructions (no GEMM thread needs more).
    dev.set_limits(Limits {
        instructions: Some(4 * (n * n) as u64 * (12 * K as u64 + 40)),
        wall: None,
    });
    let mut results: Vec<Vec<f32>> = Vec::with_capacity(ITERATIONS);
    let mut error = None;
    for _ in 0..ITERATIONS {
        match multiply(dev.as_mut(), module, &a, &b, n) {
            Ok(c) => results.push(c),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    dev.set_limits(Limits::default());
    let faulty = |x: f32, y: f32| x.is_nan() || y.is_nan() || (x - y).abs() > EPSILON;
    let count = |x: &[f32], y: &[f32]| x.iter().zip(y).filter(|(x, y)| faulty(**x, **y)).count();
    let vs_first: u64 = match results.first() {
        Some(first) => results[1..].iter().map(|r| count(first, r) as u64).sum(),
        None => 0,
    };
    let vs_cpu: u64 = results.iter().map(|r| count(&cpu, r) as u64).sum();
    Ok(BaselineRecord {
        name: GPU_BURN.into(),
        detected_vs_first: error.is_some() || vs_first > 0,
        detected_vs_cpu: error.is_some() || vs_cpu > 0,
        faulty_elements_vs_first: vs_first,
        faulty_elements_vs_cpu: vs_cpu,
        iterations: results.len() as u32,
        error,
    })
}

/// One GEMM `C = A·B` (n×K times K×n) on the device.
fn multiply(
    dev: &mut dyn Device,
    module: gpu::ModuleHandle,
    a: &[f32],
    b: &[f32],
    n: usize,
) -> Result<Vec<f32>, String> {
    let e = |e: gpu::GpuError| e.to_string();
    let da = dev.upload(a).map_err(e)?;
    let db = dev.upload(b).map_err(e)?;
    let dc = dev.alloc_zeroed::<f32>(n * n).map_err(e)?;
    let side = (n / TILE) as u32;
    let launched = dev.launch(
        module,
        "gemm_naive",
        &LaunchConfig {
            grid: [side, side, 1],
            block: [TILE as u32, TILE as u32, 1],
            shared_bytes: 0,
        },
        &[
            KernelArg::Ptr(da.ptr),
            KernelArg::Ptr(db.ptr),
            KernelArg::Ptr(dc.ptr),
            KernelArg::I32(n as i32),
            KernelArg::I32(n as i32),
            KernelArg::I32(K as i32),
            KernelArg::F32(1.0),
            KernelArg::F32(0.0),
        ],
    );
    let out = launched
        .map_err(e)
        .and_then(|_| dev.download::<f32>(dc, n * n).map_err(e));
    for buf in [da, db, dc] {
        let _ = dev.free(buf);
    }
    out
}

/// The product on the CPU, as `gemm_naive` computes it: an `fmaf` chain over k in
/// order, then `fmaf(1, acc, 0 * c)`.
fn product(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * n];
    for row in 0..n {
        for col in 0..n {
            let mut acc = 0.0f32;
            for k in 0..K {
                acc = a[row * K + k].mul_add(b[k * n + col], acc);
            }
            out[row * n + col] = 1.0f32.mul_add(acc, 0.0);
        }
    }
    out
}

/// `len` numbers in [-1, 1) from a fixed stream (xorshift64*), multiples of 2^-10 so
/// the products are exact in few bits.
fn inputs(len: usize, stream: u64) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..len)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let v = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 53; // 11 bits
            (v as f32 - 1024.0) / 1024.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_gpu_passes_both_comparisons_bit_for_bit() {
        let platform = Platform::new();
        let r = gpu_burn(&platform, &"sim".parse().unwrap()).unwrap();
        assert_eq!(r.error, None);
        assert_eq!(r.iterations, ITERATIONS as u32);
        assert_eq!(
            (r.faulty_elements_vs_first, r.faulty_elements_vs_cpu),
            (0, 0)
        );
        assert!(!r.detected_vs_first && !r.detected_vs_cpu);
    }

    #[test]
    fn a_fault_that_corrupts_every_gemm_alike_passes_the_comparison_with_the_first() {
        // every fma.f32 of the warp in slot 0 of SM 0 multiplies instead: the same wrong
        // elements in every iteration
        let fault = injector::FaultSpec::parse(
            "ioc:sm=0,sp=0,warps=0x1,lanes=0xffffffff,op=fma.f32,subst=mul",
        )
        .unwrap();
        let sim = match "sim".parse::<DeviceSpec>().unwrap() {
            DeviceSpec::Sim(s) => s,
            other => panic!("{other}"),
        };
        let (platform, device) = injector::faulty_gpu(&sim, &fault, None).unwrap();
        let r = gpu_burn(&platform, &device).unwrap();
        assert_eq!(
            (r.error.as_deref(), r.iterations),
            (None, ITERATIONS as u32)
        );
        assert!(!r.detected_vs_first, "{r:?}");
        assert!(r.detected_vs_cpu, "{r:?}");
        // 32 elements per iteration, all of them wrong
        assert_eq!(r.faulty_elements_vs_cpu, 32 * ITERATIONS as u64);
    }

    #[test]
    fn inputs_are_spread_over_minus_one_to_one() {
        let v = inputs(1000, 1);
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        assert!(v.iter().any(|x| *x < -0.5) && v.iter().any(|x| *x > 0.5));
        assert_ne!(inputs(10, 1), inputs(10, 2));
    }
}
