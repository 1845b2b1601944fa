//! Numeric semantics through PTX: rounding modes, conversions with saturation, small
//! float formats, NaN and signed-zero rules, carry chains and bit instructions. Each
//! expected value is derived here by hand or with Rust's own (IEEE) arithmetic.

use super::*;

/// Runs `body` (instructions using `%r<8>`, `%f<8>`, `%rd<8>`, `%h<8>`, `%p<8>` and
/// storing with `st.global.u32 [%o+4*i]`) on one thread; returns the 64 output words.
fn eval(body: &str) -> Vec<u32> {
    let src = kernel(&format!(
        "
    .reg .pred %p<8>;
    .reg .b32 %r<8>;
    .reg .f32 %f<8>;
    .reg .b64 %rd<8>, %o;
    .reg .b16 %h<8>;
    ld.param.u64 %o, [out];
{body}
    ret;
"
    ));
    run_ok(&src, "k", cfg(1, 1), 64).out
}

fn up(x: f32) -> u32 {
    x.to_bits() + 1
}

#[test]
fn directed_rounding_of_f32_arithmetic() {
    let out = eval(
        "
    add.rn.f32 %f1, 0f3F800000, 0f30800000;   // 1 + 2^-30
    st.global.f32 [%o], %f1;
    add.rp.f32 %f1, 0f3F800000, 0f30800000;
    st.global.f32 [%o+4], %f1;
    add.rz.f32 %f1, 0fBF800000, 0fB0800000;   // -1 - 2^-30
    st.global.f32 [%o+8], %f1;
    add.rm.f32 %f1, 0fBF800000, 0fB0800000;
    st.global.f32 [%o+12], %f1;
    div.rz.f32 %f1, 0f3F800000, 0f40400000;   // 1/3
    st.global.f32 [%o+16], %f1;
    div.rp.f32 %f1, 0f3F800000, 0f40400000;
    st.global.f32 [%o+20], %f1;
    sqrt.rp.f32 %f1, 0f40000000;              // sqrt 2
    st.global.f32 [%o+24], %f1;
    sqrt.rm.f32 %f1, 0f40000000;
    st.global.f32 [%o+28], %f1;
    fma.rp.f32 %f1, 0f3F800000, 0f3F800000, 0f2B800000;  // 1*1 + 2^-40
    st.global.f32 [%o+32], %f1;
    mul.rz.f32 %f1, 0f7F000000, 0f40800000;   // 2^127 * 4 overflows
    st.global.f32 [%o+36], %f1;
    mul.rn.f32 %f1, 0f7F000000, 0f40800000;
    st.global.f32 [%o+40], %f1;
    add.rm.f32 %f1, 0f3F800000, 0fBF800000;   // exact zero in round-down: -0
    st.global.f32 [%o+44], %f1;
",
    );
    assert_eq!(out[0], 1.0f32.to_bits());
    assert_eq!(out[1], up(1.0));
    assert_eq!(out[2], (-1.0f32).to_bits());
    assert_eq!(out[3], up(-1.0), "one ulp more negative");
    let third = 1.0f32 / 3.0; // 0x3eaaaaab, rounded up from 0.3333...
    assert!(third as f64 > 1.0 / 3.0);
    assert_eq!(out[4], third.to_bits() - 1);
    assert_eq!(out[5], third.to_bits());
    let s = 2.0f32.sqrt(); // rounded down
    assert!((s as f64) < 2f64.sqrt());
    assert_eq!((out[6], out[7]), (s.to_bits() + 1, s.to_bits()));
    assert_eq!(out[8], up(1.0));
    assert_eq!(out[9], f32::MAX.to_bits());
    assert_eq!(out[10], f32::INFINITY.to_bits());
    assert_eq!(out[11], 0x8000_0000);
}

#[test]
fn float_to_int_conversions_round_and_saturate() {
    let out = eval(
        "
    cvt.rni.s32.f32 %r1, 0f40200000;  // 2.5
    st.global.u32 [%o], %r1;
    cvt.rni.s32.f32 %r1, 0f40600000;  // 3.5
    st.global.u32 [%o+4], %r1;
    cvt.rni.s32.f32 %r1, 0fC0200000;  // -2.5
    st.global.u32 [%o+8], %r1;
    cvt.rzi.s32.f32 %r1, 0fC02CCCCD;  // -2.7
    st.global.u32 [%o+12], %r1;
    cvt.rmi.s32.f32 %r1, 0fC00CCCCD;  // -2.2
    st.global.u32 [%o+16], %r1;
    cvt.rpi.s32.f32 %r1, 0f400CCCCD;  // 2.2
    st.global.u32 [%o+20], %r1;
    cvt.rzi.s32.f32 %r1, 0f501502F9;  // 1e10
    st.global.u32 [%o+24], %r1;
    cvt.rzi.s32.f32 %r1, 0f7FC00000;  // NaN
    st.global.u32 [%o+28], %r1;
    cvt.rzi.u32.f32 %r1, 0fC0A00000;  // -5
    st.global.u32 [%o+32], %r1;
    cvt.rzi.s64.f64 %rd1, 0dC3E0000000000001;  // just below -2^63
    st.global.u64 [%o+40], %rd1;
    cvt.rni.f32.f32 %f1, 0f40200000;
    st.global.f32 [%o+48], %f1;
",
    );
    let exp = [2, 4, -2i32, -2, -3, 3, i32::MAX, 0, 0];
    for (i, e) in exp.iter().enumerate() {
        assert_eq!(out[i] as i32, *e, "case {i}");
    }
    assert_eq!(out[10] as u64 | (out[11] as u64) << 32, i64::MIN as u64);
    assert_eq!(out[12], 2.0f32.to_bits());
}

#[test]
fn integer_conversions_truncate_extend_and_saturate() {
    let out = eval(
        "
    cvt.sat.u8.s32 %r1, 300;
    st.global.u32 [%o], %r1;
    cvt.sat.u8.s32 %r1, -5;
    st.global.u32 [%o+4], %r1;
    cvt.s8.s32 %r1, 300;
    st.global.u32 [%o+8], %r1;
    cvt.u16.s8 %r1, -1;
    st.global.u32 [%o+12], %r1;
    cvt.s64.s16 %rd1, 0x8000;
    st.global.u64 [%o+16], %rd1;
    cvt.sat.s32.u32 %r1, 0xF0000000;
    st.global.u32 [%o+24], %r1;
    cvt.rn.f32.u64 %f1, 0xFFFFFFFFFFFFFFFF;
    st.global.f32 [%o+28], %f1;
    cvt.rz.f32.u32 %f1, 0xFFFFFFFF;
    st.global.f32 [%o+32], %f1;
",
    );
    assert_eq!(&out[..4], &[255, 0, 44, 0xffff]);
    assert_eq!(out[4] as u64 | (out[5] as u64) << 32, -32768i64 as u64);
    assert_eq!(out[6], i32::MAX as u32);
    assert_eq!(out[7], (u64::MAX as f32).to_bits());
    // 2^32 - 1 rounds toward zero to the largest f32 below 2^32.
    assert_eq!(out[8], 4_294_967_296f32.to_bits() - 1);
}

#[test]
fn half_and_bfloat_conversions_and_arithmetic() {
    let out = eval(
        "
    cvt.rn.f16.f32 %h1, 0f3EAAAAAB;      // 1/3
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o], %r1;
    cvt.rp.f16.f32 %h1, 0f3EAAAAAB;
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o+4], %r1;
    cvt.rn.f16.f32 %h1, 0f477FF000;      // 65520 -> inf
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o+8], %r1;
    cvt.rz.f16.f32 %h1, 0f477FF000;      // -> 65504
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o+12], %r1;
    cvt.f32.f16 %f1, 0x3C00;
    st.global.f32 [%o+16], %f1;
    cvt.rn.bf16.f32 %h1, 0f3F808000;     // tie -> even (0x3f80)
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o+20], %r1;
    cvt.rn.bf16.f32 %h1, 0f3F818000;     // tie -> even (0x3f82)
    cvt.u32.u16 %r1, %h1;
    st.global.u32 [%o+24], %r1;
    add.rn.f16x2 %r2, 0x3C004000, 0x3C003C00;   // (1, 2) + (1, 1)
    st.global.u32 [%o+28], %r2;
    mul.rn.f16 %h2, 0x3C01, 0x3C01;      // (1 + 2^-10)^2 = 1 + 2^-9 + 2^-20 -> 0x3c02
    cvt.u32.u16 %r1, %h2;
    st.global.u32 [%o+32], %r1;
    fma.rn.bf16x2 %r2, 0x3F803F80, 0x40004000, 0x3F800000;  // (1*2+1, 1*2+0)
    st.global.u32 [%o+36], %r2;
    cvt.rn.relu.f16x2.f32 %r2, 0fC0000000, 0f40000000;      // (relu(-2), 2)
    st.global.u32 [%o+40], %r2;
",
    );
    assert_eq!(&out[..4], &[0x3555, 0x3556, 0x7c00, 0x7bff]);
    assert_eq!(out[4], 1.0f32.to_bits());
    assert_eq!((out[5], out[6]), (0x3f80, 0x3f82));
    assert_eq!(out[7], 0x4000_4200);
    assert_eq!(out[8], 0x3c02);
    assert_eq!(out[9], 0x4040_4000);
    assert_eq!(out[10], 0x0000_4000);
}

#[test]
fn nan_and_signed_zero_rules() {
    let out = eval(
        "
    min.f32 %f1, 0f7FC00001, 0f3F800000;    // NaN, 1 -> 1
    st.global.f32 [%o], %f1;
    max.f32 %f1, 0f80000000, 0f00000000;    // -0, +0 -> +0
    st.global.f32 [%o+4], %f1;
    min.f32 %f1, 0f00000000, 0f80000000;    // +0, -0 -> -0
    st.global.f32 [%o+8], %f1;
    add.f32 %f1, 0f7F800000, 0fFF800000;    // inf - inf -> canonical NaN
    st.global.f32 [%o+12], %f1;
    min.NaN.f32 %f1, 0f7FC00001, 0f3F800000;
    st.global.f32 [%o+16], %f1;
    setp.lt.f32 %p1, 0f7FC00000, 0f3F800000;
    setp.ltu.f32 %p2, 0f7FC00000, 0f3F800000;
    setp.num.f32 %p3, 0f7FC00000, 0f3F800000;
    setp.ne.f32 %p4, 0f7FC00000, 0f7FC00000;
    setp.neu.f32 %p5, 0f7FC00000, 0f7FC00000;
    selp.u32 %r1, 1, 0, %p1;
    selp.u32 %r2, 2, 0, %p2;
    or.b32 %r1, %r1, %r2;
    selp.u32 %r2, 4, 0, %p3;
    or.b32 %r1, %r1, %r2;
    selp.u32 %r2, 8, 0, %p4;
    or.b32 %r1, %r1, %r2;
    selp.u32 %r2, 16, 0, %p5;
    or.b32 %r1, %r1, %r2;
    st.global.u32 [%o+20], %r1;
    testp.subnormal.f32 %p1, 0f00000001;
    testp.normal.f32 %p2, 0f00000001;
    selp.u32 %r1, 1, 0, %p1;
    selp.u32 %r2, 2, 0, %p2;
    or.b32 %r1, %r1, %r2;
    st.global.u32 [%o+24], %r1;
    add.ftz.f32 %f1, 0f00000001, 0f00000000;   // subnormal flushed
    st.global.f32 [%o+28], %f1;
    abs.f32 %f1, 0fFFC00001;                   // bit operation: payload kept
    st.global.f32 [%o+32], %f1;
    copysign.f32 %f1, 0fBF800000, 0f40000000;  // sign of -1, magnitude of 2
    st.global.f32 [%o+36], %f1;
",
    );
    assert_eq!(out[0], 1.0f32.to_bits());
    assert_eq!(out[1], 0);
    assert_eq!(out[2], 0x8000_0000);
    assert_eq!(out[3], 0x7fff_ffff);
    assert_eq!(out[4], 0x7fff_ffff);
    assert_eq!(
        out[5], 0b10010,
        "ltu and neu are true with NaN, the others false"
    );
    assert_eq!(out[6], 0b01);
    assert_eq!(out[7], 0);
    assert_eq!(out[8], 0x7fc0_0001);
    assert_eq!(out[9], (-2.0f32).to_bits());
}

#[test]
fn carry_chains_wide_multiplies_and_bit_instructions() {
    let out = eval(
        "
    // 128-bit add: (2^64 - 1) + 1 -> carry into the high word.
    add.cc.u64 %rd1, 0xFFFFFFFFFFFFFFFF, 1;
    addc.u64 %rd2, 1, 0;
    st.global.u64 [%o], %rd1;
    st.global.u64 [%o+8], %rd2;
    // 64-bit subtract with borrow from 32-bit halves: 0x1_00000000 - 1.
    sub.cc.u32 %r1, 0, 1;
    subc.u32 %r2, 1, 0;
    st.global.u32 [%o+16], %r1;
    st.global.u32 [%o+20], %r2;
    mul.hi.u64 %rd1, 0xFFFFFFFFFFFFFFFF, 2;
    st.global.u64 [%o+24], %rd1;
    mul.wide.s32 %rd1, -2, 3;
    st.global.u64 [%o+32], %rd1;
    bfind.u32 %r1, 0x00010000;
    st.global.u32 [%o+40], %r1;
    bfind.shiftamt.u32 %r1, 0x00010000;
    st.global.u32 [%o+44], %r1;
    bfind.s32 %r1, -1;
    st.global.u32 [%o+48], %r1;
    shf.l.wrap.b32 %r1, 0x9ABCDEF0, 0x12345678, 8;
    st.global.u32 [%o+52], %r1;
    shf.r.clamp.b32 %r1, 0x9ABCDEF0, 0x12345678, 40;
    st.global.u32 [%o+56], %r1;
    bfi.b32 %r1, 0xFF, 0, 4, 4;
    st.global.u32 [%o+60], %r1;
    dp4a.u32.u32 %r1, 0x01020304, 0x01010101, 10;
    st.global.u32 [%o+64], %r1;
    dp4a.s32.s32 %r1, 0x000000FF, 0x00000002, 5;
    st.global.u32 [%o+68], %r1;
    lop3.b32 %r1, 0xF0F0F0F0, 0xCCCCCCCC, 0xAAAAAAAA, 0x96;
    st.global.u32 [%o+72], %r1;
    bfe.s32 %r1, 0x0000F000, 12, 4;
    st.global.u32 [%o+76], %r1;
    prmt.b32 %r1, 0x33221100, 0x77E65544, 0x8E40;  // bytes 0, 4, sign of 6, sign of 0
    st.global.u32 [%o+80], %r1;
    mad.wide.u32 %rd1, 0xFFFFFFFF, 0xFFFFFFFF, 1;
    st.global.u64 [%o+88], %rd1;
    brev.b64 %rd1, 1;
    st.global.u64 [%o+96], %rd1;
    popc.b64 %r1, 0xFFFFFFFFFFFFFFFF;
    st.global.u32 [%o+104], %r1;
    clz.b64 %r1, 0x00000000FFFFFFFF;
    st.global.u32 [%o+108], %r1;
",
    );
    let w64 = |i: usize| out[i] as u64 | (out[i + 1] as u64) << 32;
    assert_eq!((w64(0), w64(2)), (0, 2));
    assert_eq!(
        (out[4], out[5]),
        (0xffff_ffff, 0),
        "0x1_00000000 - 1 = 0x0_ffffffff"
    );
    assert_eq!(w64(6), 1);
    assert_eq!(w64(8), -6i64 as u64);
    assert_eq!((out[10], out[11], out[12]), (16, 15, u32::MAX));
    assert_eq!(out[13], 0x3456_789a);
    assert_eq!(out[14], 0x1234_5678);
    assert_eq!(out[15], 0xf0);
    assert_eq!(out[16], 20);
    assert_eq!(out[17] as i32, 5 - 2);
    assert_eq!(out[18], 0xF0F0_F0F0 ^ 0xCCCC_CCCC ^ 0xAAAA_AAAA);
    assert_eq!(out[19] as i32, -1, "a 4-bit field of ones, sign-extended");
    assert_eq!(out[20], 0x00ff_4400);
    assert_eq!(w64(22), 0xffff_fffe_0000_0002);
    assert_eq!(w64(24), 1 << 63);
    assert_eq!((out[26], out[27]), (64, 32));
}

#[test]
fn approximate_math_bits_are_pinned() {
    // The approximate functions run through libm (pure Rust), so these bits are the same
    // on every machine; they were computed once. Each is also the correctly rounded f32
    // (or f64) of the exact value noted, except where a comment says otherwise.
    let out = eval(
        "
    sin.approx.f32 %f1, 0f3F800000;           // sin 1
    st.global.f32 [%o], %f1;
    cos.approx.f32 %f1, 0f3F800000;           // cos 1
    st.global.f32 [%o+4], %f1;
    sin.approx.f32 %f1, 0f49742400;           // sin 1e6 (range reduction)
    st.global.f32 [%o+8], %f1;
    ex2.approx.f32 %f1, 0f3F000000;           // 2^0.5
    st.global.f32 [%o+12], %f1;
    ex2.approx.ftz.f32 %f1, 0fC1A80000;       // 2^-21
    st.global.f32 [%o+16], %f1;
    lg2.approx.f32 %f1, 0f40400000;           // log2 3
    st.global.f32 [%o+20], %f1;
    tanh.approx.f32 %f1, 0f3F000000;          // tanh 0.5
    st.global.f32 [%o+24], %f1;
    rsqrt.approx.f32 %f1, 0f40400000;         // 1/sqrt 3
    st.global.f32 [%o+28], %f1;
    rsqrt.approx.f64 %rd1, 0d4008000000000000; // 1/sqrt 3 in f64
    st.global.u64 [%o+32], %rd1;
    ex2.approx.f16 %h1, 0x3C00;               // 2^1 in f16
    st.global.u16 [%o+40], %h1;
    tanh.approx.bf16 %h1, 0x3F80;             // tanh 1 in bf16
    st.global.u16 [%o+44], %h1;
",
    );
    let f32s = [
        (0x3f57_6aa4, "sin 1"),
        (0x3f0a_5140, "cos 1"),
        (0xbeb3_3259, "sin 1e6"),
        (0x3fb5_04f3, "2^0.5"),
        (0x3500_0000, "2^-21, exact"),
        (0x3fca_e00d, "log2 3"),
        (0x3eec_9a9f, "tanh 0.5"),
        (0x3f13_cd3a, "1/sqrt 3"),
    ];
    for (i, (bits, what)) in f32s.iter().enumerate() {
        assert_eq!(out[i], *bits, "{what}: got {:#010x}", out[i]);
    }
    // 1/sqrt 3 rounded twice (sqrt, then the quotient): one ulp above the correctly
    // rounded 0x3fe279a74590331c.
    let rsqrt64 = out[8] as u64 | (out[9] as u64) << 32;
    assert_eq!(rsqrt64, 0x3fe2_79a7_4590_331d, "got {rsqrt64:#018x}");
    assert_eq!(out[10], 0x4000, "2.0 in f16");
    assert_eq!(out[11], 0x3f43, "tanh 1 = 0.7616 in bf16");
}
