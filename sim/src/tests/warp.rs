//! Warp-level instructions with the right set of lanes: shuffles, votes, match and
//! redux inside divergent branches, with partial member masks.

use super::*;

#[test]
fn shuffles_inside_divergent_halves_use_their_member_masks() {
    // Lower half: butterfly by 1 within lanes 0-15; upper half: shift down by 2 within
    // lanes 16-31 (clamp at 31), with the in-range predicate.
    let body = kernel(&format!(
        "
    .reg .pred %p<3>;
    .reg .b32 %v, %r, %ok;
    {PROLOGUE}
    mul.lo.u32 %v, %lane, 7;
    setp.lt.u32 %p1, %lane, 16;
    @!%p1 bra UPPER;
    shfl.sync.bfly.b32 %r|%p2, %v, 1, 0x1f, 0x0000ffff;
    bra STORE;
UPPER:
    shfl.sync.down.b32 %r|%p2, %v, 2, 0x1f, 0xffff0000;
STORE:
    selp.u32 %ok, 1, 0, %p2;
    st.global.u32 [%rdo], %r;
    st.global.u32 [%rdo+128], %ok;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 64);
    for l in 0..32u32 {
        let (src, ok) = if l < 16 {
            (l ^ 1, true)
        } else if l + 2 <= 31 {
            (l + 2, true)
        } else {
            (l, false)
        };
        assert_eq!(r.out[l as usize], src * 7, "lane {l}");
        assert_eq!(r.out[32 + l as usize], ok as u32, "predicate of lane {l}");
    }
}

#[test]
fn shuffle_modes_with_segments_and_dynamic_lanes() {
    // Segmented (width 8) up-shuffle by 3 and idx shuffle with per-lane source lanes.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    .reg .b32 %v, %up, %idx, %src, %ok;
    {PROLOGUE}
    add.u32 %v, %lane, 1000;
    // c = ((32 - width) << 8) | 0: segment mask 0x18, clamp 0 for .up
    shfl.sync.up.b32 %up|%p1, %v, 3, 0x1800, 0xffffffff;
    selp.u32 %ok, 1, 0, %p1;
    mul.lo.u32 %src, %lane, 5;
    shfl.sync.idx.b32 %idx, %v, %src, 0x181f, 0xffffffff;
    st.global.u32 [%rdo], %up;
    st.global.u32 [%rdo+128], %ok;
    st.global.u32 [%rdo+256], %idx;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 96);
    for l in 0..32u32 {
        // up: j = l - 3, valid when j >= segment start.
        let seg = l & 0x18;
        let (j, ok) = if l >= 3 && l - 3 >= seg {
            (l - 3, true)
        } else {
            (l, false)
        };
        assert_eq!(r.out[l as usize], 1000 + j, "up, lane {l}");
        assert_eq!(r.out[32 + l as usize], ok as u32);
        // idx: j = seg | (b & 7), always in range with clamp 0x1f.
        let j = seg | ((l * 5) & 7);
        assert_eq!(r.out[64 + l as usize], 1000 + j, "idx, lane {l}");
    }
}

#[test]
fn votes_under_divergence_see_only_their_lanes() {
    // Odd lanes vote on (lane % 3 == 0); even lanes vote on (lane < 40) (always true).
    let body = kernel(&format!(
        "
    .reg .pred %p<6>;
    .reg .b32 %ballot, %all, %any, %uni, %t9;
    {PROLOGUE}
    and.b32 %t2, %lane, 1;
    setp.ne.u32 %p1, %t2, 0;
    @!%p1 bra EVEN;
    rem.u32 %t3, %lane, 3;
    setp.eq.u32 %p2, %t3, 0;
    vote.sync.ballot.b32 %ballot, %p2, 0xaaaaaaaa;
    vote.sync.all.pred %p3, %p2, 0xaaaaaaaa;
    vote.sync.any.pred %p4, %p2, 0xaaaaaaaa;
    vote.sync.uni.pred %p5, %p2, 0xaaaaaaaa;
    bra STORE;
EVEN:
    setp.lt.u32 %p2, %lane, 40;
    vote.sync.ballot.b32 %ballot, %p2, 0x55555555;
    vote.sync.all.pred %p3, %p2, 0x55555555;
    vote.sync.any.pred %p4, %p2, 0x55555555;
    vote.sync.uni.pred %p5, %p2, 0x55555555;
STORE:
    selp.u32 %all, 1, 0, %p3;
    selp.u32 %any, 1, 0, %p4;
    selp.u32 %uni, 1, 0, %p5;
    st.global.u32 [%rdo], %ballot;
    shl.b32 %t9, %any, 1;
    or.b32 %all, %all, %t9;
    shl.b32 %t9, %uni, 2;
    or.b32 %all, %all, %t9;
    st.global.u32 [%rdo+128], %all;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 32), 64);
    let odd_ballot = (0..32)
        .filter(|l| l % 2 == 1 && l % 3 == 0)
        .fold(0u32, |m, l| m | 1 << l);
    for l in 0..32usize {
        if l % 2 == 1 {
            assert_eq!(r.out[l], odd_ballot);
            assert_eq!(r.out[32 + l], 0b010, "odd: all=0 any=1 uni=0");
        } else {
            assert_eq!(r.out[l], 0x5555_5555);
            assert_eq!(r.out[32 + l], 0b111, "even: all=1 any=1 uni=1");
        }
    }
}

#[test]
fn match_and_redux_over_partial_warps() {
    // 24 threads: lanes 24-31 do not exist. Values repeat every 4 lanes.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    .reg .b32 %v, %any, %all, %sum, %mn, %mx, %xr, %okb;
    {PROLOGUE}
    and.b32 %v, %lane, 3;
    match.any.sync.b32 %any, %v, 0x00ffffff;
    match.all.sync.b32 %all|%p1, %v, 0x00ffffff;
    selp.u32 %okb, 1, 0, %p1;
    add.u32 %t2, %lane, 5;
    redux.sync.add.u32 %sum, %t2, 0x00ffffff;
    sub.s32 %t3, 10, %lane;
    redux.sync.min.s32 %mn, %t3, 0x00ffffff;
    redux.sync.max.u32 %mx, %t2, 0x00ffffff;
    redux.sync.xor.b32 %xr, %lane, 0x00ffffff;
    st.global.u32 [%rdo], %any;
    st.global.u32 [%rdo+96], %all;
    st.global.u32 [%rdo+192], %okb;
    st.global.u32 [%rdo+288], %sum;
    st.global.u32 [%rdo+384], %mn;
    st.global.u32 [%rdo+480], %mx;
    st.global.u32 [%rdo+576], %xr;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 24), 24 * 7);
    let sum: u32 = (0..24).map(|l| l + 5).sum();
    let xr = (0..24u32).fold(0, |a, l| a ^ l);
    for l in 0..24usize {
        let same = (0..24)
            .filter(|k| k % 4 == l % 4)
            .fold(0u32, |m, k| m | 1 << k);
        assert_eq!(r.out[l], same, "match.any lane {l}");
        assert_eq!(r.out[24 + l], 0, "match.all: values differ");
        assert_eq!(r.out[48 + l], 0);
        assert_eq!(r.out[72 + l], sum);
        assert_eq!(r.out[96 + l] as i32, 10 - 23);
        assert_eq!(r.out[120 + l], 23 + 5);
        assert_eq!(r.out[144 + l], xr);
    }
}

#[test]
fn activemask_and_lanemasks() {
    let body = kernel(&format!(
        "
    .reg .b32 %a, %lt, %ge;
    {PROLOGUE}
    activemask.b32 %a;
    mov.u32 %lt, %lanemask_lt;
    mov.u32 %ge, %lanemask_ge;
    st.global.u32 [%rdo], %a;
    st.global.u32 [%rdo+80], %lt;
    st.global.u32 [%rdo+160], %ge;
    ret;
"
    ));
    // 20 threads: one partial warp.
    let r = run_ok(&body, "k", cfg(1, 20), 60);
    for l in 0..20u32 {
        assert_eq!(r.out[l as usize], (1 << 20) - 1);
        assert_eq!(r.out[20 + l as usize], (1u32 << l) - 1);
        assert_eq!(r.out[40 + l as usize], !((1u32 << l) - 1));
    }
}
