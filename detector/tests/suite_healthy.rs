//! A healthy virtual GPU of every profile: no finding, every SM and warp slot observed,
//! the same result on every run, and a cost within the budgets the hang limits are
//! derived from.

mod suite_support;

use detector::{Geometry, Level, Suite, SuiteRun};
use gpu::{Device, DeviceSpec, Platform};
use suite_support::check_on;

#[test]
fn every_profile_is_healthy_and_fully_covered() {
    let p = Platform::new();
    for (profile, sms) in [("sim", 8), ("sim:a100", 108), ("sim:h100", 132)] {
        let run = check_on(&p, profile).unwrap();
        assert!(run.findings.is_empty(), "{profile}: {:#?}", run.findings);
        let c = &run.coverage;
        assert!(c.complete(), "{profile}: {c:?}");
        assert_eq!((c.sms, c.warp_slots, c.sms_observed), (sms, 64, sms));
        assert_eq!(c.slots_observed, u64::from(sms) * 64);
        assert!(c.sms_unobserved.is_empty());
        assert_eq!(run.launches.len(), Suite.kernels().len());
        // every launch ran every thread, and their counts add up
        let sum: u64 = run.launches.iter().map(|l| l.instructions.unwrap()).sum();
        assert_eq!(run.instructions, Some(sum));
        // the quick level stays within the campaigns' budget: ≤ 1,000 thread-
        // instructions per thread over all kernels
        let threads = u64::from(sms) * 64 * 32;
        assert!(
            sum <= threads * 1000,
            "{profile}: {sum} thread-instructions"
        );
    }
}

#[test]
fn two_runs_give_identical_results() {
    let p = Platform::new();
    let strip = |mut r: SuiteRun| {
        for l in &mut r.launches {
            l.launch = Default::default();
            l.elapsed = Default::default();
        }
        r
    };
    let a = strip(check_on(&p, "sim").unwrap());
    let b = strip(check_on(&p, "sim").unwrap());
    assert_eq!(a, b);
}

#[test]
fn the_full_level_runs_every_kernel_with_every_seed() {
    let p = Platform::new();
    let spec: DeviceSpec = "sim".parse().unwrap();
    let info = p.info(&spec).unwrap();
    let mut dev = p.open(&spec).unwrap();
    let m = dev.load(Suite.ptx()).unwrap();
    let run = Suite
        .run_on(dev.as_mut(), m, &Geometry::of(&info), Level::Full)
        .unwrap();
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
    assert!(run.coverage.complete());
    let seeds: std::collections::BTreeSet<u32> = run.launches.iter().map(|l| l.seed).collect();
    assert_eq!(seeds.len(), 4);
    assert_eq!(run.launches.len(), 4 * Suite.kernels().len());
}

#[test]
fn a_geometry_the_suite_cannot_fill_is_an_error_not_a_verdict() {
    let p = Platform::new();
    let mut dev = p.open(&"sim".parse().unwrap()).unwrap();
    let m = dev.load(Suite.ptx()).unwrap();
    for (sms, slots, what) in [(0, 64, "0 SMs"), (8, 30, "30 warp slots")] {
        let g = Geometry {
            sms,
            warp_slots: slots,
        };
        let e = Suite.run_on(dev.as_mut(), m, &g, Level::Quick).unwrap_err();
        assert!(e.to_string().contains(what), "{e}");
    }
}

#[test]
fn a_module_without_the_suite_s_kernels_is_an_error() {
    let p = Platform::new();
    let spec: DeviceSpec = "sim".parse().unwrap();
    let info = p.info(&spec).unwrap();
    let mut dev = p.open(&spec).unwrap();
    let m = dev
        .load(".version 7.0\n.target sm_80\n.address_size 64\n")
        .unwrap();
    let e = Suite
        .run_on(dev.as_mut(), m, &Geometry::of(&info), Level::Quick)
        .unwrap_err();
    assert!(e.to_string().contains("sig_ids"), "{e}");
}

#[test]
fn what_the_scheduler_did_not_place_is_unobserved_never_faulty_nor_healthy() {
    // a geometry of 4 SMs on a device of 8: the virtual GPU puts one CTA on each of the
    // 8 SMs, so SMs 4-7 are beyond the geometry (they write nothing) and SMs 0-3 run
    // half their warp slots
    let p = Platform::new();
    let mut dev = p.open(&"sim".parse().unwrap()).unwrap();
    let m = dev.load(Suite.ptx()).unwrap();
    let g = Geometry {
        sms: 4,
        warp_slots: 64,
    };
    let run = Suite.run_on(dev.as_mut(), m, &g, Level::Quick).unwrap();
    assert!(run.findings.is_empty(), "{:#?}", run.findings);
    let c = &run.coverage;
    assert!(!c.complete());
    assert_eq!((c.sms_observed, c.slots_observed), (0, 4 * 32));
    assert_eq!(c.sms_unobserved, [0, 1, 2, 3]);
}
