//! Parallel structure and observability: placement of CTAs and warps (`%smid`,
//! `%warpid`, `%nsmid`), determinism, the execution profile, API errors.

use super::*;
use crate::SimError;

const IDS: &str = "
.visible .entry k(.param .u64 out)
{
    .reg .b32 %t, %c, %n, %g, %sm, %w, %nsm, %nw, %ln;
    .reg .b64 %p, %o;
    ld.param.u64 %p, [out];
    mov.u32 %t, %tid.x;
    mov.u32 %c, %ctaid.x;
    mov.u32 %n, %ntid.x;
    mad.lo.u32 %g, %c, %n, %t;
    mul.wide.u32 %o, %g, 16;
    add.u64 %p, %p, %o;
    mov.u32 %sm, %smid;
    mov.u32 %w, %warpid;
    mov.u32 %nsm, %nsmid;
    mov.u32 %nw, %nwarpid;
    mov.u32 %ln, %laneid;
    st.global.v4.u32 [%p], {%sm, %w, %nsm, %ln};
    ret;
}";

#[test]
fn ctas_and_warps_are_placed_by_the_documented_rule() {
    for profile in [GpuProfile::sim(), GpuProfile::h100()] {
        // 300 CTAs of 96 threads (3 warps): occupancy is 21 CTAs per SM (64 slots / 3).
        let (ctas, threads) = (300u32, 96u32);
        let k = profile.occupancy(threads, 0);
        assert_eq!(k, 21);
        let r = launch_on(
            profile.clone(),
            IDS,
            "k",
            cfg(ctas, threads),
            (ctas * threads * 4) as usize,
        );
        assert_eq!(r.report.outcome, Outcome::Completed);
        assert_eq!(r.report.ctas_per_sm, k);
        for g in 0..ctas * threads {
            let (cta, t) = (g / threads, g % threads);
            let sm = cta % profile.sms;
            let pos = (cta / profile.sms) % k;
            let slot = pos * 3 + t / 32;
            let o = 4 * g as usize;
            assert_eq!(
                &r.out[o..o + 4],
                &[sm, slot, profile.sms, t % 32],
                "thread {g}"
            );
        }
    }
}

#[test]
fn same_launch_gives_identical_results_and_counts() {
    let body = kernel(&format!(
        "
    .reg .b64 %base;
    .reg .b32 %old, %clk;
    {PROLOGUE}
    ld.param.u64 %base, [out];
    atom.global.add.u32 %old, [%base+4096], %gtid;
    mov.u32 %clk, %clock;
    add.u32 %old, %old, %clk;
    st.global.u32 [%rdo], %old;
    ret;
"
    ));
    let a = run_ok(&body, "k", cfg(8, 128), 1025);
    let b = run_ok(&body, "k", cfg(8, 128), 1025);
    assert_eq!(a.out, b.out);
    assert_eq!(a.report, b.report);
}

#[test]
fn profile_counts_instructions_per_pc_and_lanes_per_warp_slot() {
    // 48 threads: warp 0 full, warp 1 has 16 lanes. Odd threads execute one extra
    // instruction.
    let body = kernel(
        "
    .reg .pred %p1;
    .reg .b32 %t, %x;
    mov.u32 %t, %tid.x;
    and.b32 %x, %t, 1;
    setp.eq.u32 %p1, %x, 0;
    @%p1 bra END;
    add.u32 %x, %x, 1;
END:
    ret;
",
    );
    let r = launch(&body, "k", cfg(2, 48).profiling(true), 1);
    let p = r.report.profile.as_ref().expect("profile requested");
    assert_eq!(p.len(), 6);
    let add = p.pc_of("k", 4).unwrap();
    let bra = p.pc_of("k", 3).unwrap();
    let src = format!("{HEADER}{body}");
    let line = src.lines().position(|l| l.contains("add.u32")).unwrap() as u32 + 1;
    assert_eq!(p.site(add).unwrap().line, line);
    assert_eq!(p.warp_count(add), 4, "2 CTAs × 2 warps");
    assert_eq!(p.thread_count(add), 2 * 24);
    let odd = 0xaaaa_aaaau32;
    // CTA 0 on SM 0, CTA 1 on SM 1, warp slots 0 and 1.
    for sm in 0..2 {
        assert_eq!(p.lanes(sm, 0, add), odd);
        assert_eq!(p.lanes(sm, 1, add), odd & 0xffff);
        assert!(p.executes(sm, 1, 15, add));
        assert!(!p.executes(sm, 1, 17, add));
        assert!(!p.executes(sm, 0, 2, add));
        assert_eq!(p.lanes(sm, 1, 0), 0xffff, "first instruction, 16 lanes");
        // The guarded branch is issued by all lanes, taken by the even ones.
        assert_eq!(p.lanes(sm, 0, bra), u32::MAX);
        assert_eq!(p.executed_lanes(sm, 0, bra), !odd);
        assert_eq!(p.executed_lanes(sm, 1, bra), !odd & 0xffff);
    }
    assert_eq!(p.lanes(2, 0, add), 0, "SM 2 ran nothing");
    let sites: Vec<_> = p.sites_of(add).collect();
    assert_eq!(sites.len(), 4);
    let total: u64 = (0..p.len() as u32).map(|pc| p.thread_count(pc)).sum();
    assert_eq!(total, r.report.thread_instructions);
    let per_slot: u64 = (0..2)
        .flat_map(|sm| (0..2).map(move |w| (sm, w)))
        .map(|(sm, w)| p.slot_thread_count(sm, w))
        .sum();
    assert_eq!(per_slot, r.report.thread_instructions);
}

#[test]
fn a_gpu_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<Gpu>();
    send::<crate::LaunchReport>();
}

#[test]
fn api_misuse_is_a_typed_error() {
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&format!("{HEADER}{IDS}")).unwrap();
    assert!(matches!(
        gpu.launch(m, "nope", &cfg(1, 1), &[KernelArg::Ptr(0)]),
        Err(SimError::UnknownKernel { .. })
    ));
    assert!(matches!(
        gpu.launch(m, "k", &cfg(1, 1), &[]),
        Err(SimError::ArgCount {
            expected: 1,
            got: 0,
            ..
        })
    ));
    assert!(matches!(
        gpu.launch(m, "k", &cfg(1, 1), &[KernelArg::U32(1)]),
        Err(SimError::ArgSize { index: 0, .. })
    ));
    assert!(matches!(
        gpu.launch(m, "k", &cfg(1, 2048), &[KernelArg::Ptr(0)]),
        Err(SimError::InvalidLaunch { .. })
    ));
    assert!(matches!(
        gpu.launch(m, "k", &cfg(1, 32).shared(1 << 20), &[KernelArg::Ptr(0)]),
        Err(SimError::InvalidLaunch { .. })
    ));
    assert!(gpu.free(12345).is_err());
    assert!(gpu.write(0x10, &[1]).is_err());
    assert!(gpu
        .load(".version 8.0\n.target sm_80\n.entry k( {")
        .is_err());
    gpu.unload(m).unwrap();
    assert!(matches!(gpu.kernels(m), Err(SimError::UnknownModule(_))));
}

#[test]
fn special_registers_of_a_3d_launch() {
    let body = kernel(
        "
    .reg .b32 %tx, %ty, %tz, %cx, %cy, %cz, %nx, %ny, %nz, %gx, %gy, %gz, %lin, %d;
    .reg .b64 %p, %o;
    ld.param.u64 %p, [out];
    mov.u32 %tx, %tid.x;
    mov.u32 %ty, %tid.y;
    mov.u32 %tz, %tid.z;
    mov.u32 %cx, %ctaid.x;
    mov.u32 %cy, %ctaid.y;
    mov.u32 %cz, %ctaid.z;
    mov.u32 %nx, %ntid.x;
    mov.u32 %ny, %ntid.y;
    mov.u32 %nz, %ntid.z;
    mov.u32 %gx, %nctaid.x;
    mov.u32 %gy, %nctaid.y;
    mov.u32 %gz, %nctaid.z;
    mov.u32 %d, %dynamic_smem_size;
    // linear = ((cz*gy + cy)*gx + cx) * (nx*ny*nz) + (tz*ny + ty)*nx + tx
    mad.lo.u32 %lin, %cz, %gy, %cy;
    mad.lo.u32 %lin, %lin, %gx, %cx;
    mul.lo.u32 %gz, %nx, %ny;
    mul.lo.u32 %gz, %gz, %nz;
    mul.lo.u32 %lin, %lin, %gz;
    mad.lo.u32 %gz, %tz, %ny, %ty;
    mad.lo.u32 %gz, %gz, %nx, %tx;
    add.u32 %lin, %lin, %gz;
    mul.wide.u32 %o, %lin, 16;
    add.u64 %p, %p, %o;
    st.global.v4.u32 [%p], {%tx, %ty, %tz, %d};
    mov.u32 %d, %laneid;
    ret;
",
    );
    let cfg = LaunchConfig::new([2, 3, 2], [4, 3, 5]).shared(100);
    let n = 12 * 60;
    let r = run_ok(&body, "k", cfg, n * 4);
    for lin in 0..n {
        let t = lin % 60;
        let o = lin * 4;
        assert_eq!(
            &r.out[o..o + 4],
            &[(t % 4) as u32, (t / 4 % 3) as u32, (t / 12) as u32, 100],
            "thread {lin}"
        );
    }
}

#[test]
fn names_defined_twice_do_not_load_and_name_both_lines() {
    let mut gpu = Gpu::new(GpuProfile::sim());
    // HEADER is three lines: the variables are on lines 4 and 5.
    let globals = format!("{HEADER}.global .u32 g;\n.global .u32 h, g;\n");
    assert_eq!(
        gpu.load(&globals).unwrap_err(),
        crate::LoadError::Duplicate {
            what: "variable",
            name: "g".into(),
            line: 5,
            first_line: 4,
        }
    );
    let kernels = format!("{HEADER}.entry k() {{ ret; }}\n.func f();\n.entry k() {{ ret; }}\n");
    let e = gpu.load(&kernels).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 6: kernel `k` is defined twice (first at line 4)"
    );
}

#[test]
fn launch_progress_counts_finished_ctas_and_their_instructions() {
    // CTA 37 traps; the 37 CTAs before it finish.
    let body = kernel(
        "
    .reg .pred %p;
    .reg .b32 %c;
    mov.u32 %c, %ctaid.x;
    setp.eq.u32 %p, %c, 37;
    @%p trap;
    ret;
",
    );
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&format!("{HEADER}{body}")).unwrap();
    let progress = std::sync::Arc::new(crate::LaunchProgress::default());
    let run = |gpu: &mut Gpu, grid: u32| {
        let cfg = cfg(grid, 64).progress(progress.clone());
        gpu.launch(m, "k", &cfg, &[KernelArg::Ptr(0)]).unwrap()
    };
    let done = run(&mut gpu, 20);
    assert_eq!(done.outcome, Outcome::Completed);
    assert_eq!(
        (progress.ctas_total(), progress.ctas_done()),
        (20, 20),
        "every CTA counted"
    );
    assert_eq!(progress.thread_instructions(), done.thread_instructions);
    let faulted = run(&mut gpu, 100);
    assert!(faulted.fault().is_some());
    assert_eq!((progress.ctas_total(), progress.ctas_done()), (100, 37));
    // 4 instructions (mov, setp, guarded trap, ret) for 64 threads in each finished CTA.
    assert_eq!(progress.thread_instructions(), 37 * 64 * 4);
}
