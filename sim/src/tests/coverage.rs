//! Instructions that decoded but no other test executed: `slct`, the bitwise, exchange
//! and decrement atomics, 64-bit compare-and-swap and min/max, global float atomic
//! adds, `div.full.f32`, and the `%clock64`, `%globaltimer` and `%gridid` registers.
//! Expected values are derived here by hand. Where lanes of one warp hit one address,
//! the simulator applies them in ascending lane order (a GPU's order is unspecified);
//! the tests that depend on that order say so.

use super::*;

/// Words of `out` as a u64 at word index `i` (little-endian pair).
fn u64_at(out: &[u32], i: usize) -> u64 {
    out[i] as u64 | (out[i + 1] as u64) << 32
}

/// One kernel `k(.param .u64 out)` with the test prologue and `body`.
fn kernel(regs: &str, body: &str) -> String {
    super::kernel(&format!(
        "
{PROLOGUE}
    .reg .pred %p<4>;
    .reg .b64 %a;
    ld.param.u64 %a, [out];
{regs}
{body}
    ret;
"
    ))
}

#[test]
fn slct_selects_on_the_sign_of_c() {
    let src = kernel(
        "    .reg .b32 %r<4>;\n    .reg .f32 %f<4>;",
        "
    setp.ne.u32 %p0, %gtid, 0;
    @%p0 bra DONE;
    slct.u32.s32 %r1, 10, 20, 5;                   // c > 0: a
    st.global.u32 [%a], %r1;
    slct.u32.s32 %r1, 10, 20, 0;                   // c = 0: a
    st.global.u32 [%a+4], %r1;
    slct.u32.s32 %r1, 10, 20, -1;                  // c < 0: b
    st.global.u32 [%a+8], %r1;
    mov.u32 %r2, 0x80000000;
    slct.s32.s32 %r1, -7, -9, %r2;                 // c = i32::MIN: b
    st.global.u32 [%a+12], %r1;
    slct.f32.f32 %f1, 0f3F800000, 0f40000000, 0f80000000;  // c = -0: a
    st.global.f32 [%a+16], %f1;
    slct.f32.f32 %f1, 0f3F800000, 0f40000000, 0f7FC00000;  // c = NaN: b
    st.global.f32 [%a+20], %f1;
    slct.f32.f32 %f1, 0f3F800000, 0f40000000, 0fBF800000;  // c = -1: b
    st.global.f32 [%a+24], %f1;
    slct.f32.f32 %f1, 0f3F800000, 0f40000000, 0f80000001;  // c = -subnormal: b
    st.global.f32 [%a+28], %f1;
    slct.ftz.f32.f32 %f1, 0f3F800000, 0f40000000, 0f80000001; // flushed to -0: a
    st.global.f32 [%a+32], %f1;
    slct.u32.f32 %r1, 3, 4, 0f3F000000;            // u32 data, f32 c = 0.5: a
    st.global.u32 [%a+36], %r1;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 1), 16).out;
    assert_eq!(&out[..4], &[10, 10, 20, -9i32 as u32]);
    let (one, two) = (1.0f32.to_bits(), 2.0f32.to_bits());
    assert_eq!(&out[4..9], &[one, two, two, two, one]);
    assert_eq!(out[9], 3);
}

#[test]
fn exchange_atomics_return_the_previous_value() {
    // 32 lanes exchange into one global word and one shared 64-bit word.
    let src = kernel(
        "    .reg .b32 %v, %old;\n    .reg .b64 %w, %wold, %hi;\n    .shared .align 8 .b64 s;",
        "
    setp.ne.u32 %p0, %tidx, 0;
    @%p0 bra W;
    st.shared.u64 [s], 0;
W:
    bar.sync 0;
    add.u32 %v, %tidx, 1;
    atom.global.exch.b32 %old, [%a], %v;
    st.global.u32 [%rdo+128], %old;
    cvt.u64.u32 %hi, %v;
    shl.b64 %hi, %hi, 32;
    cvt.u64.u32 %w, %tidx;
    or.b64 %w, %w, %hi;                            // (tid+1) << 32 | tid
    atom.shared.exch.b64 %wold, [s], %w;
    mul.wide.u32 %rt0, %tidx, 8;
    add.u64 %rt0, %a, %rt0;
    st.global.u64 [%rt0+256], %wold;
    bar.sync 0;
    @%p0 bra DONE;
    ld.shared.u64 %w, [s];
    st.global.u64 [%a+8], %w;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 32), 128).out;
    assert_eq!(out[0], 32, "the last lane's value stays");
    assert_eq!(u64_at(&out, 2), 32 << 32 | 31);
    for l in 0..32u64 {
        // Ascending lane order: lane l sees lane l-1's value (lane 0 the initial 0).
        assert_eq!(out[32 + l as usize] as u64, l, "b32 old of lane {l}");
        let want = if l == 0 { 0 } else { l << 32 | (l - 1) };
        assert_eq!(
            u64_at(&out, 64 + 2 * l as usize),
            want,
            "b64 old of lane {l}"
        );
    }
}

#[test]
fn and_xor_atomics_and_reductions() {
    let src = kernel(
        "    .reg .b32 %m, %old;\n    .reg .b64 %x, %xold;\n    .shared .align 8 .b64 s<2>;",
        "
    setp.ne.u32 %p0, %tidx, 0;
    @%p0 bra W;
    st.global.u32 [%a], 0xFFFFFFFF;
    st.shared.u64 [s], 0xFFFFFFFFFFFFFFFF;
    st.shared.u64 [s+8], 0;
W:
    bar.sync 0;
    // word 0: lanes 0..15 clear their bit, the others AND with all ones.
    shl.b32 %m, 1, %tidx;
    not.b32 %m, %m;
    setp.ge.u32 %p1, %tidx, 16;
    selp.b32 %m, 0xFFFFFFFF, %m, %p1;
    red.global.and.b32 [%a], %m;
    // word 1: each lane sets its own bit; word 2: XOR of (tid+1) * 0x01010101.
    shl.b32 %m, 1, %tidx;
    atom.global.xor.b32 %old, [%a+4], %m;
    st.global.u32 [%rdo+128], %old;
    add.u32 %m, %tidx, 1;
    mul.lo.u32 %m, %m, 0x01010101;
    red.global.xor.b32 [%a+8], %m;
    // shared: AND clears bit tid+32, XOR sets bit tid+16 (64-bit).
    add.u32 %m, %tidx, 32;
    shl.b64 %x, 1, %m;
    not.b64 %x, %x;
    atom.shared.and.b64 %xold, [s], %x;
    add.u32 %m, %tidx, 16;
    shl.b64 %x, 1, %m;
    red.shared.xor.b64 [s+8], %x;
    bar.sync 0;
    @%p0 bra DONE;
    ld.shared.u64 %x, [s];
    st.global.u64 [%a+16], %x;
    ld.shared.u64 %x, [s+8];
    st.global.u64 [%a+24], %x;
    st.global.u64 [%a+32], %xold;                  // lane 0's old: the initial value
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 32), 64).out;
    assert_eq!(out[0], 0xFFFF_0000);
    assert_eq!(out[1], 0xFFFF_FFFF);
    let x = (1..=32u32).fold(0, |acc, v| acc ^ v.wrapping_mul(0x0101_0101));
    assert_eq!(x, 0x2020_2020, "1 ^ 2 ^ ... ^ 32 = 32 in each byte");
    assert_eq!(out[2], x);
    assert_eq!(u64_at(&out, 4), 0x0000_0000_FFFF_FFFF);
    assert_eq!(u64_at(&out, 6), 0x0000_FFFF_FFFF_0000);
    assert_eq!(u64_at(&out, 8), u64::MAX);
    for l in 0..32u64 {
        // Ascending lane order: lane l sees the bits of lanes below it.
        assert_eq!(
            out[32 + l as usize] as u64,
            (1 << l) - 1,
            "xor old of lane {l}"
        );
    }
}

#[test]
fn decrement_atomics_wrap_at_zero_and_above_the_bound() {
    // dec: new = (old == 0 || old > b) ? b : old - 1.
    let src = kernel(
        "    .reg .b32 %old, %r;\n    .shared .align 4 .b32 s;",
        "
    setp.ne.u32 %p0, %tidx, 0;
    @%p0 bra W;
    st.global.u32 [%a], 10;
    st.shared.u32 [s], 0;
    // word 1 (from 0), by thread 0 alone: 0 -> 5 -> 3 (5 > 3) -> 2.
    red.global.dec.u32 [%a+4], 5;
    red.global.dec.u32 [%a+4], 3;
    red.global.dec.u32 [%a+4], 3;
    atom.shared.dec.u32 %old, [s], 7;              // 0 -> 7
    st.global.u32 [%a+8], %old;
    ld.shared.u32 %r, [s];
    st.global.u32 [%a+12], %r;
W:
    bar.sync 0;
    atom.global.dec.u32 %old, [%a], 100;
    st.global.u32 [%rdo+128], %old;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 32), 64).out;
    // 32 decrements from 10 with bound 100: ten reach 0, one wraps to 100, 21 more.
    assert_eq!(out[0], 79);
    assert_eq!(&out[1..4], &[2, 0, 7]);
    for l in 0..32u32 {
        let want = match l {
            0..=9 => 10 - l,
            10 => 0,
            _ => 100 - (l - 11),
        };
        assert_eq!(
            out[32 + l as usize],
            want,
            "old of lane {l} (ascending lane order)"
        );
    }
}

#[test]
fn sixty_four_bit_cas_min_and_max() {
    let src = kernel(
        "    .reg .b64 %v, %old, %seen, %want, %t;\n    .reg .b32 %r;\n    .reg .f64 %fx, %fs;",
        "
    setp.ne.u32 %p0, %tidx, 0;
    @%p0 bra W;
    st.global.u64 [%a], 0xFFFFFFFFFFFFFFFF;        // u64 min from MAX
    st.global.u64 [%a+32], 0xFFFFFFFFFFFFFFFF;     // u64 min of signed values
    st.global.f64 [%a+48], 0dFFF0000000000000;     // f64 max via CAS, from -inf
    st.global.u64 [%a+56], 0x100000002;
    // word 14: CAS with a compare value that matches only the low half: no swap.
    atom.global.cas.b64 %old, [%a+56], 2, 7;
    st.global.u64 [%a+64], %old;
    atom.global.cas.b64 %old, [%a+56], 0x100000002, 0xFFFFFFFF00000000;
    st.global.u64 [%a+72], %old;
W:
    bar.sync 0;
    // v = (tid+1) << 33 | (31 - tid): the high half decides, not the low half.
    add.u32 %r, %tidx, 1;
    cvt.u64.u32 %v, %r;
    shl.b64 %v, %v, 33;
    sub.u32 %r, 31, %tidx;
    cvt.u64.u32 %t, %r;
    or.b64 %v, %v, %t;
    atom.global.min.u64 %old, [%a], %v;
    atom.global.max.u64 %old, [%a+8], %v;
    // s = (tid - 16) << 40: signed and unsigned orders differ.
    cvt.u64.u32 %v, %tidx;
    sub.s64 %v, %v, 16;
    shl.b64 %v, %v, 40;
    atom.global.min.s64 %old, [%a+16], %v;
    red.global.max.s64 [%a+24], %v;
    red.global.min.u64 [%a+32], %v;
    atom.global.max.s64 %old, [%a+40], %v;
    // f64 maximum of tid * 0.5 - 3 with a compare-and-swap loop.
    cvt.rn.f64.u32 %fx, %tidx;
    fma.rn.f64 %fx, %fx, 0d3FE0000000000000, 0dC008000000000000;
    ld.global.u64 %seen, [%a+48];
LOOP:
    mov.b64 %fs, %seen;
    setp.ge.f64 %p1, %fs, %fx;
    @%p1 bra DONE;
    mov.b64 %want, %fx;
    atom.global.cas.b64 %old, [%a+48], %seen, %want;
    setp.ne.b64 %p1, %old, %seen;
    mov.b64 %seen, %old;
    @%p1 bra LOOP;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 32), 32).out;
    assert_eq!(u64_at(&out, 0), 1 << 33 | 31, "u64 min: lane 0");
    assert_eq!(u64_at(&out, 2), 32 << 33, "u64 max: lane 31");
    assert_eq!(u64_at(&out, 4) as i64, -16 << 40, "s64 min (from 0)");
    assert_eq!(u64_at(&out, 6) as i64, 15 << 40, "s64 max (from 0)");
    assert_eq!(
        u64_at(&out, 8),
        0,
        "u64 min of the same values: lane 16's 0"
    );
    assert_eq!(u64_at(&out, 10), 15 << 40, "s64 max");
    assert_eq!(
        f64::from_bits(u64_at(&out, 12)),
        12.5,
        "f64 max via cas.b64"
    );
    assert_eq!(u64_at(&out, 14), 0xFFFF_FFFF_0000_0000, "swapped once");
    assert_eq!(
        u64_at(&out, 16),
        0x1_0000_0002,
        "failed CAS returns the old value"
    );
    assert_eq!(u64_at(&out, 18), 0x1_0000_0002);
}

#[test]
fn global_float_atomic_adds_round_each_step() {
    let src = kernel(
        "    .reg .f32 %f, %fo;\n    .reg .f64 %d, %do;\n    .shared .align 4 .f32 s;",
        "
    setp.ne.u32 %p0, %tidx, 0;
    @%p0 bra W;
    st.global.f32 [%a+4], 0f3F800000;              // 1.0
    st.global.f64 [%a+16], 0d3FF0000000000000;     // 1.0
    st.shared.f32 [s], 0f00000000;
    // Global f32 add flushes subnormal inputs and results; shared and f64 do not.
    atom.global.add.f32 %fo, [%a+8], 0f00000001;  // 0 + 2^-149 (flushed input)
    st.global.u32 [%a+12], 0x00C00000;             // 1.5 * 2^-126
    atom.global.add.f32 %fo, [%a+12], 0f80800000;  // result 2^-127: flushed to +0
    st.global.f32 [%a+36], %fo;
    atom.shared.add.f32 %fo, [s], 0f00000001;
    ld.shared.f32 %fo, [s];
    st.global.f32 [%a+40], %fo;
    atom.global.add.f64 %do, [%a+48], 0d0000000000000001;
W:
    bar.sync 0;
    atom.global.add.f32 %fo, [%a], 0f3E800000;     // += 0.25
    st.global.f32 [%rdo+128], %fo;
    red.global.add.f32 [%a+4], 0f33800000;         // 1 + 2^-24 ties to 1
    red.global.add.f64 [%a+16], 0d3CA0000000000000; // 1 + 2^-53 ties to 1
    atom.global.add.f64 %do, [%a+24], 0d3FE0000000000000; // += 0.5
    mul.wide.u32 %rt0, %tidx, 8;
    add.u64 %rt0, %a, %rt0;
    st.global.f64 [%rt0+256], %do;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 32), 128).out;
    assert_eq!(f32::from_bits(out[0]), 8.0);
    assert_eq!(
        out[1],
        1.0f32.to_bits(),
        "each add rounds (a fused sum gives 1 + 2^-19)"
    );
    assert_eq!(out[2], 0, "subnormal input flushed");
    assert_eq!(out[3], 0, "subnormal result flushed");
    assert_eq!(u64_at(&out, 4), 1.0f64.to_bits());
    assert_eq!(f64::from_bits(u64_at(&out, 6)), 16.0);
    assert_eq!(out[9], 0x00C0_0000, "atom returns the old bits");
    assert_eq!(out[10], 1, "shared f32 add keeps the subnormal");
    assert_eq!(u64_at(&out, 12), 1, "f64 add keeps subnormals");
    for l in 0..32 {
        // Ascending lane order.
        assert_eq!(
            f32::from_bits(out[32 + l]),
            l as f32 * 0.25,
            "f32 old of lane {l}"
        );
        assert_eq!(f64::from_bits(u64_at(&out, 64 + 2 * l)), l as f64 * 0.5);
    }
}

#[test]
fn div_full_f32_is_full_range_and_correctly_rounded() {
    let src = kernel(
        "    .reg .f32 %f;",
        "
    setp.ne.u32 %p0, %gtid, 0;
    @%p0 bra DONE;
    div.full.f32 %f, 0f3F800000, 0f40400000;       // 1/3
    st.global.f32 [%a], %f;
    div.full.f32 %f, 0f40400000, 0f40E00000;       // 3/7
    st.global.f32 [%a+4], %f;
    div.full.f32 %f, 0f3F800000, 0f7F000000;       // 1 / 2^127 = 2^-127 (subnormal)
    st.global.f32 [%a+8], %f;
    div.full.ftz.f32 %f, 0f3F800000, 0f7F000000;   // flushed
    st.global.f32 [%a+12], %f;
    div.full.f32 %f, 0f40C00000, 0f7E800000;       // 6 / 2^126 = 1.5 * 2^-124
    st.global.f32 [%a+16], %f;
    div.full.f32 %f, 0f00000000, 0f00000000;       // 0/0
    st.global.f32 [%a+20], %f;
    div.full.f32 %f, 0fBF800000, 0f00000000;       // -1/+0
    st.global.f32 [%a+24], %f;
    div.full.f32 %f, 0fBF800000, 0f7F800000;       // -1/inf
    st.global.f32 [%a+28], %f;
    div.full.ftz.f32 %f, 0f80000001, 0f3F800000;   // -subnormal flushed: -0
    st.global.f32 [%a+32], %f;
DONE:",
    );
    let out = run_ok(&src, "k", cfg(1, 1), 16).out;
    assert_eq!(out[0], 0x3eaa_aaab);
    assert_eq!(out[1], (3.0f32 / 7.0).to_bits());
    assert_eq!(out[2], 0x0040_0000);
    assert_eq!(out[3], 0);
    assert_eq!(out[4], 0x01c0_0000);
    assert_eq!(out[5], 0x7fff_ffff, "canonical NaN");
    assert_eq!(out[6], f32::NEG_INFINITY.to_bits());
    assert_eq!(out[7], 0x8000_0000);
    assert_eq!(out[8], 0x8000_0000);
}

#[test]
fn clock64_globaltimer_and_gridid() {
    // Each thread reads %clock64 and %globaltimer, runs tid % 5 loop iterations, reads
    // them again, and stores the four values and %gridid (5 u64 per thread).
    let src = kernel(
        "    .reg .b64 %c0, %c1, %g0, %g1, %id, %p;\n    .reg .b32 %n;",
        "
    mov.u64 %c0, %clock64;
    mov.u64 %g0, %globaltimer;
    rem.u32 %n, %tidx, 5;
LOOP:
    setp.eq.u32 %p1, %n, 0;
    @%p1 bra OUT;
    sub.u32 %n, %n, 1;
    bra LOOP;
OUT:
    mov.u64 %c1, %clock64;
    mov.u64 %g1, %globaltimer;
    mov.u64 %id, %gridid;
    mul.wide.u32 %p, %gtid, 40;
    add.u64 %p, %a, %p;
    st.global.u64 [%p], %c0;
    st.global.u64 [%p+8], %c1;
    st.global.u64 [%p+16], %g0;
    st.global.u64 [%p+24], %g1;
    st.global.u64 [%p+32], %id;",
    );
    let (grid, block) = (8, 64);
    let n = (grid * block) as usize;
    let a = run_ok(&src, "k", cfg(grid, block), n * 10);
    let b = run_ok(&src, "k", cfg(grid, block), n * 10);
    assert_eq!(a.out, b.out, "two runs read the same clocks");
    assert_eq!(a.report.warp_instructions, b.report.warp_instructions);
    let total = a.report.warp_instructions;
    for t in 0..n {
        let v = |k: usize| u64_at(&a.out, t * 10 + 2 * k);
        let (c0, c1, g0, g1, id) = (v(0), v(1), v(2), v(3), v(4));
        assert!(c0 < c1, "thread {t}: %clock64 {c0} then {c1}");
        assert!(g0 < g1, "thread {t}: %globaltimer {g0} then {g1}");
        assert!(
            c1 <= g1 && g1 <= total,
            "thread {t}: SM count within the launch's"
        );
        assert_eq!(id, 1, "thread {t}: %gridid");
    }
}
