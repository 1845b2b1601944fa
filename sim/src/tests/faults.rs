//! Every fault outcome, with where it happened: illegal and misaligned addresses,
//! illegal instructions, traps, call-stack overflow, barrier deadlocks, endless loops.

use super::*;
use crate::{AddressSpace, DecodeError, FaultKind};

fn fault_of(body: &str, grid: u32, block: u32) -> (crate::Fault, Run) {
    let r = launch(body, "k", cfg(grid, block).budget(1_000_000), 64);
    let f = r
        .report
        .fault()
        .cloned()
        .unwrap_or_else(|| panic!("expected a fault, got {:?}", r.report.outcome));
    (f, r)
}

#[test]
fn out_of_bounds_global_load_is_an_illegal_address_with_its_thread() {
    // Thread 37 (CTA 1, lane 5) reads 4 bytes past the end of the 256-byte buffer.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    .reg .b32 %v;
    {PROLOGUE}
    setp.eq.u32 %p1, %gtid, 37;
    @!%p1 bra END;
    ld.param.u64 %rt1, [out];
    ld.global.u32 %v, [%rt1+256];
END:
    ret;
"
    ));
    let (f, r) = fault_of(&body, 2, 32);
    assert_eq!(
        f.kind,
        FaultKind::IllegalAddress {
            space: AddressSpace::Global,
            addr: r.out_ptr + 256,
            size: 4
        }
    );
    assert_eq!((f.cta, f.thread, f.lane), ([1, 0, 0], [5, 0, 0], 5));
    assert_eq!(f.kernel, "k");
    assert!(f.line > 0);
    assert_eq!((f.sm, f.warp_slot), (1, 0), "CTA 1 runs on SM 1");
    assert!(f.to_string().contains("illegal address"), "{f}");
}

#[test]
fn null_and_unmapped_generic_pointers_fault() {
    let body = kernel(
        "
    .reg .b64 %p;
    .reg .b32 %v;
    mov.u64 %p, 0;
    ld.u32 %v, [%p];
    ret;
",
    );
    let (f, _) = fault_of(&body, 1, 1);
    assert_eq!(
        f.kind,
        FaultKind::IllegalAddress {
            space: AddressSpace::Generic,
            addr: 0,
            size: 4
        }
    );
}

#[test]
fn shared_memory_out_of_bounds_and_misaligned_accesses() {
    let body = kernel(
        "
    .shared .align 4 .b32 sh[8];
    .reg .b32 %v;
    st.shared.u32 [sh+32], 1;
    ret;
",
    );
    let (f, _) = fault_of(&body, 1, 1);
    assert_eq!(
        f.kind,
        FaultKind::IllegalAddress {
            space: AddressSpace::Shared,
            addr: 32,
            size: 4
        }
    );
    let body = kernel(
        "
    .shared .align 4 .b32 sh[8];
    .reg .b32 %v;
    ld.shared.u32 %v, [sh+2];
    ret;
",
    );
    let (f, _) = fault_of(&body, 1, 1);
    assert_eq!(
        f.kind,
        FaultKind::MisalignedAddress {
            space: AddressSpace::Shared,
            addr: 2,
            size: 4
        }
    );
}

#[test]
fn stores_before_a_fault_stay_written() {
    let body = kernel(&format!(
        "
    {PROLOGUE}
    st.global.u32 [%rdo], 42;
    bar.sync 0;
    ld.param.u64 %rt1, [out];
    st.global.u32 [%rt1+4096], 1;
    ret;
"
    ));
    let (f, r) = fault_of(&body, 1, 32);
    assert!(matches!(f.kind, FaultKind::IllegalAddress { .. }));
    assert_eq!(&r.out[..32], &[42; 32]);
}

#[test]
fn trap_names_the_trapping_lane() {
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    {PROLOGUE}
    setp.eq.u32 %p1, %tidx, 6;
    @%p1 trap;
    ret;
"
    ));
    let (f, _) = fault_of(&body, 1, 32);
    assert_eq!(f.kind, FaultKind::Trap);
    assert_eq!(f.thread, [6, 0, 0]);
}

#[test]
fn unsupported_instruction_is_reported_at_load_and_faults_when_reached() {
    let src = format!(
        "{HEADER}
.visible .entry k(.param .u64 out, .param .u32 go)
{{
    .reg .pred %p1;
    .reg .b32 %g, %v;
    ld.param.u32 %g, [go];
    setp.eq.u32 %p1, %g, 0;
    @%p1 bra END;
    frobnicate.b32 %v, %g;
END:
    ret;
}}"
    );
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&src).unwrap();
    let line = src.lines().position(|l| l.contains("frobnicate")).unwrap() as u32 + 1;
    let diags = gpu.diagnostics(m).unwrap();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].line, line);
    assert_eq!(
        diags[0].error,
        DecodeError::UnsupportedInstruction {
            name: "frobnicate".into()
        }
    );
    assert_eq!(
        diags[0].to_string(),
        format!("line {line} in `k`: unsupported instruction `frobnicate`")
    );
    let out = gpu.alloc(4).unwrap();
    let ok = gpu
        .launch(
            m,
            "k",
            &cfg(1, 1),
            &[KernelArg::Ptr(out), KernelArg::U32(0)],
        )
        .unwrap();
    assert_eq!(ok.outcome, Outcome::Completed, "not reached, no fault");
    let bad = gpu
        .launch(
            m,
            "k",
            &cfg(1, 1),
            &[KernelArg::Ptr(out), KernelArg::U32(1)],
        )
        .unwrap();
    let f = bad.fault().unwrap();
    assert!(
        matches!(&f.kind, FaultKind::IllegalInstruction { reason } if reason.contains("frobnicate"))
    );
    assert_eq!(f.line, line);
}

#[test]
fn decoder_errors_are_typed_with_their_line() {
    // One instruction per kind of decoder error, each on its own line.
    let body = kernel(
        "
    .reg .pred %p;
    .reg .b32 %a;
    .reg .f32 %f;
    add.u32 %a, %a, %nope;
    add.u32 %a, %p, 1;
    add.u32 %a, %a;
    popc.f32 %a, %f;
    mov.u32 %a, %clusterid.x;
    min.xorsign.abs.f32 %f, %f, %f;
    bra NOWHERE;
    ret;
",
    );
    let src = format!("{HEADER}{body}");
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&src).unwrap();
    let line_of = |needle: &str| src.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let got: Vec<(u32, DecodeError)> = gpu
        .diagnostics(m)
        .unwrap()
        .iter()
        .map(|d| (d.line, d.error.clone()))
        .collect();
    let want = vec![
        (
            line_of("%nope"),
            DecodeError::Undeclared {
                kind: "name",
                name: "%nope".into(),
            },
        ),
        (
            line_of("%p, 1"),
            DecodeError::Invalid {
                message: "predicate `%p` used as a value".into(),
            },
        ),
        (
            line_of("add.u32 %a, %a;"),
            DecodeError::OperandCount {
                opcode: "add".into(),
                needed: 3,
                got: 2,
            },
        ),
        (
            line_of("popc.f32"),
            DecodeError::UnsupportedType {
                opcode: "popc".into(),
                ty: "f32",
            },
        ),
        (
            line_of("%clusterid"),
            DecodeError::UnsupportedSpecialRegister {
                name: "%clusterid".into(),
            },
        ),
        (
            line_of("xorsign"),
            DecodeError::Unsupported {
                message: "min/max .xorsign.abs is not supported".into(),
            },
        ),
        (
            line_of("NOWHERE"),
            DecodeError::Undeclared {
                kind: "label",
                name: "NOWHERE".into(),
            },
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn runtime_invalid_operands_are_illegal_instructions() {
    let body = kernel(
        "
    .reg .b32 %b;
    mov.u32 %b, 16;
    bar.sync %b;
    ret;
",
    );
    let (f, _) = fault_of(&body, 1, 32);
    assert!(
        matches!(f.kind, FaultKind::IllegalInstruction { .. }),
        "{f}"
    );
}

#[test]
fn warps_waiting_at_different_barriers_deadlock() {
    // Warp 0 waits at barrier 0, warp 1 at barrier 1: neither can complete.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    {PROLOGUE}
    setp.lt.u32 %p1, %tidx, 32;
    @%p1 bra FIRST;
    bar.sync 1;
    ret;
FIRST:
    bar.sync 0;
    ret;
"
    ));
    let (f, _) = fault_of(&body, 1, 64);
    assert_eq!(
        f.kind,
        FaultKind::BarrierDeadlock {
            blocked_threads: 64
        }
    );
    assert!(f.kind.is_hang());
}

#[test]
fn barrier_skipped_by_some_lanes_of_a_waiting_warp_deadlocks() {
    // Lanes 0-15 of each warp wait at bar.sync 0 while lanes 16-31 wait at bar.sync 1
    // (a branch-flip fault looks like this): no warp ever arrives anywhere.
    let body = kernel(&format!(
        "
    .reg .pred %p1;
    {PROLOGUE}
    setp.lt.u32 %p1, %lane, 16;
    @%p1 bra LOW;
    bar.sync 1;
    ret;
LOW:
    bar.sync 0;
    ret;
"
    ));
    let (f, _) = fault_of(&body, 1, 64);
    assert_eq!(
        f.kind,
        FaultKind::BarrierDeadlock {
            blocked_threads: 64
        }
    );
}

#[test]
fn endless_loop_exhausts_the_budget() {
    let body = kernel(
        "
    .reg .b32 %i;
    mov.u32 %i, 0;
SPIN:
    add.u32 %i, %i, 1;
    bra SPIN;
",
    );
    let r = launch(&body, "k", cfg(1, 64).budget(100_000), 1);
    let f = r.report.fault().unwrap();
    assert_eq!(f.kind, FaultKind::BudgetExceeded { budget: 100_000 });
    assert!(f.kind.is_hang());
    assert!(r.report.thread_instructions <= 100_000);
    assert!(r.report.thread_instructions > 100_000 - 32);
}

#[test]
fn spinning_on_a_flag_no_one_sets_hangs_but_one_set_by_another_warp_works() {
    // Warp 1 sets a shared flag after a delay; warp 0 spins on it (volatile loads).
    let body = kernel(
        "
    .shared .align 4 .b32 flag;
    .reg .pred %p1;
    .reg .b32 %t, %f, %i;
    mov.u32 %t, %tid.x;
    setp.lt.u32 %p1, %t, 32;
    @%p1 bra WAIT;
    mov.u32 %i, 0;
DELAY:
    add.u32 %i, %i, 1;
    setp.lt.u32 %p1, %i, 5000;
    @%p1 bra DELAY;
    st.volatile.shared.u32 [flag], 1;
    ret;
WAIT:
    ld.volatile.shared.u32 %f, [flag];
    setp.eq.u32 %p1, %f, 0;
    @%p1 bra WAIT;
    ret;
",
    );
    let r = launch(&body, "k", cfg(1, 64), 1);
    assert_eq!(r.report.outcome, Outcome::Completed);
    let hang = body.replace("st.volatile.shared.u32 [flag], 1;", "");
    let r = launch(&hang, "k", cfg(1, 64).budget(2_000_000), 1);
    assert!(matches!(
        r.report.fault().unwrap().kind,
        FaultKind::BudgetExceeded { .. }
    ));
}

#[test]
fn unbounded_recursion_overflows_the_call_stack() {
    let body = "
.func f()
{
    call f;
    ret;
}
.visible .entry k(.param .u64 out)
{
    call f;
    ret;
}";
    let (f, _) = fault_of(body, 1, 1);
    assert!(matches!(f.kind, FaultKind::CallStackOverflow { .. }), "{f}");
    assert_eq!(f.function, "f");
}

#[test]
fn store_to_the_constant_bank_faults() {
    let body = "
.const .align 4 .b32 c;
.visible .entry k(.param .u64 out)
{
    .reg .b64 %p;
    mov.u64 %p, c;
    cvta.const.u64 %p, %p;
    st.u32 [%p], 1;
    ret;
}";
    let (f, _) = fault_of(body, 1, 1);
    assert!(matches!(f.kind, FaultKind::IllegalAddress { .. }), "{f}");
}
