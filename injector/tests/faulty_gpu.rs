//! Faulty virtual GPUs (issue 14, part 3): a virtual GPU given a fault by a node config
//! runs every module it loads with the fault armed, and computes exactly what an
//! injection of the same spec computes on a healthy GPU.

use gpu::{Device, DeviceSpec, NodeConfig, Platform};
use injector::{instrument, FaultSpec, InjectorFaults, Subject, Target, WorkloadSubject};
use std::sync::Arc;
use workloads::Outputs;

fn platform(gpus: &[(&str, &str)]) -> Platform {
    let entries: Vec<String> = gpus
        .iter()
        .map(|(gpu, fault)| format!("\"{gpu}\": {{\"fault\": \"{fault}\"}}"))
        .collect();
    let text = format!("{{\"gpus\": {{{}}}}}", entries.join(", "));
    Platform::new()
        .with_node_config(NodeConfig::parse(&text, "test").unwrap())
        .with_fault_factory(Arc::new(InjectorFaults))
}

fn open(p: &Platform, name: &str) -> Box<dyn Device + Send> {
    p.open(&name.parse::<DeviceSpec>().unwrap()).unwrap()
}

/// The outputs (or the error text) of a plain run of `subject` on `dev`.
fn plain_run(dev: &mut dyn Device, subject: &dyn Subject) -> Result<Outputs, String> {
    let m = dev.load(subject.ptx()).map_err(|e| e.to_string())?;
    subject.run(dev, m).map_err(|e| e.to_string())
}

/// The outputs (or error text) of an injection of `spec` on a healthy device.
fn injected(subject: Arc<dyn Subject>, spec: &FaultSpec) -> Result<Outputs, String> {
    let mut dev = open(&Platform::new(), "sim:h100");
    let inst = instrument(&ptx::parse(subject.ptx()).unwrap(), spec.model).unwrap();
    let target = Target::new(dev.as_mut(), subject.clone(), inst).unwrap();
    // the injection's own outputs: run the armed instrumented module once more
    injector::arm(dev.as_mut(), target.module(), Some(spec)).unwrap();
    subject
        .run(dev.as_mut(), target.module())
        .map_err(|e| e.to_string())
}

#[test]
fn a_faulty_virtual_gpu_corrupts_a_workload_exactly_as_an_injection_does() {
    let cases = [
        (
            "vecadd",
            "iat:sm=3,sp=1,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1",
        ),
        ("gemm_tiled", "wv:sm=0,sp=0,warps=0x1,lanes=0xffff,pol=sa0"),
        (
            "gemm_tiled",
            "ioc:sm=1,sp=2,warps=0x3,lanes=0xffffffff,op=fma.rn.f32,subst=mul",
        ),
        (
            "reduction",
            "imd:sm=2,sp=3,warps=0x1,lanes=0x3,mask=0x10,mode=data,spaces=slg",
        ),
        ("bfs", "wdrop:sm=0,sp=0,warps=0x1"),
        (
            "histogram",
            "ira:sm=4,sp=1,warps=0x1,lanes=0xffffffff,field=1,bit=0",
        ),
    ];
    let mut changed = 0;
    for (workload, fault) in cases {
        let spec = FaultSpec::parse(fault).unwrap();
        let subject: Arc<dyn Subject> = Arc::new(WorkloadSubject::new(workload, None, 1).unwrap());
        let p = platform(&[("sim:h100#1", fault)]);
        let faulty = plain_run(open(&p, "sim:h100#1").as_mut(), subject.as_ref());
        let want = injected(subject.clone(), &spec);
        match (&faulty, &want) {
            (Ok(a), Ok(b)) => assert_eq!(a.arrays, b.arrays, "{workload} {fault}"),
            (Err(a), Err(b)) => {
                // the same fault; the kernel and line named agree
                assert_eq!(
                    a.split(':').next(),
                    b.split(':').next(),
                    "{workload} {fault}: {a} / {b}"
                )
            }
            _ => panic!("{workload} {fault}: faulty GPU {faulty:?}, injection {want:?}"),
        }
        // the healthy GPU of the same node computes the golden outputs
        let healthy = plain_run(open(&p, "sim:h100#0").as_mut(), subject.as_ref()).unwrap();
        let golden = plain_run(
            open(&Platform::new(), "sim:h100").as_mut(),
            subject.as_ref(),
        )
        .unwrap();
        assert_eq!(healthy.arrays, golden.arrays, "{workload}");
        if faulty
            .as_ref()
            .map(|o| o.arrays != golden.arrays)
            .unwrap_or(true)
        {
            changed += 1;
        }
    }
    assert!(
        changed >= 4,
        "most of these faults must change the result ({changed} of 6 did)"
    );
}

#[test]
fn a_module_the_fault_cannot_touch_runs_unaffected() {
    // ioc on fma.rn.f32: vecadd has no fma, so the faulty GPU runs it as it is
    let fault = "ioc:sm=0,sp=0,warps=0x1,lanes=0xffffffff,op=fma.rn.f32,subst=mul";
    let p = platform(&[("sim#2", fault)]);
    let subject = WorkloadSubject::new("vecadd", None, 1).unwrap();
    let out = plain_run(open(&p, "sim#2").as_mut(), &subject).unwrap();
    let golden = plain_run(open(&Platform::new(), "sim").as_mut(), &subject).unwrap();
    assert_eq!(out.arrays, golden.arrays);
}

#[test]
fn a_fault_the_device_cannot_have_is_an_error() {
    for (fault, needle) in [
        (
            "iat:sm=132,sp=0,warps=0x1,lanes=0x1,dim=x,mask=0x1,pol=sa1",
            "`sm=132` is out of range: the device has 132 SMs",
        ),
        (
            "iat:sm=99999,sp=0,warps=0x1,lanes=0x1",
            "`sm=99999` is out of range",
        ),
        (
            "wv:sm=0,sp=0,warps=0x10000,lanes=0x1",
            "`warps=0x10000` is out of range",
        ),
        ("iat:sm=0,frob=1", "unknown key `frob`"),
    ] {
        let p = platform(&[("sim:h100#1", fault)]);
        let e = p
            .open(&"sim:h100#1".parse().unwrap())
            .err()
            .unwrap_or_else(|| panic!("{fault} accepted"));
        assert!(e.to_string().contains(needle), "{fault}: {e}");
        assert!(e.to_string().contains("sim:h100#1"), "{e}");
        // inspecting it says the same
        let e = p.info(&"sim:h100#1".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains(needle), "{fault}: {e}");
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_fault_that_arrives_is_absent_before_its_instant_and_an_injection_after_it() {
    let fault = "iat:sm=3,sp=1,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1";
    let spec = FaultSpec::parse(fault).unwrap();
    let subject: Arc<dyn Subject> = Arc::new(WorkloadSubject::new("vecadd", None, 1).unwrap());
    let golden = plain_run(
        open(&Platform::new(), "sim:h100").as_mut(),
        subject.as_ref(),
    )
    .unwrap();
    let want = injected(subject.clone(), &spec).unwrap();
    assert_ne!(want.arrays, golden.arrays, "the fault must show");
    let arriving = |at: f64| {
        let text = format!(
            r#"{{"gpus": {{"sim:h100#1": {{"fault": "{fault}", "fault_arrives_at": {at}}}}}}}"#
        );
        Platform::new()
            .with_node_config(NodeConfig::parse(&text, "test").unwrap())
            .with_fault_factory(Arc::new(InjectorFaults))
    };
    // In the past: faulty from the first launch, exactly as an injection.
    let p = arriving(unix_now() - 10.0);
    let out = plain_run(open(&p, "sim:h100#1").as_mut(), subject.as_ref()).unwrap();
    assert_eq!(out.arrays, want.arrays);
    // In the future: the instrumented, disarmed module computes the golden outputs.
    let p = arriving(unix_now() + 3600.0);
    let out = plain_run(open(&p, "sim:h100#1").as_mut(), subject.as_ref()).unwrap();
    assert_eq!(out.arrays, golden.arrays);
    // Crossing between two runs of one loaded module.
    let at = unix_now() + 1.5;
    let p = arriving(at);
    let mut dev = open(&p, "sim:h100#1");
    let m = dev.load(subject.ptx()).unwrap();
    let first = subject.run(dev.as_mut(), m).unwrap();
    assert!(unix_now() < at, "the run before the arrival took too long");
    assert_eq!(first.arrays, golden.arrays);
    std::thread::sleep(std::time::Duration::from_secs_f64(
        (at - unix_now()).max(0.0) + 0.05,
    ));
    let second = subject.run(dev.as_mut(), m).unwrap();
    assert_eq!(second.arrays, want.arrays);
}
