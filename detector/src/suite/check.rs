//! Judging one kernel's records: every word against its CPU-computed expectation,
//! disagreements grouped per (SM, warp slot), and which warp slots the kernel reached.
//!
//! A record at position P (the hardware identity (SM, slot, lane) that should have
//! written it) is one of:
//!
//! | record | means | judged as |
//! |---|---|---|
//! | identity word = P's | P wrote it | each word against P's expectation |
//! | all zero | nobody wrote it | a finding at P (unless the launch failed, or no warp of P's SM wrote anything: then P is only *not observed*) |
//! | identity of another thread Q, and Q's own record is empty | Q wrote to the wrong place (a corrupted address) | a finding at Q, word `address` |
//! | anything else | P's record is corrupted in place | a finding at P |

use super::frame::{decode_ident, ident, Shape};
use super::Kernel;
use reports::check::{Evidence, Finding, Severity};
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
}

impl Group {
    fn add(&mut self, lane: u32, word: usize, name: &'static str, expected: u32, actual: u32) {
        self.lanes |= 1 << lane;
        self.words += 1;
        let key = (lane, word);
        if self.first.as_ref().is_none_or(|f| key < f.0) {
            self.first = Some((key, name, expected, actual));
        }
    }
}

/// Judges `records` (one per thread of `shape`, `kernel.words().len()` words each)
/// against `expected` (per warp slot: `slots × 32 × R` words; or per SM and warp slot:
/// `SMs × slots × 32 × R`). `failed`: the launch did not complete (empty records are
/// then not findings).
pub(crate) fn judge(
    kernel: &dyn Kernel,
    shape: &Shape,
    records: &[u32],
    expected: &[u32],
    failed: bool,
) -> Judged {
    let names = kernel.words();
    let r = names.len();
    let per_sm = expected.len() > shape.slots as usize * 32 * r;
    let n = shape.sms as usize * shape.slots as usize;
    let mut observed = vec![false; n];
    let mut groups: BTreeMap<(u32, u32), Group> = BTreeMap::new();
    let rec = |t: usize| &records[t * r..(t + 1) * r];
    let empty = |t: usize| rec(t).iter().all(|&w| w == 0);

    // SMs on which some record was written at all.
    let mut sm_written = vec![false; shape.sms as usize];
    for (t, chunk) in records.chunks_exact(r).enumerate() {
        if chunk.iter().any(|&w| w != 0) {
            sm_written[t / (shape.slots as usize * 32)] = true;
        }
    }

    for sm in 0..shape.sms {
        for slot in 0..shape.slots {
            let base = if per_sm {
                shape.record(sm, slot, 0) * r
            } else {
                slot as usize * 32 * r
            };
            for lane in 0..32 {
                let t = shape.record(sm, slot, lane);
                let got = rec(t);
                let want_id = ident(sm, slot, lane);
                if got[0] == want_id {
                    observed[t >> 5] = true;
                } else if got.iter().all(|&w| w == 0) {
                    if failed || !sm_written[sm as usize] {
                        continue;
                    }
                } else if let Some((qs, qw, ql)) = decode_ident(shape, got[0]) {
                    let q = shape.record(qs, qw, ql);
                    if empty(q) {
                        // Q's store landed here: Q's fault, not P's.
                        groups
                            .entry((qs, qw))
                            .or_default()
                            .add(ql, 0, "address", q as u32, t as u32);
                        continue;
                    }
                }
                let want = &expected[base + lane as usize * r..][..r];
                if got[0] == want_id && got[1..] == want[1..] {
                    continue;
                }
                let g = groups.entry((sm, slot)).or_default();
                if got[0] != want_id {
                    g.add(lane, 0, names[0], want_id, got[0]);
                }
                for k in 1..r {
                    if got[k] != want[k] {
                        g.add(lane, k, names[k], want[k], got[k]);
                    }
                }
            }
        }
    }
    let findings = groups
        .into_iter()
        .filter_map(|((sm, slot), g)| {
            let (_, word, expected, actual) = g.first?;
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
                },
            })
        })
        .collect();
    Judged { findings, observed }
}
