//! No fault site of the suite is idle: for every fault model, what a fault of it is
//! keyed by (an opcode group for `ioc`, `ir`, `fu`; the dimension for `iat`, `iaw`,
//! `iac`; lane-on or lane-off for `ial`; any site otherwise) runs in every lane of
//! every warp slot of every SM — so wherever the campaigns' physical sampling puts a
//! fault, the suite executes what it corrupts. (Executing is necessary, not
//! sufficient: that the corruption reaches a record is what `suite_models` tests.)

mod suite_support;

use injector::{ExercisedSite, Model, SiteProfile};
use std::collections::BTreeMap;
use suite_support::site_profile;

/// The key faults of `model` are drawn by at `site`, and the lanes of (SM, slot) that
/// can be corrupted there.
fn key_and_lanes(model: Model, site: &ExercisedSite) -> Vec<(String, u32, u32, u32)> {
    let info = &site.site.info;
    site.slots
        .iter()
        .flat_map(|sl| {
            let mut v = Vec::new();
            match model {
                Model::Ioc | Model::Ir | Model::Fu => {
                    v.push((site.site.op_group.clone(), sl.sm, sl.slot, sl.executed))
                }
                Model::Iat | Model::Iaw | Model::Iac => {
                    v.push((format!("dim {}", info.dims), sl.sm, sl.slot, sl.executed))
                }
                Model::Ial => {
                    if info.lane_off {
                        v.push(("off".into(), sl.sm, sl.slot, sl.executed));
                    }
                    if info.guarded {
                        v.push(("on".into(), sl.sm, sl.slot, sl.active & !sl.executed));
                    }
                }
                _ => v.push(("any".into(), sl.sm, sl.slot, sl.executed)),
            }
            v
        })
        .collect()
}

fn check(model: Model, p: &SiteProfile) -> Vec<String> {
    // key → (SM, slot) → lanes
    let mut keys: BTreeMap<String, BTreeMap<(u32, u32), u32>> = BTreeMap::new();
    for s in &p.sites {
        let info = &s.site.info;
        let key = match model {
            Model::Ioc | Model::Ir | Model::Fu => s.site.op_group.clone(),
            Model::Iat | Model::Iaw | Model::Iac => format!("dim {}", info.dims),
            _ => "any".into(),
        };
        if model != Model::Ial {
            keys.entry(key).or_default();
        }
        for (k, sm, slot, lanes) in key_and_lanes(model, s) {
            *keys.entry(k).or_default().entry((sm, slot)).or_default() |= lanes;
        }
    }
    if model == Model::Ial {
        // lane-on exists when a site is guarded; lane-off when one writes a result
        for (k, present) in [
            ("on", p.sites.iter().any(|s| s.site.info.guarded)),
            ("off", p.sites.iter().any(|s| s.site.info.lane_off)),
        ] {
            if present {
                keys.entry(k.into()).or_default();
            }
        }
    }
    let mut idle = Vec::new();
    for (key, slots) in &keys {
        for sm in 0..p.sms {
            for slot in 0..p.warp_slots {
                let lanes = slots.get(&(sm, slot)).copied().unwrap_or(0);
                if lanes != u32::MAX {
                    idle.push(format!(
                        "{model} `{key}`: SM {sm} slot {slot} runs it in lanes {lanes:#010x}"
                    ));
                }
            }
        }
    }
    idle
}

#[test]
fn every_site_kind_runs_in_every_lane_of_every_warp_slot() {
    let mut idle = Vec::new();
    for model in Model::ALL {
        let p = site_profile("sim", model);
        idle.extend(check(model, &p).into_iter().take(5));
    }
    assert!(idle.is_empty(), "idle:\n{}", idle.join("\n"));
}

#[test]
fn a_lane_that_never_runs_a_site_kind_is_reported() {
    // the same check on a profile where lane 5 of SM 1, slot 2 never runs `popc.b32`
    let mut p = site_profile("sim", Model::Fu);
    let mut removed = false;
    for s in p.sites.iter_mut().filter(|s| s.site.op_group == "popc.b32") {
        for sl in s.slots.iter_mut().filter(|sl| (sl.sm, sl.slot) == (1, 2)) {
            sl.executed &= !(1 << 5);
            removed = true;
        }
    }
    assert!(removed);
    let idle = check(Model::Fu, &p);
    assert_eq!(
        idle,
        ["fu `popc.b32`: SM 1 slot 2 runs it in lanes 0xffffffdf"]
    );
}
