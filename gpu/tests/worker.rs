//! The worker protocol end to end: a real child process (`gpufault-gpu-worker`) serving
//! the virtual GPU, killed on deadlines, replaced, its outcomes mapped.

use gpu::{
    Device, DeviceExt, DeviceSpec, DormantModule, FaultFactory, FaultTarget, GpuError, KernelArg,
    LaunchConfig, Limits, ModuleTransform, NodeConfig, Platform, WorkerCommand, WorkerDevice,
    WorkerOptions,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::{spin, worker_command as command, KERNELS};

fn options() -> WorkerOptions {
    WorkerOptions {
        request_timeout: Duration::from_secs(30),
        launch_grace: Duration::from_millis(200),
    }
}

fn spec(s: &str) -> DeviceSpec {
    s.parse().unwrap()
}

fn spawn(s: &str) -> WorkerDevice {
    WorkerDevice::spawn(&spec(s), command(), options()).unwrap()
}

/// `scale_add` through `dev`, which must count instructions (the virtual GPU does).
fn scale_add(dev: &mut dyn Device, n: u32) {
    let (_, stats) = support::scale_add(dev, n);
    assert!(stats.instructions.is_some_and(|i| i > 0), "{stats:?}");
}

#[test]
fn a_worker_serves_the_virtual_gpu_like_the_device_itself() {
    let mut w = spawn("sim:h100#2");
    assert_eq!(w.name(), "sim:h100#2");
    scale_add(&mut w, 1000);
    // A by-value aggregate crosses the wire and reaches the kernel's parameter space.
    support::by_value(&mut w);
    support::by_value(&mut *Platform::new().open(&spec("sim")).unwrap());
    // Globals by name, through the child.
    let m = w.load(KERNELS).unwrap();
    let mut seed = [0u8; 4];
    w.read_global(m, "g_seed", &mut seed).unwrap();
    assert_eq!(u32::from_le_bytes(seed), 1000);
    w.write_global(m, "g_seed", &5u32.to_le_bytes()).unwrap();
    let out = w.alloc_zeroed::<u32>(70).unwrap();
    w.launch(
        m,
        "from_global",
        &LaunchConfig::linear(2, 64),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(70)],
    )
    .unwrap();
    assert_eq!(
        w.download::<u32>(out, 70).unwrap(),
        (5..75).collect::<Vec<_>>()
    );
    w.read_global(m, "g_count", &mut seed).unwrap();
    assert_eq!(u32::from_le_bytes(seed), 70);
    w.free(out).unwrap();
    assert_eq!(w.replacements(), 0);
}

#[test]
fn kernel_faults_cross_the_process_boundary_as_typed_errors() {
    let mut w = spawn("sim");
    let m = w.load(KERNELS).unwrap();
    let one = LaunchConfig::linear(1, 1);
    let e = w
        .launch(
            m,
            "store_at",
            &one,
            &[KernelArg::U64(0x10), KernelArg::U32(1)],
        )
        .unwrap_err();
    assert!(matches!(e, GpuError::IllegalAddress { .. }), "{e:?}");
    let buf = w.alloc(64).unwrap();
    let e = w
        .launch(
            m,
            "load_at",
            &one,
            &[KernelArg::Ptr(buf.ptr), KernelArg::U64(buf.ptr + 2)],
        )
        .unwrap_err();
    assert!(matches!(e, GpuError::MisalignedAddress { .. }), "{e:?}");
    let e = w.launch(m, "do_trap", &one, &[]).unwrap_err();
    assert!(matches!(e, GpuError::Trap { .. }), "{e:?}");
    let e = w.launch(m, "no_such_kernel", &one, &[]).unwrap_err();
    assert!(matches!(e, GpuError::Invalid { .. }), "{e:?}");
    // The virtual GPU is not poisoned by faults: the same child goes on.
    assert_eq!(w.replacements(), 0);
    scale_add(&mut w, 100);
}

#[test]
fn the_virtual_gpus_own_budget_reports_a_hang_without_a_kill() {
    let mut w = spawn("sim");
    let m = w.load(KERNELS).unwrap();
    w.set_limits(Limits {
        instructions: Some(100_000),
        wall: Some(Duration::from_secs(20)),
    });
    let pid = w.pid();
    let e = spin(&mut w, m);
    assert!(matches!(e, GpuError::Hang { .. }), "{e:?}");
    assert_eq!(w.replacements(), 0);
    assert_eq!(w.pid(), pid);
    assert!(!w.poisoned(), "the same child: its buffers are still there");
}

#[test]
fn a_launch_past_its_deadline_is_killed_and_the_worker_replaced() {
    let mut w = spawn("sim");
    let m = w.load(KERNELS).unwrap();
    // No instruction budget: only the parent's deadline stops the endless loop.
    w.set_limits(Limits {
        instructions: None,
        wall: Some(Duration::from_millis(300)),
    });
    let old = w.pid().unwrap();
    let t = Instant::now();
    let e = spin(&mut w, m);
    let took = t.elapsed();
    let GpuError::Hang { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        detail.contains("did not finish within 300ms (+200ms grace)"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("worker process {old} killed and replaced")),
        "{detail}"
    );
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(w.replacements(), 1);
    assert!(
        w.poisoned(),
        "a new child: the buffers of the old one are gone"
    );
    let new = w.pid().unwrap();
    assert_ne!(new, old);
    // The old child is gone (killed and reaped).
    assert!(
        !std::path::Path::new(&format!("/proc/{old}")).exists()
            || std::fs::read_to_string(format!("/proc/{old}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true),
        "old worker {old} still runs"
    );
    // The module handle still works in the new child: the parent reloaded it, and the
    // limits came along (the spin hangs again, again killed).
    let e = spin(&mut w, m);
    assert!(matches!(e, GpuError::Hang { .. }), "{e:?}");
    assert_eq!(w.replacements(), 2);
    w.set_limits(Limits::default());
    scale_add(&mut w, 500);
    assert!(!w.poisoned(), "cleared by the next launch");
}

#[test]
fn a_worker_that_dies_is_a_typed_error_and_is_replaced() {
    let mut w = spawn("sim");
    let m = w.load(KERNELS).unwrap();
    let pid = w.pid().unwrap();
    // Something outside kills the child between requests.
    let child = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let e = w
        .launch(m, "do_trap", &LaunchConfig::linear(1, 1), &[])
        .unwrap_err();
    let GpuError::LaunchFailed { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(
        detail.contains(&format!("worker process {pid} was killed (signal 9)")),
        "{detail}"
    );
    assert_eq!(w.replacements(), 1);
    scale_add(&mut w, 64);
}

#[test]
fn a_device_that_cannot_open_fails_the_spawn_with_the_childs_error() {
    // No machine has this GPU: without libcuda the child says what it searched, with a
    // driver it says which devices there are. Either way the parent gets the child's
    // typed error.
    let nowhere = spec("cuda:GPU-00000000-0000-0000-0000-000000000000");
    let e = WorkerDevice::spawn(&nowhere, command(), options())
        .err()
        .expect("no such GPU");
    let GpuError::Unavailable { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(
        detail.contains("libcuda not found (searched ")
            || detail.contains("no CUDA device with UUID GPU-00000000-"),
        "{detail}"
    );
}

#[test]
fn a_program_that_is_not_a_worker_is_reported_with_its_stderr() {
    let not_a_worker = WorkerCommand::new("sh", &["-c", "echo 'no protocol here' >&2; exit 7"]);
    let e = WorkerDevice::spawn(&spec("sim"), not_a_worker, options())
        .err()
        .expect("sh speaks no protocol");
    let GpuError::Unavailable { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("exited with status 7"), "{detail}");
    assert!(detail.contains("no protocol here"), "{detail}");
    let missing = WorkerCommand::new("/nonexistent/gpufault-worker", &[]);
    let e = WorkerDevice::spawn(&spec("sim"), missing, options())
        .err()
        .expect("no such program");
    assert!(
        matches!(&e, GpuError::Unavailable { detail } if detail.contains("cannot start worker /nonexistent/gpufault-worker")),
        "{e:?}"
    );
}

#[test]
fn a_node_spec_is_not_one_device() {
    let e = WorkerDevice::spawn(&spec("sim:h100*8"), command(), options())
        .err()
        .expect("a node is eight devices");
    assert!(matches!(e, GpuError::Invalid { .. }), "{e:?}");
}

/// A transform that deletes the `trap` of kernel `do_trap`: the faulty GPU runs other
/// code than it was given.
struct RenameTrap;

impl ModuleTransform for RenameTrap {
    fn transform(&self, ptx: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ptx.replace(".entry do_trap()\n{\n\ttrap;\n", ".entry do_trap()\n{\n"))
    }
}

/// A fault that sets `g_seed` to 5 (armed from load: its initial value; arriving later:
/// written before each launch from the arrival on), so `from_global` says whether it
/// ran armed.
struct SeedFive;

impl ModuleTransform for SeedFive {
    fn transform(&self, ptx: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ptx.replace("g_seed = 1000;", "g_seed = 5;"))
    }
    fn dormant(
        &self,
        ptx: &str,
    ) -> Result<Option<DormantModule>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Some(DormantModule {
            ptx: ptx.to_string(),
            arm: vec![("g_seed".into(), 5u32.to_le_bytes().to_vec())],
        }))
    }
}

struct Factory;

impl FaultFactory for Factory {
    fn create(
        &self,
        fault: &str,
        _target: &FaultTarget<'_>,
    ) -> Result<Arc<dyn ModuleTransform>, Box<dyn std::error::Error + Send + Sync>> {
        match fault {
            "no-trap" => Ok(Arc::new(RenameTrap)),
            "seed-five" => Ok(Arc::new(SeedFive)),
            other => Err(format!("unknown test fault `{other}`").into()),
        }
    }
}

#[test]
fn a_faulty_virtual_gpu_transforms_what_it_loads_also_through_a_worker() {
    let dir = std::env::temp_dir().join(format!("gpufault-worker-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.json");
    std::fs::write(&path, r#"{"gpus": {"sim:h100#1": {"fault": "no-trap"}}}"#).unwrap();
    // The config is a file: a second process (here: this one reading it again) sees the
    // same faulty GPU.
    let platform = Platform::new()
        .with_node_config(NodeConfig::load(&path).unwrap())
        .with_fault_factory(Arc::new(Factory));
    let one = LaunchConfig::linear(1, 1);
    for faulty in [true, false] {
        let name = if faulty { "sim:h100#1" } else { "sim:h100#0" };
        let mut local = platform.open(&spec(name)).unwrap();
        let mut remote = platform
            .open_worker(&spec(name), command(), options())
            .unwrap();
        for dev in [&mut *local as &mut dyn Device, &mut remote] {
            let m = dev.load(KERNELS).unwrap();
            let r = dev.launch(m, "do_trap", &one, &[]);
            if faulty {
                assert!(r.is_ok(), "{name} on {}: {r:?}", dev.name());
            } else {
                assert!(matches!(r, Err(GpuError::Trap { .. })), "{name}: {r:?}");
            }
        }
    }
    // Without the factory the faulty GPU refuses to open rather than run healthy.
    let bare = Platform::new().with_node_config(NodeConfig::load(&path).unwrap());
    let e = bare.open(&spec("sim:h100#1")).err().expect("no factory");
    assert!(
        e.to_string().contains("carries fault `no-trap`") && e.to_string().contains("node.json"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `g_seed` as `from_global` reads it in a launch on `dev` (module `m`).
fn seed_seen(dev: &mut dyn Device, m: gpu::ModuleHandle) -> u32 {
    let out = dev.alloc_zeroed::<u32>(1).unwrap();
    dev.launch(
        m,
        "from_global",
        &LaunchConfig::linear(1, 32),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(1)],
    )
    .unwrap();
    let seen = dev.download::<u32>(out, 1).unwrap()[0];
    dev.free(out).unwrap();
    seen
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn arriving_platform(gpu: &str, fault: &str, at: f64) -> Platform {
    let text =
        format!(r#"{{"gpus": {{"{gpu}": {{"fault": "{fault}", "fault_arrives_at": {at}}}}}}}"#);
    Platform::new()
        .with_node_config(NodeConfig::parse(&text, "arriving.json").unwrap())
        .with_fault_factory(Arc::new(Factory))
}

#[test]
fn a_fault_arrives_at_its_instant_in_process_and_through_a_worker() {
    // In the past: armed from the first launch. Far in the future: healthy.
    for (at, want) in [(1.0, 5), (unix_now() + 3600.0, 1000)] {
        let p = arriving_platform("sim:h100#1", "seed-five", at);
        let mut local = p.open(&spec("sim:h100#1")).unwrap();
        let mut remote = p
            .open_worker(&spec("sim:h100#1"), command(), options())
            .unwrap();
        for dev in [&mut *local as &mut dyn Device, &mut remote] {
            let m = dev.load(KERNELS).unwrap();
            assert_eq!(seed_seen(dev, m), want, "arrival {at} on {}", dev.name());
        }
        let info = p.info(&spec("sim:h100#1")).unwrap();
        assert_eq!(info.fault_arrives_at, Some(at));
    }
    // Crossing during a run: healthy launches, then the arrival, then every launch armed,
    // of a module loaded before it as of one loaded after.
    let at = unix_now() + 1.5;
    let p = arriving_platform("sim:h100#1", "seed-five", at);
    let mut local = p.open(&spec("sim:h100#1")).unwrap();
    let mut remote = p
        .open_worker(&spec("sim:h100#1"), command(), options())
        .unwrap();
    let before: Vec<_> = [&mut *local as &mut dyn Device, &mut remote]
        .into_iter()
        .map(|dev| {
            let m = dev.load(KERNELS).unwrap();
            assert_eq!(
                seed_seen(dev, m),
                1000,
                "before the arrival on {}",
                dev.name()
            );
            m
        })
        .collect();
    assert!(
        unix_now() < at,
        "the launches before the arrival took too long"
    );
    std::thread::sleep(Duration::from_secs_f64((at - unix_now()).max(0.0) + 0.05));
    for (dev, m) in [&mut *local as &mut dyn Device, &mut remote]
        .into_iter()
        .zip(before)
    {
        assert_eq!(seed_seen(dev, m), 5, "after the arrival on {}", dev.name());
        assert_eq!(seed_seen(dev, m), 5, "and on every launch after it");
        let later = dev.load(KERNELS).unwrap();
        assert_eq!(
            seed_seen(dev, later),
            5,
            "a module loaded after the arrival"
        );
    }
}

#[test]
fn a_fault_that_cannot_arrive_later_is_refused() {
    let p = arriving_platform("sim#1", "no-trap", 1.0);
    let mut dev = p.open(&spec("sim#1")).unwrap();
    let e = dev.load(KERNELS).unwrap_err().to_string();
    assert!(
        e.contains("`fault_arrives_at`") && e.contains("sim#1"),
        "{e}"
    );
    for (text, needle) in [
        (
            r#"{"gpus": {"sim#1": {"fault_arrives_at": 5}}}"#,
            "`sim#1`: `fault_arrives_at` without a `fault`",
        ),
        (
            r#"{"gpus": {"sim#1": {"fault": "x", "fault_arrives_at": -1}}}"#,
            "must be a Unix time in seconds, got -1",
        ),
        (
            r#"{"gpus": {"sim#1": {"fault": "x", "fault_arrives_at": "soon"}}}"#,
            "invalid type: string \"soon\", expected f64",
        ),
    ] {
        let e = NodeConfig::parse(text, "n.json").unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
}
