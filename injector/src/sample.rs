//! Fault-site profiles and seeded fault sampling.
//!
//! A [`SiteProfile`] says, for one subject and model on one virtual GPU profile,
//! which candidate sites of the model ([`crate::Site`]) ran, and on which SM, warp slot
//! and lanes — from one profiled run of the uninstrumented workload. [`sample`] draws a
//! [`FaultSpec`] from it with a per-injection generator ([`injection_rng`]), in one of
//! two modes ([`Sampling`]): only over exercised sites (every fault can activate) or over
//! the whole physical space (SM, warp slot, lanes uniform; many faults are never
//! activated, which the campaign reports honestly). [`sample_at`] also draws exercised
//! sites in proportion to their thread-instructions ([`crate::SiteWeight`]) and names the
//! site it drew at.
//!
//! The parameter choices reproduce NVBitPERfi's where it made them (lane subsets of 1-31
//! for iat/wv/ims/imd/brx, all 32 lanes for iaw/iac/ira/ioc/iio/ir, 1-2 lanes for ial,
//! random warp subsets of one sub-partition, single-bit masks, stuck-at 0 or 1 with a
//! forced flip), but with the SM and sub-partition drawn too and every draw seeded.

use crate::filter::SiteWeight;
use crate::instrument::{Instrumented, Site};
use crate::model::Model;
use crate::rules::{Draw, LaunchDims, SamplingRules};
use crate::spec::{FaultSpec, Policy};
use crate::subject::Subject;
use gpu::{Device, SimDevice};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use workloads::RunError;

/// Where faults are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Only (site, SM, warp slot, lanes) combinations the profiled run executed.
    Exercised,
    /// SM, warp slot and lanes uniform over the device; parameters from a random
    /// candidate site.
    Physical,
}

impl Sampling {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Exercised => "exercised",
            Sampling::Physical => "physical",
        }
    }
}

/// The lanes one warp slot of one SM ran a site with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLanes {
    /// SM.
    pub sm: u32,
    /// Warp slot.
    pub slot: u32,
    /// Lanes active when the site issued (guard true or false).
    pub active: u32,
    /// Lanes whose guard was true.
    pub executed: u32,
}

/// A candidate site and where it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExercisedSite {
    /// The site.
    pub site: Site,
    /// Every (SM, warp slot) that ran it, with its lanes; empty when it never ran.
    pub slots: Vec<SlotLanes>,
    /// Warp-instructions executed at the site.
    pub warp_instructions: u64,
    /// Thread-instructions executed at the site (lanes active when it issued): the
    /// weight of [`crate::SiteWeight::Dynamic`]. 0 in profiles from before it was kept.
    #[serde(default)]
    pub thread_instructions: u64,
}

/// The candidate sites of one model in one workload, with where each ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteProfile {
    /// The model.
    pub model: Model,
    /// SMs of the profiled device.
    pub sms: u32,
    /// Warp slots per SM of the profiled device.
    pub warp_slots: u32,
    /// Every candidate site, exercised or not.
    pub sites: Vec<ExercisedSite>,
    /// The largest grid and block the profiled run launched (zeros when nothing was
    /// profiled): the range of `blockdim`/`griddim` masks.
    #[serde(default)]
    pub launch: LaunchDims,
}

impl SiteProfile {
    /// Sites that ran at least once.
    pub fn exercised(&self) -> impl Iterator<Item = &ExercisedSite> {
        self.sites.iter().filter(|s| !s.slots.is_empty())
    }

    /// The sites campaigns under `rules` draw from (all but those of a model option the
    /// rules do not fix, such as `ims`'s `%ntid` reads without `ims.src=all`).
    pub fn drawn<'a>(&'a self, rules: &SamplingRules) -> impl Iterator<Item = &'a ExercisedSite> {
        let (kind, mr) = (self.model.kind(), rules.of(self.model));
        self.sites
            .iter()
            .filter(move |s| kind.enabled(&s.site, &mr))
    }
}

/// Runs `subject` once on `dev` with profiling and maps the candidate sites of
/// `instrumented` to the SMs, warp slots and lanes that executed them.
pub fn profile_sites(
    dev: &mut SimDevice,
    subject: &dyn Subject,
    instrumented: &Instrumented,
) -> Result<SiteProfile, RunError> {
    let (sms, warp_slots) = {
        let p = dev.gpu().profile();
        (p.sms, p.warp_slots)
    };
    let module = dev.load(subject.ptx())?;
    dev.start_profiling();
    let result = subject.run(dev, module);
    let launches = dev.take_profiles();
    result?;
    let mut launch = LaunchDims::default();
    for l in launches.iter().filter(|l| l.module == module) {
        launch.cover(l.grid, l.block);
    }
    let n = instrumented.sites.len();
    // per site: (SM, warp slot) → (active lanes, executed lanes), warp- and
    // thread-instructions
    type Ran = (BTreeMap<(u32, u32), (u32, u32)>, u64, u64);
    let mut per_site: Vec<Ran> = vec![Default::default(); n];
    // Per launch, every site's pc and the warp slots that ran it, in one pass each.
    for l in launches.iter().filter(|l| l.module == module) {
        let pcs = l.profile.pcs_of(
            instrumented
                .sites
                .iter()
                .map(|s| (s.function.as_str(), s.index as u32)),
        );
        let found: Vec<(usize, u32)> = pcs
            .iter()
            .enumerate()
            .filter_map(|(i, pc)| pc.map(|pc| (i, pc)))
            .collect();
        let wanted: Vec<u32> = found.iter().map(|&(_, pc)| pc).collect();
        for (&(i, pc), ran) in found.iter().zip(l.profile.slots_at(&wanted)) {
            let (slots, warp_instructions, threads) = &mut per_site[i];
            *warp_instructions += l.profile.warp_count(pc);
            *threads += l.profile.thread_count(pc);
            for (sm, slot, active, executed) in ran {
                let e = slots.entry((sm, slot)).or_default();
                e.0 |= active;
                e.1 |= executed;
            }
        }
    }
    let mut sites = Vec::with_capacity(n);
    for (site, (slots, warp_instructions, thread_instructions)) in
        instrumented.sites.iter().zip(per_site)
    {
        sites.push(ExercisedSite {
            site: site.clone(),
            slots: slots
                .into_iter()
                .map(|((sm, slot), (active, executed))| SlotLanes {
                    sm,
                    slot,
                    active,
                    executed,
                })
                .collect(),
            warp_instructions,
            thread_instructions,
        });
    }
    Ok(SiteProfile {
        model: instrumented.model,
        sms,
        warp_slots,
        sites,
        launch,
    })
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The generator of injection `index` of (`workload`, `model`) in a campaign seeded
/// with `seed`: independent of every other injection, identical on every machine.
pub fn injection_rng(seed: u64, workload: &str, model: Model, index: u64) -> ChaCha8Rng {
    let mut h = 0xcbf2_9ce4_8422_2325;
    h = fnv(h, &seed.to_le_bytes());
    h = fnv(h, workload.as_bytes());
    h = fnv(h, &[0]);
    h = fnv(h, model.id().as_bytes());
    h = fnv(h, &index.to_le_bytes());
    ChaCha8Rng::seed_from_u64(h)
}

/// The virtual GPU's scheduling seed (CTA placement and order, warp turns) for fault
/// `index` of (`subject`, `model`) in a coverage campaign seeded with `seed`: each fault
/// runs under its own schedule, so coverage does not hinge on one placement; drawn
/// from a stream of its own, independent of the fault's.
pub fn scheduling_seed(seed: u64, subject: &str, model: Model, index: u64) -> u64 {
    injection_rng(seed, &format!("{subject}\0schedule"), model, index).next_u64()
}

/// A number in `0..n` (0 when `n` is 0).
pub(crate) fn below(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    ((u64::from(rng.next_u32()) * u64::from(n.max(1))) >> 32) as u32
}

/// One element of `v`, `None` when it is empty.
pub(crate) fn pick<T: Copy>(rng: &mut ChaCha8Rng, v: &[T]) -> Option<T> {
    (!v.is_empty()).then(|| v[below(rng, v.len() as u32) as usize])
}

fn bits_of(mask: u32) -> Vec<u32> {
    (0..32).filter(|b| mask >> b & 1 == 1).collect()
}

/// A random subset of `0..n` of random size in `lo..=hi`, always containing `must`.
pub(crate) fn subset(rng: &mut ChaCha8Rng, n: u32, lo: u32, hi: u32, must: u32) -> u32 {
    let n = n.clamp(1, 32);
    let hi = hi.min(n).max(1);
    let lo = lo.clamp(1, hi);
    let size = lo + below(rng, hi - lo + 1);
    let mut set = 1u32 << must;
    while set.count_ones() < size {
        set |= 1 << below(rng, n);
    }
    set
}

/// A mask of one bit in `0..width`.
pub(crate) fn single_bit(rng: &mut ChaCha8Rng, width: u32) -> u64 {
    1u64 << below(rng, width.clamp(1, 64))
}

/// Stuck-at 0 or 1, evenly.
pub(crate) fn stuck(rng: &mut ChaCha8Rng) -> Policy {
    if rng.next_u32() & 1 == 0 {
        Policy::Sa0
    } else {
        Policy::Sa1
    }
}

/// Draws one fault for `profile`'s model with the `v1` rules (single-bit masks; see
/// [`SamplingRules`]), as campaigns did before rules existed and as the health check's
/// coverage campaigns do. `None` when the model has no candidate site in the workload
/// (or, for [`Sampling::Exercised`], no exercised one).
pub fn sample(
    profile: &SiteProfile,
    sampling: Sampling,
    rng: &mut ChaCha8Rng,
) -> Option<FaultSpec> {
    sample_with(profile, sampling, &SamplingRules::v1(), rng)
}

/// Draws one fault for `profile`'s model with `rules`: the site, SM, warp slot and one
/// lane as [`sample`] does, the warp slots, lanes and parameters by the model's rules.
pub fn sample_with(
    profile: &SiteProfile,
    sampling: Sampling,
    rules: &SamplingRules,
    rng: &mut ChaCha8Rng,
) -> Option<FaultSpec> {
    sample_at(profile, sampling, rules, SiteWeight::Static, rng).map(|(spec, _)| spec)
}

/// [`sample_with`], with the exercised site drawn by `weight` (uniform, or in proportion
/// to its thread-instructions; [`Sampling::Physical`] draws uniformly either way), and
/// the site the fault was drawn at.
pub fn sample_at<'a>(
    profile: &'a SiteProfile,
    sampling: Sampling,
    rules: &SamplingRules,
    weight: SiteWeight,
    rng: &mut ChaCha8Rng,
) -> Option<(FaultSpec, &'a Site)> {
    let model = profile.model;
    let kind = model.kind();
    let per_sp = (profile.warp_slots / 4).max(1);
    let mr = rules.of(model);
    if let Some(own) = kind.sampler() {
        // a transient fault: drawn over the run's thread-instructions, whatever `sampling`
        let (mut spec, site) = own(profile, &mr, rng)?;
        SamplingRules::fix(&mr, &mut spec.params);
        return Some((spec, &profile.sites.get(site)?.site));
    }
    let cx = Draw {
        rules: &mr,
        dims: profile.launch,
    };
    match sampling {
        Sampling::Exercised => {
            let exercised: Vec<&ExercisedSite> = profile
                .drawn(rules)
                .filter(|s| !s.slots.is_empty())
                .collect();
            let es = match weight {
                SiteWeight::Static => *exercised.get(below(rng, exercised.len() as u32) as usize)?,
                SiteWeight::Dynamic => by_count(rng, &exercised)?,
            };
            let lane_on = kind.lane_on_exercised(es, rng);
            let candidates: Vec<&SlotLanes> = es
                .slots
                .iter()
                .filter(|s| !lane_on || s.active & !s.executed != 0)
                .collect();
            let sl = *candidates.get(below(rng, candidates.len() as u32) as usize)?;
            let lane_pool = if lane_on {
                sl.active & !sl.executed
            } else if sl.executed != 0 {
                sl.executed
            } else {
                sl.active
            };
            let must = pick(rng, &bits_of(lane_pool)).unwrap_or(0);
            let sp = sl.slot % 4;
            let warps = mr.warps.draw(rng, per_sp, sl.slot);
            let lanes = mr.lanes.draw(rng, must);
            let mut params = kind.draw(rng, &es.site, lane_on, &cx);
            SamplingRules::fix(&mr, &mut params);
            let spec = FaultSpec {
                model,
                sm: sl.sm,
                sp,
                warps,
                lanes,
                params,
            };
            Some((spec, &es.site))
        }
        Sampling::Physical => {
            let sites: Vec<&ExercisedSite> = profile.drawn(rules).collect();
            let site: &'a Site = &sites.get(below(rng, sites.len() as u32) as usize)?.site;
            let sm = below(rng, profile.sms);
            let slot = below(rng, profile.warp_slots);
            let must = below(rng, 32);
            let warps = mr.warps.draw(rng, per_sp, slot);
            let lanes = mr.lanes.draw(rng, must);
            let lane_on = kind.lane_on_physical(site, rng);
            let mut params = kind.draw(rng, site, lane_on, &cx);
            SamplingRules::fix(&mr, &mut params);
            let spec = FaultSpec {
                model,
                sm,
                sp: slot % 4,
                warps,
                lanes,
                params,
            };
            Some((spec, site))
        }
    }
}

/// One of `sites`, each with probability proportional to its thread-instructions
/// (`None` when none has any).
fn by_count<'a>(rng: &mut ChaCha8Rng, sites: &[&'a ExercisedSite]) -> Option<&'a ExercisedSite> {
    let total: u64 = sites.iter().map(|s| s.thread_instructions).sum();
    if total == 0 {
        return None;
    }
    let mut x = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u64;
    for s in sites {
        if x < s.thread_instructions {
            return Some(s);
        }
        x -= s.thread_instructions;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_contain_the_required_member_and_respect_sizes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let must = below(&mut rng, 32);
            let s = subset(&mut rng, 32, 1, 31, must);
            assert!(s >> must & 1 == 1);
            assert!((1..=31).contains(&s.count_ones()));
            let s = subset(&mut rng, 16, 1, 2, 3);
            assert!(s & 8 != 0 && s.count_ones() <= 2 && s < 1 << 16);
        }
    }

    #[test]
    fn injection_generators_are_independent_and_reproducible() {
        let a = injection_rng(1, "bfs", Model::Iat, 0).next_u64();
        assert_eq!(a, injection_rng(1, "bfs", Model::Iat, 0).next_u64());
        assert_ne!(a, injection_rng(1, "bfs", Model::Iat, 1).next_u64());
        assert_ne!(a, injection_rng(2, "bfs", Model::Iat, 0).next_u64());
        assert_ne!(a, injection_rng(1, "bfs", Model::Iaw, 0).next_u64());
        assert_ne!(a, injection_rng(1, "nw", Model::Iat, 0).next_u64());
    }
}

#[cfg(test)]
mod v1_pin {
    use super::*;
    use crate::instrument::SiteInfo;

    /// A profile of `model` with sites of every kind of fact the sampler reads, run
    /// on a few SMs and warp slots with partial lanes.
    pub(crate) fn synthetic(model: Model) -> SiteProfile {
        let info = |dims, width, guarded, lane_off, space, variants: Vec<u32>| SiteInfo {
            dims,
            width,
            guarded,
            lane_off,
            space,
            variants,
            sreg: false,
        };
        let infos = [
            info(1, 32, true, true, Some('g'), vec![0, 1, 4, 5]),
            info(2, 64, false, true, Some('s'), vec![2, 3]),
            info(4, 16, true, false, Some('l'), vec![1]),
            info(1, 0, false, false, None, vec![]),
        ];
        let sites = infos
            .into_iter()
            .enumerate()
            .map(|(k, info)| ExercisedSite {
                site: Site {
                    function: "k".into(),
                    index: k,
                    line: 10 + k as u32,
                    op_group: ["add.s32", "mul.lo.u64", "ld.global.f32", "setp.lt.s32"][k].into(),
                    info,
                },
                slots: (0..k as u32 + 1)
                    .map(|j| SlotLanes {
                        sm: 3 * j + k as u32,
                        slot: 5 * j + k as u32,
                        active: u32::MAX >> j,
                        executed: (u32::MAX >> j) & !(0xf0 << k),
                    })
                    .collect(),
                warp_instructions: 100,
                thread_instructions: 3200,
            })
            .collect();
        let mut sites: Vec<ExercisedSite> = sites;
        if model == Model::Ims {
            // a `%ntid` read, drawn only under `ims.src=all`: the v1 draws skip it
            let mut s = sites[0].clone();
            s.site.info.sreg = true;
            s.site.index = 99;
            sites.insert(1, s);
        }
        SiteProfile {
            model,
            sms: 132,
            warp_slots: 64,
            sites,
            launch: LaunchDims::default(),
        }
    }

    /// The specs `sample` draws from the synthetic profiles, 200 per model and mode,
    /// folded into one FNV-1a digest: 0x45085779c40dc779 is the digest of the specs the
    /// code before sampling rules drew (main at e40a63f). `sample` must keep drawing
    /// them: the health check's coverage figures were measured with these faults.
    #[test]
    fn sample_draws_what_it_drew_before_sampling_rules() {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut first = Vec::new();
        for m in Model::ALL {
            let p = synthetic(m);
            for sampling in [Sampling::Exercised, Sampling::Physical] {
                for i in 0..200 {
                    let mut rng = injection_rng(2026, "w", m, i);
                    let s = sample(&p, sampling, &mut rng).unwrap().to_string();
                    let mut rng = injection_rng(2026, "w", m, i);
                    let with = sample_with(&p, sampling, &SamplingRules::v1(), &mut rng);
                    assert_eq!(with.unwrap().to_string(), s);
                    if i == 0 {
                        first.push(s.clone());
                    }
                    h = fnv(h, s.as_bytes());
                }
            }
        }
        // a few of them in full, from the same run of the old code
        for s in [
            "iat:sm=4,sp=2,warps=0x6b0b,lanes=0xfff7ef5f,dim=y,mask=0x40,pol=sa1,force=1",
            "iac:sm=13,sp=1,warps=0x4081,lanes=0xffffffff,dim=z,mask=0x2,pol=sa0,force=1",
            "wv:sm=46,sp=1,warps=0xf775,lanes=0x82140100,pol=sa0",
            "ims:sm=6,sp=0,warps=0xfb65,lanes=0x44001,mask=0x800000",
            "imd:sm=61,sp=3,warps=0xef6d,lanes=0x80000400,mask=0x40000000,mode=data,spaces=slg",
            "iio:sm=1,sp=1,warps=0x91,lanes=0xffffffff,mask=0x100000",
            "fu:sm=33,sp=2,warps=0xffffffff,lanes=0x40000,mask=0x8,op=ld.global.f32",
        ] {
            assert!(first.iter().any(|f| f == s), "{s} not drawn");
        }
        assert_eq!(h, 0x4508_5779_c40d_c779);
    }

    #[test]
    fn faithful_rules_draw_nvbitperfi_masks() {
        let rules = SamplingRules::faithful();
        for m in [Model::Iat, Model::Iaw, Model::Iac, Model::Wv, Model::Iio] {
            let mut p = synthetic(m);
            p.launch = LaunchDims {
                block: [256, 8, 1],
                grid: [40, 3, 1],
            };
            let mut wide = 0;
            for i in 0..500 {
                let mut rng = injection_rng(7, "w", m, i);
                let spec = sample_with(&p, Sampling::Exercised, &rules, &mut rng).unwrap();
                spec.validate().unwrap();
                let dims = |p: &crate::IdParams| {
                    let d = p.dim.unwrap() as usize;
                    (d.trailing_zeros() as usize, p.mask.unwrap())
                };
                match &spec.params {
                    crate::Params::Iat(q) | crate::Params::Iaw(q) => {
                        let (axis, mask) = dims(q);
                        assert!((1..=u64::from(p.launch.block[axis])).contains(&mask));
                        wide += u32::from(mask.count_ones() > 1);
                    }
                    crate::Params::Iac(q) => {
                        let (axis, mask) = dims(q);
                        assert!((1..=u64::from(p.launch.grid[axis])).contains(&mask));
                        wide += u32::from(mask.count_ones() > 1);
                    }
                    crate::Params::Wv(q) => assert_eq!(q.pol, Some(Policy::Xor)),
                    crate::Params::Iio(q) => {
                        let mask = q.mask.unwrap();
                        assert!(mask <= u64::from(u32::MAX));
                        wide += u32::from(mask.count_ones() > 1);
                    }
                    other => panic!("{other:?}"),
                }
            }
            if m != Model::Wv {
                // multi-bit masks are the point of the faithful rules
                assert!(
                    wide > 100,
                    "{m}: {wide} of 500 masks have more than one bit"
                );
            }
        }
    }

    #[test]
    fn special_register_sites_of_ims_are_drawn_only_with_src_all() {
        let p = synthetic(Model::Ims);
        let all = SamplingRules {
            preset: crate::RulePreset::Faithful,
            overrides: vec!["ims.src=all".parse().unwrap()],
        };
        assert_eq!(p.drawn(&SamplingRules::faithful()).count(), 4);
        assert_eq!(p.drawn(&all).count(), 5);
        let mut srcs = 0;
        for i in 0..200 {
            let mut rng = injection_rng(5, "w", Model::Ims, i);
            let spec = sample_with(&p, Sampling::Physical, &all, &mut rng).unwrap();
            let crate::Params::Ims(q) = &spec.params else {
                panic!()
            };
            assert_eq!(q.src, Some(crate::ImsSrc::All));
            srcs += 1;
        }
        assert_eq!(srcs, 200);
    }

    #[test]
    fn overrides_and_fixed_parameters_reach_the_drawn_faults() {
        let rules = SamplingRules {
            preset: crate::RulePreset::V1,
            overrides: vec![
                "imd.mode=addr".parse().unwrap(),
                "imd.lanes=one".parse().unwrap(),
                "imd.warps=one".parse().unwrap(),
            ],
        };
        let p = synthetic(Model::Imd);
        for i in 0..100 {
            let mut rng = injection_rng(1, "w", Model::Imd, i);
            let spec = sample_with(&p, Sampling::Physical, &rules, &mut rng).unwrap();
            let crate::Params::Imd(q) = &spec.params else {
                panic!()
            };
            assert_eq!(q.mode, Some(crate::ImdMode::Addr));
            assert_eq!(spec.lanes.count_ones(), 1);
            assert_eq!(spec.warps.count_ones(), 1);
            spec.validate().unwrap();
        }
    }
}
