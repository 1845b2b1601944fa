//! CTA barriers across warps: `bar.sync`, `barrier.sync`, `bar.red`, producer/consumer
//! with `bar.arrive`, and exited threads.

use super::*;

#[test]
fn bar_sync_orders_shared_memory_across_warps() {
    // 128 threads write shared[t] = 3t; after the barrier each reads shared[(t+37)%128].
    // The last warp writes last in round-robin order, so without a barrier the first
    // warps would read zeros.
    let body = kernel(&format!(
        "
    .shared .align 4 .b32 sh[128];
    .reg .b32 %v, %j, %a;
    {PROLOGUE}
    mul.lo.u32 %v, %tidx, 3;
    mov.u32 %a, sh;
    mad.lo.u32 %t2, %tidx, 4, %a;
    st.shared.u32 [%t2], %v;
    bar.sync 0;
    add.u32 %j, %tidx, 37;
    rem.u32 %j, %j, 128;
    mad.lo.u32 %t2, %j, 4, %a;
    ld.shared.u32 %v, [%t2];
    st.global.u32 [%rdo], %v;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(2, 128), 256);
    for t in 0..256u32 {
        assert_eq!(r.out[t as usize], ((t % 128 + 37) % 128) * 3, "thread {t}");
    }
}

#[test]
fn barrier_reductions_across_warps() {
    // bar.red.popc, .and, .or over 96 threads with predicates depending on tid.
    let body = kernel(&format!(
        "
    .reg .pred %p<6>;
    .reg .b32 %cnt, %a, %o, %b;
    {PROLOGUE}
    rem.u32 %t2, %tidx, 5;
    setp.eq.u32 %p1, %t2, 0;
    bar.red.popc.u32 %cnt, 0, %p1;
    setp.lt.u32 %p2, %tidx, 200;
    bar.red.and.pred %p3, 1, %p2;
    setp.eq.u32 %p4, %tidx, 77;
    barrier.red.or.pred %p5, 2, %p4;
    selp.u32 %a, 1, 0, %p3;
    selp.u32 %o, 1, 0, %p5;
    bar.red.and.pred %p3, 3, %p4;
    selp.u32 %b, 1, 0, %p3;
    st.global.u32 [%rdo], %cnt;
    st.global.u32 [%rdo+384], %a;
    st.global.u32 [%rdo+768], %o;
    st.global.u32 [%rdo+1152], %b;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 96), 4 * 96);
    let popc = (0..96).filter(|t| t % 5 == 0).count() as u32;
    for t in 0..96usize {
        assert_eq!(r.out[t], popc);
        assert_eq!(r.out[96 + t], 1, "and over all-true");
        assert_eq!(r.out[192 + t], 1, "or with one true");
        assert_eq!(r.out[288 + t], 0, "and with one true");
    }
}

#[test]
fn producer_consumer_with_named_barriers() {
    // Warps 0-1 produce into shared memory and bar.arrive on barrier 1 (64 threads of
    // consumers + producers = 128); warps 2-3 wait with bar.sync 1, 128 and consume.
    let body = kernel(&format!(
        "
    .shared .align 4 .b32 sh[64];
    .reg .pred %prod;
    .reg .b32 %a, %v;
    {PROLOGUE}
    mov.u32 %a, sh;
    setp.lt.u32 %prod, %tidx, 64;
    @!%prod bra CONSUME;
    mul.lo.u32 %v, %tidx, %tidx;
    mad.lo.u32 %t2, %tidx, 4, %a;
    st.shared.u32 [%t2], %v;
    bar.arrive 1, 128;
    mov.u32 %v, 0;
    bra STORE;
CONSUME:
    bar.sync 1, 128;
    sub.u32 %t3, %tidx, 64;
    mad.lo.u32 %t2, %t3, 4, %a;
    ld.shared.u32 %v, [%t2];
STORE:
    st.global.u32 [%rdo], %v;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 128), 128);
    for t in 0..128u32 {
        let want = if t < 64 { 0 } else { (t - 64) * (t - 64) };
        assert_eq!(r.out[t as usize], want, "thread {t}");
    }
}

#[test]
fn exited_threads_do_not_hold_a_barrier() {
    // Threads >= 40 exit before the barrier (warp 1 partly, warp 2 entirely).
    let body = kernel(&format!(
        "
    .shared .align 4 .b32 sh[96];
    .reg .pred %p1;
    .reg .b32 %a, %v;
    {PROLOGUE}
    setp.ge.u32 %p1, %tidx, 40;
    @%p1 exit;
    mov.u32 %a, sh;
    mad.lo.u32 %t2, %tidx, 4, %a;
    add.u32 %v, %tidx, 1;
    st.shared.u32 [%t2], %v;
    bar.sync 0;
    sub.u32 %t3, 39, %tidx;
    mad.lo.u32 %t2, %t3, 4, %a;
    ld.shared.u32 %v, [%t2];
    st.global.u32 [%rdo], %v;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 96), 96);
    for t in 0..96u32 {
        let want = 40u32.saturating_sub(t);
        assert_eq!(r.out[t as usize], want, "thread {t}");
    }
}

#[test]
fn barrier_in_both_branches_of_a_divergent_warp() {
    // Volta-style: even and odd lanes reach bar.sync 0 from different instructions; the
    // warp arrives when all its lanes wait, and the barrier completes for both.
    let body = kernel(&format!(
        "
    .shared .align 4 .b32 sh[64];
    .reg .pred %p1;
    .reg .b32 %a, %v;
    {PROLOGUE}
    mov.u32 %a, sh;
    mad.lo.u32 %t2, %tidx, 4, %a;
    and.b32 %t3, %tidx, 1;
    setp.eq.u32 %p1, %t3, 0;
    @%p1 bra EVEN;
    st.shared.u32 [%t2], %tidx;
    bar.sync 0;
    bra AFTER;
EVEN:
    add.u32 %v, %tidx, 1000;
    st.shared.u32 [%t2], %v;
    bar.sync 0;
AFTER:
    xor.b32 %t3, %tidx, 33;
    mad.lo.u32 %t2, %t3, 4, %a;
    ld.shared.u32 %v, [%t2];
    st.global.u32 [%rdo], %v;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 64), 64);
    for t in 0..64u32 {
        let s = t ^ 33;
        let want = if s % 2 == 0 { s + 1000 } else { s };
        assert_eq!(r.out[t as usize], want, "thread {t}");
    }
}
