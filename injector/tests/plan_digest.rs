//! Default campaign plans draw exactly the faults they drew before site selections
//! (instruction groups, kernels, dynamic weighting) existed: the specs of a plan over
//! four workloads (two with several kernels) and every model, under both rule presets
//! and both sampling modes, folded into one digest, and the plan hashes, pinned from
//! main at 33efe6d (the commit before site selections).

use injector::{
    plan_campaign, CampaignConfig, Model, RulePreset, Sampling, SamplingRules, SubjectSource,
};

mod support;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[test]
fn default_plans_draw_what_they_drew_before_site_selections() {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut hashes = Vec::new();
    for (preset, sampling) in [
        (RulePreset::Faithful, Sampling::Exercised),
        (RulePreset::V1, Sampling::Physical),
    ] {
        let c = CampaignConfig {
            rules: SamplingRules {
                preset,
                overrides: Vec::new(),
            },
            sampling,
            seed: 2026,
            ..support::config(&["vecadd", "bfs", "lenet", "lavamd"], &Model::ALL, 12)
        };
        let plan = plan_campaign(&c, &SubjectSource::standard(), 2, &mut |_| {}).unwrap();
        for r in &plan.rows {
            h = fnv(
                h,
                format!("{}\t{}\t{}\t{}\n", r.subject, r.model, r.index, r.spec).as_bytes(),
            );
        }
        hashes.push(plan.hash());
    }
    println!("digest {h:#018x}, hashes {hashes:?}");
    assert_eq!(h, 0xf1a3_2d6e_a482_64d9);
    assert_eq!(
        hashes,
        [
            "a68cd3d13667453d94eda9031203c5886f70775a2f83731b0a3721e225e468d8",
            "e1a96c157e352173f88aa1073365d9b0dc1087f741c3bf22107f675b5879c5c9"
        ]
    );
}
