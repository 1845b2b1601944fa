//! Scheduling: the fixed rule pinned, and the seeded mode: placements the kernel sees
//! (`%smid`, `%warpid`, `%nsmid`, `%nwarpid`) are the dispatcher's, seeds vary CTA order
//! and warp interleaving, race-free kernels do not notice, hangs are still detected,
//! and a seeded launch is reproducible.

use super::*;
use crate::schedule::{launch_key, Dispatcher};
use crate::FaultKind;

/// Every thread writes `{%smid, %warpid, %nsmid, %nwarpid}` at word `4 * global id`;
/// thread 0 of each CTA takes a ticket from a counter (the word after the tickets) and
/// writes it at word `4 * threads + ctaid`, so the tickets give the CTAs' run order.
const PLACES: &str = "
.visible .entry k(.param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %t, %c, %n, %g, %sm, %w, %nsm, %nw, %nc, %ids, %i;
    .reg .b64 %base, %a, %o;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mov.u32 %c, %ctaid.x;
    mov.u32 %n, %ntid.x;
    mov.u32 %nc, %nctaid.x;
    mad.lo.u32 %g, %c, %n, %t;
    mul.wide.u32 %o, %g, 16;
    add.u64 %a, %base, %o;
    mov.u32 %sm, %smid;
    mov.u32 %w, %warpid;
    mov.u32 %nsm, %nsmid;
    mov.u32 %nw, %nwarpid;
    st.global.v4.u32 [%a], {%sm, %w, %nsm, %nw};
    setp.ne.u32 %p, %t, 0;
    @%p bra DONE;
    mul.lo.u32 %ids, %nc, %n;
    shl.b32 %ids, %ids, 2;
    add.u32 %i, %ids, %nc;
    mul.wide.u32 %o, %i, 4;
    add.u64 %a, %base, %o;
    atom.global.add.u32 %i, [%a], 1;
    add.u32 %ids, %ids, %c;
    mul.wide.u32 %o, %ids, 4;
    add.u64 %a, %base, %o;
    st.global.u32 [%a], %i;
DONE:
    ret;
}";

/// What [`PLACES`] reports: per CTA, in run order, its index, SM and warp slots.
fn places(
    profile: &GpuProfile,
    scheduling: Scheduling,
    ctas: u32,
    threads: u32,
) -> Vec<(u64, u32, Vec<u32>)> {
    let words = (ctas * threads * 4 + ctas + 1) as usize;
    let r = launch_scheduled(
        profile.clone(),
        scheduling,
        PLACES,
        "k",
        cfg(ctas, threads),
        words,
    );
    assert_eq!(r.report.outcome, Outcome::Completed);
    let warps = threads.div_ceil(32);
    let mut runs = vec![(0u64, 0u32, Vec::new()); ctas as usize];
    for c in 0..ctas {
        let ticket = r.out[(ctas * threads * 4 + c) as usize] as usize;
        let first = (c * threads * 4) as usize;
        let sm = r.out[first];
        let mut slots = Vec::new();
        for t in 0..threads {
            let o = ((c * threads + t) * 4) as usize;
            let [tsm, slot, nsm, nw] = [r.out[o], r.out[o + 1], r.out[o + 2], r.out[o + 3]];
            assert_eq!(
                tsm, sm,
                "CTA {c} thread {t}: the warps of a CTA share an SM"
            );
            assert_eq!((nsm, nw), (profile.sms, profile.warp_slots));
            if t % 32 == 0 {
                slots.push(slot);
            } else {
                assert_eq!(slot, slots[(t / 32) as usize], "CTA {c} thread {t}");
            }
        }
        assert_eq!(slots.len() as u32, warps);
        runs[ticket] = (c as u64, sm, slots);
    }
    runs
}

#[test]
fn default_placements_are_pinned() {
    // The fixed rule, as literal values: CTAs run in linear order; CTA i on SM i % sms,
    // its 3 warps in slots 3r, 3r+1, 3r+2 with r = (i / sms) % 21.
    let sim = places(&GpuProfile::sim(), Scheduling::Fixed, 20, 96);
    let at = |runs: &[(u64, u32, Vec<u32>)], i: usize| (runs[i].1, runs[i].2.clone());
    assert!(sim.iter().enumerate().all(|(i, r)| r.0 == i as u64));
    assert_eq!(at(&sim, 0), (0, vec![0, 1, 2]));
    assert_eq!(at(&sim, 5), (5, vec![0, 1, 2]));
    assert_eq!(at(&sim, 8), (0, vec![3, 4, 5]));
    assert_eq!(at(&sim, 13), (5, vec![3, 4, 5]));
    assert_eq!(at(&sim, 19), (3, vec![6, 7, 8]));
    let h100 = places(&GpuProfile::h100(), Scheduling::Fixed, 300, 96);
    assert_eq!(at(&h100, 131), (131, vec![0, 1, 2]));
    assert_eq!(at(&h100, 132), (0, vec![3, 4, 5]));
    assert_eq!(at(&h100, 299), (35, vec![6, 7, 8]));
    // 1024-thread CTAs: two per SM, the second wave reusing the first's slots.
    let big = places(&GpuProfile::sim(), Scheduling::Fixed, 17, 1024);
    assert_eq!(at(&big, 8), (0, (32..64).collect()));
    assert_eq!(at(&big, 16), (0, (0..32).collect()));
}

#[test]
fn seeded_placements_are_the_dispatchers_and_the_kernel_sees_them() {
    let mut seen = std::collections::BTreeSet::new();
    for (profile, ctas, threads) in [
        (GpuProfile::sim(), 300u32, 96u32),
        (GpuProfile::h100(), 500, 256),
        (GpuProfile::sim(), 5, 1024),
    ] {
        let fixed = places(&profile, Scheduling::Fixed, ctas, threads);
        for seed in 0..6u64 {
            let got = places(&profile, Scheduling::Seeded(seed), ctas, threads);
            let k = profile.occupancy(threads, 0);
            let key = launch_key(seed, "k", [ctas, 1, 1], [threads, 1, 1], 0);
            let mut d = Dispatcher::new(&profile, key, ctas as u64, k, threads.div_ceil(32));
            let mut slots = Vec::new();
            let mut want = Vec::new();
            while let Some(p) = d.next(&mut slots) {
                want.push((p.linear, p.sm, slots.clone()));
            }
            assert_eq!(got, want, "{} seed {seed}", profile.name);
            assert_ne!(got, fixed, "{} seed {seed}", profile.name);
            assert!(
                seen.insert(got),
                "{} seed {seed} repeats a schedule",
                profile.name
            );
        }
    }
}

#[test]
fn seeds_vary_the_interleaving_of_warps() {
    // Lane 0 of each of 4 warps takes 64 tickets from one counter. With the fixed
    // 2,048-instruction turns each warp takes its 64 in one go.
    let body = "
.visible .entry k(.param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %t, %w, %i, %tk, %idx;
    .reg .b64 %base, %a, %o;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    and.b32 %i, %t, 31;
    setp.ne.u32 %p, %i, 0;
    @%p bra DONE;
    shr.u32 %w, %t, 5;
    mov.u32 %i, 0;
LOOP:
    atom.global.add.u32 %tk, [%base+1024], 1;
    mad.lo.u32 %idx, %w, 64, %i;
    mul.wide.u32 %o, %idx, 4;
    add.u64 %a, %base, %o;
    st.global.u32 [%a], %tk;
    add.u32 %i, %i, 1;
    setp.lt.u32 %p, %i, 64;
    @%p bra LOOP;
DONE:
    ret;
}";
    let tickets = |s: Scheduling| {
        let r = launch_scheduled(GpuProfile::sim(), s, body, "k", cfg(1, 128), 257);
        assert_eq!(r.report.outcome, Outcome::Completed);
        r.out[..256].to_vec()
    };
    let fixed = tickets(Scheduling::Fixed);
    assert_eq!(fixed, (0..256).collect::<Vec<u32>>());
    let mut interleaved = 0;
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..24 {
        let t = tickets(Scheduling::Seeded(seed));
        let mut sorted = t.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, fixed, "seed {seed}: every ticket taken once");
        for w in t.chunks(64) {
            assert!(
                w.windows(2).all(|p| p[0] < p[1]),
                "a warp's own order holds"
            );
        }
        if t.chunks(64).any(|w| w[63] - w[0] != 63) {
            interleaved += 1;
        }
        assert_eq!(
            t,
            tickets(Scheduling::Seeded(seed)),
            "seed {seed} reproducible"
        );
        distinct.insert(t);
    }
    assert!(
        interleaved >= 12,
        "{interleaved} of 24 seeds interleave the warps"
    );
    assert!(distinct.len() >= 20, "{} distinct orders", distinct.len());
}

/// A race-free kernel: per-CTA sums by a shared-memory tree with barriers and a warp
/// butterfly, a grand total and a histogram by global atomics.
const REDUCE: &str = "
.visible .entry k(.param .u64 out)
{
    .shared .align 4 .b32 sh[256];
    .reg .pred %p;
    .reg .b32 %t, %c, %n, %g, %v, %x, %y, %s, %j, %sa, %ad, %aj;
    .reg .b64 %base, %a, %o;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mov.u32 %c, %ctaid.x;
    mov.u32 %n, %ntid.x;
    mad.lo.u32 %g, %c, %n, %t;
    mul.lo.u32 %v, %g, 0x9E3779B1;
    shr.u32 %x, %g, 3;
    xor.b32 %v, %v, %x;
    and.b32 %x, %v, 15;
    mul.wide.u32 %o, %x, 4;
    add.u64 %a, %base, %o;
    atom.global.add.u32 %x, [%a+512], 1;
    mov.u32 %sa, sh;
    mad.lo.u32 %ad, %t, 4, %sa;
    st.shared.u32 [%ad], %v;
    bar.sync 0;
    mov.u32 %s, 128;
TREE:
    setp.ge.u32 %p, %t, %s;
    @%p bra SKIP;
    add.u32 %j, %t, %s;
    mad.lo.u32 %aj, %j, 4, %sa;
    ld.shared.u32 %x, [%aj];
    ld.shared.u32 %y, [%ad];
    add.u32 %y, %y, %x;
    st.shared.u32 [%ad], %y;
SKIP:
    bar.sync 0;
    shr.u32 %s, %s, 1;
    setp.ge.u32 %p, %s, 32;
    @%p bra TREE;
    setp.ge.u32 %p, %t, 32;
    @%p bra DONE;
    ld.shared.u32 %y, [%ad];
    shfl.sync.bfly.b32 %x, %y, 16, 31, -1;
    add.u32 %y, %y, %x;
    shfl.sync.bfly.b32 %x, %y, 8, 31, -1;
    add.u32 %y, %y, %x;
    shfl.sync.bfly.b32 %x, %y, 4, 31, -1;
    add.u32 %y, %y, %x;
    shfl.sync.bfly.b32 %x, %y, 2, 31, -1;
    add.u32 %y, %y, %x;
    shfl.sync.bfly.b32 %x, %y, 1, 31, -1;
    add.u32 %y, %y, %x;
    setp.ne.u32 %p, %t, 0;
    @%p bra DONE;
    mul.wide.u32 %o, %c, 4;
    add.u64 %a, %base, %o;
    st.global.u32 [%a], %y;
    atom.global.add.u32 %x, [%base+256], %y;
DONE:
    ret;
}";

#[test]
fn race_free_results_and_counts_do_not_depend_on_the_seed() {
    const CTAS: u32 = 37;
    let value = |g: u32| g.wrapping_mul(0x9E37_79B1) ^ (g >> 3);
    let mut want = vec![0u32; 144];
    for c in 0..CTAS {
        let sum = (0..256).fold(0u32, |s, t| s.wrapping_add(value(c * 256 + t)));
        want[c as usize] = sum;
        want[64] = want[64].wrapping_add(sum);
        for t in 0..256 {
            want[128 + (value(c * 256 + t) & 15) as usize] += 1;
        }
    }
    for (profile, seeds) in [
        (GpuProfile::sim(), 0..24u64),
        (GpuProfile::h100(), 100..106),
    ] {
        let run =
            |s: Scheduling| launch_scheduled(profile.clone(), s, REDUCE, "k", cfg(CTAS, 256), 144);
        let fixed = run(Scheduling::Fixed);
        assert_eq!(fixed.report.outcome, Outcome::Completed);
        assert_eq!(fixed.out, want);
        for seed in seeds {
            let r = run(Scheduling::Seeded(seed));
            assert_eq!(r.report.outcome, Outcome::Completed, "seed {seed}");
            assert_eq!(r.out, want, "{} seed {seed}", profile.name);
            assert_eq!(
                (r.report.warp_instructions, r.report.thread_instructions),
                (
                    fixed.report.warp_instructions,
                    fixed.report.thread_instructions
                ),
                "{} seed {seed}",
                profile.name
            );
        }
    }
}

#[test]
fn hangs_are_still_detected_under_seeds() {
    // A barrier that waits for 96 threads in a CTA of 64: it never completes.
    let deadlock = "
.visible .entry k(.param .u64 out)
{
    bar.sync 0, 96;
    ret;
}";
    // Lanes 0-15 of every warp loop forever; the others exit.
    let endless = "
.visible .entry k(.param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %l;
    mov.u32 %l, %laneid;
    setp.ge.u32 %p, %l, 16;
    @%p bra OUT;
LOOP:
    bra LOOP;
OUT:
    ret;
}";
    // Warps 0-2 spin on a global flag that warp 3 sets after a delay: whatever the
    // order and length of the turns, the setter gets its turns and the spinners end.
    let flag = "
.visible .entry k(.param .u64 out)
{
    .reg .pred %p;
    .reg .b32 %t, %f, %i;
    .reg .b64 %a;
    ld.param.u64 %a, [out];
    mov.u32 %t, %tid.x;
    setp.lt.u32 %p, %t, 96;
    @%p bra SPIN;
    mov.u32 %i, 0;
DELAY:
    add.u32 %i, %i, 1;
    setp.lt.u32 %p, %i, 300;
    @%p bra DELAY;
    atom.global.exch.b32 %f, [%a], 1;
    ret;
SPIN:
    ld.volatile.global.u32 %f, [%a];
    setp.eq.u32 %p, %f, 0;
    @%p bra SPIN;
    ret;
}";
    for seed in 0..16 {
        let s = Scheduling::Seeded(seed);
        let r = launch_scheduled(GpuProfile::sim(), s, deadlock, "k", cfg(3, 64), 1);
        let f = r.report.fault().expect("deadlock");
        assert_eq!(
            f.kind,
            FaultKind::BarrierDeadlock {
                blocked_threads: 64
            },
            "seed {seed}"
        );
        let budget = cfg(2, 64).budget(100_000);
        let r = launch_scheduled(GpuProfile::sim(), s, endless, "k", budget, 1);
        let f = r.report.fault().expect("budget");
        assert_eq!(f.kind, FaultKind::BudgetExceeded { budget: 100_000 });
        assert!(r.report.thread_instructions <= 100_000);
        assert!(r.report.thread_instructions > 100_000 - 32);
        let r = launch_scheduled(GpuProfile::sim(), s, flag, "k", cfg(1, 128), 1);
        assert_eq!(r.report.outcome, Outcome::Completed, "seed {seed}");
        assert_eq!(r.out, [1]);
    }
    // Without the setter the spinners hang until the budget ends them.
    let never = flag.replace("atom.global.exch.b32 %f, [%a], 1;", "");
    let r = launch_scheduled(
        GpuProfile::sim(),
        Scheduling::Seeded(3),
        &never,
        "k",
        cfg(1, 128).budget(1_000_000),
        1,
    );
    assert!(matches!(
        r.report.fault().unwrap().kind,
        FaultKind::BudgetExceeded { .. }
    ));
}

#[test]
fn a_seeded_launch_is_scheduled_alike_on_fresh_and_reused_gpus() {
    let src = format!("{HEADER}{PLACES}");
    let (ctas, threads) = (40u32, 160u32);
    let words = (ctas * threads * 4 + ctas + 1) as usize;
    let run = |gpu: &mut Gpu| {
        let m = gpu.load(&src).unwrap();
        let out = gpu.alloc(words as u64 * 4).unwrap();
        let report = gpu
            .launch(m, "k", &cfg(ctas, threads), &[KernelArg::Ptr(out)])
            .unwrap();
        let mut bytes = vec![0u8; words * 4];
        gpu.read(out, &mut bytes).unwrap();
        gpu.free(out).unwrap();
        (report, bytes)
    };
    let mut fresh = Gpu::new(GpuProfile::sim());
    fresh.set_scheduling(Scheduling::Seeded(77));
    assert_eq!(fresh.scheduling().seed(), Some(77));
    let first = run(&mut fresh);
    let mut reused = Gpu::new(GpuProfile::sim());
    run(&mut reused);
    reused.set_scheduling(Scheduling::Seeded(3));
    run(&mut reused);
    reused.set_scheduling(Scheduling::Seeded(77));
    assert_eq!(run(&mut reused), first);
    reused.set_scheduling(Scheduling::Fixed);
    let mut plain = Gpu::new(GpuProfile::sim());
    assert_eq!(run(&mut reused), run(&mut plain));
}
