//! `sig_ids` — warp scheduling and thread/CTA ids (`iat`, `iaw`, `iac`, `wdrop`).
//!
//! Every thread records the `%tid.{x,y,z}` and `%ctaid.{x,y,z}` it reads and the result
//! of a loop whose trip count (0–7) depends on its lane and warp slot. The block is
//! (32, 4, W/4), so `%tid.x` must equal `%laneid`, `(%tid.y, %tid.z)` is the warp's
//! index `w` in its CTA, and the grid is (SMs, k, 1). Each thread also writes its
//! `%warpid` into the CTA's shared memory at `[w][lane]` and, after a `bar.red.popc`
//! (which counts the CTA's threads), reads those of warps `w ^ 1` and `w ^ W/2`: CTA
//! membership is physical (one shared memory per CTA), so a warp claiming a CTA it is
//! not in reads the wrong partners even when every claim looks consistent (two CTAs of
//! one SM that swap their ids in one sub-partition). `tid.ballot` is the ballot of
//! `%tid.x == %laneid`.
//!
//! Which CTA and warp index a warp slot should report is the scheduler's choice, so
//! the expectation of those words comes from the whole device's records (the CPU never
//! trusts one warp's word for its own): a warp's *claim* is the majority of its lanes;
//! a CTA lives on the SM where most of its warps are; within a CTA each warp index is
//! claimed once; when more than half of a CTA's warps sit at one offset from their
//! index (`slot - w`: the scheduler placed them in order, as the virtual GPU does), its
//! warps belong at that offset. A warp is wrong when its claimed CTA does not exist,
//! lives on another SM, its index is out of range, or it is off its CTA's offset when
//! the CTA is ordered or its index is claimed twice; it is then expected to be the warp
//! of the CTA of its own SM whose slots cover it. Any other placement — CTAs anywhere,
//! warps scattered over slots without a common offset — is accepted, so a scheduler's
//! freedom never makes a finding; but a fault that permutes the indices of whole warps
//! consistently (every warp of a sub-partition reading `%tid.z` with one bit stuck
//! swaps warps in pairs) is caught where the placement is ordered. Missing warp slots
//! (`wdrop`) are empty records, found by the checker.

use super::frame::{entry, mix, prologue, rotl, Record};
use super::{Ctx, Kernel};
use std::collections::HashMap;

pub(crate) struct Ids;
pub(crate) const IDS: Ids = Ids;

const NAME: &str = "sig_ids";
const SALT: u32 = 0x1D5E_ED01;
const WORDS: [&str; 12] = [
    "ident",
    "tid.x",
    "tid.y",
    "tid.z",
    "ctaid.x",
    "ctaid.y",
    "ctaid.z",
    "iters",
    "cta.partner",
    "cta.far",
    "tid.ballot",
    "cta.count",
];

/// The loop's result: `acc ^ trips << 24` (mirrors the PTX loop).
pub(crate) fn iterations(x: u32, n: u32) -> u32 {
    let mut acc = x;
    let mut i = 0u32;
    while i != n && i < 16 {
        acc = rotl(acc, 5) ^ i;
        i = i.wrapping_add(1);
    }
    acc ^ i << 24
}

/// A warp's claim: (ctaid.x, ctaid.y, ctaid.z, tid.y, tid.z).
type Claim = [u32; 5];

impl Kernel for Ids {
    fn name(&self) -> &'static str {
        NAME
    }
    fn unit(&self) -> &'static str {
        "warp-scheduler"
    }
    fn words(&self) -> &'static [&'static str] {
        &WORDS
    }
    fn cost(&self) -> u64 {
        111
    }

    fn ptx(&self) -> String {
        let mut s = entry(NAME, &[]);
        s += "\t.shared .align 4 .b32 \tsig_ids_sh[1024];\n";
        s += &prologue(NAME, WORDS.len(), SALT);
        s += "\tmov.u32 \t%r10, %tid.x;\n\
              \tmov.u32 \t%r11, %tid.y;\n\
              \tmov.u32 \t%r12, %tid.z;\n\
              \tmov.u32 \t%r13, %ctaid.x;\n\
              \tmov.u32 \t%r14, %ctaid.y;\n\
              \tmov.u32 \t%r15, %ctaid.z;\n\
              \tand.b32 \t%r16, %r9, 7;\n\
              \tmov.u32 \t%r17, 0;\n\
              \tmov.u32 \t%r18, %r9;\n\
              $I_LOOP:\n\
              \tsetp.eq.u32 \t%p1, %r17, %r16;\n\
              \tsetp.lt.u32 \t%p2, %r17, 16;\n\
              \tnot.pred \t%p3, %p1;\n\
              \tand.pred \t%p3, %p3, %p2;\n\
              \t@!%p3 bra \t$I_DONE;\n\
              \tshf.l.wrap.b32 \t%r18, %r18, %r18, 5;\n\
              \txor.b32 \t%r18, %r18, %r17;\n\
              \tsub.u32 \t%r17, %r17, -1;\n\
              \tbra.uni \t$I_LOOP;\n\
              $I_DONE:\n\
              \tshl.b32 \t%r19, %r17, 24;\n\
              \txor.b32 \t%r18, %r18, %r19;\n\
              \tmad.lo.u32 \t%r20, %r12, 4, %r11;\n\
              \tmov.u32 \t%r21, sig_ids_sh;\n\
              \tshl.b32 \t%r22, %r20, 5;\n\
              \tadd.u32 \t%r22, %r22, %r3;\n\
              \tmad.lo.u32 \t%r22, %r22, 4, %r21;\n\
              \tst.shared.u32 \t[%r22], %r2;\n\
              \tsetp.eq.u32 \t%p4, %r10, %r3;\n\
              \tvote.sync.ballot.b32 \t%r23, %p4, -1;\n\
              \tbar.red.popc.u32 \t%r24, 0, %p4;\n\
              \txor.b32 \t%r25, %r20, 1;\n\
              \tshl.b32 \t%r25, %r25, 5;\n\
              \tadd.u32 \t%r25, %r25, %r3;\n\
              \tmad.lo.u32 \t%r25, %r25, 4, %r21;\n\
              \tld.shared.u32 \t%r26, [%r25];\n\
              \tmov.u32 \t%r27, %ntid.z;\n\
              \tshl.b32 \t%r27, %r27, 1;\n\
              \txor.b32 \t%r27, %r27, %r20;\n\
              \tshl.b32 \t%r27, %r27, 5;\n\
              \tadd.u32 \t%r27, %r27, %r3;\n\
              \tmad.lo.u32 \t%r27, %r27, 4, %r21;\n\
              \tld.shared.u32 \t%r28, [%r27];\n";
        s += &Record::stores(
            &WORDS,
            &[
                "%r10", "%r11", "%r12", "%r13", "%r14", "%r15", "%r18", "%r26", "%r28", "%r23",
                "%r24",
            ],
        );
        s += "\tret;\n}\n";
        s
    }

    /// The words that do not depend on which CTA the warp is in: `tid.x`, `iters`,
    /// `tid.ballot` and `cta.count` (the others come from [`Kernel::expect_device`]).
    fn expect_warp(&self, c: &Ctx, slot: u32, out: &mut [u32]) {
        for (lane, w) in out.chunks_exact_mut(WORDS.len()).enumerate() {
            let lane = lane as u32;
            let x = mix(lane, slot, c.seed, SALT);
            w[1] = lane;
            w[7] = iterations(x, x & 7);
            w[10] = u32::MAX;
            w[11] = c.shape.warps * 32;
        }
    }

    fn expect_device(&self, c: &Ctx, records: &[u8]) -> Option<Vec<u32>> {
        let s = &c.shape;
        let r = WORDS.len();
        let per_cta_y = 4;
        let per_cta_z = s.warps / 4;
        // 1. Each warp's claim: the majority of its lanes that wrote their own record.
        let mut claims: Vec<Option<Claim>> = vec![None; s.sms as usize * s.slots as usize];
        for sm in 0..s.sms {
            for slot in 0..s.slots {
                let mut votes: Vec<(Claim, u32)> = Vec::new();
                for lane in 0..32 {
                    let at = s.record(sm, slot, lane) * r * 4;
                    let rec: [u32; 12] = std::array::from_fn(|k| {
                        let b = &records[at + 4 * k..at + 4 * k + 4];
                        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    });
                    if rec[0] != s.ident(sm, slot, lane) {
                        continue;
                    }
                    let claim = [rec[4], rec[5], rec[6], rec[2], rec[3]];
                    match votes.iter_mut().find(|(c, _)| *c == claim) {
                        Some(v) => v.1 += 1,
                        None => votes.push((claim, 1)),
                    }
                }
                claims[(sm * s.slots + slot) as usize] =
                    votes.iter().max_by_key(|(_, n)| *n).map(|(c, _)| *c);
            }
        }
        let valid_cta = |c: &Claim| c[0] < s.sms && c[1] < s.ctas_per_sm && c[2] == 0;
        let index = |c: &Claim| (c[3] < per_cta_y && c[4] < per_cta_z).then(|| c[4] * 4 + c[3]);
        // 2. CTAs: the warps claiming each, its home SM, the offset of its warps.
        let mut ctas: HashMap<[u32; 3], Vec<(u32, u32)>> = HashMap::new();
        for (i, c) in claims.iter().enumerate() {
            if let Some(c) = c.filter(valid_cta) {
                let (sm, slot) = (i as u32 / s.slots, i as u32 % s.slots);
                ctas.entry([c[0], c[1], c[2]]).or_default().push((sm, slot));
            }
        }
        struct Cta {
            home: u32,
            /// The offset `slot - w` most of its warps share.
            offset: Option<i64>,
            /// More than half of its warps share it: the scheduler placed the CTA's
            /// warps in order, and a warp off that offset is not where its index says.
            ordered: bool,
            dup: HashMap<u32, u32>,
        }
        let mut info: HashMap<[u32; 3], Cta> = HashMap::new();
        for (key, warps) in &ctas {
            let mut per_sm: HashMap<u32, u32> = HashMap::new();
            for (sm, _) in warps {
                *per_sm.entry(*sm).or_default() += 1;
            }
            let home = per_sm
                .iter()
                .max_by_key(|(sm, n)| (**n, std::cmp::Reverse(**sm)))
                .map_or(0, |(sm, _)| *sm);
            let mut offsets: HashMap<i64, u32> = HashMap::new();
            let mut dup: HashMap<u32, u32> = HashMap::new();
            for (sm, slot) in warps.iter().filter(|(sm, _)| *sm == home) {
                let claim = claims[(sm * s.slots + slot) as usize].unwrap_or_default();
                if let Some(w) = index(&claim) {
                    *offsets.entry(i64::from(*slot) - i64::from(w)).or_default() += 1;
                    *dup.entry(w).or_default() += 1;
                }
            }
            let best = offsets
                .iter()
                .max_by_key(|(o, n)| (**n, std::cmp::Reverse(**o)))
                .map(|(o, n)| (*o, *n));
            let placed: u32 = offsets.values().sum();
            info.insert(
                *key,
                Cta {
                    home,
                    offset: best.map(|b| b.0),
                    ordered: best.is_some_and(|b| 2 * b.1 > placed),
                    dup,
                },
            );
        }
        // The CTA of SM `sm` whose slots cover `slot`, with the warp index there.
        let covering = |sm: u32, slot: u32| -> Option<([u32; 3], u32)> {
            let mut keys: Vec<&[u32; 3]> = info.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| {
                let cta = &info[k];
                let w = i64::from(slot) - cta.offset?;
                (cta.home == sm && (0..i64::from(s.warps)).contains(&w)).then_some((*k, w as u32))
            })
        };
        // 3. What each warp should have claimed.
        let mut wants: Vec<Option<Claim>> = vec![None; claims.len()];
        for (i, claim) in claims.iter().enumerate() {
            let Some(claim) = *claim else { continue };
            let (sm, slot) = (i as u32 / s.slots, i as u32 % s.slots);
            let consistent = valid_cta(&claim)
                && info
                    .get(&[claim[0], claim[1], claim[2]])
                    .is_some_and(|cta| {
                        cta.home == sm
                            && index(&claim).is_some_and(|w| {
                                let on_offset = cta.offset == Some(i64::from(slot) - i64::from(w));
                                on_offset
                                    || (!cta.ordered && cta.dup.get(&w).copied().unwrap_or(0) <= 1)
                            })
                    });
            wants[i] = Some(if consistent {
                claim
            } else {
                match covering(sm, slot) {
                    Some((k, w)) => [k[0], k[1], k[2], w % 4, w / 4],
                    // No CTA of this SM lacks this warp: the claim is wrong, and what
                    // is right is unknown.
                    None => [u32::MAX, claim[1], claim[2], claim[3], claim[4]],
                }
            });
        }
        // The warp slot of each (SM, CTA, warp index), as it should be: a warp's
        // partners w ^ 1 and w ^ W/2 wrote their slots into the CTA's shared memory.
        let mut slot_of: HashMap<(u32, [u32; 3], u32), u32> = HashMap::new();
        for (i, want) in wants.iter().enumerate() {
            if let Some(w) = want.and_then(|c| index(&c).map(|w| (c, w))) {
                let (sm, slot) = (i as u32 / s.slots, i as u32 % s.slots);
                slot_of.insert((sm, [w.0[0], w.0[1], w.0[2]], w.1), slot);
            }
        }
        // 4. Expectations.
        let mut exp = vec![0u32; s.threads() as usize * r];
        let mut lanes = vec![0u32; 32 * r];
        for slot in 0..s.slots {
            self.expect_warp(c, slot, &mut lanes);
            for sm in 0..s.sms {
                let base = s.record(sm, slot, 0) * r;
                exp[base..base + 32 * r].copy_from_slice(&lanes);
                let Some(want) = wants[(sm * s.slots + slot) as usize] else {
                    continue;
                };
                let key = [want[0], want[1], want[2]];
                let partner = |p: Option<u32>| {
                    p.and_then(|p| slot_of.get(&(sm, key, p)).copied())
                        .unwrap_or(u32::MAX)
                };
                let w = index(&want);
                let near = partner(w.map(|w| w ^ 1));
                let far = partner(w.map(|w| w ^ (s.warps / 2)));
                for lane in 0..32 {
                    let e = &mut exp[base + lane * r..][..r];
                    e[2] = want[3];
                    e[3] = want[4];
                    e[4] = want[0];
                    e[5] = want[1];
                    e[6] = want[2];
                    e[8] = near;
                    e[9] = far;
                }
            }
        }
        Some(exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Geometry;
    use crate::suite::check::judge;
    use crate::suite::frame::Shape;
    use reports::check::Evidence;

    #[test]
    fn the_loop_runs_its_trip_count() {
        assert_eq!(iterations(7, 0), 7);
        assert_eq!(iterations(0, 1), 1 << 24);
        assert_eq!(iterations(1, 2) >> 24, 2);
    }

    fn shape() -> Shape {
        Shape::of(&Geometry {
            sms: 5,
            warp_slots: 64,
        })
        .unwrap()
    }

    /// The records of a healthy device whose scheduler put CTA `(x, y)` on
    /// `place(x, y).0` from warp slot `place(x, y).1`, its warp `w` in slot
    /// `base + perm(w)`.
    fn records(
        s: &Shape,
        place: impl Fn(u32, u32) -> (u32, u32),
        perm: impl Fn(u32) -> u32,
    ) -> Vec<u32> {
        let mut out = vec![0u32; s.threads() as usize * 12];
        for x in 0..s.sms {
            for y in 0..s.ctas_per_sm {
                let (sm, base) = place(x, y);
                for w in 0..s.warps {
                    let slot = base + perm(w);
                    for lane in 0..32 {
                        let d = mix(lane, slot, 9, SALT);
                        let t = s.record(sm, slot, lane) * 12;
                        out[t..t + 12].copy_from_slice(&[
                            s.ident(sm, slot, lane),
                            lane,
                            w % 4,
                            w / 4,
                            x,
                            y,
                            0,
                            iterations(d, d & 7),
                            base + perm(w ^ 1),
                            base + perm(w ^ (s.warps / 2)),
                            u32::MAX,
                            s.warps * 32,
                        ]);
                    }
                }
            }
        }
        out
    }

    /// (SM, warp slot, lanes, word, expected, actual) of each finding.
    fn findings(s: &Shape, r: &[u32]) -> Vec<(u32, u32, u32, String, u64, u64)> {
        let bytes: Vec<u8> = r.iter().flat_map(|w| w.to_le_bytes()).collect();
        let c = Ctx { shape: *s, seed: 9 };
        let exp = IDS.expect_device(&c, &bytes).unwrap();
        judge(&IDS, s, &bytes, &exp, None)
            .findings
            .into_iter()
            .map(|f| match f.evidence {
                Evidence::Signature {
                    sm,
                    warp_slot,
                    lanes,
                    word,
                    expected,
                    actual,
                    ..
                } => (sm, warp_slot, lanes, word, expected, actual),
                e => panic!("{e:?}"),
            })
            .collect()
    }

    fn sim_like(s: &Shape) -> Vec<u32> {
        records(s, |x, y| (x, y * s.warps), |w| w)
    }

    #[test]
    fn any_consistent_placement_is_healthy() {
        let s = shape();
        assert!(findings(&s, &sim_like(&s)).is_empty());
        // CTAs on other SMs in another order, warps scattered over their CTA's slots
        let scrambled = records(
            &s,
            |x, y| ((x * 3 + y) % s.sms, (1 - y) * s.warps),
            |w| (w * 5 + 1) % s.warps,
        );
        assert!(findings(&s, &scrambled).is_empty());
    }

    #[test]
    fn a_warp_that_reads_another_cta_s_id_is_named_alone() {
        let s = shape();
        let mut r = sim_like(&s);
        // SM 2, warp slot 9 (CTA (2, 0), warp 9): every lane reads ctaid.x = 3
        for lane in 0..32 {
            r[s.record(2, 9, lane) * 12 + 4] = 3;
        }
        assert_eq!(findings(&s, &r), [(2, 9, u32::MAX, "ctaid.x".into(), 2, 3)]);
    }

    #[test]
    fn a_warp_that_reads_another_warp_s_thread_ids_is_named_alone() {
        let s = shape();
        let mut r = sim_like(&s);
        // SM 1, warp slot 36 (CTA (1, 1), warp 4: tid.y 0, tid.z 1) reads tid.y = 1,
        // the id of the warp in slot 37
        for lane in 0..32 {
            r[s.record(1, 36, lane) * 12 + 2] = 1;
        }
        assert_eq!(findings(&s, &r), [(1, 36, u32::MAX, "tid.y".into(), 0, 1)]);
    }

    #[test]
    fn two_ctas_of_an_sm_that_swap_ids_in_one_sub_partition_are_named() {
        // every claim consistent (each (CTA, warp) once, on its home SM), but the warps
        // of sub-partition 2 of SM 1 read the other CTA's ctaid.y: off their CTAs'
        // offsets, each is named with the CTA whose slots hold it
        let s = shape();
        let mut r = sim_like(&s);
        for slot in (2..64).step_by(4) {
            for lane in 0..32 {
                r[s.record(1, slot, lane) * 12 + 5] ^= 1;
            }
        }
        let f = findings(&s, &r);
        let want: Vec<_> = (2..64)
            .step_by(4)
            .map(|slot| {
                let y = u64::from(slot >= 32);
                (1, slot, u32::MAX, "ctaid.y".to_string(), y, 1 - y)
            })
            .collect();
        assert_eq!(f, want);
    }

    #[test]
    fn the_shared_memory_partners_name_a_warp_that_is_not_in_the_cta_it_claims() {
        // a scattered placement (no common offset): claims alone cannot tell two warps
        // of one sub-partition that swapped CTAs, the partners they read can
        let s = shape();
        let perm = |w: u32| (w * 5 + 1) % s.warps;
        let mut r = records(&s, |x, y| (x, y * s.warps), perm);
        // CTA (1, 0)'s warp 2 and CTA (1, 1)'s warp 2 swap ctaid.y
        for slot in [perm(2), s.warps + perm(2)] {
            for lane in 0..32 {
                r[s.record(1, slot, lane) * 12 + 5] ^= 1;
            }
        }
        let f = findings(&s, &r);
        assert!(!f.is_empty());
        assert!(f.iter().all(|x| x.0 == 1), "{f:?}");
        assert!(f.iter().any(|x| x.3 == "cta.partner"), "{f:?}");
    }

    #[test]
    fn warps_that_swap_their_indices_in_pairs_are_named() {
        // every warp of sub-partition 2 of SM 3 reads tid.z with bit 0 flipped: warps
        // 4z+2 and 4(z^1)+2 swap, every index is still claimed once
        let s = shape();
        let mut r = sim_like(&s);
        for slot in (2..64).step_by(4) {
            for lane in 0..32 {
                r[s.record(3, slot, lane) * 12 + 3] ^= 1;
            }
        }
        let f = findings(&s, &r);
        let named: std::collections::BTreeSet<(u32, u32)> = f.iter().map(|x| (x.0, x.1)).collect();
        assert!(named.iter().all(|(sm, _)| *sm == 3), "{f:?}");
        for slot in (2..64).step_by(4) {
            assert!(named.contains(&(3, slot)), "slot {slot} not named: {f:?}");
        }
    }

    #[test]
    fn lanes_that_read_a_wrong_thread_id_are_named() {
        let s = shape();
        let mut r = sim_like(&s);
        for lane in 0..5 {
            r[s.record(0, 3, lane) * 12 + 3] ^= 4;
        }
        r[s.record(4, 60, 17) * 12 + 1] = 16;
        assert_eq!(
            findings(&s, &r),
            [
                (0, 3, 0x1f, "tid.z".into(), 0, 4),
                (4, 60, 1 << 17, "tid.x".into(), 17, 16)
            ]
        );
    }
}
