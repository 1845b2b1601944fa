//! Site selections through the library (issue 20): dynamic weighting draws sites in
//! proportion to their thread-instructions, and the group and kernel filters keep only
//! the sites they name, with a clear error when nothing is left.

use gpu::{SimDevice, SimSpec};
use injector::{
    injection_rng, instrument, plan_campaign, profile_sites, restrict, sample_at, CampaignConfig,
    CampaignError, InstGroup, Model, Sampling, SamplingRules, SiteSelection, SiteWeight,
    SubjectSource, WorkloadSubject,
};
use std::collections::BTreeMap;

mod support;

fn profile(workload: &str, model: Model) -> injector::SiteProfile {
    let w = WorkloadSubject::new(workload, None, 1).unwrap();
    let module = ptx::parse(injector::Subject::ptx(&w)).unwrap();
    let inst = instrument(&module, model).unwrap();
    let mut dev = SimDevice::open(&SimSpec {
        profile: None,
        count: None,
        index: None,
        scheduling_seed: None,
    })
    .unwrap();
    profile_sites(&mut dev, &w, &inst).unwrap()
}

/// On gemm_naive the loop body runs once per k step and the prologue once per thread:
/// drawn dynamically, the share of faults at loop sites must match their share of the
/// thread-instructions (within 4 standard deviations of 2,000 draws), and be far above
/// their share of the static sites, which the static draw matches instead.
#[test]
fn dynamic_weighting_draws_sites_in_proportion_to_their_thread_instructions() {
    let p = profile("gemm_naive", Model::Fu);
    let rules = SamplingRules::faithful();
    let exercised: Vec<_> = p.exercised().collect();
    let counts: BTreeMap<(String, usize), u64> = exercised
        .iter()
        .map(|s| {
            (
                (s.site.function.clone(), s.site.index),
                s.thread_instructions,
            )
        })
        .collect();
    assert!(counts.values().all(|&c| c > 0));
    let max = *counts.values().max().unwrap();
    // hot: the sites run at least a quarter as often as the hottest one
    let hot = |k: &(String, usize)| counts[k] * 4 >= max;
    let total: u64 = counts.values().sum();
    let hot_count: u64 = counts.iter().filter(|(k, _)| hot(k)).map(|(_, c)| c).sum();
    let p_dynamic = hot_count as f64 / total as f64;
    let p_static = counts.keys().filter(|k| hot(k)).count() as f64 / counts.len() as f64;
    assert!(
        p_dynamic - p_static > 0.3,
        "the workload must have hot and cold sites: {p_dynamic} vs {p_static}"
    );
    println!(
        "p_dynamic {p_dynamic:.3} p_static {p_static:.3} sites {}",
        counts.len()
    );
    let n = 2000;
    for (weight, expected) in [
        (SiteWeight::Dynamic, p_dynamic),
        (SiteWeight::Static, p_static),
    ] {
        let mut hits = 0;
        for i in 0..n {
            let mut rng = injection_rng(20, "gemm_naive", Model::Fu, i);
            let (spec, site) =
                sample_at(&p, Sampling::Exercised, &rules, weight, &mut rng).unwrap();
            spec.validate().unwrap();
            hits += u32::from(hot(&(site.function.clone(), site.index)));
        }
        let got = f64::from(hits) / n as f64;
        let sd = (expected * (1.0 - expected) / n as f64).sqrt();
        assert!(
            (got - expected).abs() < 4.0 * sd + 1e-9,
            "{weight:?}: {got:.3} of faults at hot sites, expected {expected:.3} ± {:.3}",
            4.0 * sd
        );
    }
}

/// The static draw is the draw of `sample_with` (what default campaigns use).
#[test]
fn static_weighting_is_the_uniform_draw_of_sample_with() {
    let p = profile("bfs", Model::Iat);
    let rules = SamplingRules::faithful();
    for i in 0..200 {
        let mut a = injection_rng(3, "bfs", Model::Iat, i);
        let mut b = injection_rng(3, "bfs", Model::Iat, i);
        let (spec, _) =
            sample_at(&p, Sampling::Exercised, &rules, SiteWeight::Static, &mut a).unwrap();
        assert_eq!(
            Some(spec),
            injector::sample_with(&p, Sampling::Exercised, &rules, &mut b)
        );
    }
}

#[test]
fn filters_keep_the_named_groups_and_kernels_only() {
    let w = WorkloadSubject::new("bfs", None, 1).unwrap();
    let module = ptx::parse(injector::Subject::ptx(&w)).unwrap();
    let p = profile("bfs", Model::Fu);
    let sel = SiteSelection {
        kernels: vec!["bfs_init".into()],
        groups: vec![InstGroup::Gp],
        ..Default::default()
    };
    let kept = restrict(&sel, "bfs", &module, p.clone()).unwrap();
    assert!(!kept.sites.is_empty() && kept.sites.len() < p.sites.len());
    for s in &kept.sites {
        assert_eq!(s.site.function, "bfs_init");
        // GP: a general-purpose destination, so never a predicate (setp) or a store
        assert!(!s.site.op_group.starts_with("setp"), "{}", s.site.op_group);
    }
    let e = restrict(
        &SiteSelection {
            kernels: vec!["bfs".into()],
            ..Default::default()
        },
        "bfs",
        &module,
        p.clone(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "--kernel bfs: `bfs` has no such kernel (its kernels: bfs_init, bfs_expand)"
    );
}

#[test]
fn a_plan_refuses_a_group_the_workload_lacks_unless_empty_cells_are_allowed() {
    let mut c = CampaignConfig {
        sites: SiteSelection {
            groups: vec![InstGroup::Fp64],
            ..Default::default()
        },
        ..support::config(&["vecadd"], &[Model::Fu, Model::Wdrop], 4)
    };
    let e = plan_campaign(&c, &SubjectSource::standard(), 1, &mut |_| {}).unwrap_err();
    assert!(matches!(e, CampaignError::Selection(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "--groups: `vecadd` has no fu site in groups FP64 (its fu sites are in: FP32,LD,PR,OTHERS); --allow-empty-cells plans such cells with no injection"
    );
    c.sites.allow_empty = true;
    let plan = plan_campaign(&c, &SubjectSource::standard(), 1, &mut |_| {}).unwrap();
    let fu = &plan.cells[0];
    assert_eq!(
        (fu.model, fu.planned, fu.candidate_sites),
        (Model::Fu, 0, 0)
    );
    assert_eq!(
        fu.note.as_deref(),
        Some("`vecadd` has no fu site in the selection (groups FP64; static weight; empty cells allowed)")
    );
    // wdrop's site stands for the warp: the group filter does not apply to it
    let wdrop = &plan.cells[1];
    assert_eq!((wdrop.model, wdrop.planned), (Model::Wdrop, 4));
    assert!(plan
        .rows
        .iter()
        .all(|r| r.kernel.as_deref() == Some(injector::ALL_KERNELS)));
    // dynamic weighting with physical sampling is refused by name
    let e = CampaignConfig {
        sampling: Sampling::Physical,
        sites: SiteSelection {
            weight: SiteWeight::Dynamic,
            ..Default::default()
        },
        ..c
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("--site-weight: dynamic weighting"), "{e}");
}
