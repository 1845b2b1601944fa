//! Memory: atomics on global and shared memory, generic addressing of every window,
//! local memory, module variables read and written by the host, vector accesses.

use super::*;
use crate::{AddressSpace, FaultKind};

#[test]
fn global_atomics_from_many_ctas() {
    // 4 CTAs × 256 threads: add 1, add tid (u64), max, min, exch and inc wrap.
    let body = kernel(&format!(
        "
    .reg .b32 %old, %one;
    .reg .b64 %base, %w;
    {PROLOGUE}
    ld.param.u64 %base, [out];
    atom.global.add.u32 %old, [%base], 1;
    cvt.u64.u32 %w, %gtid;
    atom.global.add.u64 %w, [%base+8], %w;
    atom.global.max.s32 %one, [%base+16], %gtid;
    sub.s32 %t2, 0, %gtid;
    atom.global.min.s32 %one, [%base+20], %t2;
    atom.global.inc.u32 %one, [%base+24], 9;
    atom.global.or.b32 %one, [%base+28], %tidx;
    red.global.add.u32 [%base+32], 2;
    st.global.u32 [%rdo+64], %old;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(4, 256), 16 + 1024);
    let n = 1024u64;
    assert_eq!(r.out[0], 1024);
    assert_eq!(r.out[2] as u64 | (r.out[3] as u64) << 32, n * (n - 1) / 2);
    assert_eq!(r.out[4], 1023);
    assert_eq!(r.out[5] as i32, -1023);
    assert_eq!(r.out[6], 1024 % 10, "inc wraps at 9");
    assert_eq!(r.out[7], 255);
    assert_eq!(r.out[8], 2048);
    // The old values returned by the first add are a permutation of 0..1024.
    let mut olds: Vec<u32> = r.out[16..].to_vec();
    olds.sort_unstable();
    assert_eq!(olds, (0..1024).collect::<Vec<u32>>());
}

#[test]
fn shared_atomics_cas_and_float_add() {
    // Per-CTA histogram in shared memory with atom.shared.add, a CAS-built maximum and
    // an f32 atomic add; thread 0 copies the results out.
    let body = kernel(&format!(
        "
    .shared .align 4 .b32 hist[4];
    .shared .align 4 .b32 cmax;
    .shared .align 4 .f32 fsum;
    .reg .pred %p<3>;
    .reg .b32 %a, %bin, %old, %seen, %want, %h;
    .reg .f32 %f;
    {PROLOGUE}
    setp.ne.u32 %p1, %tidx, 0;
    @%p1 bra SYNC;
    st.shared.u32 [hist], 0;
    st.shared.u32 [hist+4], 0;
    st.shared.u32 [hist+8], 0;
    st.shared.u32 [hist+12], 0;
    st.shared.u32 [cmax], 0;
    st.shared.f32 [fsum], 0f00000000;
SYNC:
    bar.sync 0;
    and.b32 %bin, %tidx, 3;
    mov.u32 %a, hist;
    mad.lo.u32 %a, %bin, 4, %a;
    atom.shared.add.u32 %old, [%a], 1;
    // CAS loop: cmax = max(cmax, (tid * 37) % 101)
    mul.lo.u32 %want, %tidx, 37;
    rem.u32 %want, %want, 101;
    ld.shared.u32 %seen, [cmax];
RETRY:
    setp.ge.u32 %p2, %seen, %want;
    @%p2 bra DONE;
    atom.shared.cas.b32 %old, [cmax], %seen, %want;
    setp.ne.u32 %p2, %old, %seen;
    mov.u32 %seen, %old;
    @%p2 bra RETRY;
DONE:
    cvt.rn.f32.u32 %f, %tidx;
    atom.shared.add.f32 %f, [fsum], %f;
    bar.sync 0;
    @%p1 ret;
    ld.param.u64 %rt1, [out];
    ld.shared.u32 %h, [hist];
    st.global.u32 [%rt1], %h;
    ld.shared.u32 %h, [hist+12];
    st.global.u32 [%rt1+4], %h;
    ld.shared.u32 %h, [cmax];
    st.global.u32 [%rt1+8], %h;
    ld.shared.f32 %f, [fsum];
    st.global.f32 [%rt1+12], %f;
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 100), 4);
    assert_eq!(r.out[0], 25);
    assert_eq!(r.out[1], 25);
    assert_eq!(r.out[2], (0..100).map(|t| t * 37 % 101).max().unwrap());
    assert_eq!(f32::from_bits(r.out[3]), (0..100).sum::<u32>() as f32);
}

#[test]
fn generic_addresses_reach_shared_local_global_and_const() {
    let body = format!(
        "
.const .align 4 .b32 ctab[4] = {{ 11, 22, 33, 44 }};
.global .align 4 .b32 gvar = 5;
.visible .entry k(.param .u64 out)
{{
    .shared .align 4 .b32 sh[32];
    .local .align 4 .b32 loc[4];
    .reg .pred %p<6>;
    .reg .b64 %gs, %gl, %gc, %gg, %x;
    .reg .b32 %v, %s, %flags, %f;
    {PROLOGUE}
    // shared, through a generic pointer
    mov.u64 %x, sh;
    cvta.shared.u64 %gs, %x;
    mul.wide.u32 %rt0, %tidx, 4;
    add.u64 %x, %gs, %rt0;
    st.u32 [%x], %tidx;
    bar.sync 0;
    xor.b32 %t2, %tidx, 1;
    mul.wide.u32 %rt0, %t2, 4;
    add.u64 %x, %gs, %rt0;
    ld.u32 %s, [%x];
    // local, through a generic pointer
    mov.u64 %x, loc;
    cvta.local.u64 %gl, %x;
    mul.lo.u32 %t3, %tidx, 10;
    st.u32 [%gl+8], %t3;
    ld.local.u32 %v, [loc+8];
    add.u32 %s, %s, %v;
    // const and global variables, generic
    mov.u64 %x, ctab;
    cvta.const.u64 %gc, %x;
    ld.u32 %v, [%gc+12];
    add.u32 %s, %s, %v;
    mov.u64 %gg, gvar;
    ld.u32 %v, [%gg];
    add.u32 %s, %s, %v;
    // isspacep
    isspacep.shared %p1, %gs;
    isspacep.local %p2, %gl;
    isspacep.global %p3, %gg;
    isspacep.shared %p4, %gg;
    cvta.to.shared.u64 %x, %gs;
    setp.eq.u64 %p5, %x, sh;
    selp.u32 %flags, 1, 0, %p1;
    selp.u32 %f, 2, 0, %p2;
    or.b32 %flags, %flags, %f;
    selp.u32 %f, 4, 0, %p3;
    or.b32 %flags, %flags, %f;
    selp.u32 %f, 8, 0, %p4;
    or.b32 %flags, %flags, %f;
    selp.u32 %f, 16, 0, %p5;
    or.b32 %flags, %flags, %f;
    st.global.u32 [%rdo], %s;
    st.global.u32 [%rdo+128], %flags;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 32), 64);
    for t in 0..32u32 {
        assert_eq!(r.out[t as usize], (t ^ 1) + 10 * t + 44 + 5, "thread {t}");
        assert_eq!(
            r.out[32 + t as usize],
            0b10111,
            "isspacep and cvta.to of thread {t}"
        );
    }
}

#[test]
fn host_reads_and_writes_module_variables() {
    let src = format!(
        "{HEADER}
.global .align 8 .u64 counter = 7;
.global .align 4 .u32 table[4] = {{ 1, 2, 3, 4 }};
.const .align 4 .u32 scale = 3;
.visible .entry k()
{{
    .reg .b64 %c;
    .reg .b32 %i, %s, %v;
    ld.global.u64 %c, [counter];
    ld.const.u32 %s, [scale];
    cvt.u64.u32 %c, %s;
    atom.global.add.u64 %c, [counter], %c;
    mov.u32 %i, %tid.x;
    ld.global.u32 %v, [table+4];
    mul.lo.u32 %v, %v, %s;
    st.global.u32 [table+4], %v;
    ret;
}}"
    );
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&src).unwrap();
    let mut buf = [0u8; 8];
    gpu.read_global(m, "counter", &mut buf).unwrap();
    assert_eq!(u64::from_le_bytes(buf), 7);
    gpu.write_global(m, "scale", &10u32.to_le_bytes()).unwrap();
    let report = gpu.launch(m, "k", &cfg(1, 1), &[]).unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    gpu.read_global(m, "counter", &mut buf).unwrap();
    assert_eq!(u64::from_le_bytes(buf), 17);
    let mut t = [0u8; 16];
    gpu.read_global(m, "table", &mut t).unwrap();
    assert_eq!(&t[4..8], &20u32.to_le_bytes());
    let a = gpu.global_address(m, "table").unwrap();
    let mut w = [0u8; 4];
    gpu.read(a + 12, &mut w).unwrap();
    assert_eq!(w, 4u32.to_le_bytes());
    assert!(gpu.read_global(m, "nope", &mut w).is_err());
    assert!(gpu.write_global(m, "scale", &[0; 8]).is_err(), "too long");
}

#[test]
fn vector_loads_and_stores_and_their_alignment() {
    let body = kernel(&format!(
        "
    .reg .b32 %a, %b, %c, %d;
    .reg .b64 %p;
    {PROLOGUE}
    ld.param.u64 %p, [out];
    mul.wide.u32 %rt0, %tidx, 16;
    add.u64 %p, %p, %rt0;
    add.u32 %b, %tidx, 1;
    add.u32 %c, %tidx, 2;
    add.u32 %d, %tidx, 3;
    st.global.v4.u32 [%p], {{%tidx, %b, %c, %d}};
    ld.global.v2.u32 {{%a, %b}}, [%p+8];
    st.global.v2.u32 [%p], {{%b, %a}};
    ret;
"
    ));
    let r = run_ok(&body, "k", cfg(1, 8), 32);
    for t in 0..8u32 {
        assert_eq!(
            &r.out[4 * t as usize..4 * t as usize + 4],
            &[t + 3, t + 2, t + 2, t + 3]
        );
    }
    // A v4 access at an 8-byte-aligned address is misaligned.
    let bad = kernel(
        "
    .reg .b64 %p;
    .reg .b32 %a;
    ld.param.u64 %p, [out];
    mov.u32 %a, 1;
    st.global.v4.u32 [%p+8], {%a, %a, %a, %a};
    ret;
",
    );
    let r = launch(&bad, "k", cfg(1, 1), 16);
    let f = r.report.fault().expect("misaligned vector store faults");
    assert_eq!(
        f.kind,
        FaultKind::MisalignedAddress {
            space: AddressSpace::Global,
            addr: r.out_ptr + 8,
            size: 4
        }
    );
}

#[test]
fn loads_sign_and_zero_extend_into_wide_registers() {
    let body = format!(
        "
.global .align 4 .b8 bytes[4] = {{ 0x80, 0x7f, 0x01, 0xff }};
.visible .entry k(.param .u64 out)
{{
    .reg .b64 %w;
    .reg .b32 %v;
    {PROLOGUE}
    ld.global.s8 %v, [bytes];
    st.global.u32 [%rdo], %v;
    ld.global.u8 %v, [bytes];
    st.global.u32 [%rdo+4], %v;
    ld.global.s16 %w, [bytes+2];
    st.global.u64 [%rdo+8], %w;
    ret;
}}"
    );
    let r = run_ok(&body, "k", cfg(1, 1), 4);
    assert_eq!(r.out[0], 0xffff_ff80);
    assert_eq!(r.out[1], 0x80);
    assert_eq!(r.out[2] as u64 | (r.out[3] as u64) << 32, -255i64 as u64);
}
