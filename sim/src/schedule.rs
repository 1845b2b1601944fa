//! Scheduling: which SM and warp slots each CTA of a launch takes, the order the CTAs
//! run in, and how the warps of a CTA interleave.
//!
//! ```text
//!                 Fixed (the default)                    Seeded(s)
//!  issue order    0, 1, 2, …                             a permutation of 0..n drawn from (s, launch)
//!  CTA → SM       i % sms                                an SM with room, drawn; every SM is filled to
//!                                                        k CTAs before any CTA runs (so a grid of
//!                                                        sms × k CTAs covers every warp slot)
//!  warp slots     position (i / sms) % k: slots r·W+w    W of the SM's free slots, drawn, in drawn order
//!  run order      issue order, each CTA to completion    a resident CTA drawn, run to completion; its
//!                                                        slots free and the next issued CTA takes room
//!  warp turns     warps 0, 1, …, 2,048 instructions      warps in a drawn order; per CTA a longest turn
//!                 per turn                               L = 2^j (j drawn in 0..=11), each turn's
//!                                                        length drawn in 1..=L
//! ```
//!
//! Everything the seeded mode draws comes from SplitMix64 (Steele, Lea and Flood,
//! "Fast splittable pseudorandom number generators", OOPSLA 2014; the generator of
//! `java.util.SplittableRandom`): integer arithmetic only, so every machine draws the
//! same schedule. A launch's key hashes the seed with the launch's identity (kernel
//! name, grid, block, dynamic shared bytes), so a launch is scheduled the same whatever
//! ran before it on the GPU; placement and issue order come from the key alone (not
//! from what the kernel does), and each CTA's warp turns from the key and the CTA.
//! Every choice is one a GPU's scheduler may make: at most `k` (the occupancy) CTAs per
//! SM, distinct warp slots for co-resident warps, all warps of a CTA on one SM.

use crate::profile::GpuProfile;

/// How a virtual GPU schedules its launches: the fixed rule, or a schedule drawn from a
/// seed (see the crate documentation, "Execution model").
///
/// ```
/// use sim::Scheduling;
/// assert_eq!(Scheduling::default(), Scheduling::Fixed);
/// assert_eq!(Scheduling::from_seed(Some(7)).seed(), Some(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scheduling {
    /// CTA `i` on SM `i % sms` in resident position `(i / sms) % k`, CTAs in linear
    /// order, warps round-robin in index order for up to 2,048 warp-instructions a turn.
    #[default]
    Fixed,
    /// Placement, resident positions, CTA order and warp turns drawn from this seed.
    Seeded(u64),
}

impl Scheduling {
    /// `Seeded(seed)` for `Some(seed)`, `Fixed` for `None`.
    pub fn from_seed(seed: Option<u64>) -> Scheduling {
        seed.map_or(Scheduling::Fixed, Scheduling::Seeded)
    }

    /// The seed of a seeded schedule.
    pub fn seed(self) -> Option<u64> {
        match self {
            Scheduling::Fixed => None,
            Scheduling::Seeded(s) => Some(s),
        }
    }
}

/// SplitMix64's increment (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function (a bijective 64-bit mixer).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of a word sequence: `h = mix((h + GOLDEN) ^ w)` over the words from `h = 0`.
fn hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0, |h, &w| mix(h.wrapping_add(GOLDEN) ^ w))
}

/// FNV-1a, 64 bits, of a kernel name.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by the high half of a 128-bit product.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// Streams of one launch key: what each draw sequence is for.
const ISSUE: u64 = 1;
const DISPATCH: u64 = 2;
const TURNS: u64 = 3;

/// The key of a launch on a seeded GPU: the seed hashed with the launch's identity.
pub(crate) fn launch_key(
    seed: u64,
    kernel: &str,
    grid: [u32; 3],
    block: [u32; 3],
    dyn_shared: u32,
) -> u64 {
    let [gx, gy, gz] = grid.map(u64::from);
    let [bx, by, bz] = block.map(u64::from);
    hash(&[
        seed,
        fnv1a(kernel),
        gx,
        gy,
        gz,
        bx,
        by,
        bz,
        dyn_shared as u64,
    ])
}

/// A keyed bijection of `0..n`: a four-round Feistel network over the smallest
/// even-width power of two domain that holds `n`, cycle-walking back into `0..n`.
struct Permutation {
    n: u64,
    half: u32,
    keys: [u64; 4],
}

impl Permutation {
    fn new(n: u64, key: u64) -> Permutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        Permutation {
            n,
            half: bits.div_ceil(2).max(1),
            keys: [0, 1, 2, 3].map(|r| hash(&[key, ISSUE, r])),
        }
    }

    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys {
            (l, r) = (r, l ^ (mix(r ^ k) & mask));
        }
        (l << self.half) | r
    }

    /// The image of `x < n`.
    fn apply(&self, x: u64) -> u64 {
        // The domain has fewer than 4n elements, so fewer than four steps on average.
        let mut y = self.round(x);
        while y >= self.n {
            y = self.round(y);
        }
        y
    }
}

/// Where a CTA runs, as the dispatcher hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    /// The CTA's linear index (x fastest).
    pub linear: u64,
    /// Its SM.
    pub sm: u32,
}

/// The seeded CTA dispatcher of one launch: issues CTAs in a drawn order onto SMs with
/// room (every SM filled to the occupancy before a CTA runs), hands out a drawn
/// resident CTA to run to completion, and frees its SM position and warp slots when it
/// is asked for the next one.
pub(crate) struct Dispatcher {
    order: Permutation,
    rng: SplitMix,
    total: u64,
    issued: u64,
    occupancy: u32,
    warps: u32,
    warp_slots: u32,
    words: usize,
    /// Free warp slots per SM, a bit set of `words` words each.
    free: Vec<u64>,
    /// Resident CTAs per SM.
    resident: Vec<u32>,
    /// SMs with room for another CTA, and each SM's index in it (`u32::MAX`: full).
    open: Vec<u32>,
    open_at: Vec<u32>,
    /// Resident CTAs waiting to run, and their warp slots (`warps` per CTA).
    pool: Vec<Placed>,
    pool_slots: Vec<u32>,
    /// The SM and slots of the CTA handed out last, which free on the next call.
    running: Option<u32>,
    running_slots: Vec<u32>,
    scratch: Vec<u32>,
}

impl Dispatcher {
    /// A dispatcher for `total` CTAs of `warps` warps, `occupancy` (≥ 1) per SM.
    pub(crate) fn new(
        gpu: &GpuProfile,
        key: u64,
        total: u64,
        occupancy: u32,
        warps: u32,
    ) -> Dispatcher {
        let sms = gpu.sms as usize;
        let words = gpu.warp_slots.div_ceil(64) as usize;
        let mut free = vec![0u64; sms * words];
        for sm in 0..sms {
            for s in 0..gpu.warp_slots as usize {
                free[sm * words + s / 64] |= 1 << (s % 64);
            }
        }
        Dispatcher {
            order: Permutation::new(total, key),
            rng: SplitMix(hash(&[key, DISPATCH])),
            total,
            issued: 0,
            occupancy,
            warps,
            warp_slots: gpu.warp_slots,
            words,
            free,
            resident: vec![0; sms],
            open: (0..sms as u32).collect(),
            open_at: (0..sms as u32).collect(),
            pool: Vec::new(),
            pool_slots: Vec::new(),
            running: None,
            running_slots: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Frees the previous CTA, issues CTAs while an SM has room, and returns the next
    /// CTA to run with its warps' slots in `slots` (warp `w` in `slots[w]`).
    pub(crate) fn next(&mut self, slots: &mut Vec<u32>) -> Option<Placed> {
        if let Some(sm) = self.running.take() {
            let done = std::mem::take(&mut self.running_slots);
            self.release(sm, &done);
            self.running_slots = done;
        }
        while self.issued < self.total && !self.open.is_empty() {
            let linear = self.order.apply(self.issued);
            self.issued += 1;
            let sm = self.open[self.rng.below(self.open.len() as u64) as usize];
            self.take_slots(sm);
            self.resident[sm as usize] += 1;
            if self.resident[sm as usize] == self.occupancy {
                self.close(sm);
            }
            self.pool.push(Placed { linear, sm });
        }
        if self.pool.is_empty() {
            return None;
        }
        let i = self.rng.below(self.pool.len() as u64) as usize;
        let placed = self.pool.swap_remove(i);
        let w = self.warps as usize;
        let last = self.pool.len() * w;
        slots.clear();
        slots.extend_from_slice(&self.pool_slots[i * w..i * w + w]);
        if i * w != last {
            self.pool_slots.copy_within(last..last + w, i * w);
        }
        self.pool_slots.truncate(last);
        self.running_slots.clear();
        self.running_slots.extend_from_slice(slots);
        self.running = Some(placed.sm);
        Some(placed)
    }

    /// Draws `warps` of `sm`'s free slots, in drawn order, onto the pool.
    fn take_slots(&mut self, sm: u32) {
        let base = sm as usize * self.words;
        self.scratch.clear();
        for (i, &word) in self.free[base..base + self.words].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                self.scratch.push(i as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        debug_assert!(self.scratch.len() >= self.warps as usize);
        for w in 0..self.warps as usize {
            let j = w + self.rng.below((self.scratch.len() - w) as u64) as usize;
            self.scratch.swap(w, j);
            let s = self.scratch[w];
            self.free[base + s as usize / 64] &= !(1 << (s % 64));
            self.pool_slots.push(s);
        }
    }

    fn release(&mut self, sm: u32, slots: &[u32]) {
        let base = sm as usize * self.words;
        for &s in slots {
            debug_assert!(s < self.warp_slots);
            self.free[base + s as usize / 64] |= 1 << (s % 64);
        }
        if self.resident[sm as usize] == self.occupancy {
            self.open_at[sm as usize] = self.open.len() as u32;
            self.open.push(sm);
        }
        self.resident[sm as usize] -= 1;
    }

    fn close(&mut self, sm: u32) {
        let at = self.open_at[sm as usize] as usize;
        self.open.swap_remove(at);
        if let Some(&moved) = self.open.get(at) {
            self.open_at[moved as usize] = at as u32;
        }
        self.open_at[sm as usize] = u32::MAX;
    }

    /// Checks the bookkeeping against the rules of a scheduler (tests): per SM at most
    /// the occupancy of resident CTAs (waiting or running), their warps on distinct
    /// slots, and the free set the complement of those slots. Returns the resident CTAs
    /// per SM.
    #[cfg(test)]
    fn check(&self) -> Vec<u32> {
        let sms = self.resident.len();
        let w = self.warps as usize;
        let mut used = vec![std::collections::BTreeSet::new(); sms];
        let mut count = vec![0u32; sms];
        let running = self.running.map(|sm| (sm, &self.running_slots[..]));
        let waiting = self
            .pool
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sm, &self.pool_slots[i * w..i * w + w]));
        for (sm, slots) in waiting.chain(running) {
            count[sm as usize] += 1;
            for &s in slots {
                assert!(s < self.warp_slots);
                assert!(
                    used[sm as usize].insert(s),
                    "slot {s} of SM {sm} taken twice"
                );
            }
        }
        for sm in 0..sms {
            assert_eq!(count[sm], self.resident[sm]);
            assert!(count[sm] <= self.occupancy, "SM {sm}: {} CTAs", count[sm]);
            for s in 0..self.warp_slots {
                let free = self.free[sm * self.words + s as usize / 64] >> (s % 64) & 1 == 1;
                assert_eq!(free, !used[sm].contains(&s), "SM {sm} slot {s}");
            }
            let open = self.open_at[sm] != u32::MAX;
            assert_eq!(open, count[sm] < self.occupancy, "SM {sm} open");
        }
        count
    }
}

/// The warp turns of one CTA on a seeded GPU: the order its warps take turns in and the
/// length of each turn.
pub(crate) struct Turns {
    key: u64,
    rng: SplitMix,
    longest: u64,
    /// Warp indices in turn order.
    pub(crate) order: Vec<u32>,
}

impl Turns {
    /// Turns for the launch of key `key`; [`Turns::start`] sets them up per CTA.
    pub(crate) fn new(key: u64) -> Turns {
        Turns {
            key,
            rng: SplitMix(0),
            longest: 1,
            order: Vec::new(),
        }
    }

    /// Draws the turns of CTA `linear` with `warps` warps.
    pub(crate) fn start(&mut self, linear: u64, warps: u32) {
        self.rng = SplitMix(hash(&[self.key, TURNS, linear]));
        self.longest = 1 << self.rng.below(12);
        self.order.clear();
        self.order.extend(0..warps);
        for i in (1..self.order.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            self.order.swap(i, j);
        }
    }

    /// The length of the next turn in warp-instructions, in `1..=2048`.
    #[inline]
    pub(crate) fn turn(&mut self) -> u32 {
        1 + self.rng.below(self.longest) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn splitmix_matches_the_reference_generator() {
        // SplitMix64 seeded with 0: the first outputs of the reference implementation
        // (Vigna's splitmix64.c).
        let mut r = SplitMix(0);
        assert_eq!(r.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next(), 0x06c4_5d18_8009_454f);
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_issue_order_is_a_permutation() {
        for n in [1u64, 2, 3, 7, 64, 100, 1000, 4097] {
            for key in 0..4 {
                let p = Permutation::new(n, key);
                let seen: BTreeSet<u64> = (0..n).map(|x| p.apply(x)).collect();
                assert_eq!(seen.len() as u64, n, "n {n} key {key}");
                assert!(seen.iter().all(|&y| y < n));
            }
        }
        // Large grids need no table: the image of an index is computed on its own.
        let p = Permutation::new(i32::MAX as u64 * 65535 * 65535, 9);
        assert!(p.apply(12345) < i32::MAX as u64 * 65535 * 65535);
        let identity = (0..100).all(|x| Permutation::new(100, 5).apply(x) == x);
        assert!(!identity);
    }

    type Runs = Vec<(u64, u32, Vec<u32>)>;

    /// Runs a dispatcher to the end, checking the rules of a scheduler at the first step,
    /// every `every` steps and at the end; returns each CTA's index, SM and slots, in
    /// run order.
    fn dispatch(gpu: &GpuProfile, key: u64, total: u64, k: u32, w: u32, every: usize) -> Runs {
        let mut d = Dispatcher::new(gpu, key, total, k, w);
        let mut slots = Vec::new();
        let mut runs = Vec::new();
        while let Some(p) = d.next(&mut slots) {
            assert!(p.sm < gpu.sms);
            assert_eq!(slots.len(), w as usize);
            if runs.len() % every != 0 {
                runs.push((p.linear, p.sm, slots.clone()));
                continue;
            }
            let resident = d.check();
            if runs.is_empty() {
                // Every SM is filled to the occupancy before the first CTA runs.
                let filled: u64 = resident.iter().map(|&n| n as u64).sum();
                assert_eq!(filled, total.min(gpu.sms as u64 * k as u64));
            }
            runs.push((p.linear, p.sm, slots.clone()));
        }
        d.check();
        runs
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn seeded_dispatch_respects_occupancy_over_random_geometries(
            sms in 1u32..12,
            slot_groups in 1u32..=24,
            max_ctas in 1u32..40,
            max_threads_k in 1u32..=4,
            shared_per_sm_k in 16u32..=256,
            threads in 1u32..=1024,
            shared in 0u32..=64 * 1024,
            total in 1u64..400,
            key in any::<u64>(),
        ) {
            let gpu = GpuProfile {
                name: "test".into(),
                sms,
                subpartitions: 4,
                warp_slots: slot_groups * 4,
                max_threads_per_sm: max_threads_k * 1024,
                shared_per_sm: shared_per_sm_k * 1024,
                max_shared_per_cta: shared_per_sm_k * 1024,
                max_ctas_per_sm: max_ctas,
                max_threads_per_cta: 1024,
            };
            let k = gpu.occupancy(threads, shared);
            prop_assume!(k > 0);
            let w = threads.div_ceil(32);
            // The occupancy already accounts for every limit of one SM.
            prop_assert!(k * w <= gpu.warp_slots);
            prop_assert!(k * w * 32 <= gpu.max_threads_per_sm);
            prop_assert!(k as u64 * shared as u64 <= gpu.shared_per_sm as u64);
            prop_assert!(k <= gpu.max_ctas_per_sm);
            let runs = dispatch(&gpu, key, total, k, w, 1);
            let ran: BTreeSet<u64> = runs.iter().map(|r| r.0).collect();
            prop_assert_eq!(runs.len() as u64, total, "each CTA runs once");
            prop_assert_eq!(ran.len() as u64, total);
            prop_assert_eq!(runs, dispatch(&gpu, key, total, k, w, 1), "reproducible");
        }
    }

    #[test]
    fn a_grid_of_sms_times_occupancy_ctas_covers_every_warp_slot() {
        let gpu = GpuProfile::h100();
        for (threads, key) in [(128u32, 1u64), (256, 2), (1024, 3), (64, 4)] {
            let w = threads.div_ceil(32);
            let k = gpu.occupancy(threads, 0);
            let runs = dispatch(&gpu, key, gpu.sms as u64 * k as u64, k, w, 97);
            let covered: BTreeSet<(u32, u32)> = runs
                .iter()
                .flat_map(|(_, sm, s)| s.iter().map(move |&slot| (*sm, slot)))
                .collect();
            assert_eq!(covered.len() as u32, gpu.sms * k * w, "{threads} threads");
        }
    }

    #[test]
    fn seeds_vary_placement_order_and_turns() {
        let gpu = GpuProfile::sim();
        let k = gpu.occupancy(96, 0);
        let runs: Vec<_> = (0..8)
            .map(|key| dispatch(&gpu, key, 300, k, 3, 1))
            .collect();
        for a in 0..runs.len() {
            for b in a + 1..runs.len() {
                assert_ne!(runs[a], runs[b], "keys {a} and {b}");
            }
        }
        let mut lengths = BTreeSet::new();
        let mut orders = BTreeSet::new();
        let mut t = Turns::new(42);
        for cta in 0..64 {
            t.start(cta, 6);
            orders.insert(t.order.clone());
            let mut sorted = t.order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
            for _ in 0..16 {
                let n = t.turn();
                assert!((1..=2048).contains(&n));
                lengths.insert(n);
            }
        }
        assert!(orders.len() > 30, "{orders:?}");
        assert!(
            lengths.contains(&1) && lengths.iter().any(|&n| n > 256),
            "{lengths:?}"
        );
        assert_ne!(
            launch_key(7, "k", [4, 1, 1], [64, 1, 1], 0),
            launch_key(7, "k", [4, 1, 1], [64, 1, 1], 4)
        );
        assert_ne!(
            launch_key(7, "k", [4, 1, 1], [64, 1, 1], 0),
            launch_key(8, "k", [4, 1, 1], [64, 1, 1], 0)
        );
    }
}
