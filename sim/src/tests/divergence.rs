//! Divergence and reconvergence: nested branches, loops with divergent exits,
//! unstructured control flow; `activemask` shows which lanes run together.

use super::*;

#[test]
fn nested_branches_compute_per_lane_paths_and_reconverge() {
    // out[2t] = path id, out[2t+1] = activemask inside the innermost branch,
    // and out[64 + t] = activemask after the outer join.
    let body = kernel(&format!(
        "
    .reg .pred %p<4>;
    .reg .b32 %x, %m, %j;
    .reg .b64 %rp, %rq;
    {PROLOGUE}
    ld.param.u64 %rp, [out];
    mul.wide.u32 %rq, %tidx, 8;
    add.u64 %rp, %rp, %rq;
    and.b32 %t2, %tidx, 1;
    setp.ne.u32 %p1, %t2, 0;
    @!%p1 bra EVEN;
    and.b32 %t2, %tidx, 2;
    setp.ne.u32 %p2, %t2, 0;
    @!%p2 bra ODD_B;
    mov.u32 %x, 1;
    activemask.b32 %m;
    bra ODD_JOIN;
ODD_B:
    mov.u32 %x, 2;
    activemask.b32 %m;
ODD_JOIN:
    bra JOIN;
EVEN:
    and.b32 %t2, %tidx, 4;
    setp.ne.u32 %p3, %t2, 0;
    @%p3 bra EVEN_B;
    mov.u32 %x, 3;
    activemask.b32 %m;
    bra JOIN;
EVEN_B:
    mov.u32 %x, 4;
    activemask.b32 %m;
JOIN:
    activemask.b32 %j;
    st.global.u32 [%rp], %x;
    st.global.u32 [%rp+4], %m;
    ld.param.u64 %rp, [out];
    mul.wide.u32 %rq, %tidx, 4;
    add.u64 %rp, %rp, %rq;
    st.global.u32 [%rp+256], %j;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 96);
    let lanes = |f: &dyn Fn(u32) -> bool| (0..32).filter(|&l| f(l)).fold(0u32, |m, l| m | 1 << l);
    for t in 0..32u32 {
        let (x, m) = match (t & 1 != 0, t & 2 != 0, t & 4 != 0) {
            (true, true, _) => (1, lanes(&|l| l & 3 == 3)),
            (true, false, _) => (2, lanes(&|l| l & 3 == 1)),
            (false, _, false) => (3, lanes(&|l| l & 5 == 0)),
            (false, _, true) => (4, lanes(&|l| l & 5 == 4)),
        };
        assert_eq!(r.out[2 * t as usize], x, "path of lane {t}");
        assert_eq!(
            r.out[2 * t as usize + 1],
            m,
            "active lanes on lane {t}'s path"
        );
        assert_eq!(r.out[64 + t as usize], u32::MAX, "lane {t} reconverged");
    }
}

#[test]
fn loop_with_divergent_trip_counts_and_break_reconverges() {
    // Lane t loops t+1 times, but breaks early when i == 5 for lanes with t % 3 == 0;
    // the sum of i is stored, and activemask after the loop must be full.
    let body = kernel(&format!(
        "
    .reg .pred %p<4>;
    .reg .b32 %i, %sum, %n, %m, %r3;
    {PROLOGUE}
    mov.u32 %i, 0;
    mov.u32 %sum, 0;
    add.u32 %n, %tidx, 1;
    rem.u32 %r3, %tidx, 3;
LOOP:
    setp.eq.u32 %p1, %r3, 0;
    setp.eq.u32 %p2, %i, 5;
    and.pred %p3, %p1, %p2;
    @%p3 bra DONE;
    add.u32 %sum, %sum, %i;
    add.u32 %i, %i, 1;
    setp.lt.u32 %p1, %i, %n;
    @%p1 bra LOOP;
DONE:
    activemask.b32 %m;
    st.global.u32 [%rdo], %sum;
    st.global.u32 [%rdo+128], %m;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 64);
    for t in 0..32u32 {
        let n = t + 1;
        let stop = if t % 3 == 0 { n.min(5) } else { n };
        let want: u32 = (0..stop).sum();
        assert_eq!(r.out[t as usize], want, "sum of lane {t}");
        assert_eq!(
            r.out[32 + t as usize],
            u32::MAX,
            "lane {t} reconverged after the loop"
        );
    }
    // Divergence costs warp-instructions but never thread-instructions of idle lanes:
    // thread-instructions are at most 32 × warp-instructions, and strictly fewer here.
    assert!(r.report.thread_instructions < 32 * r.report.warp_instructions);
}

#[test]
fn irreducible_control_flow_with_two_loop_entries() {
    // Even lanes enter the loop at A, odd lanes at B (a loop with two entries, which
    // structured reconvergence tables cannot express). Each pass through A adds 1, B adds
    // 10; the loop runs until the counter reaches t % 4 + 1.
    let body = kernel(&format!(
        "
    .reg .pred %p<3>;
    .reg .b32 %acc, %it, %lim, %m;
    {PROLOGUE}
    mov.u32 %acc, 0;
    mov.u32 %it, 0;
    and.b32 %lim, %tidx, 3;
    add.u32 %lim, %lim, 1;
    and.b32 %t2, %tidx, 1;
    setp.ne.u32 %p1, %t2, 0;
    @%p1 bra B;
A:
    add.u32 %acc, %acc, 1;
B:
    add.u32 %acc, %acc, 10;
    add.u32 %it, %it, 1;
    setp.lt.u32 %p2, %it, %lim;
    @%p2 bra A;
    activemask.b32 %m;
    st.global.u32 [%rdo], %acc;
    st.global.u32 [%rdo+128], %m;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 64);
    for t in 0..32u32 {
        let lim = t % 4 + 1;
        // First pass: A only for even lanes; later passes always go through A.
        let a_passes = if t % 2 == 0 { lim } else { lim - 1 };
        let want = a_passes + 10 * lim;
        assert_eq!(r.out[t as usize], want, "lane {t}");
        assert_eq!(r.out[32 + t as usize], u32::MAX);
    }
}

#[test]
fn out_of_line_block_rejoins_before_a_full_warp_shuffle() {
    // Lanes 0-15 branch to a block laid out after the join point and jump back; lanes
    // 16-31 reach the join (and the full-mask shuffle) first. The shuffle must wait for
    // the other half, so every lane reads lane 31-t's value including the +100.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    .reg .b32 %v, %src, %got;
    {PROLOGUE}
    mov.u32 %v, %tidx;
    setp.lt.u32 %p1, %lane, 16;
    @%p1 bra LATE;
JOIN:
    sub.u32 %src, 31, %lane;
    shfl.sync.idx.b32 %got, %v, %src, 0x1f, 0xffffffff;
    st.global.u32 [%rdo], %got;
    ret;
LATE:
    add.u32 %v, %v, 100;
    bra JOIN;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 32);
    for t in 0..32u32 {
        let s = 31 - t;
        let want = if s < 16 { s + 100 } else { s };
        assert_eq!(r.out[t as usize], want, "lane {t}");
    }
    // Waiting issues nothing: the count is exactly each lane's path length (8 prologue
    // + 3 instructions, then 4 after JOIN, plus 2 for the lanes through LATE).
    assert_eq!(r.report.thread_instructions, 16 * 15 + 16 * 17);
}

#[test]
fn divergent_warps_of_a_multi_warp_cta_are_independent() {
    // 96 threads (3 warps, the last one full): a data-dependent loop per thread.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    .reg .b32 %x, %steps;
    {PROLOGUE}
    mov.u32 %x, %gtid;
    mov.u32 %steps, 0;
COLLATZ:
    setp.le.u32 %p1, %x, 1;
    @%p1 bra END;
    add.u32 %steps, %steps, 1;
    and.b32 %t2, %x, 1;
    setp.eq.u32 %p1, %t2, 0;
    @%p1 shr.u32 %x, %x, 1;
    @!%p1 mad.lo.u32 %x, %x, 3, 1;
    bra COLLATZ;
END:
    st.global.u32 [%rdo], %steps;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(2, 96), 192);
    for t in 0..192u32 {
        let (mut x, mut steps) = (t, 0);
        while x > 1 {
            steps += 1;
            x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
        }
        assert_eq!(r.out[t as usize], steps, "thread {t}");
    }
}

#[test]
fn brx_idx_jumps_per_lane() {
    let body = kernel(&format!(
        "
    .reg .b32 %i, %v;
    {PROLOGUE}
    and.b32 %i, %tidx, 3;
    brx.idx %i, TABLE;
TABLE: .branchtargets L0, L1, L2, L3;
L0: mov.u32 %v, 10;
    bra J;
L1: mov.u32 %v, 11;
    bra J;
L2: mov.u32 %v, 12;
    bra J;
L3: mov.u32 %v, 13;
J:
    st.global.u32 [%rdo], %v;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 32);
    for t in 0..32u32 {
        assert_eq!(r.out[t as usize], 10 + t % 4);
    }
}
