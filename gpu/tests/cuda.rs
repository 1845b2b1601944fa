//! Tests that need a real CUDA GPU. Without one each prints `SKIP: … (why)` and passes;
//! with `GPUFAULT_REQUIRE_GPU=1` (set by `scripts/gpu-check.sh`) a missing GPU fails
//! them instead.
//!
//! Kernel faults poison a CUDA context for the whole process, so every test that
//! provokes one goes through a worker process (`gpufault-gpu-worker`, found via
//! `GPUFAULT_WORKER_BIN` when the test binary was built elsewhere).

use gpu::{
    Device, DeviceExt, DeviceKind, DeviceSpec, GpuError, KernelArg, LaunchConfig, Limits, Platform,
    WorkerDevice, WorkerOptions,
};
use std::time::Duration;

mod support;
use support::{spin, worker_command, KERNELS};

/// `Some(cuda:0)` when a CUDA device is usable; otherwise prints the skip reason (or
/// fails under `GPUFAULT_REQUIRE_GPU=1`).
fn cuda(test: &str) -> Option<DeviceSpec> {
    match Platform::new().auto() {
        (spec @ DeviceSpec::Cuda(_), _) => Some(spec),
        (_, why) => {
            let why = why.unwrap_or_default();
            if std::env::var_os("GPUFAULT_REQUIRE_GPU").is_some_and(|v| v == "1") {
                panic!("GPUFAULT_REQUIRE_GPU=1 but no CUDA device: {why}");
            }
            eprintln!("SKIP: {test}: no CUDA device ({why})");
            None
        }
    }
}

fn worker(spec: &DeviceSpec) -> WorkerDevice {
    WorkerDevice::spawn(
        spec,
        worker_command(),
        WorkerOptions {
            request_timeout: Duration::from_secs(60),
            launch_grace: Duration::from_millis(500),
        },
    )
    .expect("worker starts")
}

/// Runs `scale_add` on 1000 elements (checked against the host) and returns the output.
fn scale_add(dev: &mut dyn Device) -> Vec<u32> {
    support::scale_add(dev, 1000).0
}

/// Writes `g_seed`, runs `from_global` and returns the output and `g_count`.
fn from_global(dev: &mut dyn Device) -> (Vec<u32>, u32) {
    let m = dev.load(KERNELS).unwrap();
    let mut seed = [0u8; 4];
    dev.read_global(m, "g_seed", &mut seed).unwrap();
    assert_eq!(
        u32::from_le_bytes(seed),
        1000,
        "initial value on {}",
        dev.name()
    );
    dev.write_global(m, "g_seed", &7u32.to_le_bytes()).unwrap();
    let n = 300u32;
    let out = dev.alloc_zeroed::<u32>(n as usize).unwrap();
    dev.launch(
        m,
        "from_global",
        &LaunchConfig::linear(3, 128),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(n)],
    )
    .unwrap();
    let mut count = [0u8; 4];
    dev.read_global(m, "g_count", &mut count).unwrap();
    (
        dev.download::<u32>(out, n as usize).unwrap(),
        u32::from_le_bytes(count),
    )
}

#[test]
fn cuda_devices_report_identity_and_nvml_telemetry() {
    let Some(_) = cuda("cuda_devices_report_identity_and_nvml_telemetry") else {
        return;
    };
    let listing = gpu::enumerate();
    assert!(listing.cuda_unavailable.is_none(), "{listing:?}");
    let first = &listing.devices[0];
    assert_eq!(first.kind, DeviceKind::Cuda, "CUDA devices come first");
    for d in listing
        .devices
        .iter()
        .filter(|d| d.kind == DeviceKind::Cuda)
    {
        eprintln!(
            "{}: {} {} {} cc {} {} SMs {} bytes driver {:?}",
            d.device,
            d.name,
            d.uuid,
            d.pci_bus_id,
            d.compute_capability,
            d.sm_count,
            d.memory_bytes,
            d.driver
        );
        eprintln!(
            "  telemetry: {}",
            serde_json::to_string(&d.telemetry).unwrap()
        );
        assert!(
            d.uuid.starts_with("GPU-") && d.uuid.len() == 40,
            "{}",
            d.uuid
        );
        assert!(d.sm_count > 0 && d.memory_bytes > 1 << 30);
        let driver = d.driver.as_ref().expect("driver versions");
        assert!(driver.cuda_version.starts_with(char::is_numeric));
        // NVML found the device by the UUID the driver API gave: the two agree.
        assert!(
            !d.telemetry.unavailable.contains_key("nvml"),
            "{:?}",
            d.telemetry.unavailable
        );
        // What a virtualised driver can read varies; at least something must be read.
        let t = &d.telemetry;
        assert!(
            t.temperature_c.is_some() || t.pcie.is_some() || t.clocks.is_some() || t.ecc.is_some(),
            "{t:?}"
        );
        let by_uuid = Platform::new()
            .info(&format!("cuda:{}", d.uuid).parse().unwrap())
            .unwrap();
        assert_eq!(by_uuid.device, d.device, "selection by UUID");
    }
}

#[test]
fn cuda_xid_subscription_polls() {
    let Some(spec) = cuda("cuda_xid_subscription_polls") else {
        return;
    };
    let mut watch = Platform::new().xid_watch(&[spec]).unwrap();
    let events = watch.poll(Duration::from_millis(200)).unwrap();
    eprintln!("XID events during 200 ms: {events:?}");
}

#[test]
fn cuda_runs_a_kernel_and_matches_the_host() {
    let Some(spec) = cuda("cuda_runs_a_kernel_and_matches_the_host") else {
        return;
    };
    let mut dev = gpu::open(&spec).unwrap();
    scale_add(&mut *dev);
    let (out, count) = from_global(&mut *dev);
    assert_eq!(out, (7..307).collect::<Vec<u32>>());
    assert_eq!(count, 300);
    assert!(!dev.poisoned());
}

#[test]
fn cuda_and_the_virtual_gpu_agree_bit_for_bit() {
    let Some(spec) = cuda("cuda_and_the_virtual_gpu_agree_bit_for_bit") else {
        return;
    };
    let mut real = gpu::open(&spec).unwrap();
    let mut virt = gpu::open(&"sim:h100".parse().unwrap()).unwrap();
    assert_eq!(scale_add(&mut *real), scale_add(&mut *virt));
    assert_eq!(from_global(&mut *real), from_global(&mut *virt));
    // Aggregates by value and narrow scalars reach the kernel the same way.
    assert_eq!(support::by_value(&mut *real), support::by_value(&mut *virt));
}

#[test]
fn cuda_refuses_ptx_newer_than_its_driver() {
    let Some(spec) = cuda("cuda_refuses_ptx_newer_than_its_driver") else {
        return;
    };
    let info = Platform::new().info(&spec).unwrap();
    let Some(max) = info.driver.and_then(|d| d.max_ptx_version) else {
        eprintln!("SKIP: the driver is newer than this build's PTX table");
        return;
    };
    let (major, minor) = max.split_once('.').unwrap();
    let newer = format!("{major}.{}", minor.parse::<u32>().unwrap() + 1);
    let ptx = KERNELS.replace(".version 7.0", &format!(".version {newer}"));
    let mut dev = gpu::open(&spec).unwrap();
    match dev.load(&ptx) {
        Err(GpuError::UnsupportedPtxVersion {
            ptx_version,
            driver_max,
        }) => {
            assert_eq!(ptx_version, newer);
            assert!(driver_max.starts_with(&max), "{driver_max}");
        }
        other => panic!("{other:?}"),
    }
    // The refusal happened before the driver saw the module: the context is fine.
    scale_add(&mut *dev);
}

/// Provokes a fault in a worker, checks its mapping and that the replacement works.
fn fault_in_worker(
    spec: &DeviceSpec,
    kernel: &str,
    args: impl FnOnce(&mut WorkerDevice) -> Vec<KernelArg>,
    is: fn(&GpuError) -> bool,
) {
    let mut w = worker(spec);
    let m = w.load(KERNELS).unwrap();
    let args = args(&mut w);
    let e = w
        .launch(m, kernel, &LaunchConfig::linear(1, 32), &args)
        .expect_err(kernel);
    eprintln!("{kernel} on {spec}: {e}");
    assert!(is(&e), "{kernel}: {e:?}");
    assert_eq!(w.replacements(), 1, "a sticky error replaces the worker");
    scale_add(&mut w);
}

#[test]
fn cuda_kernel_faults_map_to_outcomes_and_the_worker_recovers() {
    let Some(spec) = cuda("cuda_kernel_faults_map_to_outcomes_and_the_worker_recovers") else {
        return;
    };
    fault_in_worker(
        &spec,
        "store_at",
        |_| vec![KernelArg::U64(0x10), KernelArg::U32(1)],
        |e| matches!(e, GpuError::IllegalAddress { .. }),
    );
    fault_in_worker(
        &spec,
        "load_at",
        |w| {
            let b = w.alloc(64).unwrap();
            vec![KernelArg::Ptr(b.ptr), KernelArg::U64(b.ptr + 2)]
        },
        |e| matches!(e, GpuError::MisalignedAddress { .. }),
    );
    // CUDA reports `trap` as a launch failure (assertions as CUDA_ERROR_ASSERT → Trap).
    fault_in_worker(
        &spec,
        "do_trap",
        |_| vec![],
        |e| matches!(e, GpuError::Trap { .. } | GpuError::LaunchFailed { .. }),
    );
}

#[test]
fn cuda_hang_is_killed_at_the_deadline_and_the_worker_replaced() {
    let Some(spec) = cuda("cuda_hang_is_killed_at_the_deadline_and_the_worker_replaced") else {
        return;
    };
    let mut w = worker(&spec);
    let m = w.load(KERNELS).unwrap();
    w.set_limits(Limits {
        instructions: None,
        wall: Some(Duration::from_millis(500)),
    });
    let pid = w.pid();
    let t = std::time::Instant::now();
    let e = spin(&mut w, m);
    assert!(matches!(e, GpuError::Hang { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(w.replacements(), 1);
    assert_ne!(w.pid(), pid);
    w.set_limits(Limits::default());
    scale_add(&mut w);
}
