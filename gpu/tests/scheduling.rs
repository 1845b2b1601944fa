//! Seeded scheduling through the device layer: a seed in the device name, in the node
//! config, or set on an open `SimDevice` reaches the virtual GPU, in-process and through
//! a worker process, and identity and listings show it.

use gpu::{
    Device, DeviceExt, DeviceSpec, KernelArg, LaunchConfig, NodeConfig, Platform, SimDevice,
    WorkerOptions,
};
use std::time::Duration;

mod support;
use support::worker_command;

/// Thread 0 of each CTA writes `%smid * 64 + %warpid` at word `%ctaid.x`.
const WHERE: &str = "
.version 8.0
.target sm_80
.address_size 64
.visible .entry where_(.param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %t, %c, %s, %w;
    .reg .b64 %a, %o;
    mov.u32 %t, %tid.x;
    setp.ne.u32 %p, %t, 0;
    @%p bra DONE;
    ld.param.u64 %a, [out];
    mov.u32 %c, %ctaid.x;
    mul.wide.u32 %o, %c, 4;
    add.u64 %a, %a, %o;
    mov.u32 %s, %smid;
    mov.u32 %w, %warpid;
    mad.lo.u32 %s, %s, 64, %w;
    st.global.u32 [%a], %s;
DONE:
    ret;
}";

/// Per CTA of a 200-CTA launch, its SM and first warp slot.
fn schedule_of(dev: &mut dyn Device) -> Vec<u32> {
    const CTAS: u32 = 200;
    let m = dev.load(WHERE).unwrap();
    let out = dev.alloc_zeroed::<u32>(CTAS as usize).unwrap();
    dev.launch(
        m,
        "where_",
        &LaunchConfig::linear(CTAS, 96),
        &[KernelArg::Ptr(out.ptr)],
    )
    .unwrap();
    let got = dev.download::<u32>(out, CTAS as usize).unwrap();
    dev.free(out).unwrap();
    got
}

fn spec(s: &str) -> DeviceSpec {
    s.parse().unwrap()
}

fn options() -> WorkerOptions {
    WorkerOptions {
        request_timeout: Duration::from_secs(30),
        launch_grace: Duration::from_millis(200),
    }
}

#[test]
fn the_seed_in_the_name_schedules_the_device_and_crosses_to_a_worker() {
    let platform = Platform::new();
    let fixed = schedule_of(&mut *platform.open(&spec("sim:h100#1")).unwrap());
    // The fixed rule: CTA i on SM i % 132, slot 3 * (i / 132).
    for i in 0..200u32 {
        assert_eq!(fixed[i as usize], (i % 132) * 64 + 3 * (i / 132));
    }
    let seven = schedule_of(&mut *platform.open(&spec("sim:h100#1@7")).unwrap());
    let eight = schedule_of(&mut *platform.open(&spec("sim:h100@8")).unwrap());
    assert_ne!(seven, fixed);
    assert_ne!(seven, eight);
    assert_eq!(
        seven,
        schedule_of(&mut *platform.open(&spec("sim:h100*4#1@7")).unwrap())
    );
    let mut remote = platform
        .open_worker(&spec("sim:h100#1@7"), worker_command(), options())
        .unwrap();
    assert_eq!(remote.name(), "sim:h100#1@7");
    assert_eq!(schedule_of(&mut remote), seven);
}

#[test]
fn the_seed_can_change_on_an_open_device() {
    let DeviceSpec::Sim(s) = spec("sim:h100") else {
        unreachable!()
    };
    let mut dev = SimDevice::open(&s).unwrap();
    assert_eq!(dev.scheduling_seed(), None);
    let fixed = schedule_of(&mut dev);
    dev.set_scheduling_seed(Some(7));
    assert_eq!(dev.name(), "sim:h100@7");
    let seven = schedule_of(&mut dev);
    assert_ne!(seven, fixed);
    // The schedule is the seed's, not the device's history.
    let fresh = schedule_of(&mut *gpu::open(&spec("sim:h100@7")).unwrap());
    assert_eq!(seven, fresh);
    dev.set_scheduling_seed(None);
    assert_eq!(schedule_of(&mut dev), fixed);
}

#[test]
fn a_node_config_gives_each_gpu_its_own_seed() {
    let dir = std::env::temp_dir().join(format!("gpufault-sched-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.json");
    std::fs::write(
        &path,
        r#"{"gpus": {"sim:h100#1": {"scheduling_seed": 7},
                     "sim:h100#2": {"scheduling_seed": 8, "telemetry": {"xid_events": [79]}}}}"#,
    )
    .unwrap();
    let platform = Platform::new().with_node_config(NodeConfig::load(&path).unwrap());
    let by_name = |name: &str| schedule_of(&mut *Platform::new().open(&spec(name)).unwrap());
    let via_node = |name: &str| schedule_of(&mut *platform.open(&spec(name)).unwrap());
    assert_eq!(via_node("sim:h100#1"), by_name("sim:h100#1@7"));
    assert_eq!(via_node("sim:h100#2"), by_name("sim:h100#2@8"));
    assert_eq!(via_node("sim:h100#0"), by_name("sim:h100"));
    // A seed in the name wins over the node config's.
    assert_eq!(via_node("sim:h100#1@9"), by_name("sim:h100@9"));
    // The worker gets the node config's seed in its name.
    let mut remote = platform
        .open_worker(&spec("sim:h100#2"), worker_command(), options())
        .unwrap();
    assert_eq!(remote.name(), "sim:h100#2@8");
    assert_eq!(schedule_of(&mut remote), by_name("sim:h100@8"));

    // Listings show the seed, in the name and as a field; identity does not change.
    let listing = platform.inspect(&[spec("sim:h100*3")]);
    let names: Vec<&str> = listing.devices.iter().map(|d| d.device.as_str()).collect();
    assert_eq!(names, ["sim:h100#0", "sim:h100#1@7", "sim:h100#2@8"]);
    let seeds: Vec<Option<u64>> = listing.devices.iter().map(|d| d.scheduling_seed).collect();
    assert_eq!(seeds, [None, Some(7), Some(8)]);
    assert_eq!(listing.devices[2].telemetry.xid_events, [79]);
    let plain = Platform::new().info(&spec("sim:h100#1")).unwrap();
    assert_eq!(listing.devices[1].uuid, plain.uuid);
    assert_eq!(listing.devices[1].warp_slots(), 64);
    assert_eq!(plain.scheduling_seed, None);
    let named = Platform::new().info(&spec("sim:a100*2@5")).err();
    assert!(named.is_some(), "a node is not one device");
    let named = Platform::new().info(&spec("sim:a100#1@5")).unwrap();
    assert_eq!(
        (named.device.as_str(), named.scheduling_seed),
        ("sim:a100#1@5", Some(5))
    );
    let json = serde_json::to_value(&named).unwrap();
    assert_eq!(json["scheduling_seed"], 5);
    std::fs::remove_dir_all(&dir).unwrap();
}
