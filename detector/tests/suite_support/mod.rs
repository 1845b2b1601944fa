//! Shared by the suite's tests and examples: the suite as an injector campaign
//! subject (so faults are drawn by the campaigns' own sampler over the suite's own
//! sites), and one health-check run on a faulty virtual GPU.
#![allow(dead_code)]

use detector::{Geometry, Level, Suite, SuiteRun};
use gpu::{Device, DeviceSpec, GpuError, ModuleHandle, NodeConfig, Platform, SimDevice};
use injector::{FaultSpec, Model, Sampling, SiteProfile, Subject, SubjectRef};
use std::sync::Arc;
use workloads::{Arrays, Outputs, RunError};

/// The suite as a campaign subject on one virtual GPU profile.
pub struct SuiteSubject {
    id: SubjectRef,
    geometry: Geometry,
}

impl SuiteSubject {
    /// The subject for devices of `profile` (`sim`, `sim:a100`, `sim:h100`).
    pub fn new(profile: &str) -> SuiteSubject {
        let info = Platform::new()
            .info(&profile.parse().unwrap())
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
        SuiteSubject {
            id: SubjectRef {
                kind: "suite".into(),
                name: "suite".into(),
                source: None,
                digest: injector::digest_of([Suite.ptx().as_bytes()]),
            },
            geometry: Geometry::of(&info),
        }
    }
}

impl Subject for SuiteSubject {
    fn id(&self) -> &SubjectRef {
        &self.id
    }
    fn ptx(&self) -> &str {
        Suite.ptx()
    }
    fn run(&self, dev: &mut dyn Device, module: ModuleHandle) -> Result<Outputs, RunError> {
        let run = Suite.run_on(dev, module, &self.geometry, Level::Quick)?;
        assert!(run.findings.is_empty(), "the profiled run is healthy");
        Ok(Outputs::from_arrays(Arrays::default()))
    }
}

/// The sites of `model` in the suite, profiled on a healthy virtual GPU of `profile`.
pub fn site_profile(profile: &str, model: Model) -> SiteProfile {
    let subject = SuiteSubject::new(profile);
    let inst = injector::instrument(&ptx::parse(Suite.ptx()).unwrap(), model).unwrap();
    let spec = match profile.parse::<DeviceSpec>().unwrap() {
        DeviceSpec::Sim(s) => s,
        other => panic!("{other} is not a virtual GPU"),
    };
    let mut dev = SimDevice::open(&spec).unwrap();
    injector::profile_sites(&mut dev, &subject, &inst).unwrap()
}

/// Fault `index` of `model` drawn from `profile` with `seed`, as the campaigns draw it
/// (physical sampling: SM, warp slot and lane uniform over the device).
pub fn draw(profile: &SiteProfile, seed: u64, index: u64) -> FaultSpec {
    let mut rng = injector::injection_rng(seed, "suite", profile.model, index);
    injector::sample(profile, Sampling::Physical, &mut rng)
        .expect("the suite has sites of every model")
}

/// One quick check of GPU 1 of a virtual node of `profile` that carries `fault`.
pub fn check_faulty(profile: &str, fault: &FaultSpec) -> Result<SuiteRun, GpuError> {
    let name = format!("{profile}#1");
    let config = format!("{{\"gpus\": {{\"{name}\": {{\"fault\": \"{fault}\"}}}}}}");
    let platform = Platform::new()
        .with_node_config(NodeConfig::parse(&config, "test").unwrap())
        .with_fault_factory(Arc::new(injector::InjectorFaults));
    check_on(&platform, &name)
}

/// One quick check of device `name` of `platform`.
pub fn check_on(platform: &Platform, name: &str) -> Result<SuiteRun, GpuError> {
    let spec: DeviceSpec = name.parse().unwrap();
    let info = platform.info(&spec)?;
    let mut dev = platform.open(&spec)?;
    let m = dev.load(Suite.ptx())?;
    Suite.run_on(dev.as_mut(), m, &Geometry::of(&info), Level::Quick)
}

/// Whether a run detected the fault, and how its findings name the faulty SM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Judged {
    /// Some finding.
    pub detected: bool,
    /// The faulty SM is among the SMs the findings name.
    pub sm_named: bool,
    /// The findings name the faulty SM and no other.
    pub sm_only: bool,
    /// The first finding that names an SM names the faulty one.
    pub sm_first: bool,
}

pub fn judge(run: &SuiteRun, fault: &FaultSpec) -> Judged {
    let sms = run.sms_named();
    Judged {
        detected: !run.findings.is_empty(),
        sm_named: sms.contains(&fault.sm),
        sm_only: sms == [fault.sm],
        sm_first: sms.first() == Some(&fault.sm),
    }
}
