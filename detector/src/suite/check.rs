//! Judging one kernel's records: every word against its CPU-computed expectation,
//! disagreements grouped per (SM, warp slot), and which warp slots the kernel reached.
//!
//! A record at position P (the hardware identity (SM, slot, lane) that should have
//! written it) is one of:
//!
//! | record | means | judged as |
//! |---|---|---|
//! | identity word = P's | P wrote it | each word against P's expectation |
//! | all zero | nobody wrote it | a finding at P (unless the launch failed, or no warp of P's block of W warp slots wrote anything — a CTA the scheduler put elsewhere: then P is only *not observed*) |
//! | identity of another thread Q, and Q's own record is empty | Q wrote to the wrong place (a corrupted address) | a finding at Q, word `address` |
//! | wrong, 2^k bytes (k ≥ 2) from the empty record of a thread Q | Q's store, displaced by one flipped address bit (an immediate offset, a parameter, a result bit) | a finding at Q, word `address` |
//! | anything else | P's record is corrupted in place | a finding at P |

use super::frame::Shape;
use super::Kernel;
use reports::check::{Evidence, Finding, Severity, WordDisagreement};
use std::collections::BTreeMap;

/// What one kernel's records showed.
pub(crate) struct Judged {
    /// One finding per (SM, warp slot) with disagreeing words.
    pub findings: Vec<Finding>,
    /// Per (SM × slots + slot): some lane of the slot wrote its own record.
    pub observed: Vec<bool>,
}

/// The disagreements of one (SM, warp slot).
#[derive(Default)]
struct Group {
    lanes: u32,
    /// (lane, word index) of the first disagreement, its word name, expected, actual.
    first: Option<((u32, usize), &'static str, u32, u32)>,
    words: u32,
    /// Every word that disagreed, in record order: lanes, and the first lane's values.
    disagreed: Vec<(usize, &'static str, WordDisagreement)>,
}

impl Group {
    fn add(&mut self, lane: u32, word: usize, name: &'static str, expected: u32, actual: u32) {
        self.lanes |= 1 << lane;
        self.words += 1;
        match self.disagreed.iter_mut().find(|d| d.1 == name) {
            Some((_, _, d)) => {
                // the values of the lowest lane (stray stores may come in any order)
                if lane < d.lanes.trailing_zeros() {
                    (d.expected, d.actual) = (expected, actual);
                }
                d.lanes |= 1 << lane;
            }
            None => {
                let at = self.disagreed.partition_point(|d| d.0 < word);
                let d = WordDisagreement {
                    word: name.to_string(),
                    lanes: 1 << lane,
                    expected,
                    actual,
                };
                self.disagreed.insert(at, (word, name, d));
            }
        }
        let key = (lane, word);
        // a stray store explains its writer's empty record: it leads on a tie
        if self
            .first
            .as_ref()
            .is_none_or(|f| key < f.0 || (key == f.0 && name == "address"))
        {
            self.first = Some((key, name, expected, actual));
        }
    }
}

/// Judges `records` (one per thread of `shape`, `kernel.words().len()` little-endian
/// words each) against `expected` (per warp slot: `slots × 32 × R` words; or per SM and
/// warp slot: `SMs × slots × 32 × R`; word 0 of each is the checker's). `failed`: the
/// launch did not complete, with the SM its error names (empty records are then not
/// findings; those of that SM can still explain a displaced store).
pub(crate) fn judge(
    kernel: &dyn Kernel,
    shape: &Shape,
    records: &[u8],
    expected: &[u32],
    failed: Option<Option<u32>>,
) -> Judged {
    let names = kernel.words();
    let r = names.len();
    let rb = r * 4;
    let per_sm = expected.len() > shape.slots as usize * 32 * r;
    let per_sm_records = shape.slots as usize * 32;
    let n = shape.sms as usize * per_sm_records;
    let expected: Vec<u8> = expected.iter().flat_map(|w| w.to_le_bytes()).collect();
    let word = |b: &[u8], k: usize| {
        u32::from_le_bytes([b[4 * k], b[4 * k + 1], b[4 * k + 2], b[4 * k + 3]])
    };
    let rec = |t: usize| &records[t * rb..(t + 1) * rb];
    let empty = |t: usize| rec(t).iter().all(|&b| b == 0);
    let mut observed = vec![false; shape.sms as usize * shape.slots as usize];
    let mut groups: BTreeMap<(u32, u32), Group> = BTreeMap::new();
    // Per SM, per aligned block of W warp slots (where a CTA sits on the virtual GPU):
    // whether some record of it was written at all. A block nobody wrote is a CTA the
    // scheduler placed elsewhere (or a launch that did not reach it): not observed, no
    // finding. No single fault empties a whole block (a warp-slot fault stays in one
    // sub-partition, every fourth slot).
    let per_block = shape.warps as usize * 32;
    let written: Vec<bool> = (0..n / per_block)
        .map(|b| (b * per_block..(b + 1) * per_block).any(|t| !empty(t)))
        .collect();
    // An empty record that stands for a thread that did not write (a store of it may
    // have landed elsewhere).
    let silent = |t: usize| {
        let sm = (t / per_sm_records) as u32;
        written[t / per_block]
            && match failed {
                None => true,
                Some(named) => named == Some(sm),
            }
            && empty(t)
    };
    // A record written over by a store displaced by one flipped address bit comes
    // from a silent thread 2^k bytes away: that thread's fault.
    let displaced_from = |t: usize, word: usize| -> Option<usize> {
        let x = (t * rb + word * 4) as u64;
        (2..48).find_map(|k| {
            [x.checked_sub(1 << k), x.checked_add(1 << k)]
                .into_iter()
                .flatten()
                .map(|y| y as usize / rb)
                .find(|&q| q < n && q != t && silent(q))
        })
    };

    for sm in 0..shape.sms {
        for slot in 0..shape.slots {
            let base = if per_sm {
                shape.record(sm, slot, 0) * rb
            } else {
                slot as usize * 32 * rb
            };
            for lane in 0..32 {
                let t = shape.record(sm, slot, lane);
                let got = rec(t);
                let want = &expected[base + lane as usize * rb..][..rb];
                let want_id = shape.ident(sm, slot, lane);
                let own = got[..4] == want_id.to_le_bytes();
                if own {
                    observed[t >> 5] = true;
                    if got[4..] == want[4..] {
                        continue;
                    }
                } else if !written[t / per_block] || (failed.is_some() && empty(t)) {
                    continue;
                }
                let want_word = |k: usize| if k == 0 { want_id } else { word(want, k) };
                let Some(first) = (0..r).find(|&k| word(got, k) != want_word(k)) else {
                    continue;
                };
                if !empty(t) {
                    // Q's store landed here: Q's fault, not this thread's.
                    let q = (!own)
                        .then(|| shape.decode_ident(word(got, 0)))
                        .flatten()
                        .map(|(qs, qw, ql)| shape.record(qs, qw, ql))
                        .filter(|&q| q != t && silent(q))
                        .or_else(|| displaced_from(t, first));
                    if let Some(q) = q {
                        let (qs, qw, ql) = shape.at(q);
                        groups
                            .entry((qs, qw))
                            .or_default()
                            .add(ql, 0, "address", q as u32, t as u32);
                        continue;
                    }
                }
                let g = groups.entry((sm, slot)).or_default();
                for (k, name) in names.iter().enumerate().skip(first) {
                    let (w, e) = (word(got, k), want_word(k));
                    if w != e {
                        g.add(lane, k, name, e, w);
                    }
                }
            }
        }
    }
    // The cross-SM second opinion on a group's first word: the value a strict majority
    // of SMs wrote there (only where every SM's expectation is the same).
    let majority = |slot: u32, lane: u32, k: usize| -> Option<u64> {
        if per_sm {
            return None;
        }
        let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
        for sm in 0..shape.sms {
            *counts
                .entry(word(rec(shape.record(sm, slot, lane)), k))
                .or_default() += 1;
        }
        let (&value, &n) = counts.iter().max_by_key(|(_, &n)| n)?;
        (2 * n > shape.sms).then_some(u64::from(value))
    };
    let findings = groups
        .into_iter()
        .filter_map(|((sm, slot), g)| {
            let ((lane, k), word, expected, actual) = g.first?;
            let majority = if word == "address" || k == 0 {
                None
            } else {
                majority(slot, lane, k)
            };
            Some(Finding {
                severity: Severity::Faulty,
                evidence: Evidence::Signature {
                    unit: kernel.unit().to_string(),
                    kernel: kernel.name().to_string(),
                    sm,
                    sp: slot % 4,
                    warp_slot: slot,
                    lanes: g.lanes,
                    word: word.to_string(),
                    expected: u64::from(expected),
                    actual: u64::from(actual),
                    words: g.words,
                    majority,
                    disagreed: g.disagreed.into_iter().map(|d| d.2).collect(),
                },
            })
        })
        .collect();
    Judged { findings, observed }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geometry::Geometry;
    use crate::suite::Ctx;

    /// A kernel of three words: the warp slot, the lane, and both.
    struct Fake;
    impl Kernel for Fake {
        fn name(&self) -> &'static str {
            "sig_fake"
        }
        fn unit(&self) -> &'static str {
            "test"
        }
        fn words(&self) -> &'static [&'static str] {
            &["ident", "a", "b", "c"]
        }
        fn ptx(&self) -> String {
            String::new()
        }
        fn cost(&self) -> u64 {
            1
        }
        fn expect_warp(&self, _c: &Ctx, slot: u32, out: &mut [u32]) {
            for (lane, w) in out.chunks_exact_mut(4).enumerate() {
                w[1] = slot;
                w[2] = lane as u32 + 1;
                w[3] = slot * 100 + lane as u32;
            }
        }
    }

    /// 3 SMs of 64 warp slots: two CTAs of 32 warps each.
    fn shape() -> Shape {
        Shape::of(&Geometry {
            sms: 3,
            warp_slots: 64,
        })
        .unwrap()
    }

    fn expected(s: &Shape) -> Vec<u32> {
        let c = Ctx { shape: *s, seed: 0 };
        let mut e = vec![0; s.slots as usize * 32 * 4];
        for (slot, w) in e.chunks_exact_mut(32 * 4).enumerate() {
            Fake.expect_warp(&c, slot as u32, w);
        }
        e
    }

    /// The records a healthy device writes.
    fn healthy(s: &Shape) -> Vec<u32> {
        let e = expected(s);
        let mut out = Vec::new();
        for sm in 0..s.sms {
            for slot in 0..s.slots {
                for lane in 0..32 {
                    let w = &e[(slot as usize * 32 + lane as usize) * 4..][..4];
                    out.extend([s.ident(sm, slot, lane), w[1], w[2], w[3]]);
                }
            }
        }
        out
    }

    fn run(s: &Shape, records: &[u32], failed: Option<Option<u32>>) -> Judged {
        let bytes: Vec<u8> = records.iter().flat_map(|w| w.to_le_bytes()).collect();
        judge(&Fake, s, &bytes, &expected(s), failed)
    }

    /// (SM, warp slot, lanes, word, words) of each finding.
    fn seen(j: &Judged) -> Vec<(u32, u32, u32, String, u32)> {
        j.findings
            .iter()
            .map(|f| match &f.evidence {
                Evidence::Signature {
                    sm,
                    warp_slot,
                    lanes,
                    word,
                    words,
                    ..
                } => (*sm, *warp_slot, *lanes, word.clone(), *words),
                e => panic!("{e:?}"),
            })
            .collect()
    }

    #[test]
    fn a_healthy_device_has_no_finding_and_every_slot_observed() {
        let s = shape();
        let j = run(&s, &healthy(&s), None);
        assert!(j.findings.is_empty());
        assert!(j.observed.iter().all(|&o| o));
    }

    #[test]
    fn a_wrong_word_is_named_with_its_sm_slot_and_lane() {
        let s = shape();
        let mut r = healthy(&s);
        r[s.record(1, 5, 7) * 4 + 2] ^= 0x40;
        r[s.record(1, 5, 9) * 4 + 3] ^= 1;
        let j = run(&s, &r, None);
        assert_eq!(seen(&j), [(1, 5, 1 << 7 | 1 << 9, "b".into(), 2)]);
        let Evidence::Signature {
            expected,
            actual,
            sp,
            majority,
            ..
        } = &j.findings[0].evidence
        else {
            unreachable!()
        };
        assert_eq!((*expected, *actual, *sp), (8, 8 ^ 0x40, 1));
        // the other two SMs wrote what the CPU expects
        assert_eq!(*majority, Some(8));
    }

    #[test]
    fn every_disagreeing_word_is_listed_in_record_order_with_its_lanes_and_lowest_lane() {
        let s = shape();
        let mut r = healthy(&s);
        r[s.record(1, 5, 9) * 4 + 3] ^= 1;
        r[s.record(1, 5, 9) * 4 + 1] ^= 2;
        r[s.record(1, 5, 7) * 4 + 3] ^= 4;
        let j = run(&s, &r, None);
        let Evidence::Signature { disagreed, .. } = &j.findings[0].evidence else {
            unreachable!()
        };
        let got: Vec<_> = disagreed
            .iter()
            .map(|d| (d.word.as_str(), d.lanes, d.expected ^ d.actual))
            .collect();
        assert_eq!(got, [("a", 1 << 9, 2), ("c", 1 << 7 | 1 << 9, 4)]);
    }

    #[test]
    fn the_cross_sm_majority_is_a_second_opinion_that_can_disagree_with_the_cpu() {
        let s = shape();
        let mut r = healthy(&s);
        // two of three SMs write the same wrong word: the majority sides with them
        r[s.record(0, 3, 4) * 4 + 1] ^= 0x100;
        r[s.record(2, 3, 4) * 4 + 1] ^= 0x100;
        let j = run(&s, &r, None);
        let majorities: Vec<_> = j
            .findings
            .iter()
            .map(|f| match &f.evidence {
                Evidence::Signature {
                    sm,
                    actual,
                    majority,
                    ..
                } => (*sm, *actual, *majority),
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(
            majorities,
            [
                (0, 3 ^ 0x100, Some(3 ^ 0x100)),
                (2, 3 ^ 0x100, Some(3 ^ 0x100))
            ]
        );
        // three different values: no majority
        r[s.record(2, 3, 4) * 4 + 1] ^= 0x300;
        let j = run(&s, &r, None);
        assert!(j
            .findings
            .iter()
            .all(|f| matches!(f.evidence, Evidence::Signature { majority: None, .. })));
    }

    #[test]
    fn a_thread_that_wrote_nothing_is_a_finding_and_its_slot_unobserved_if_all_did() {
        let s = shape();
        let mut r = healthy(&s);
        r[s.record(2, 3, 4) * 4..][..4].fill(0);
        let j = run(&s, &r, None);
        assert_eq!(seen(&j), [(2, 3, 1 << 4, "ident".into(), 4)]);
        assert!(j.observed[2 * 64 + 3]);
        for lane in 0..32 {
            r[s.record(2, 3, lane) * 4..][..4].fill(0);
        }
        let j = run(&s, &r, None);
        assert_eq!(seen(&j), [(2, 3, u32::MAX, "ident".into(), 128)]);
        assert!(!j.observed[2 * 64 + 3]);
    }

    #[test]
    fn an_sm_or_cta_that_ran_nothing_is_unobserved_not_faulty_and_a_failed_launch_leaves_no_absence_finding(
    ) {
        let s = shape();
        let mut r = healthy(&s);
        let per_sm = 64 * 32 * 4;
        r[per_sm..2 * per_sm].fill(0);
        let j = run(&s, &r, None);
        assert!(j.findings.is_empty());
        assert!(j.observed[64..128].iter().all(|&o| !o));
        assert!(j.observed[..64].iter().all(|&o| o));
        // the second CTA of SM 2 (warp slots 32-63)
        let mut r = healthy(&s);
        r[2 * per_sm + 32 * 32 * 4..3 * per_sm].fill(0);
        let j = run(&s, &r, None);
        assert!(j.findings.is_empty());
        assert_eq!(j.observed.iter().filter(|&&o| !o).count(), 32);
        // … but 31 of its 32 warps missing is a fault
        let mut r = healthy(&s);
        r[2 * per_sm + 33 * 32 * 4..3 * per_sm].fill(0);
        assert_eq!(run(&s, &r, None).findings.len(), 31);
        // a launch that stopped: the records it did not reach are not findings
        let mut r = healthy(&s);
        r[2 * per_sm + 100..].fill(0);
        assert!(run(&s, &r, Some(Some(0))).findings.is_empty());
    }

    #[test]
    fn a_store_to_another_thread_s_record_is_the_writer_s_fault() {
        let s = shape();
        let mut r = healthy(&s);
        // (1, 2, 3) wrote its whole record over (0, 4, 5)'s
        let (q, p) = (s.record(1, 2, 3) * 4, s.record(0, 4, 5) * 4);
        let rec: Vec<u32> = r[q..q + 4].to_vec();
        r[p..p + 4].copy_from_slice(&rec);
        r[q..q + 4].fill(0);
        let j = run(&s, &r, None);
        assert_eq!(seen(&j), [(1, 2, 1 << 3, "address".into(), 5)]);
    }

    #[test]
    fn a_store_displaced_by_one_address_bit_is_the_writer_s_fault() {
        let s = shape();
        let mut r = healthy(&s);
        // (0, 1, 2)'s second half-record landed 2^11 bytes further (on another warp
        // slot's record), its own stayed empty
        let q = s.record(0, 1, 2) * 4;
        let p = q + (1 << 11) / 4;
        let half = [r[q + 2], r[q + 3]];
        r[p + 2..p + 4].copy_from_slice(&half);
        r[q..q + 4].fill(0);
        assert_eq!(s.at(p / 4), (0, 5, 2));
        let j = run(&s, &r, None);
        assert_eq!(seen(&j), [(0, 1, 1 << 2, "address".into(), 5)]);
    }
}
