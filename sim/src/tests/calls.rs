//! `.func` calls: `.param` and `.reg` parameters, recursion with local memory,
//! calls under divergence, indirect calls through function addresses.

use super::*;

#[test]
fn recursive_function_with_param_passing_and_local_frames() {
    // fact(n) with its argument kept in a local array of every frame, read back after
    // the recursive call returns (each frame must have its own local memory).
    let body = format!(
        "
.func (.param .b32 ret) fact(.param .b32 n)
{{
    .local .align 4 .b32 keep[1];
    .reg .pred %p1;
    .reg .b32 %n, %r, %k;
    ld.param.b32 %n, [n];
    st.local.u32 [keep], %n;
    setp.le.u32 %p1, %n, 1;
    @%p1 bra BASE;
    sub.u32 %k, %n, 1;
    {{
        .param .b32 a;
        .param .b32 rv;
        st.param.b32 [a], %k;
        call (rv), fact, (a);
        ld.param.b32 %r, [rv];
    }}
    ld.local.u32 %n, [keep];
    mul.lo.u32 %r, %r, %n;
    st.param.b32 [ret], %r;
    ret;
BASE:
    st.param.b32 [ret], 1;
    ret;
}}
.visible .entry k(.param .u64 out)
{{
    .reg .b32 %n, %r;
    {PROLOGUE}
    and.b32 %n, %tidx, 7;
    {{
        .param .b32 a;
        .param .b32 rv;
        st.param.b32 [a], %n;
        call (rv), fact, (a);
        ld.param.b32 %r, [rv];
    }}
    st.global.u32 [%rdo], %r;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 64), 64);
    for t in 0..64u32 {
        let n = t & 7;
        let want: u32 = (1..=n.max(1)).product();
        assert_eq!(r.out[t as usize], want, "thread {t}");
    }
}

#[test]
fn calls_under_divergence_and_register_parameters() {
    // Even lanes call twice(x), odd lanes call square(x) (.reg parameters, a predicate
    // return); both then reconverge.
    let body = format!(
        "
.func (.reg .b32 r, .reg .pred big) twice(.reg .b32 x)
{{
    add.u32 r, x, x;
    setp.gt.u32 big, r, 40;
    ret;
}}
.func (.reg .b32 r, .reg .pred big) square(.reg .b32 x)
{{
    mul.lo.u32 r, x, x;
    setp.gt.u32 big, r, 40;
    ret;
}}
.visible .entry k(.param .u64 out)
{{
    .reg .pred %odd, %big;
    .reg .b32 %r, %m, %b;
    {PROLOGUE}
    and.b32 %t2, %tidx, 1;
    setp.ne.u32 %odd, %t2, 0;
    @%odd bra ODD;
    call (%r, %big), twice, (%tidx);
    bra JOIN;
ODD:
    call (%r, %big), square, (%tidx);
JOIN:
    activemask.b32 %m;
    selp.u32 %b, 1, 0, %big;
    st.global.u32 [%rdo], %r;
    st.global.u32 [%rdo+128], %b;
    st.global.u32 [%rdo+256], %m;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 32), 96);
    for t in 0..32u32 {
        let v = if t % 2 == 0 { 2 * t } else { t * t };
        assert_eq!(r.out[t as usize], v);
        assert_eq!(r.out[32 + t as usize], (v > 40) as u32);
        assert_eq!(
            r.out[64 + t as usize],
            u32::MAX,
            "reconverged after the calls"
        );
    }
}

#[test]
fn indirect_calls_with_divergent_targets() {
    let body = format!(
        "
.func (.reg .b32 r) f_add(.reg .b32 x)
{{
    add.u32 r, x, 100;
    ret;
}}
.func (.reg .b32 r) f_mul(.reg .b32 x)
{{
    mul.lo.u32 r, x, 3;
    ret;
}}
.visible .entry k(.param .u64 out)
{{
    .reg .pred %p1;
    .reg .b64 %fp;
    .reg .b32 %r;
    {PROLOGUE}
    rem.u32 %t2, %tidx, 3;
    setp.eq.u32 %p1, %t2, 0;
    mov.u64 %fp, f_add;
    @%p1 mov.u64 %fp, f_mul;
    call (%r), %fp, (%tidx), proto;
proto: .callprototype (.reg .b32 _) _ (.reg .b32 _);
    st.global.u32 [%rdo], %r;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 32), 32);
    for t in 0..32u32 {
        let want = if t % 3 == 0 { t * 3 } else { t + 100 };
        assert_eq!(r.out[t as usize], want, "thread {t}");
    }
}

#[test]
fn vprintf_returns_zero_and_prints_nothing() {
    let body = format!(
        "
.extern .func (.param .b32 func_retval0) vprintf (.param .b64 vprintf_param_0, .param .b64 vprintf_param_1);
.global .align 1 .b8 fmt[4] = {{104, 105, 10, 0}};
.visible .entry k(.param .u64 out)
{{
    .reg .b32 %r;
    {PROLOGUE}
    mov.u64 %rt1, fmt;
    {{
        .param .b64 p0;
        .param .b64 p1;
        .param .b32 rv;
        st.param.b64 [p0], %rt1;
        st.param.b64 [p1], 0;
        call.uni (rv), vprintf, (p0, p1);
        ld.param.b32 %r, [rv];
    }}
    add.u32 %r, %r, 9;
    st.global.u32 [%rdo], %r;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 4), 4);
    assert_eq!(r.out, vec![9; 4]);
}

#[test]
fn a_launch_gets_the_frame_of_its_kernel_and_the_functions_not_of_other_kernels() {
    // `big` declares 300 registers, `small` 3 and calls `twice` (20): a launch of
    // `small` zeroes frames of 20 registers per thread, not 300, and still computes.
    let body = format!(
        "
.func (.param .b32 ret) twice(.param .b32 n)
{{
    .reg .b32 %t<20>;
    ld.param.b32 %t1, [n];
    add.u32 %t2, %t1, %t1;
    st.param.b32 [ret], %t2;
    ret;
}}
.visible .entry big(.param .u64 out)
{{
    .reg .b32 %b<300>;
    {PROLOGUE}
    st.global.u32 [%rdo], %tidx;
    ret;
}}
.visible .entry small(.param .u64 out)
{{
    .reg .b32 %n, %r;
    {PROLOGUE}
    mov.u32 %n, %tidx;
    {{
        .param .b32 a;
        .param .b32 rv;
        st.param.b32 [a], %n;
        call (rv), twice, (a);
        ld.param.b32 %r, [rv];
    }}
    st.global.u32 [%rdo], %r;
    ret;
}}"
    );
    let module = ptx::parse(&format!("{HEADER}{body}")).unwrap();
    let mut next = 0x1000u64;
    let prog = crate::decode::decode(&module, &mut |size, _| {
        next += size;
        Ok(next - size)
    })
    .unwrap();
    let [big, small] = ["big", "small"].map(|k| prog.frame_of(prog.kernel(k).unwrap())[0]);
    assert!(big >= 300, "{big}");
    assert!((20..300).contains(&small), "{small}");
    assert_eq!(prog.frame_regs, big, "the module-wide frame is the largest");
    let r = run_ok(&body, "small", cfg(1, 64), 64);
    assert_eq!(r.out, (0..64).map(|t| 2 * t).collect::<Vec<u32>>());
}
