//! Seeded sampling over exercised sites: every model activates on some workload, and
//! the same seed gives the same faults and the same outcomes, bit for bit.

use gpu::{SimDevice, SimSpec};
use injector::{
    injection_rng, instrument, profile_sites, sample, Model, Sampling, Subject, Target,
    WorkloadSubject,
};
use std::sync::Arc;

fn subject(w: &'static dyn workloads::Workload, seed: u64) -> Arc<dyn Subject> {
    Arc::new(WorkloadSubject::of(w, None, seed).unwrap())
}

fn sim_profile(profile: Option<&str>) -> SimDevice {
    SimDevice::open(&SimSpec {
        profile: profile.map(String::from),
        count: None,
        index: None,
        scheduling_seed: None,
    })
    .unwrap()
}

fn sim() -> SimDevice {
    sim_profile(None)
}

#[test]
fn every_model_activates_on_some_workload() {
    let mut missing = Vec::new();
    for model in Model::ALL {
        let mut activated = false;
        'workloads: for w in workloads::all() {
            let meta = w.meta();
            let s = subject(*w, 1);
            let inst = instrument(&ptx::parse(w.ptx()).unwrap(), model).unwrap();
            let mut dev = sim();
            let profile = profile_sites(&mut dev, s.as_ref(), &inst).unwrap();
            if profile.exercised().next().is_none() {
                continue;
            }
            let target = Target::new(&mut dev, s, inst).unwrap();
            for i in 0..4 {
                let mut rng = injection_rng(3, meta.name, model, i);
                let spec = sample(&profile, Sampling::Exercised, &mut rng).unwrap();
                let inj = target.inject(&mut dev, &spec).unwrap();
                if inj.activations.unwrap_or(0) > 0 {
                    activated = true;
                    break 'workloads;
                }
            }
        }
        if !activated {
            missing.push(model.id());
        }
    }
    assert!(missing.is_empty(), "models never activated: {missing:?}");
}

#[test]
fn same_seed_same_faults_same_outcomes() {
    let w = workloads::by_name("gemm_tiled").unwrap();
    let run = || {
        let mut results = Vec::new();
        for model in [Model::Iat, Model::Wv, Model::Ioc, Model::Imd] {
            let s = subject(w, 9);
            let inst = instrument(&ptx::parse(w.ptx()).unwrap(), model).unwrap();
            let mut dev = sim();
            let profile = profile_sites(&mut dev, s.as_ref(), &inst).unwrap();
            let target = Target::new(&mut dev, s, inst).unwrap();
            for i in 0..3 {
                let spec = sample(
                    &profile,
                    Sampling::Exercised,
                    &mut injection_rng(42, "gemm_tiled", model, i),
                )
                .unwrap();
                let inj = target.inject(&mut dev, &spec).unwrap();
                results.push((
                    spec.to_string(),
                    format!("{:?}", inj.outcome),
                    inj.activations,
                    inj.instructions,
                ));
            }
        }
        results
    };
    let a = run();
    let b = run();
    assert_eq!(a, b);
    // and a different seed draws different faults
    let spec0 = a[0].0.clone();
    let inst = instrument(&ptx::parse(w.ptx()).unwrap(), Model::Iat).unwrap();
    let mut dev = sim();
    let profile = profile_sites(&mut dev, subject(w, 9).as_ref(), &inst).unwrap();
    let other = sample(
        &profile,
        Sampling::Exercised,
        &mut injection_rng(43, "gemm_tiled", Model::Iat, 0),
    )
    .unwrap();
    assert_ne!(other.to_string(), spec0);
}

#[test]
fn physical_sampling_reaches_the_whole_device() {
    let w = workloads::by_name("vecadd").unwrap();
    let inst = instrument(&ptx::parse(w.ptx()).unwrap(), Model::Iaw).unwrap();
    let mut dev = sim_profile(Some("h100"));
    let profile = profile_sites(&mut dev, subject(w, 1).as_ref(), &inst).unwrap();
    assert_eq!(profile.sms, 132);
    let sms: std::collections::BTreeSet<u32> = (0..400)
        .map(|i| {
            sample(
                &profile,
                Sampling::Physical,
                &mut injection_rng(1, "vecadd", Model::Iaw, i),
            )
            .unwrap()
            .sm
        })
        .collect();
    assert!(
        sms.len() > 100,
        "physical sampling should spread over the 132 SMs: {}",
        sms.len()
    );
    assert!(sms.iter().all(|&s| s < 132));
}
