//! Golden tests, one or more per fault model: small hand-written kernels, instrumented,
//! run on the virtual GPU with a fault whose effect is derived by hand in each test.
//!
//! Placement on the default `sim` profile (see the `sim` crate): CTA `i` runs on SM
//! `i % 8`; with one CTA per SM, warp `w` of a CTA takes warp slot `w`, so warp 1 is in
//! sub-partition 1 with warp-slot bit 0 (`%warpid / 4 == 0`).

use gpu::{Device, DeviceExt, GpuError, KernelArg, LaunchConfig, Platform};
use injector::{activations, arm, instrument, FaultSpec, Model};

const HEADER: &str = ".version 8.0\n.target sm_80\n.address_size 64\n";

struct Run {
    out: Result<Vec<u32>, GpuError>,
    count: u64,
}

/// Instruments `kernel` (a kernel `k(.param .u64 out, .param .u32 val)`) for the model
/// of `fault`, launches `grid` CTAs of `block` threads on `sim` with `fault` armed and
/// returns `words` words of the output buffer and the activation count.
fn run(kernel: &str, fault: &str, grid: u32, block: u32, words: usize) -> Run {
    let spec = FaultSpec::parse(fault).unwrap();
    launch(spec.model, kernel, Some(&spec), grid, block, words)
}

/// [`run`] instrumented for `model` with the fault descriptor disabled.
fn run_disabled(model: Model, kernel: &str, grid: u32, block: u32, words: usize) -> Run {
    launch(model, kernel, None, grid, block, words)
}

fn launch(
    model: Model,
    kernel: &str,
    spec: Option<&FaultSpec>,
    grid: u32,
    block: u32,
    words: usize,
) -> Run {
    let src = format!("{HEADER}{kernel}");
    let module = ptx::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let inst = instrument(&module, model).unwrap();
    let mut dev = Platform::new().open(&"sim".parse().unwrap()).unwrap();
    let m = dev
        .load(&inst.ptx())
        .unwrap_or_else(|e| panic!("{e}\n{}", inst.ptx()));
    arm(dev.as_mut(), m, spec).unwrap();
    let out = dev.alloc_zeroed::<u32>(words).unwrap();
    let r = dev.launch(
        m,
        "k",
        &LaunchConfig::linear(grid, block),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(5)],
    );
    let count = activations(dev.as_mut(), m).unwrap();
    Run {
        out: r.map(|_| dev.download::<u32>(out, words).unwrap()),
        count,
    }
}

/// out[%warpid * 32 + %laneid] = %tid.x  (the index does not read %tid)
const TID_STORE: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %t, %w, %l, %i;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mov.u32 %w, %warpid;
    mov.u32 %l, %laneid;
    mad.lo.u32 %i, %w, 32, %l;
    mul.wide.u32 %off, %i, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %t;
    ret;
}
"#;

#[test]
fn disabled_descriptor_changes_nothing() {
    for model in Model::EVERY {
        let r = run_disabled(model, TID_STORE, 1, 64, 64);
        assert_eq!(r.out.unwrap(), (0..64).collect::<Vec<u32>>(), "{model}");
        assert_eq!(r.count, 0, "{model}");
    }
}

#[test]
fn iat_stuck_at_one_on_tid_bit_2_in_lanes_0_to_3_of_warp_slot_1() {
    let r = run(
        TID_STORE,
        "iat:sm=0,sp=1,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1",
        1,
        64,
        64,
    );
    let mut want: Vec<u32> = (0..64).collect();
    // lanes 0..3 of warp 1 have %tid.x = 32..35; bit 2 stuck at 1 gives 36..39.
    for l in 0..4 {
        want[32 + l] = (32 + l as u32) | 4;
    }
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(
        r.count, 1,
        "one warp-instruction (the mov from %tid.x) was corrupted"
    );
}

#[test]
fn iat_force_flips_when_stuck_at_changes_nothing() {
    // Lane 4 of warp 1 has %tid.x = 36, bit 2 already 1: sa1 changes nothing, force flips.
    let r = run(
        TID_STORE,
        "iat:sm=0,sp=1,warps=0x1,lanes=0x10,dim=x,mask=0x4,pol=sa1,force=1",
        1,
        64,
        64,
    );
    let mut want: Vec<u32> = (0..64).collect();
    want[36] = 32;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
    // Without force the same fault is never activated.
    let r = run(
        TID_STORE,
        "iat:sm=0,sp=1,warps=0x1,lanes=0x10,dim=x,mask=0x4,pol=sa1",
        1,
        64,
        64,
    );
    assert_eq!(r.out.unwrap(), (0..64).collect::<Vec<u32>>());
    assert_eq!(r.count, 0);
}

#[test]
fn iat_on_another_sm_or_dimension_is_not_activated() {
    for f in [
        "iat:sm=1,sp=1,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1",
        "iat:sm=0,sp=2,warps=0x1,lanes=0xf,dim=x,mask=0x4,pol=sa1",
        "iat:sm=0,sp=1,warps=0x2,lanes=0xf,dim=x,mask=0x4,pol=sa1",
        "iat:sm=0,sp=1,warps=0x1,lanes=0xf,dim=y,mask=0x4,pol=sa1",
    ] {
        let r = run(TID_STORE, f, 1, 64, 64);
        assert_eq!(r.out.unwrap(), (0..64).collect::<Vec<u32>>(), "{f}");
        assert_eq!(r.count, 0, "{f}");
    }
}

#[test]
fn iaw_corrupts_all_lanes_of_the_warp() {
    let r = run(
        TID_STORE,
        "iaw:sm=0,sp=1,warps=0x1,dim=x,mask=0x1,pol=xor",
        1,
        64,
        64,
    );
    let mut want: Vec<u32> = (0..64).collect();
    for t in 32..64 {
        want[t as usize] = t ^ 1;
    }
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

#[test]
fn iac_corrupts_the_cta_id_on_one_sm() {
    // out[%smid * 32 + %laneid] = %ctaid.x; 4 CTAs of 32 threads on SMs 0..3.
    let kernel = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %c, %s, %l, %i;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %c, %ctaid.x;
    mov.u32 %s, %smid;
    mov.u32 %l, %laneid;
    mad.lo.u32 %i, %s, 32, %l;
    mul.wide.u32 %off, %i, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %c;
    ret;
}
"#;
    let r = run(
        kernel,
        "iac:sm=2,sp=0,warps=0x1,dim=x,mask=0x1,pol=xor",
        4,
        32,
        128,
    );
    let mut want: Vec<u32> = (0..128).map(|i| i / 32).collect();
    for w in &mut want[64..96] {
        *w = 2 ^ 1;
    }
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

/// out[i] = %tid.x (+1000 when %tid.x < 16, by a guarded add)
const GUARDED: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .pred %p;
    .reg .b32 %t, %v;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    mov.u32 %v, %t;
    setp.lt.u32 %p, %t, 16;
    @%p add.u32 %v, %v, 1000;
    st.global.u32 [%addr], %v;
    ret;
}
"#;

fn guarded_golden() -> Vec<u32> {
    (0..32).map(|t| if t < 16 { t + 1000 } else { t }).collect()
}

#[test]
fn ial_lane_on_executes_a_predicated_off_add() {
    let r = run(
        GUARDED,
        "ial:sm=0,sp=0,warps=0x1,lanes=0x30000,mode=on",
        1,
        32,
        32,
    );
    let mut want = guarded_golden();
    want[16] += 1000;
    want[17] += 1000;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(
        r.count, 1,
        "one guarded warp-instruction ran in wrong lanes"
    );
}

#[test]
fn ial_lane_off_drops_results_and_the_address_goes_wrong() {
    // Lane 3 drops every ALU result, the address arithmetic included: %addr keeps its
    // initial value 0 (registers start at 0 on the virtual GPU) and the store faults.
    let r = run(
        GUARDED,
        "ial:sm=0,sp=0,warps=0x1,lanes=0x8,mode=off",
        1,
        32,
        32,
    );
    assert!(
        matches!(r.out, Err(GpuError::IllegalAddress { .. })),
        "{:?}",
        r.out
    );
    assert!(
        r.count >= 3,
        "mov, mul.wide and add.s64 were dropped: {}",
        r.count
    );
}

#[test]
fn ial_lane_off_keeps_old_values_exactly() {
    // Every lane adds val + tid to out[0]. In lane 3 the add's result is dropped (a mov
    // or load is not a site): %v keeps the loaded 5, the lane adds 5 instead of 8, and
    // exactly one warp-instruction changed. In lane 0 the dropped result equals the old
    // value (5 + 0): nothing changes and nothing is counted.
    let kernel = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %t, %v;
    .reg .b64 %base;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    ld.param.u32 %v, [val];
    add.u32 %v, %v, %t;
    red.global.add.u32 [%base], %v;
    ret;
}
"#;
    let golden = 32 * 5 + (0..32).sum::<u32>();
    let spec = |lanes: &str| format!("ial:sm=0,sp=0,warps=0x1,lanes={lanes},mode=off");
    let r = run_disabled(Model::Ial, kernel, 1, 32, 1);
    assert_eq!(r.out.unwrap(), vec![golden]);
    let r = run(kernel, &spec("0x8"), 1, 32, 1);
    assert_eq!(r.out.unwrap(), vec![golden - 3]);
    assert_eq!(r.count, 1);
    let r = run(kernel, &spec("0x1"), 1, 32, 1);
    assert_eq!(r.out.unwrap(), vec![golden]);
    assert_eq!(r.count, 0);
}

#[test]
fn wv_stuck_predicates_change_the_selects() {
    let kernel = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .pred %p;
    .reg .b32 %t, %v;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    setp.lt.u32 %p, %t, 16;
    selp.u32 %v, 1, 0, %p;
    st.global.u32 [%addr], %v;
    ret;
}
"#;
    let golden: Vec<u32> = (0..32).map(|t| u32::from(t < 16)).collect();
    let r = run(
        kernel,
        "wv:sm=0,sp=0,warps=0x1,lanes=0xf0000,pol=sa1",
        1,
        32,
        32,
    );
    let mut want = golden.clone();
    want[16..20].fill(1);
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
    let r = run(
        kernel,
        "wv:sm=0,sp=0,warps=0x1,lanes=0x3,pol=sa0",
        1,
        32,
        32,
    );
    let mut want = golden.clone();
    want[0..2].fill(0);
    assert_eq!(r.out.unwrap(), want);
    // stuck-at-0 on lanes whose predicate is already 0: not activated
    let r = run(
        kernel,
        "wv:sm=0,sp=0,warps=0x1,lanes=0xff0000,pol=sa0",
        1,
        32,
        32,
    );
    assert_eq!(r.out.unwrap(), golden);
    assert_eq!(r.count, 0);
}

#[test]
fn brx_inverts_branch_directions_in_selected_lanes() {
    let kernel = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .pred %p;
    .reg .b32 %t, %v;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    setp.lt.u32 %p, %t, 16;
    @%p bra LOW;
    mov.u32 %v, 2;
    bra.uni DONE;
LOW:
    mov.u32 %v, 1;
DONE:
    st.global.u32 [%addr], %v;
    ret;
}
"#;
    let r = run(kernel, "brx:sm=0,sp=0,warps=0x1,lanes=0x10001", 1, 32, 32);
    let mut want: Vec<u32> = (0..32).map(|t| if t < 16 { 1 } else { 2 }).collect();
    want[0] = 2;
    want[16] = 1;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

/// out[tid] = %r1 + %r2 with %r0 = 7, %r1 = tid, %r2 = 1000; address registers have no
/// numbered neighbours, so only the add has register fields the fault can redirect.
const RA: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %idx, %r<4>;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %idx, %tid.x;
    mov.u32 %r0, 7;
    mov.u32 %r1, %tid.x;
    mov.u32 %r2, 1000;
    add.u32 %r3, %r1, %r2;
    mul.wide.u32 %off, %idx, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %r3;
    ret;
}
"#;

#[test]
fn ira_first_source_reads_the_neighbouring_register() {
    // field 1 = first register source; bit 0: %r1 -> %r0 (= 7)
    let r = run(
        RA,
        "ira:sm=0,sp=0,warps=0x1,lanes=0x6,field=1,bit=0",
        1,
        32,
        32,
    );
    let mut want: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    want[1] = 1007;
    want[2] = 1007;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
    // field 2, bit 1 hits two instructions of lane 5: the add reads %r0 for %r2
    // (%r3 = 5 + 7), then the store's second register field (after the address
    // register) reads %r1 for %r3 and stores 5.
    let r = run(
        RA,
        "ira:sm=0,sp=0,warps=0x1,lanes=0x20,field=2,bit=1",
        1,
        32,
        32,
    );
    let mut want: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    want[5] = 5;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 2);
}

#[test]
fn ira_counts_only_values_that_change() {
    // Lane 7 reads %r0 (= 7) for %r1 (= tid = 7): the same value, no change, not
    // activated, and the output is the golden one.
    let golden: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    let r = run(
        RA,
        "ira:sm=0,sp=0,warps=0x1,lanes=0x80,field=1,bit=0",
        1,
        32,
        32,
    );
    assert_eq!(r.out.unwrap(), golden);
    assert_eq!(r.count, 0);
}

#[test]
fn ira_destination_writes_the_neighbouring_register() {
    // field 0, bit 0, lane 1: mov %r0, 7 writes %r1 = 7; mov %r1, %tid.x writes
    // %r0 = 1; mov %r2, 1000 writes %r3 = 1000; add %r3, %r1, %r2 writes
    // %r2 = 7 + 0 and leaves %r3 = 1000, which is stored. Four writes, four changes.
    let r = run(
        RA,
        "ira:sm=0,sp=0,warps=0x1,lanes=0x2,field=0,bit=0",
        1,
        32,
        32,
    );
    let mut want: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    want[1] = 1000;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 4);
}

#[test]
fn ir_traps_at_the_first_instruction_of_the_group() {
    let r = run(RA, "ir:sm=0,sp=0,warps=0x1,op=add.u32", 1, 32, 32);
    assert!(
        matches!(r.out, Err(GpuError::Trap { .. })),
        "{:?}",
        r.out.as_ref().err()
    );
    assert_eq!(r.count, 1);
    // a group the kernel does not execute: nothing happens
    let r = run(RA, "ir:sm=0,sp=0,warps=0x1,op=sub.u32", 1, 32, 32);
    assert_eq!(
        r.out.unwrap(),
        (0..32).map(|t| t + 1000).collect::<Vec<u32>>()
    );
    assert_eq!(r.count, 0);
}

#[test]
fn ioc_add_computes_sub() {
    let r = run(
        RA,
        "ioc:sm=0,sp=0,warps=0x1,lanes=0x1,op=add.u32,subst=sub",
        1,
        32,
        32,
    );
    let mut want: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    want[0] = 0u32.wrapping_sub(1000);
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

#[test]
fn ioc_counts_only_results_that_change() {
    // add -> or: t | 1000 == t + 1000 for t < 8 (1000 has its low three bits clear), so
    // lanes 0-7 compute the right sum and the fault is not activated; lane 8 gets
    // 8 | 1000 = 1000.
    let spec = |lanes: &str| format!("ioc:sm=0,sp=0,warps=0x1,lanes={lanes},op=add.u32,subst=or");
    let golden: Vec<u32> = (0..32).map(|t| t + 1000).collect();
    let r = run(RA, &spec("0xff"), 1, 32, 32);
    assert_eq!(r.out.unwrap(), golden);
    assert_eq!(r.count, 0);
    let r = run(RA, &spec("0x1ff"), 1, 32, 32);
    let mut want = golden;
    want[8] = 1000;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

#[test]
fn fu_flips_result_bits_of_one_opcode_in_one_lane() {
    let r = run(
        RA,
        "fu:sm=0,sp=0,warps=0xffffffff,lanes=0x4,op=add.u32,mask=0x1",
        1,
        64,
        64,
    );
    let mut want: Vec<u32> = (0..64).map(|t| t + 1000).collect();
    // warp 0 is in sub-partition 0, warp 1 in sub-partition 1: only lane 2 of warp 0
    want[2] = 1002 ^ 1;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

#[test]
fn iio_flips_immediates_and_address_offsets() {
    // Lane 1: `mov %r2, 1000` reads 1000 ^ 64 = 936; `mul.wide %off, %idx, 4` reads
    // 4 ^ 64 = 68; the store's offset 0 reads 64. So lane 1 stores 1 + 936 = 937 at
    // byte 1 * 68 + 64 = 132, element 33, and element 1 stays 0.
    let r = run(RA, "iio:sm=0,sp=0,warps=0x1,lanes=0x2,mask=0x40", 1, 32, 64);
    let mut want: Vec<u32> = (0..32)
        .map(|t| t + 1000)
        .chain(std::iter::repeat_n(0, 32))
        .collect();
    want[1] = 0;
    want[33] = 937;
    assert_eq!(r.out.unwrap(), want);
    // three sites with immediates executed: mov, mul.wide, st (mov %r0, 7 too: 7 ^ 64)
    assert_eq!(r.count, 4);
}

#[test]
fn iio_result_variant_flips_results_of_instructions_with_immediates() {
    // NVBitPERfi's IIO: the immediates are read intact, the results of `mov %r0, 7`,
    // `mov %r2, 1000` and `mul.wide %off, %idx, 4` are xor-ed with 0x100 in lane 1:
    // %r2 = 1000 ^ 256 = 744, %off = 4 ^ 256 = 260. Lane 1 stores 1 + 744 = 745 at
    // byte 260, element 65, and element 1 stays 0. The store has no register result.
    let r = run(
        RA,
        "iio:sm=0,sp=0,warps=0x1,lanes=0x2,mask=0x100,var=result",
        1,
        32,
        128,
    );
    let mut want: Vec<u32> = (0..32)
        .map(|t| t + 1000)
        .chain(std::iter::repeat_n(0, 96))
        .collect();
    want[1] = 0;
    want[65] = 745;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 3, "mov %r0, mov %r2 and mul.wide changed");
    // var=imm is the default
    let a = run(
        RA,
        "iio:sm=0,sp=0,warps=0x1,lanes=0x2,mask=0x40,var=imm",
        1,
        32,
        64,
    );
    let b = run(RA, "iio:sm=0,sp=0,warps=0x1,lanes=0x2,mask=0x40", 1, 32, 64);
    assert_eq!(a.out.unwrap(), b.out.unwrap());
    assert_eq!(a.count, b.count);
}

/// out[%tid.x] = %ntid.x + %nctaid.x, the output pointer from a global (so no
/// constant-bank load moves the stores): the outputs and the activation count of
/// `fault` on 1 CTA of 64 threads.
fn ntid_run(fault: &str) -> (Vec<u32>, u64) {
    let kernel = r#"
.visible .global .align 8 .u64 outp;
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %t, %n, %g;
    .reg .b64 %base, %off, %addr;
    ld.global.u64 %base, [outp];
    mov.u32 %t, %tid.x;
    mov.u32 %n, %ntid.x;
    mov.u32 %g, %nctaid.x;
    add.u32 %n, %n, %g;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %n;
    ret;
}
"#;
    let module = ptx::parse(&format!("{HEADER}{kernel}")).unwrap();
    let inst = instrument(&module, Model::Ims).unwrap();
    let mut dev = Platform::new().open(&"sim".parse().unwrap()).unwrap();
    let m = dev.load(&inst.ptx()).unwrap();
    arm(dev.as_mut(), m, Some(&FaultSpec::parse(fault).unwrap())).unwrap();
    let out = dev.alloc_zeroed::<u32>(64).unwrap();
    dev.write_global(m, "outp", &out.ptr.to_le_bytes()).unwrap();
    dev.launch(
        m,
        "k",
        &LaunchConfig::linear(1, 64),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(5)],
    )
    .unwrap();
    let got = dev.download::<u32>(out, 64).unwrap();
    (got, activations(dev.as_mut(), m).unwrap())
}

#[test]
fn ims_src_all_also_flips_ntid_and_nctaid_reads() {
    // Every thread stores 64 + 1 = 65. With src=all, lane 3 of warp 0 reads
    // %ntid.x = 64 ^ 0x10 = 80 and %nctaid.x = 1 ^ 0x10 = 17: 97.
    let (out, count) = ntid_run("ims:sm=0,sp=0,warps=0x1,lanes=0x8,mask=0x10,src=all");
    let mut want = vec![65u32; 64];
    want[3] = 97;
    assert_eq!(out, want);
    assert_eq!(count, 2, "the two special-register reads");
    // cbank (the default): they are read intact
    let (out, count) = ntid_run("ims:sm=0,sp=0,warps=0x1,lanes=0x8,mask=0x10,src=cbank");
    assert_eq!(out, vec![65u32; 64]);
    assert_eq!(count, 0);
}

#[test]
fn ims_flips_kernel_parameters() {
    // The output pointer comes from a global, so only `val` (5) is read from the
    // constant bank: lanes 0 and 1 see 5 ^ 0x10.
    let kernel = r#"
.visible .global .align 8 .u64 outp;
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .reg .b32 %t, %v;
    .reg .b64 %base, %off, %addr;
    ld.global.u64 %base, [outp];
    ld.param.u32 %v, [val];
    mov.u32 %t, %tid.x;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %v;
    ret;
}
"#;
    let src = format!("{HEADER}{kernel}");
    let module = ptx::parse(&src).unwrap();
    let inst = instrument(&module, Model::Ims).unwrap();
    let mut dev = Platform::new().open(&"sim".parse().unwrap()).unwrap();
    let m = dev.load(&inst.ptx()).unwrap();
    let spec = FaultSpec::parse("ims:sm=0,sp=0,warps=0x1,lanes=0x3,mask=0x10").unwrap();
    arm(dev.as_mut(), m, Some(&spec)).unwrap();
    let out = dev.alloc_zeroed::<u32>(32).unwrap();
    dev.write_global(m, "outp", &out.ptr.to_le_bytes()).unwrap();
    dev.launch(
        m,
        "k",
        &LaunchConfig::linear(1, 32),
        &[KernelArg::Ptr(out.ptr), KernelArg::U32(5)],
    )
    .unwrap();
    let mut want = vec![5u32; 32];
    want[0] = 5 ^ 0x10;
    want[1] = 5 ^ 0x10;
    assert_eq!(dev.download::<u32>(out, 32).unwrap(), want);
    assert_eq!(activations(dev.as_mut(), m).unwrap(), 1);
    // A flipped low bit of the pointer parameter misaligns every store of lane 0.
    let r = run(
        TID_STORE,
        "ims:sm=0,sp=0,warps=0x1,lanes=0x1,mask=0x1",
        1,
        32,
        32,
    );
    assert!(
        matches!(r.out, Err(GpuError::MisalignedAddress { .. })),
        "{:?}",
        r.out
    );
}

/// tid -> shared[tid]; barrier; out[tid] = shared[tid] + 1
const SHARED: &str = r#"
.visible .entry k(.param .u64 out, .param .u32 val)
{
    .shared .align 4 .b8 buf[256];
    .reg .b32 %t, %v, %s;
    .reg .b64 %base, %off, %addr;
    ld.param.u64 %base, [out];
    mov.u32 %t, %tid.x;
    shl.b32 %s, %t, 2;
    mov.u32 %v, buf;
    add.u32 %s, %s, %v;
    st.shared.u32 [%s], %t;
    bar.sync 0;
    ld.shared.u32 %v, [%s];
    add.u32 %v, %v, 1;
    mul.wide.u32 %off, %t, 4;
    add.s64 %addr, %base, %off;
    st.global.u32 [%addr], %v;
    ret;
}
"#;

#[test]
fn imd_corrupts_store_data_and_addresses() {
    let golden: Vec<u32> = (1..=32).collect();
    // default spaces (shared, local): the shared store of lane 1 writes 1 ^ 0x100
    let r = run(
        SHARED,
        "imd:sm=0,sp=0,warps=0x1,lanes=0x2,mask=0x100",
        1,
        32,
        32,
    );
    let mut want = golden.clone();
    want[1] = (1 ^ 0x100) + 1;
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
    // global stores only: lanes 0 and 2 write value ^ 0x100
    let r = run(
        SHARED,
        "imd:sm=0,sp=0,warps=0x1,lanes=0x5,mask=0x100,spaces=g",
        1,
        32,
        32,
    );
    let mut want = golden.clone();
    want[0] ^= 0x100;
    want[2] ^= 0x100;
    assert_eq!(r.out.unwrap(), want);
    // address fault on the global store of lane 0: 0 ^ 0x80 = byte 128 = element 32
    let r = run(
        SHARED,
        "imd:sm=0,sp=0,warps=0x1,lanes=0x1,mask=0x80,mode=addr,spaces=g",
        1,
        32,
        64,
    );
    let mut want: Vec<u32> = golden
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0, 32))
        .collect();
    want[0] = 0;
    want[32] = 1;
    assert_eq!(r.out.unwrap(), want);
}

#[test]
fn wdrop_removes_a_warp() {
    let r = run(TID_STORE, "wdrop:sm=0,sp=1,warps=0x1", 1, 64, 64);
    let want: Vec<u32> = (0..64).map(|t| if t < 32 { t } else { 0 }).collect();
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
}

#[test]
fn wdrop_before_a_barrier() {
    // Warp 1 never runs. A `bar.sync` without thread count waits for the warps that have
    // not exited (as GPUs do), so warp 0 passes it and the output of warp 1 is missing.
    let r = run(
        &SHARED.replace("buf[256]", "buf[512]"),
        "wdrop:sm=0,sp=1,warps=0x1",
        1,
        64,
        64,
    );
    let want: Vec<u32> = (0..64).map(|t| if t < 32 { t + 1 } else { 0 }).collect();
    assert_eq!(r.out.unwrap(), want);
    assert_eq!(r.count, 1);
    // With an explicit thread count the barrier can never complete: a hang.
    let counted = SHARED
        .replace("buf[256]", "buf[512]")
        .replace("bar.sync 0;", "bar.sync 0, 64;");
    let r = run(&counted, "wdrop:sm=0,sp=1,warps=0x1", 1, 64, 64);
    assert!(matches!(r.out, Err(GpuError::Hang { .. })), "{:?}", r.out);
}

/// Runs the legacy fixture (`saxpy`: out[i] = 2a·x[i] + y[i], then lane 0 of each warp
/// writes a shuffle sum of its lanes' indices) on `sim`, grid 2 × 32 threads, n = 64,
/// a = 3, x[i] = i, y[i] = 1: (out, sums, activations).
fn run_legacy(ptx_text: &str, fault: Option<&str>) -> (Vec<f32>, Vec<u32>, u64) {
    let mut dev = Platform::new().open(&"sim".parse().unwrap()).unwrap();
    let m = dev.load(ptx_text).unwrap();
    let instrumented = ptx_text.contains(injector::DESC_SYMBOL);
    if instrumented {
        let spec = fault.map(|f| FaultSpec::parse(f).unwrap());
        arm(dev.as_mut(), m, spec.as_ref()).unwrap();
    }
    let x: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let x = dev.upload(&x).unwrap();
    let y = dev.upload(&[1.0f32; 64]).unwrap();
    let out = dev.alloc_zeroed::<f32>(64).unwrap();
    let sums = dev.alloc_zeroed::<u32>(2).unwrap();
    dev.launch(
        m,
        "saxpy",
        &LaunchConfig::linear(2, 32),
        &[
            KernelArg::F32(3.0),
            KernelArg::Ptr(x.ptr),
            KernelArg::Ptr(y.ptr),
            KernelArg::Ptr(out.ptr),
            KernelArg::Ptr(sums.ptr),
            KernelArg::U32(64),
        ],
    )
    .unwrap();
    let count = if instrumented {
        activations(dev.as_mut(), m).unwrap()
    } else {
        0
    };
    (
        dev.download::<f32>(out, 64).unwrap(),
        dev.download::<u32>(sums, 2).unwrap(),
        count,
    )
}

#[test]
fn legacy_ptx_is_raised_instrumented_and_runs() {
    let src = include_str!("fixtures/legacy_ptx32.ptx");
    let (out, sums, _) = run_legacy(src, None);
    assert_eq!(
        out,
        (0..64).map(|i| 6.0 * i as f32 + 1.0).collect::<Vec<_>>()
    );
    // lane 0 of warp 0: 0 + 16 (lane 16) + (8 + 24) (lane 8's partial sum)
    assert_eq!(sums[0], 48);
    let inst = instrument(&ptx::parse(src).unwrap(), Model::Iat).unwrap();
    assert!(inst.raised.is_some());
    let text = inst.ptx();
    // disabled: what the original computes
    assert_eq!(run_legacy(&text, None), (out.clone(), sums.clone(), 0));
    // bit 0 of %tid.x flipped in lane 0 of warp 0 of CTA 0 (SM 0): it computes element
    // 1 instead of 0 (out[0] stays 0) and, taking itself for lane 1, writes no sum
    let (f_out, f_sums, count) = run_legacy(
        &text,
        Some("iat:sm=0,sp=0,warps=0x1,lanes=0x1,dim=x,mask=0x1,pol=xor"),
    );
    let mut want = out;
    want[0] = 0.0;
    assert_eq!(f_out, want);
    assert_eq!(f_sums, vec![0, sums[1]]);
    assert_eq!(
        count, 1,
        "one warp-instruction (the read of %tid.x) was corrupted"
    );
}
